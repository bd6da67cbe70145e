//! `cargo xtask clippy`: lint every target on the host, then the `no_std`
//! build of `bytecast` on a bare-metal target, with warnings denied.

use anyhow::Result;

use crate::{
    cmd::{self, cargo, Tally},
    toolchain::{self, NO_STD_TARGET},
};

pub(crate) fn run(_: &mut Tally) -> Result<()> {
    toolchain::ensure_component("clippy")?;
    toolchain::ensure_target(NO_STD_TARGET)?;
    cmd::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    cmd::run(
        cargo()
            .args(["clippy", "-p", "bytecast", "--no-default-features"])
            .args(["--target", NO_STD_TARGET, "--", "-D", "warnings"]),
    )
}
