//! `cargo xtask test-all` (what CI runs) and `cargo xtask lint`: steps run in order.
//!
//! `test-all` runs every step, carrying on after failures, then prints a
//! table of each step's wall time, result and test counts, and closes with
//! `N passed, M failed` counting steps.

use std::{
    fmt::{self, Display, Formatter},
    time::{Duration, Instant},
};

use anyhow::Result;

use crate::{cmd::Tally, Step};

struct Outcome {
    step: String,
    elapsed: Duration,
    ok: bool,
    tests: Tally,
}

/// Runs `steps` in order, carrying on after failures, then prints the summary.
pub(crate) fn run(steps: &[(String, Step)]) -> Result<()> {
    let outcomes: Vec<Outcome> = steps
        .iter()
        .enumerate()
        .map(|(index, (name, step))| {
            println!("\n==> [{}/{}] {name}", index + 1, steps.len());
            run_step(name, step)
        })
        .collect();
    print_summary(&outcomes);
    let failed = outcomes.iter().filter(|outcome| !outcome.ok).count();
    if failed > 0 {
        return Err(StepsFailed(failed).into());
    }
    Ok(())
}

/// Some steps failed: already reported by the summary, whose closing line
/// must stay the last one printed, so `main` exits non-zero without a word.
#[derive(Debug)]
pub(crate) struct StepsFailed(usize);

impl Display for StepsFailed {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} step(s) failed", self.0)
    }
}

impl std::error::Error for StepsFailed {}

fn run_step(name: &str, step: &Step) -> Outcome {
    let mut tests = Tally::default();
    let start = Instant::now();
    let result = step.run(&mut tests);
    let elapsed = start.elapsed();
    if let Err(error) = &result {
        eprintln!("==> step `{name}` FAILED: {error:#}");
    }
    Outcome {
        step: name.to_owned(),
        elapsed,
        ok: result.is_ok(),
        tests,
    }
}

fn print_summary(outcomes: &[Outcome]) {
    println!("\n{}", summary(outcomes));
}

/// The summary table, closed by the `N passed, M failed` line (in steps).
fn summary(outcomes: &[Outcome]) -> String {
    let mut lines = vec![format!(
        "{:<14} {:>9}  {:<6}  {:>12}  {:>12}",
        "step", "seconds", "result", "tests passed", "tests failed"
    )];
    lines.extend(outcomes.iter().map(summary_row));
    let failed = outcomes.iter().filter(|outcome| !outcome.ok).count();
    lines.push(format!(
        "{} passed, {failed} failed",
        outcomes.len() - failed
    ));
    lines.join("\n")
}

fn summary_row(outcome: &Outcome) -> String {
    let (passed, failed) = if outcome.tests.suites == 0 {
        ("-".to_owned(), "-".to_owned())
    } else {
        (
            outcome.tests.passed.to_string(),
            outcome.tests.failed.to_string(),
        )
    };
    format!(
        "{:<14} {:>9.1}  {:<6}  {passed:>12}  {failed:>12}",
        outcome.step,
        outcome.elapsed.as_secs_f64(),
        if outcome.ok { "ok" } else { "FAILED" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_ends_with_step_counts() {
        let outcome = |step: &str, ok, tests| Outcome {
            step: step.to_owned(),
            elapsed: Duration::from_millis(1500),
            ok,
            tests,
        };
        let tests = Tally {
            suites: 2,
            passed: 7,
            failed: 1,
        };
        let text = summary(&[
            outcome("fmt", true, Tally::default()),
            outcome("test", false, tests),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("fmt") && lines[1].contains("1.5  ok"));
        assert!(lines[2].contains("FAILED") && lines[2].ends_with("7             1"));
        assert_eq!(lines[3], "1 passed, 1 failed");
    }
}
