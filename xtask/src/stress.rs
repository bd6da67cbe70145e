//! `stress --seconds N`, `stress-smoke` (a CI step) and `soak --seconds N [--frames M]`:
//! `bytecast`'s randomised concurrent tests, in release mode, for a given time.
//!
//! `stress` (`tests/stress.rs`) runs fixed scenarios of real threads on the real atomics;
//! `soak` (`tests/soak.rs`) mixes everything at random (writers and readers of both kinds
//! joining and leaving, `Park` and `Drop` channels, aborted grants, terminate and drain),
//! checks every frame, and prints frames checked per second and the totals (every minute and
//! at the end).

use anyhow::Result;

use crate::cmd::{self, cargo, Tally};

/// How long each scenario of the `stress-smoke` step runs.
const SMOKE_SECONDS: u64 = 5;

/// `stress-smoke`: the stress test for [`SMOKE_SECONDS`] per scenario.
pub(crate) fn smoke(tally: &mut Tally) -> Result<()> {
    run(SMOKE_SECONDS, tally)
}

/// `stress --seconds N`.
pub(crate) fn run(seconds: u64, tally: &mut Tally) -> Result<()> {
    cmd::run_tests(
        cargo()
            .args(["test", "-p", "bytecast", "--release", "--test", "stress"])
            .env("BYTECAST_STRESS_SECONDS", seconds.to_string()),
        tally,
    )
}

/// `soak --seconds N [--frames M]`: for `N` seconds, or until `M` frames have been checked if
/// that comes first.
pub(crate) fn soak(seconds: u64, frames: Option<u64>, tally: &mut Tally) -> Result<()> {
    let mut command = cargo();
    command
        .args(["test", "-p", "bytecast", "--release", "--test", "soak"])
        .args(["--", "--nocapture"])
        .env("BYTECAST_SOAK_SECONDS", seconds.to_string());
    if let Some(frames) = frames {
        command.env("BYTECAST_SOAK_FRAMES", frames.to_string());
    }
    cmd::run_tests(&mut command, tally)
}
