//! Idempotent installation of the rustup components, targets and toolchains
//! the tasks need. Each helper asks rustup what is installed first and only
//! installs what is missing.

use anyhow::Result;

use crate::cmd::{self, rustup};

/// The bare-metal target used to check that `bytecast` builds without `std`.
pub(crate) const NO_STD_TARGET: &str = "thumbv7em-none-eabihf";

/// The bare-metal target without compare-and-swap (Cortex-M0), for the `portable-atomic` build.
pub(crate) const NO_CAS_TARGET: &str = "thumbv6m-none-eabi";

/// The core's features for [`NO_CAS_TARGET`].
pub(crate) const NO_CAS_FEATURES: &str = "portable-atomic,critical-section";

/// Ensures the active toolchain has `component` (e.g. `rustfmt`, `clippy`).
pub(crate) fn ensure_component(component: &str) -> Result<()> {
    let installed = cmd::read(rustup().args(["component", "list", "--installed"]))?;
    if !has_component(&installed, component) {
        cmd::run(rustup().args(["component", "add", component]))?;
    }
    Ok(())
}

/// Ensures the active toolchain has the standard library for `target`.
pub(crate) fn ensure_target(target: &str) -> Result<()> {
    let installed = cmd::read(rustup().args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|line| line.trim() == target) {
        cmd::run(rustup().args(["target", "add", target]))?;
    }
    Ok(())
}

/// Ensures `toolchain` is installed with all of `components`.
pub(crate) fn ensure_toolchain(toolchain: &str, components: &[&str]) -> Result<()> {
    let list = ["component", "list", "--installed", "--toolchain", toolchain];
    let Ok(installed) = cmd::read(rustup().args(list)) else {
        let install = ["toolchain", "install", toolchain, "--profile", "minimal"];
        let components = components.join(",");
        return cmd::run(rustup().args(install).args(["--component", &components]));
    };
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|component| !has_component(&installed, component))
        .collect();
    if !missing.is_empty() {
        let add = ["component", "add", "--toolchain", toolchain];
        cmd::run(rustup().args(add).args(missing))?;
    }
    Ok(())
}

/// Whether `rustup component list --installed` output lists `component`,
/// either bare (`rust-src`) or with a target suffix (`clippy-x86_64-...`).
/// (A name that is a dash-separated prefix of another, like `rust` of
/// `rust-src`, would be ambiguous; the components we ask for are not.)
fn has_component(installed: &str, component: &str) -> bool {
    installed.lines().map(str::trim).any(|line| {
        line.strip_prefix(component)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    })
}

#[cfg(test)]
mod tests {
    use super::has_component;

    const INSTALLED: &str = "cargo-x86_64-unknown-linux-gnu\n\
                             clippy-x86_64-unknown-linux-gnu\n\
                             rust-src\n\
                             rust-std-x86_64-unknown-linux-gnu\n";

    #[test]
    fn finds_components_with_and_without_target_suffix() {
        assert!(has_component(INSTALLED, "clippy"));
        assert!(has_component(INSTALLED, "rust-src"));
        assert!(has_component(INSTALLED, "rust-std"));
    }

    #[test]
    fn does_not_match_prefixes_of_other_names() {
        assert!(!has_component(INSTALLED, "miri"));
        assert!(!has_component(INSTALLED, "clip"));
        assert!(!has_component(INSTALLED, "rust-s"));
    }
}
