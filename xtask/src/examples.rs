//! `cargo xtask examples` and `cargo xtask demo [ARGS...]`.
//!
//! `examples` runs every example of every crate under `crates/` (each must finish on its own and
//! exit 0), then the demo once with plain output and a small fixed workload, so that CI checks
//! its verdict (it exits non-zero when the verdict fails); `demo` runs the demo binary
//! (`crates/bytecast-demo`) in release mode with the given arguments.

use std::fs;

use anyhow::{bail, Result};

use crate::cmd::{self, cargo, project_root};

/// The demo's package (its binary has the same name).
const DEMO: &str = "bytecast-demo";

/// The demo's arguments in the `examples` step: plain lines, and a fixed number of frames
/// rather than a time, so that it takes about a second.
const DEMO_SMOKE_ARGS: &[&str] = &["--plain", "--frames-per-writer", "50000"];

/// The `examples` step: every `crates/<crate>/examples/<name>.rs`, release mode, then the demo
/// once with [`DEMO_SMOKE_ARGS`].
pub(crate) fn run() -> Result<()> {
    let mut failed = Vec::new();
    for (krate, example) in all_examples()? {
        let ok = cmd::run(cargo().args(["run", "--release", "-p", &krate, "--example", &example]))
            .is_ok();
        println!(
            "example {krate}/{example}: {}",
            if ok { "ok" } else { "FAILED" }
        );
        if !ok {
            failed.push(format!("{krate}/{example}"));
        }
    }
    let ok = demo(DEMO_SMOKE_ARGS).is_ok();
    println!(
        "demo {}: {}",
        DEMO_SMOKE_ARGS.join(" "),
        if ok { "ok" } else { "FAILED" }
    );
    if !ok {
        failed.push(format!("{DEMO} {}", DEMO_SMOKE_ARGS.join(" ")));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("examples failed: {}", failed.join(", "))
    }
}

/// `(package, example)` pairs, sorted, from the `examples/` folder of each crate.
fn all_examples() -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for krate in fs::read_dir(project_root().join("crates"))? {
        let krate = krate?;
        let Ok(entries) = fs::read_dir(krate.path().join("examples")) else {
            continue;
        };
        let package = krate.file_name().to_string_lossy().into_owned();
        for e in entries {
            let path = e?.path();
            if path.extension().is_some_and(|x| x == "rs") {
                if let Some(stem) = path.file_stem() {
                    found.push((package.clone(), stem.to_string_lossy().into_owned()));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `demo [ARGS...]`: `cargo run --release -p bytecast-demo -- ARGS`.
pub(crate) fn demo<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<()> {
    cmd::run(
        cargo()
            .args(["run", "--release", "-p", DEMO, "--"])
            .args(args),
    )
}
