//! `cargo xtask doc`: build the workspace's API docs with warnings denied
//! (broken intra-doc links, missing code-block languages, ...).

use anyhow::Result;

use crate::cmd::{self, cargo, Tally};

pub(crate) fn run(_: &mut Tally) -> Result<()> {
    cmd::run(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}
