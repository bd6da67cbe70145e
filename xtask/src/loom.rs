//! `cargo xtask loom`: model-check `bytecast`'s concurrent code with loom.
//!
//! Builds with `--cfg loom` into its own target directory (`target/loom`), so
//! the changed `RUSTFLAGS` do not invalidate the normal build cache, and runs
//! only the library tests whose names contain `loom`.
//!
//! The preemption bound defaults to 1, which keeps the step to seconds inside `test-all`; set
//! `LOOM_MAX_PREEMPTIONS=2` (or more) in the environment for the deep run recorded in
//! `docs/testing.md`.

use anyhow::Result;

use crate::cmd::{self, cargo, project_root, Tally};

pub(crate) fn run(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(
        cargo()
            .args(["test", "-p", "bytecast", "--lib", "--release", "--", "loom"])
            .env("RUSTFLAGS", "--cfg loom -C debug-assertions")
            .env(
                "LOOM_MAX_PREEMPTIONS",
                std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| "1".into()),
            )
            .env(
                "CARGO_TARGET_DIR",
                project_root().join("target").join("loom"),
            ),
        tally,
    )
}
