//! `cargo xtask stress --seconds N` and `cargo xtask stress-smoke`: run
//! `bytecast`'s `stress` integration test, in release mode, for a given time.

use anyhow::Result;

use crate::{
    cmd::{self, cargo, Tally},
    Usage,
};

/// How long the `stress-smoke` step of `test-all` runs.
const SMOKE_SECONDS: u64 = 5;

pub(crate) fn smoke(tally: &mut Tally) -> Result<()> {
    run_for(SMOKE_SECONDS, tally)
}

/// `stress --seconds N`.
pub(crate) fn run(tally: &mut Tally, args: &[String]) -> Result<()> {
    run_for(parse_seconds(args)?, tally)
}

fn run_for(seconds: u64, tally: &mut Tally) -> Result<()> {
    cmd::run_tests(
        cargo()
            .args(["test", "-p", "bytecast", "--release", "--test", "stress"])
            .env("BYTECAST_STRESS_SECONDS", seconds.to_string()),
        tally,
    )
}

fn parse_seconds(args: &[String]) -> Result<u64> {
    let [flag, value] = args else {
        return Err(Usage("stress takes exactly `--seconds N`".into()).into());
    };
    if flag != "--seconds" {
        return Err(Usage(format!("stress: unexpected argument `{flag}`")).into());
    }
    let seconds = value
        .parse()
        .map_err(|_| Usage(format!("stress: `{value}` is not a number of seconds")))?;
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|&word| word.to_owned()).collect()
    }

    #[test]
    fn parses_seconds() {
        assert_eq!(parse_seconds(&args(&["--seconds", "30"])).unwrap(), 30);
    }

    #[test]
    fn rejects_bad_arguments() {
        for bad in [
            &[][..],
            &["--seconds"],
            &["--secs", "3"],
            &["--seconds", "x"],
        ] {
            assert!(parse_seconds(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
