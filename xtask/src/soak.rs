//! `cargo xtask soak --seconds N`: `bytecast`'s randomised soak test (`tests/soak.rs`), in
//! release mode, for `N` seconds. It mixes everything at random (writers and readers of both
//! kinds joining and leaving, `Park` and `Drop` channels, aborted grants, terminate and drain),
//! checks every frame, and prints frames checked per second and the totals.

use anyhow::Result;

use crate::{
    cmd::{self, cargo, Tally},
    Usage,
};

pub(crate) fn run(tally: &mut Tally, args: &[String]) -> Result<()> {
    let seconds = parse_seconds(args)?;
    cmd::run_tests(
        cargo()
            .args(["test", "-p", "bytecast", "--release", "--test", "soak"])
            .args(["--", "--nocapture"])
            .env("BYTECAST_SOAK_SECONDS", seconds.to_string()),
        tally,
    )
}

fn parse_seconds(args: &[String]) -> Result<u64> {
    match args {
        [flag, value] if flag == "--seconds" => Ok(value
            .parse()
            .map_err(|_| Usage(format!("soak: `{value}` is not a number of seconds")))?),
        _ => Err(Usage("soak takes exactly `--seconds N`".into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|&w| w.to_owned()).collect()
    }

    #[test]
    fn parses_seconds() {
        assert_eq!(parse_seconds(&args(&["--seconds", "600"])).unwrap(), 600);
        for bad in [&[][..], &["--seconds"], &["--seconds", "x"], &["-s", "1"]] {
            assert!(parse_seconds(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
