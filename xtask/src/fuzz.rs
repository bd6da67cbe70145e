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
    toolchain, Usage,
};

const TOOLCHAIN: &str = "nightly";
/// The fuzz targets, in the order `fuzz` runs them.
pub(crate) const TARGETS: &[&str] = &["ops", "interleave"];

/// Parsed `fuzz` arguments.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    seconds: u64,
    target: Option<String>,
}

pub(crate) fn run(_tally: &mut Tally, args: &[String]) -> Result<()> {
    let args = parse(args)?;
    toolchain::ensure_toolchain(TOOLCHAIN, &[])?;
    ensure_cargo_fuzz()?;
    let targets: Vec<&str> = match &args.target {
        Some(t) => vec![t.as_str()],
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
                    &format!("-max_total_time={}", args.seconds),
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
    cmd::run_tests(
        cargo().args([
            "test",
            "--release",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--test",
            "replay",
        ]),
        tally,
    )
}

fn ensure_cargo_fuzz() -> Result<()> {
    if cmd::read(toolchain_cargo(TOOLCHAIN).args(["fuzz", "--version"])).is_err() {
        cmd::run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Args> {
    let mut seconds = None;
    let mut target = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| Usage(format!("fuzz: `{flag}` needs a value")))?;
        match flag.as_str() {
            "--seconds" => {
                seconds =
                    Some(value.parse().map_err(|_| {
                        Usage(format!("fuzz: `{value}` is not a number of seconds"))
                    })?);
            }
            "--target" if TARGETS.contains(&value.as_str()) => target = Some(value.clone()),
            "--target" => {
                return Err(Usage(format!("fuzz: unknown target `{value}` ({TARGETS:?})")).into())
            }
            _ => return Err(Usage(format!("fuzz: unexpected argument `{flag}`")).into()),
        }
    }
    let seconds = seconds.ok_or_else(|| Usage("fuzz takes `--seconds N [--target T]`".into()))?;
    Ok(Args { seconds, target })
}

#[cfg(test)]
mod tests {
    use super::{parse, Args};

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|&w| w.to_owned()).collect()
    }

    #[test]
    fn parses_seconds_and_target() {
        assert_eq!(
            parse(&args(&["--seconds", "60"])).unwrap(),
            Args {
                seconds: 60,
                target: None
            }
        );
        assert_eq!(
            parse(&args(&["--target", "ops", "--seconds", "5"])).unwrap(),
            Args {
                seconds: 5,
                target: Some("ops".into())
            }
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        for bad in [
            &[][..],
            &["--seconds"],
            &["--seconds", "x"],
            &["--target", "ops"],
            &["--seconds", "1", "--target", "nope"],
            &["--secs", "1"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
