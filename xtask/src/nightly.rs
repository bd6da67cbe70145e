//! The checks that need the nightly toolchain: `miri` (a CI step), and the longer
//! `miri-seeds` and `tsan` runs. Each installs the nightly toolchain and the components it
//! needs if they are missing.

use anyhow::Result;

use crate::{
    cmd::{self, project_root, toolchain_cargo, Tally},
    toolchain,
};

const TOOLCHAIN: &str = "nightly";
const MIRIFLAGS: &str = "-Zmiri-strict-provenance";
/// `miri-seeds`: several scheduler seeds per test.
const MANY_SEEDS: &str = "-Zmiri-many-seeds=0..8";
/// The host target, named for `-Zbuild-std`.
const TSAN_TARGET: &str = "x86_64-unknown-linux-gnu";

/// `miri [ARGS...]`: `bytecast`'s unit and integration tests under Miri with strict
/// provenance. `ARGS` are passed on to `cargo miri test`, e.g. a test name filter.
pub(crate) fn miri(tally: &mut Tally, args: &[String]) -> Result<()> {
    setup_miri()?;
    cmd::run_tests(
        toolchain_cargo(TOOLCHAIN)
            .args(["miri", "test", "-p", "bytecast", "--lib", "--tests"])
            .args(args)
            .env("MIRIFLAGS", miriflags(MIRIFLAGS)),
        tally,
    )
}

/// `miri-seeds [ARGS...]`: `bytecast`'s threaded tests under Miri with several scheduler seeds
/// (strict provenance): the stress scenarios, the threaded wake-up tests, and the writer and
/// reader thread pairs of the selium-messaging regressions (`*_thread_are_race_free`). `ARGS`
/// are extra `cargo miri test` arguments; `MIRIFLAGS` from the environment is appended (a later
/// `-Zmiri-many-seeds` wins).
pub(crate) fn miri_seeds(tally: &mut Tally, args: &[String]) -> Result<()> {
    setup_miri()?;
    let flags = miriflags(&format!("{MIRIFLAGS} {MANY_SEEDS}"));
    let runs: [&[&str]; 2] = [
        &["--test", "stress", "--test", "wakeups"],
        &[
            "--test",
            "selium_regressions",
            "--",
            "_thread_are_race_free",
        ],
    ];
    for tests in runs {
        cmd::run_tests(
            toolchain_cargo(TOOLCHAIN)
                .args(["miri", "test", "-p", "bytecast"])
                .args(tests)
                .args(args)
                .env("MIRIFLAGS", &flags),
            tally,
        )?;
    }
    Ok(())
}

/// `tsan`: `bytecast`'s concurrent tests (`stress`, `soak`, `wakeups`, `cancel`) under
/// ThreadSanitizer: `-Zsanitizer=thread`, the standard library rebuilt with it (`-Zbuild-std`,
/// which needs `rust-src`), release mode, in its own target directory (`target/tsan`). Each
/// stress scenario runs 2 s and the soak 20 s (`BYTECAST_STRESS_SECONDS` /
/// `BYTECAST_SOAK_SECONDS` override).
pub(crate) fn tsan(tally: &mut Tally) -> Result<()> {
    toolchain::ensure_toolchain(TOOLCHAIN, &["rust-src"])?;
    let env_or = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    cmd::run_tests(
        toolchain_cargo(TOOLCHAIN)
            .args(["test", "-Zbuild-std", "--target", TSAN_TARGET, "--release"])
            .args(["-p", "bytecast"])
            .args(["--test", "stress", "--test", "soak"])
            .args(["--test", "wakeups", "--test", "cancel"])
            .env("RUSTFLAGS", "-Zsanitizer=thread")
            .env("RUSTDOCFLAGS", "-Zsanitizer=thread")
            .env("TSAN_OPTIONS", "halt_on_error=1 second_deadlock_stack=1")
            .env(
                "BYTECAST_STRESS_SECONDS",
                env_or("BYTECAST_STRESS_SECONDS", "2"),
            )
            .env(
                "BYTECAST_SOAK_SECONDS",
                env_or("BYTECAST_SOAK_SECONDS", "20"),
            )
            .env(
                "CARGO_TARGET_DIR",
                project_root().join("target").join("tsan"),
            ),
        tally,
    )
}

fn setup_miri() -> Result<()> {
    toolchain::ensure_toolchain(TOOLCHAIN, &["miri", "rust-src"])?;
    cmd::run(toolchain_cargo(TOOLCHAIN).args(["miri", "setup"]))
}

/// `ours`, followed by any flags the caller already set in `MIRIFLAGS`.
fn miriflags(ours: &str) -> String {
    match std::env::var("MIRIFLAGS") {
        Ok(extra) if !extra.trim().is_empty() => format!("{ours} {extra}"),
        _ => ours.to_owned(),
    }
}
