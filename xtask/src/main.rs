//! Project automation for the bytecast workspace, run as `cargo xtask <command>`.
//!
//! The commands are declared once, as the [`Command`] and [`Step`] enums below: `clap` derives
//! the parser and `cargo xtask help` from them (each variant's doc comment is its help line),
//! `main` dispatches on them, and `test-all` runs every [`Step`] in declaration order.
//! Tools the commands need (rustup components, targets, the nightly toolchain) are installed on
//! first use if missing.

#![forbid(unsafe_code)]

mod bench;
mod checks;
mod cmd;
mod examples;
mod fuzz;
mod nightly;
mod qemu;
mod stress;
mod test_all;
mod tidy;
mod toolchain;

use std::process::ExitCode;

use anyhow::Result;
use clap::{FromArgMatches, Parser, Subcommand};

use crate::cmd::Tally;

/// `cargo xtask <command>`: CI and development tasks of the bytecast workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
enum Command {
    /// Every step below, in order, as CI runs it (`bash .ci/run`); carries on after a failure,
    /// prints a summary table and closes with `N passed, M failed` (steps).
    TestAll,
    /// `fmt`, `clippy` and `tidy`, with a summary.
    Lint,
    #[command(flatten)]
    Step(Step),
    /// The stress test for N seconds per scenario.
    Stress {
        #[arg(long, value_name = "N")]
        seconds: u64,
    },
    /// The randomised soak test for N seconds, or until M frames are checked.
    Soak {
        #[arg(long, value_name = "N")]
        seconds: u64,
        #[arg(long, value_name = "M")]
        frames: Option<u64>,
    },
    /// libFuzzer on the `fuzz/` targets, N seconds each (nightly, cargo-fuzz).
    Fuzz {
        #[arg(long, value_name = "N")]
        seconds: u64,
        /// Only this target.
        #[arg(long, value_name = "T", value_parser = fuzz::TARGETS)]
        target: Option<String>,
    },
    /// The stress, soak, wake-up and cancellation tests under ThreadSanitizer (nightly).
    Tsan,
    /// The threaded tests under Miri with many scheduler seeds; ARGS go to `cargo miri test`.
    MiriSeeds {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The demo (`crates/bytecast-demo`, release) with ARGS; `cargo xtask demo --help` lists them.
    #[command(disable_help_flag = true)]
    Demo {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// bytecast against its peers (release); a full run writes docs/bench.md and docs/bench.svg.
    Bench(bench::Flags),
}

/// The CI steps: each is a command, and `test-all` runs them all in this order.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
enum Step {
    /// `cargo fmt --all -- --check`, also of the firmware crate.
    Fmt,
    /// Clippy on every target, host and the `no_std` builds, warnings denied.
    Clippy,
    /// Source and document rules (`cargo test -p xtask`).
    Tidy,
    /// Every workspace test (unit, integration, examples, benches), then doctests.
    Test,
    /// The core's tests and the fuzz replay with positions narrowed to 2^22 bytes, so they wrap.
    Wrap,
    /// Build `bytecast` without default features for thumbv7em (alone and with `critical-section`) and thumbv6m (`portable-atomic`, `critical-section`).
    NoStd,
    /// The core's tests under Miri (nightly, strict provenance); ARGS go to `cargo miri test`.
    Miri {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The core's loom models (`--cfg bytecast_loom`, preemption bound from `LOOM_MAX_PREEMPTIONS`, 1).
    Loom,
    /// The stress test for 5 seconds per scenario.
    StressSmoke,
    /// Replay the fuzz corpus, kept crash inputs and random inputs (stable).
    FuzzSmoke,
    /// API docs, warnings denied.
    Doc,
    /// Run every crate's examples, then the demo once (plain, small workload).
    Examples,
    /// `cargo package --no-verify` of each published crate.
    Package,
    /// The core's tests with `critical-section` on the host, then the firmware crate's
    /// self-checking programs under QEMU (Cortex-M3 and Cortex-M0), with a timeout each, then
    /// their flash and RAM.
    Qemu,
}

impl Step {
    /// Every step with its command name, in declaration order: the order of `test-all`.
    fn all() -> Vec<(String, Step)> {
        let steps = Step::augment_subcommands(clap::Command::new("step"));
        steps
            .get_subcommands()
            .map(|sub| {
                let name = sub.get_name().to_owned();
                let matches = steps
                    .clone()
                    .try_get_matches_from(["step", name.as_str()])
                    .expect("every step runs without arguments");
                let step = Step::from_arg_matches(&matches).expect("a step's own name parses");
                (name, step)
            })
            .collect()
    }

    /// Whether `lint` runs this step: the fast, static ones.
    fn is_lint(&self) -> bool {
        matches!(self, Step::Fmt | Step::Clippy | Step::Tidy)
    }

    /// Runs the step, adding the counts of the tests it runs to `tally`.
    fn run(&self, tally: &mut Tally) -> Result<()> {
        match self {
            Step::Fmt => checks::fmt(),
            Step::Clippy => checks::clippy(),
            Step::Tidy => tidy::run(tally),
            Step::Test => checks::test(tally),
            Step::Wrap => checks::wrap(tally),
            Step::NoStd => checks::no_std(),
            Step::Miri { args } => nightly::miri(tally, args),
            Step::Loom => checks::loom(tally),
            Step::StressSmoke => stress::smoke(tally),
            Step::FuzzSmoke => fuzz::smoke(tally),
            Step::Doc => checks::doc(),
            Step::Examples => examples::run(),
            Step::Package => checks::package(),
            Step::Qemu => qemu::run(tally),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<test_all::StepsFailed>() => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    let mut tally = Tally::default();
    match command {
        Command::TestAll => test_all::run(&Step::all()),
        Command::Lint => {
            let mut steps = Step::all();
            steps.retain(|(_, step)| step.is_lint());
            test_all::run(&steps)
        }
        Command::Step(step) => step.run(&mut tally),
        Command::Stress { seconds } => stress::run(seconds, &mut tally),
        Command::Soak { seconds, frames } => stress::soak(seconds, frames, &mut tally),
        Command::Fuzz { seconds, target } => fuzz::run(seconds, target.as_deref()),
        Command::Tsan => nightly::tsan(&mut tally),
        Command::MiriSeeds { args } => nightly::miri_seeds(&mut tally, &args),
        Command::Demo { args } => examples::demo(&args),
        Command::Bench(flags) => bench::run(&flags),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(words: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(words.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_all_runs_the_steps_in_order() {
        let names: Vec<String> = Step::all().into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "fmt",
                "clippy",
                "tidy",
                "test",
                "wrap",
                "no-std",
                "miri",
                "loom",
                "stress-smoke",
                "fuzz-smoke",
                "doc",
                "examples",
                "package",
                "qemu"
            ]
        );
        assert_eq!(Step::all()[6].1, Step::Miri { args: Vec::new() });
        let lint: Vec<String> = Step::all()
            .into_iter()
            .filter(|(_, step)| step.is_lint())
            .map(|(name, _)| name)
            .collect();
        assert_eq!(lint, ["fmt", "clippy", "tidy"]);
    }

    #[test]
    fn commands_keep_their_names_and_flags() {
        assert!(matches!(parse(&["test-all"]), Ok(Command::TestAll)));
        assert!(matches!(parse(&["no-std"]), Ok(Command::Step(Step::NoStd))));
        assert!(matches!(
            parse(&["stress", "--seconds", "30"]),
            Ok(Command::Stress { seconds: 30 })
        ));
        assert!(matches!(
            parse(&["soak", "--seconds", "600", "--frames", "100000000"]),
            Ok(Command::Soak {
                seconds: 600,
                frames: Some(100_000_000)
            })
        ));
        assert!(matches!(
            parse(&["fuzz", "--target", "ops", "--seconds", "5"]),
            Ok(Command::Fuzz { seconds: 5, target: Some(t) }) if t == "ops"
        ));
        match parse(&["miri", "--", "race_free"]) {
            Ok(Command::Step(Step::Miri { args })) => assert_eq!(args, ["race_free"]),
            other => panic!("{other:?}"),
        }
        match parse(&["demo", "--writers", "8", "--help"]) {
            Ok(Command::Demo { args }) => assert_eq!(args, ["--writers", "8", "--help"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["nope"][..],
            &["fmt", "extra"],
            &["stress"],
            &["stress", "--seconds", "x"],
            &["soak", "--frames", "1"],
            &["fuzz", "--seconds", "1", "--target", "nope"],
            &["fuzz", "--target", "ops"],
            &["bench", "--filter"],
            &["bench", "--fast"],
        ] {
            let error = parse(bad).expect_err(&format!("{bad:?}"));
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }
}
