//! `cargo xtask soak --seconds N [--frames M]`: `bytecast`'s randomised soak test
//! (`tests/soak.rs`), in release mode, for `N` seconds, or until `M` frames have been checked if
//! that comes first. It mixes everything at random (writers and readers of both kinds joining
//! and leaving, `Park` and `Drop` channels, aborted grants, terminate and drain), checks every
//! frame, and prints frames checked per second and the totals (every minute and at the end).

use anyhow::Result;

use crate::{
    cmd::{self, cargo, Tally},
    Usage,
};

pub(crate) fn run(tally: &mut Tally, args: &[String]) -> Result<()> {
    let (seconds, frames) = parse_args(args)?;
    let mut cmd = cargo();
    cmd.args(["test", "-p", "bytecast", "--release", "--test", "soak"])
        .args(["--", "--nocapture"])
        .env("BYTECAST_SOAK_SECONDS", seconds.to_string());
    if let Some(frames) = frames {
        cmd.env("BYTECAST_SOAK_FRAMES", frames.to_string());
    }
    cmd::run_tests(&mut cmd, tally)
}

/// `--seconds N [--frames M]`.
fn parse_args(args: &[String]) -> Result<(u64, Option<u64>)> {
    let number = |value: &str, what: &str| -> Result<u64> {
        Ok(value
            .parse()
            .map_err(|_| Usage(format!("soak: `{value}` is not a number of {what}")))?)
    };
    match args {
        [flag, value] if flag == "--seconds" => Ok((number(value, "seconds")?, None)),
        [flag, value, flag2, value2] if flag == "--seconds" && flag2 == "--frames" => {
            Ok((number(value, "seconds")?, Some(number(value2, "frames")?)))
        }
        _ => Err(
            Usage("soak takes `--seconds N`, optionally followed by `--frames M`".into()).into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_args;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|&w| w.to_owned()).collect()
    }

    #[test]
    fn parses_seconds_and_frames() {
        assert_eq!(
            parse_args(&args(&["--seconds", "600"])).unwrap(),
            (600, None)
        );
        assert_eq!(
            parse_args(&args(&["--seconds", "600", "--frames", "100000000"])).unwrap(),
            (600, Some(100_000_000))
        );
        for bad in [
            &[][..],
            &["--seconds"],
            &["--seconds", "x"],
            &["-s", "1"],
            &["--seconds", "1", "--frames"],
            &["--seconds", "1", "--frames", "y"],
            &["--frames", "1", "--seconds", "1"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
