//! `cargo xtask bench [--quick] [--filter TEXT]... [--selium]`: bytecast against its peers.
//!
//! Builds `crates/bytecast-bench` in release mode (both of its binaries: the timed one and the
//! allocation-counting one), then runs it. A full run (neither `--quick` nor `--filter`) writes
//! `docs/bench.md` and `docs/bench.svg`, both generated whole; other runs write `target/bench/`
//! instead, so that a partial run never replaces the published one. `--selium` adds selium-messaging (the crate's `selium`
//! feature; its dependency tree is heavy to build). Not part of `test-all`: nothing about
//! speed is ever asserted.

use anyhow::Result;

use crate::{
    cmd::{self, cargo},
    Usage,
};

/// The bench package (its main binary has the same name).
const BENCH: &str = "bytecast-bench";

#[derive(Debug, Default, PartialEq, Eq)]
struct Flags {
    quick: bool,
    selium: bool,
    filters: Vec<String>,
}

fn parse(args: &[String]) -> Result<Flags, Usage> {
    let mut flags = Flags::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => flags.quick = true,
            "--selium" => flags.selium = true,
            "--filter" => flags.filters.push(
                it.next()
                    .ok_or_else(|| Usage("bench: `--filter` needs a value".into()))?
                    .clone(),
            ),
            other => return Err(Usage(format!("bench: unexpected argument `{other}`"))),
        }
    }
    Ok(flags)
}

/// The arguments of the bench binary for `flags`, and the command line shown in the report.
fn bench_args(flags: &Flags, args: &[String]) -> Vec<String> {
    let full = !flags.quick && flags.filters.is_empty();
    let mut out = vec![
        "--out".to_owned(),
        if full { "docs" } else { "target/bench" }.to_owned(),
        "--command".to_owned(),
        format!("cargo xtask bench {}", args.join(" "))
            .trim_end()
            .to_owned(),
    ];
    if flags.quick {
        out.push("--quick".to_owned());
    }
    for f in &flags.filters {
        out.extend(["--filter".to_owned(), f.clone()]);
    }
    out
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let flags = parse(args)?;
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
            .args(bench_args(&flags, args)),
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
        let full = parse(&[]).unwrap();
        assert_eq!(bench_args(&full, &[])[..2], args(&["--out", "docs"]));
        let a = args(&["--quick", "--filter", "1to1"]);
        let quick = parse(&a).unwrap();
        assert_eq!(
            bench_args(&quick, &a),
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

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&args(&["--filter"])).is_err());
        assert!(parse(&args(&["--fast"])).is_err());
        assert!(parse(&args(&["--selium"])).unwrap().selium);
    }
}
