//! `cargo xtask no-std`: build `bytecast` without default features for a
//! bare-metal target, proving it does not depend on `std`.

use anyhow::Result;

use crate::{
    cmd::{self, cargo, Tally},
    toolchain::{self, NO_STD_TARGET},
};

pub(crate) fn run(_: &mut Tally) -> Result<()> {
    toolchain::ensure_target(NO_STD_TARGET)?;
    cmd::run(
        cargo()
            .args(["build", "-p", "bytecast", "--no-default-features"])
            .args(["--target", NO_STD_TARGET]),
    )
}
