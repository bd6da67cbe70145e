//! `cargo xtask examples` and `cargo xtask demo [ARGS...]`: run the `demo`
//! example of `bytecast` in release mode.
//!
//! `demo` runs the example for now; it is to move to a dedicated demo crate.

use anyhow::Result;

use crate::cmd::{self, cargo, Tally};

/// The `examples` step: the demo with its default arguments.
pub(crate) fn run(_: &mut Tally) -> Result<()> {
    demo(&[])
}

/// `demo [ARGS...]`: the demo with the given arguments.
pub(crate) fn demo(args: &[String]) -> Result<()> {
    cmd::run(
        cargo()
            .args([
                "run",
                "-p",
                "bytecast",
                "--example",
                "demo",
                "--release",
                "--",
            ])
            .args(args),
    )
}
