//! `cargo xtask tsan`: `bytecast`'s concurrent tests (`stress`, `soak`, `wakeups`, `cancel`)
//! under ThreadSanitizer: nightly, `-Zsanitizer=thread`, the standard library rebuilt with it
//! (`-Zbuild-std`, which needs the `rust-src` component; installed if missing), in release
//! mode, in its own target directory (`target/tsan`). Each stress scenario runs 2 s and the
//! soak 20 s (`BYTECAST_STRESS_SECONDS` / `BYTECAST_SOAK_SECONDS` override).

use anyhow::Result;

use crate::{
    cmd::{self, project_root, toolchain_cargo, Tally},
    toolchain,
};

const TOOLCHAIN: &str = "nightly";
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub(crate) fn run(tally: &mut Tally) -> Result<()> {
    toolchain::ensure_toolchain(TOOLCHAIN, &["rust-src"])?;
    let env_or = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    cmd::run_tests(
        toolchain_cargo(TOOLCHAIN)
            .args(["test", "-Zbuild-std", "--target", TARGET, "--release"])
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
