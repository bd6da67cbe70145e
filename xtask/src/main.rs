//! Project automation for the bytecast workspace, run as `cargo xtask <command>`.
//!
//! Commands:
//!
//! - `cargo xtask test-all`: every step below, in order, as CI runs it
//!   (`bash .ci/run`); carries on after a failure, prints a summary table and
//!   closes with `N passed, M failed` (steps).
//! - `cargo xtask fmt`: `cargo fmt --all -- --check`.
//! - `cargo xtask clippy`: clippy on all workspace targets, and on the
//!   `no_std` build for `thumbv7em-none-eabihf`, with `-D warnings`.
//! - `cargo xtask tidy`: source hygiene rules (`unsafe` allowlist, `SAFETY:`
//!   and `ORDERING:` comments, no placeholders), i.e. `cargo test -p xtask`.
//! - `cargo xtask test`: `cargo test --workspace --all-targets`, then doctests.
//! - `cargo xtask no-std`: build `bytecast` without default features for
//!   `thumbv7em-none-eabihf`.
//! - `cargo xtask miri [ARGS...]`: `bytecast`'s tests under Miri (nightly,
//!   strict provenance); `ARGS` go to `cargo miri test`, e.g. a filter.
//! - `cargo xtask loom`: `bytecast`'s `loom` tests with `--cfg loom`.
//! - `cargo xtask stress-smoke`: the `stress` test for 5 seconds.
//! - `cargo xtask doc`: `cargo doc --workspace --no-deps`, warnings denied.
//! - `cargo xtask examples`: run every crate's examples, then the demo once
//!   (`--plain`, small workload) so that its verdict is checked.
//! - `cargo xtask lint`: `fmt`, `clippy` and `tidy`, with a summary.
//! - `cargo xtask stress --seconds N`: the `stress` test for `N` seconds.
//! - `cargo xtask fuzz-smoke`: replay the fuzz corpus, every kept crash
//!   input and pseudo-random inputs through the fuzz harnesses (stable).
//! - `cargo xtask fuzz --seconds N [--target T]`: libFuzzer on the `fuzz/`
//!   targets (`ops`, `interleave`), `N` seconds each (nightly, cargo-fuzz;
//!   installed if missing).
//! - `cargo xtask tsan`: the stress, soak and wake-up tests under
//!   ThreadSanitizer (nightly, `-Zbuild-std`).
//! - `cargo xtask miri-seeds [ARGS...]`: the concurrent tests under Miri
//!   with many scheduler seeds (`-Zmiri-many-seeds`).
//! - `cargo xtask soak --seconds N [--frames M]`: the randomised soak test (every kind of
//!   handle joining and leaving, every frame checked) for `N` seconds.
//! - `cargo xtask demo [ARGS...]`: run the demo (`crates/bytecast-demo`,
//!   release mode) with `ARGS`, e.g. `--writers 8 --seconds 10`; `--help`
//!   lists them.
//! - `cargo xtask bench [ARGS...]`: bytecast against its peers
//!   (`crates/bytecast-bench`, release mode); `--quick`, `--filter TEXT`,
//!   `--selium`. A full run writes `docs/bench.md` and `docs/bench.svg`.
//!   Not part of `test-all`.
//! - `cargo xtask help`: list the commands.
//!
//! Tools the commands need (rustup components, targets, the nightly
//! toolchain for Miri) are installed on first use if missing.

#![forbid(unsafe_code)]

mod bench;
mod clippy;
mod cmd;
mod doc;
mod examples;
mod fmt;
mod fuzz;
mod loom;
mod miri;
mod miri_seeds;
mod no_std;
mod soak;
mod stress;
mod test;
mod test_all;
mod tidy;
mod toolchain;
mod tsan;

use std::{env, fmt::Display, process::ExitCode};

use anyhow::Result;

use crate::cmd::Tally;

/// `(usage, description)` of every command, for `help`.
const COMMANDS: &[(&str, &str)] = &[
    ("test-all", "run every step below in order (what CI runs)"),
    ("fmt", "check formatting"),
    ("clippy", "clippy, host and no_std, warnings denied"),
    ("tidy", "source hygiene rules (cargo test -p xtask)"),
    ("test", "all workspace tests, then doctests"),
    ("no-std", "build bytecast for thumbv7em-none-eabihf"),
    (
        "miri [ARGS...]",
        "bytecast tests under Miri; ARGS go to cargo miri test",
    ),
    ("loom", "bytecast loom model-checking tests"),
    ("stress-smoke", "the stress test for 5 seconds"),
    ("doc", "API docs, warnings denied"),
    (
        "examples",
        "run every crate's examples, then the demo once (plain)",
    ),
    ("lint", "fmt + clippy + tidy"),
    ("stress --seconds N", "the stress test for N seconds"),
    (
        "fuzz-smoke",
        "replay fuzz corpus, crashes and random inputs (stable)",
    ),
    (
        "fuzz --seconds N [--target T]",
        "libFuzzer on the fuzz/ targets, N seconds each (nightly)",
    ),
    (
        "tsan",
        "stress, soak and wake-up tests under ThreadSanitizer",
    ),
    (
        "miri-seeds [ARGS...]",
        "concurrent tests under Miri with many scheduler seeds",
    ),
    (
        "soak --seconds N [--frames M]",
        "the randomised soak test for N seconds (or until M frames are checked)",
    ),
    (
        "demo [ARGS...]",
        "run the bytecast-demo binary (release) with ARGS; see demo --help",
    ),
    (
        "bench [ARGS...]",
        "bytecast vs peers (release); --quick, --filter TEXT, --selium",
    ),
    ("help", "print this help"),
];

/// A command-line mistake: reported with the help text and exit code 2.
#[derive(Debug)]
struct Usage(String);

impl Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{}", help());
        return ExitCode::from(2);
    };
    match dispatch(command, rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<test_all::StepsFailed>() => ExitCode::FAILURE,
        Err(error) if error.is::<Usage>() => {
            eprintln!("error: {error}\n\n{}", help());
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: &str, args: &[String]) -> Result<()> {
    match command {
        "miri" => miri::run(&mut Tally::default(), args),
        "stress" => stress::run(&mut Tally::default(), args),
        "fuzz" => fuzz::run(&mut Tally::default(), args),
        "soak" => soak::run(&mut Tally::default(), args),
        "miri-seeds" => miri_seeds::run(&mut Tally::default(), args),
        "demo" => examples::demo(args),
        "bench" => bench::run(args),
        _ => {
            let run = command_without_args(command)
                .ok_or_else(|| Usage(format!("unknown command `{command}`")))?;
            if !args.is_empty() {
                return Err(Usage(format!("`{command}` takes no arguments")).into());
            }
            run()
        }
    }
}

/// The commands that take no arguments.
fn command_without_args(command: &str) -> Option<fn() -> Result<()>> {
    let run: fn() -> Result<()> = match command {
        "test-all" => test_all::run,
        "lint" => test_all::lint,
        "help" | "--help" | "-h" => || {
            println!("{}", help());
            Ok(())
        },
        "fmt" => || fmt::run(&mut Tally::default()),
        "clippy" => || clippy::run(&mut Tally::default()),
        "tidy" => || tidy::run(&mut Tally::default()),
        "test" => || test::run(&mut Tally::default()),
        "no-std" => || no_std::run(&mut Tally::default()),
        "loom" => || loom::run(&mut Tally::default()),
        "stress-smoke" => || stress::smoke(&mut Tally::default()),
        "fuzz-smoke" => || fuzz::smoke(&mut Tally::default()),
        "tsan" => || tsan::run(&mut Tally::default()),
        "doc" => || doc::run(&mut Tally::default()),
        "examples" => || examples::run(&mut Tally::default()),
        _ => return None,
    };
    Some(run)
}

fn help() -> String {
    let width = COMMANDS
        .iter()
        .map(|(usage, _)| usage.len())
        .max()
        .unwrap_or(0);
    let commands = COMMANDS
        .iter()
        .map(|(usage, description)| format!("    {usage:<width$}  {description}"));
    std::iter::once("Usage: cargo xtask <command>\n\nCommands:".to_owned())
        .chain(commands)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::{command_without_args, COMMANDS};

    /// The module docs above must list every command of `help`.
    #[test]
    fn every_listed_command_is_known() {
        for (usage, _) in COMMANDS {
            let name = usage.split_whitespace().next().unwrap();
            let takes_args = [
                "miri",
                "stress",
                "demo",
                "fuzz",
                "soak",
                "miri-seeds",
                "bench",
            ]
            .contains(&name);
            assert!(takes_args || command_without_args(name).is_some(), "{name}");
        }
    }

    #[test]
    fn doc_comment_lists_every_command() {
        let docs: String = include_str!("main.rs")
            .lines()
            .take_while(|line| line.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        for (usage, _) in COMMANDS {
            assert!(
                docs.contains(&format!("`cargo xtask {usage}`")),
                "the doc comment of main.rs does not list `cargo xtask {usage}`"
            );
        }
    }
}
