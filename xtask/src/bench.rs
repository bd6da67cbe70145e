//! `cargo xtask bench [--quick] [--filter TEXT]... [--selium]`: bytecast against its peers.
//!
//! Builds `crates/bytecast-bench` in release mode (both of its binaries: the timed one and the
//! allocation-counting one), then runs it. A full run (neither `--quick` nor `--filter`) writes
//! `docs/bench.md` and `docs/bench.svg`, both generated whole; other runs write `target/bench/`
//! instead, so that a partial run never replaces the published one. `--selium` adds selium-messaging (the crate's `selium`
//! feature; its dependency tree is heavy to build). Not part of `test-all`: nothing about
//! speed is ever asserted.

use anyhow::Result;

use crate::cmd::{self, cargo};

/// The bench package (its main binary has the same name).
const BENCH: &str = "bytecast-bench";

/// The flags of `bench`.
#[derive(Debug, Default, Clone, PartialEq, Eq, clap::Args)]
pub(crate) struct Flags {
    /// 3 runs of 100 ms per cell instead of 5 of 300 ms; writes target/bench/.
    #[arg(long)]
    quick: bool,
    /// Only cells whose `workload/implementation` contains TEXT (repeatable); writes
    /// target/bench/.
    #[arg(long = "filter", value_name = "TEXT")]
    filters: Vec<String>,
    /// Add selium-messaging as a peer (heavy to build).
    #[arg(long)]
    selium: bool,
}

impl Flags {
    /// The command line that gives these flags, as shown in the report.
    fn command_line(&self) -> String {
        let mut line = "cargo xtask bench".to_owned();
        if self.quick {
            line.push_str(" --quick");
        }
        for f in &self.filters {
            line.push_str(&format!(" --filter {f}"));
        }
        if self.selium {
            line.push_str(" --selium");
        }
        line
    }

    /// The arguments of the bench binary.
    fn bench_args(&self) -> Vec<String> {
        let full = !self.quick && self.filters.is_empty();
        let mut out = vec![
            "--out".to_owned(),
            if full { "docs" } else { "target/bench" }.to_owned(),
            "--command".to_owned(),
            self.command_line(),
        ];
        if self.quick {
            out.push("--quick".to_owned());
        }
        for f in &self.filters {
            out.extend(["--filter".to_owned(), f.clone()]);
        }
        out
    }
}

/// `bench [--quick] [--filter TEXT]... [--selium]`.
pub(crate) fn run(flags: &Flags) -> Result<()> {
    let features: &[&str] = if flags.selium {
        &["--features", "selium"]
    } else {
        &[]
    };
    cmd::run(
        cargo()
            .args(["build", "--release", "-p", BENCH, "--bins"])
            .args(features),
    )?;
    cmd::run(
        cargo()
            .args(["run", "--release", "-p", BENCH, "--bin", BENCH])
            .args(features)
            .arg("--")
            .args(flags.bench_args()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|&w| w.to_owned()).collect()
    }

    #[test]
    fn full_runs_write_docs_and_partial_runs_do_not() {
        let full = Flags::default();
        assert_eq!(
            full.bench_args(),
            args(&["--out", "docs", "--command", "cargo xtask bench"])
        );
        let quick = Flags {
            quick: true,
            filters: vec!["1to1".to_owned()],
            selium: false,
        };
        assert_eq!(
            quick.bench_args(),
            args(&[
                "--out",
                "target/bench",
                "--command",
                "cargo xtask bench --quick --filter 1to1",
                "--quick",
                "--filter",
                "1to1"
            ])
        );
    }
}
