//! `cargo xtask miri-seeds [ARGS...]`: `bytecast`'s concurrent tests under Miri with several
//! scheduler seeds (`-Zmiri-many-seeds=0..8`, strict provenance): the stress scenarios, the
//! threaded wake-up tests, and the writer/reader thread pairs of `defects` (`f16_*`). `ARGS`
//! are extra `cargo miri test` arguments; `MIRIFLAGS` from the environment is appended (a
//! later `-Zmiri-many-seeds` wins).

use anyhow::Result;

use crate::{
    cmd::{self, toolchain_cargo, Tally},
    toolchain,
};

const TOOLCHAIN: &str = "nightly";
const MIRIFLAGS: &str = "-Zmiri-strict-provenance -Zmiri-many-seeds=0..8";

pub(crate) fn run(tally: &mut Tally, args: &[String]) -> Result<()> {
    toolchain::ensure_toolchain(TOOLCHAIN, &["miri", "rust-src"])?;
    cmd::run(toolchain_cargo(TOOLCHAIN).args(["miri", "setup"]))?;
    let flags = match std::env::var("MIRIFLAGS") {
        Ok(extra) if !extra.trim().is_empty() => format!("{MIRIFLAGS} {extra}"),
        _ => MIRIFLAGS.to_owned(),
    };
    let runs: [&[&str]; 2] = [
        &["--test", "stress", "--test", "wakeups"],
        &["--test", "defects", "--", "f16_"],
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
