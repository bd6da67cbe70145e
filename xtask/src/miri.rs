//! `cargo xtask miri [ARGS...]`: run `bytecast`'s unit and integration tests
//! under Miri (nightly) with strict provenance. `ARGS` are passed on to
//! `cargo miri test`, e.g. a test name filter.

use std::env;

use anyhow::Result;

use crate::{
    cmd::{self, toolchain_cargo, Tally},
    toolchain,
};

const TOOLCHAIN: &str = "nightly";
const MIRIFLAGS: &str = "-Zmiri-strict-provenance";

pub(crate) fn run(tally: &mut Tally, args: &[String]) -> Result<()> {
    toolchain::ensure_toolchain(TOOLCHAIN, &["miri", "rust-src"])?;
    cmd::run(toolchain_cargo(TOOLCHAIN).args(["miri", "setup"]))?;
    cmd::run_tests(
        toolchain_cargo(TOOLCHAIN)
            .args(["miri", "test", "-p", "bytecast", "--lib", "--tests"])
            .args(args)
            .env("MIRIFLAGS", miriflags()),
        tally,
    )
}

/// Our flags, followed by any the caller already set.
fn miriflags() -> String {
    match env::var("MIRIFLAGS") {
        Ok(extra) if !extra.trim().is_empty() => format!("{MIRIFLAGS} {extra}"),
        _ => MIRIFLAGS.to_owned(),
    }
}
