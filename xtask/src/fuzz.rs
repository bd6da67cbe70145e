//! `cargo xtask fuzz --seconds N [--target T]` and `cargo xtask fuzz-smoke`.
//!
//! `fuzz` runs the cargo-fuzz targets of `fuzz/` (`ops`, `interleave`) with libFuzzer on the
//! nightly toolchain, `N` seconds per target, one process each (the machine has 2 cores),
//! optimised with debug assertions on (the core's `debug_assert!`s are checks too). It
//! installs what it needs: the nightly toolchain (rustup) and `cargo-fuzz` (`cargo install`) if
//! missing. New inputs go to `target/fuzz-corpus/<target>`; the committed seeds in
//! `fuzz/corpus/<target>` are read, never written. A crash is saved under
//! `fuzz/artifacts/<target>/`; keep it in `fuzz/regressions/<target>/` and add a named test in
//! `fuzz/tests/replay.rs`.
//!
//! `fuzz-smoke` (a `test-all` step, stable toolchain) replays the committed corpus, every kept
//! crash and a batch of pseudo-random inputs through the same harnesses, without libFuzzer.

use anyhow::Result;

use crate::{
    cmd::{self, cargo, project_root, toolchain_cargo, Tally},
    toolchain,
};

const TOOLCHAIN: &str = "nightly";
/// The fuzz targets, in the order `fuzz` runs them.
pub(crate) const TARGETS: [&str; 2] = ["ops", "interleave"];
/// The `cargo` arguments that replay the corpus, the kept crashes and random inputs through
/// the harnesses on stable (`fuzz-smoke`, and `wrap` with narrowed positions).
pub(crate) const REPLAY_ARGS: &[&str] = &[
    "test",
    "--release",
    "--manifest-path",
    "fuzz/Cargo.toml",
    "--test",
    "replay",
];

/// `fuzz --seconds N [--target T]`: every target, or `target` only, for `seconds` each.
pub(crate) fn run(seconds: u64, target: Option<&str>) -> Result<()> {
    toolchain::ensure_toolchain(TOOLCHAIN, &[])?;
    ensure_cargo_fuzz()?;
    let targets: Vec<&str> = match target {
        Some(t) => vec![t],
        None => TARGETS.to_vec(),
    };
    let root = project_root();
    for target in targets {
        let work = root.join("target").join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&work)?;
        let seeds = root.join("fuzz").join("corpus").join(target);
        cmd::run(
            toolchain_cargo(TOOLCHAIN)
                .args(["fuzz", "run", "--release", "--debug-assertions", target])
                .arg(&work)
                .arg(&seeds)
                .args([
                    "--",
                    &format!("-max_total_time={seconds}"),
                    "-timeout=20",
                    "-rss_limit_mb=4096",
                    "-print_final_stats=1",
                ]),
        )?;
    }
    Ok(())
}

/// `fuzz-smoke`: the stable replay of corpus, regressions and random inputs.
pub(crate) fn smoke(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(cargo().args(REPLAY_ARGS), tally)
}

fn ensure_cargo_fuzz() -> Result<()> {
    if cmd::read(toolchain_cargo(TOOLCHAIN).args(["fuzz", "--version"])).is_err() {
        cmd::run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}
