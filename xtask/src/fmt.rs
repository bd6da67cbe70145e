//! `cargo xtask fmt`: check formatting of the whole workspace.

use anyhow::Result;

use crate::{
    cmd::{self, cargo, Tally},
    toolchain,
};

pub(crate) fn run(_: &mut Tally) -> Result<()> {
    toolchain::ensure_component("rustfmt")?;
    cmd::run(cargo().args(["fmt", "--all", "--", "--check"]))
}
