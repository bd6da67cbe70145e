//! `cargo xtask examples` and `cargo xtask demo [ARGS...]`.
//!
//! `examples` runs every example of every crate under `crates/` (each must finish on its own and
//! exit 0); `demo` runs the `demo` example of `bytecast` in release mode with the given
//! arguments.

use std::fs;

use anyhow::{bail, Result};

use crate::cmd::{self, cargo, project_root, Tally};

/// The `examples` step: every `crates/<crate>/examples/<name>.rs`, release mode.
pub(crate) fn run(_: &mut Tally) -> Result<()> {
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
