//! The CI steps that are one or two cargo commands each: `fmt`, `clippy`, `test`, `wrap`,
//! `no-std`, `loom`, `doc` and `package`.

use std::process::Command;

use anyhow::Result;

use crate::{
    cmd::{self, cargo, project_root, Tally},
    fuzz,
    toolchain::{self, NO_CAS_FEATURES, NO_CAS_TARGET, NO_STD_TARGET},
};

/// The crates published to crates.io, in dependency order.
pub(crate) const PUBLISHED: &[&str] = &["bytecast", "bytecast-tokio", "bytecast-futures"];

/// The cfg that narrows the core's position space to 2^22 bytes, 4 MiB (`wrap`).
const NARROW_POSITIONS: &str = "--cfg bytecast_narrow_positions";

/// `fmt`: check the formatting of the whole workspace, and of the firmware crate.
pub(crate) fn fmt() -> Result<()> {
    toolchain::ensure_component("rustfmt")?;
    cmd::run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    // The firmware crate is a workspace of its own.
    cmd::run(
        cargo()
            .args(["fmt", "--all", "--manifest-path"])
            .arg(project_root().join("crates/bytecast-firmware/Cargo.toml"))
            .args(["--", "--check"]),
    )
}

/// `clippy`: lint every target on the host, then the `no_std` builds of `bytecast` on
/// bare-metal targets (as [`no_std`] builds them), with warnings denied.
pub(crate) fn clippy() -> Result<()> {
    toolchain::ensure_component("clippy")?;
    cmd::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    for (target, features) in no_std_builds() {
        toolchain::ensure_target(target)?;
        cmd::run(
            cargo()
                .args(["clippy", "-p", "bytecast", "--no-default-features"])
                .args(["--features", features, "--target", target])
                .args(["--", "-D", "warnings"]),
        )?;
    }
    Ok(())
}

/// The core's `no_std` builds: each target with the features it is built with.
fn no_std_builds() -> [(&'static str, &'static str); 3] {
    [
        (NO_STD_TARGET, ""),
        (NO_STD_TARGET, "critical-section"),
        (NO_CAS_TARGET, NO_CAS_FEATURES),
    ]
}

/// `test`: unit, integration, example and bench-as-test targets of the whole workspace, then
/// its doctests.
pub(crate) fn test(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(
        cargo().args(["test", "--workspace", "--all-targets"]),
        tally,
    )?;
    cmd::run_tests(cargo().args(["test", "--workspace", "--doc"]), tally)
}

/// `wrap`: the core's integration tests and the fuzz replay, built with
/// `--cfg bytecast_narrow_positions` so that the core's position space is 2^22 bytes and
/// positions wrap within every test, into `target/wrap` so that the changed `RUSTFLAGS` do not
/// invalidate the normal build cache.
pub(crate) fn wrap(tally: &mut Tally) -> Result<()> {
    let narrow = |mut command: Command| {
        command.env("RUSTFLAGS", NARROW_POSITIONS).env(
            "CARGO_TARGET_DIR",
            project_root().join("target").join("wrap"),
        );
        command
    };
    let mut core = narrow(cargo());
    core.args(["test", "-p", "bytecast", "--tests"]);
    cmd::run_tests(&mut core, tally)?;
    let mut replay = narrow(cargo());
    replay.args(fuzz::REPLAY_ARGS);
    cmd::run_tests(&mut replay, tally)
}

/// `no-std`: build `bytecast` without default features for bare-metal targets, proving it
/// does not depend on `std`: thumbv7em alone and with `critical-section`, and thumbv6m (no
/// compare-and-swap) with `portable-atomic` and `critical-section`; then `bytecast-embedded-io`
/// for thumbv7em.
pub(crate) fn no_std() -> Result<()> {
    for (target, features) in no_std_builds() {
        toolchain::ensure_target(target)?;
        cmd::run(
            cargo()
                .args(["build", "-p", "bytecast", "--no-default-features"])
                .args(["--features", features, "--target", target]),
        )?;
    }
    // The embedded-io-async adapter is `no_std` too.
    cmd::run(cargo().args(["build", "-p", "bytecast-embedded-io"]).args([
        "--no-default-features",
        "--target",
        NO_STD_TARGET,
    ]))
}

/// `loom`: model-check `bytecast`'s concurrent code with loom.
///
/// Builds with `--cfg bytecast_loom` (the crate's own switch) into its own target directory
/// (`target/loom`), so the changed `RUSTFLAGS` do not invalidate the normal build cache, and
/// runs only the library tests whose names contain `loom`. The preemption bound defaults to 1,
/// which keeps the step to seconds; set `LOOM_MAX_PREEMPTIONS=2` (or more) in the environment
/// for the deep run. Then it builds the core as a downstream crate running its own loom tests
/// would (`--cfg loom`, tokio's convention) and runs the semantics suite there: a user's
/// `--cfg loom` must change nothing in bytecast.
pub(crate) fn loom(tally: &mut Tally) -> Result<()> {
    cmd::run_tests(
        cargo()
            .args(["test", "-p", "bytecast", "--test", "log"])
            .env("RUSTFLAGS", "--cfg loom")
            .env(
                "CARGO_TARGET_DIR",
                project_root().join("target").join("user-loom"),
            ),
        tally,
    )?;
    cmd::run_tests(
        cargo()
            .args(["test", "-p", "bytecast", "--lib", "--release", "--", "loom"])
            .env("RUSTFLAGS", "--cfg bytecast_loom -C debug-assertions")
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

/// `doc`: build the workspace's API docs with warnings denied (broken intra-doc links, missing
/// code-block languages, ...).
pub(crate) fn doc() -> Result<()> {
    cmd::run(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

/// `package`: `cargo package --no-verify` of every published crate together (so that the
/// adapters resolve the unpublished core from the same run), allowing uncommitted changes so
/// that the step also runs on a working tree. Then checks that each `.crate` holds its README
/// and both licence files.
pub(crate) fn package() -> Result<()> {
    let mut command = cargo();
    command.args(["package", "--no-verify", "--allow-dirty"]);
    for krate in PUBLISHED {
        command.args(["-p", krate]);
    }
    cmd::run(&mut command)?;
    for krate in PUBLISHED {
        let mut list = cargo();
        list.args(["package", "--list", "--allow-dirty", "-p", krate]);
        let files = cmd::read(&mut list)?;
        let missing = missing_package_files(&files);
        anyhow::ensure!(missing.is_empty(), "the {krate} package lacks {missing:?}");
    }
    Ok(())
}

/// The files every published package must hold that `cargo package --list` output lacks.
fn missing_package_files(list: &str) -> Vec<&'static str> {
    ["README.md", "LICENSE-MIT", "LICENSE-APACHE", "Cargo.toml"]
        .into_iter()
        .filter(|file| !list.lines().any(|line| line.trim() == *file))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::missing_package_files;

    #[test]
    fn package_lists_are_checked_for_readme_and_licences() {
        let full =
            "Cargo.toml\nCargo.toml.orig\nLICENSE-APACHE\nLICENSE-MIT\nREADME.md\nsrc/lib.rs\n";
        assert!(missing_package_files(full).is_empty());
        assert_eq!(
            missing_package_files("Cargo.toml\nREADME.md\nsrc/lib.rs\n"),
            ["LICENSE-MIT", "LICENSE-APACHE"]
        );
    }
}
