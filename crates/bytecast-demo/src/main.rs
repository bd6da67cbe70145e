//! `bytecast-demo` (`cargo xtask demo`): what the channel is for, in one scene on a 2-worker tokio
//! runtime.
//!
//! Several writer tasks produce self-checking frames (writer, sequence, length, payload,
//! CRC-32) into one `Park` channel. A strong "archiver" must lose nothing and checks every
//! writer's sequence; a slow weak "dashboard" falls behind, is lapped, and accounts for exactly
//! what it lost. Beside them, the same frames go to an overloaded `Drop` channel with a slow
//! strong reader, which refuses what does not fit and counts it. A drain of both channels lets
//! every reader finish, and the run closes with a summary table and a verdict from the checksums
//! and counters; the exit status is non-zero if the verdict fails.
//!
//! On a terminal the progress is a live view (one bar per writer and per reader); otherwise, or
//! with `--plain`, it is a line of totals every second.
#![forbid(unsafe_code)]

mod frame;
mod meter;
mod report;
mod scene;
mod setup;
mod view;

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::setup::{Plan, Settings, View};

/// How long the writers write unless `--frames-per-writer` or `--seconds` says otherwise.
const DEFAULT_SECONDS: f64 = 5.0;

/// bytecast demo: writers feeding a Park channel with a lossless archiver and a lagging
/// dashboard, and an overloaded Drop channel beside it, on a 2-worker tokio runtime; closes with
/// a summary and a verdict checked from every frame's checksum and the channels' counters.
#[derive(Debug, Parser)]
#[command(
    name = "bytecast-demo",
    version,
    after_help = "Exit status: 0 when the verdict is OK, 1 when it fails, 2 for bad flags."
)]
struct Args {
    /// Writer tasks; each writes every frame to the Park channel and offers it to the Drop one.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    writers: u32,

    /// Frames each writer writes (instead of writing for a time).
    #[arg(long, conflicts_with = "seconds")]
    frames_per_writer: Option<u64>,

    /// How long the writers write, in seconds [default: 5].
    #[arg(long, value_parser = positive_seconds)]
    seconds: Option<f64>,

    /// Shortest frame, in bytes, its 20-byte header and checksum included.
    #[arg(long, default_value_t = 64)]
    min_len: usize,

    /// Longest frame, in bytes; at most half the smaller ring, less 8.
    #[arg(long, default_value_t = 1024)]
    max_len: usize,

    /// Park channel ring size in bytes (rounded up to a power of two).
    #[arg(long, default_value_t = 64 * 1024)]
    capacity: usize,

    /// Drop channel ring size in bytes (rounded up to a power of two).
    #[arg(long, default_value_t = 16 * 1024)]
    drop_capacity: usize,

    /// Strong archiver readers on the Park channel.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=256))]
    archivers: u32,

    /// Weak dashboard readers on the Park channel.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=256))]
    dashboards: u32,

    /// Average pause of each dashboard per frame, in microseconds.
    #[arg(long, default_value_t = 20)]
    dashboard_delay_us: u64,

    /// Average pause of the Drop channel's reader per frame, in microseconds.
    #[arg(long, default_value_t = 20)]
    drop_reader_delay_us: u64,

    /// Plain progress lines instead of the live view (the default when stdout is not a
    /// terminal).
    #[arg(long)]
    plain: bool,

    /// Milliseconds between plain progress lines.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(v)
    } else {
        Err("must be more than 0 and at most 86400".to_owned())
    }
}

impl Args {
    fn settings(&self) -> Result<Settings, String> {
        if self.min_len < frame::OVERHEAD {
            return Err(format!(
                "--min-len must be at least {} (the frame header and checksum)",
                frame::OVERHEAD
            ));
        }
        if self.min_len > self.max_len {
            return Err("--min-len must not be more than --max-len".to_owned());
        }
        let plan = match self.frames_per_writer {
            Some(n) => Plan::Frames(n),
            None => Plan::For(Duration::from_secs_f64(
                self.seconds.unwrap_or(DEFAULT_SECONDS),
            )),
        };
        let live = !self.plain && std::io::stdout().is_terminal();
        Ok(Settings {
            writers: self.writers,
            plan,
            lens: self.min_len..=self.max_len,
            capacity: self.capacity,
            drop_capacity: self.drop_capacity,
            archivers: self.archivers,
            dashboards: self.dashboards,
            dashboard_delay: Duration::from_micros(self.dashboard_delay_us),
            drop_reader_delay: Duration::from_micros(self.drop_reader_delay_us),
            view: if live {
                View::Live
            } else {
                View::Plain(Duration::from_millis(self.interval_ms))
            },
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let channels = match scene::channels(&settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(scene::run(&settings, channels)) {
        Ok(outcome) => {
            let (summary, ok) = report::summary(&outcome, settings.view == View::Live);
            // A closed stdout (`| head`) changes nothing about the verdict.
            // The live view leaves the cursor at the end of its last line.
            let gap = if settings.view == View::Live {
                "\n"
            } else {
                ""
            };
            let _ = write!(std::io::stdout().lock(), "{gap}{summary}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "verdict: FAILED (the run did not complete: {e:#})"
            );
            ExitCode::FAILURE
        }
    }
}
