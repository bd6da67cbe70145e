//! `cargo xtask test`: unit, integration, example and bench-as-test targets
//! of the whole workspace, then its doctests.

use anyhow::Result;

use crate::cmd::{self, cargo, Tally};

pub(crate) fn run(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(
        cargo().args(["test", "--workspace", "--all-targets"]),
        tally,
    )?;
    cmd::run_tests(cargo().args(["test", "--workspace", "--doc"]), tally)
}
