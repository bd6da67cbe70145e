//! Helpers for spawning `cargo` and `rustup`, echoing what runs, and
//! counting the tests that `cargo test` reports.

use std::{
    env,
    ffi::OsStr,
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

/// The workspace root: the parent of this crate's directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command (the one in `$CARGO`, else `cargo` from `PATH`),
/// run from the project root.
pub(crate) fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    in_root(Command::new(program))
}

/// A `cargo` command of the given rustup toolchain (`rustup run <toolchain> cargo`),
/// run from the project root. Used instead of `cargo +toolchain`, which only
/// works through the rustup proxy and not when `$CARGO` names a real binary.
pub(crate) fn toolchain_cargo(toolchain: &str) -> Command {
    let mut cmd = rustup();
    cmd.args(["run", toolchain, "cargo"]);
    cmd
}

/// A `rustup` command, run from the project root.
pub(crate) fn rustup() -> Command {
    in_root(Command::new("rustup"))
}

fn in_root(mut cmd: Command) -> Command {
    cmd.current_dir(project_root());
    cmd
}

/// Runs `cmd` with inherited stdio and fails unless it exits successfully.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    echo(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout. Nothing is echoed: this is for quiet
/// queries such as `rustup target list --installed`; on failure the error
/// carries the command's stderr.
pub(crate) fn read(cmd: &mut Command) -> Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    if !output.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            display(cmd),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{}`: non-UTF-8 output", display(cmd)))
}

/// Runs a `cargo test`-like `cmd`, echoing its stdout live while adding the
/// counts of every `test result:` line to `tally` (also when the run fails).
pub(crate) fn run_tests(cmd: &mut Command, tally: &mut Tally) -> Result<()> {
    echo(cmd);
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{}`", display(cmd)))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let teed = tee_counting(BufReader::new(stdout), &mut io::stdout().lock(), tally);
    let status = child.wait()?;
    teed.context("cannot relay test output")?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Copies `input` to `output` line by line, flushing each line, and counts
/// the `test result:` lines into `tally`.
fn tee_counting(
    mut input: impl BufRead,
    output: &mut impl Write,
    tally: &mut Tally,
) -> io::Result<()> {
    let mut line = Vec::new();
    while input.read_until(b'\n', &mut line)? != 0 {
        output.write_all(&line)?;
        output.flush()?;
        tally.add_line(&String::from_utf8_lossy(&line));
        line.clear();
    }
    Ok(())
}

/// Test counts summed over the `test result:` lines seen so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Number of `test result:` lines seen.
    pub(crate) suites: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

impl Tally {
    /// Adds the counts of `line` if it is a libtest summary such as
    /// `test result: ok. 3 passed; 0 failed; 1 ignored; ...`.
    pub(crate) fn add_line(&mut self, line: &str) {
        let Some(summary) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        self.suites += 1;
        for part in summary.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let [.., count, label] = words[..] else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                _ => {}
            }
        }
    }
}

/// Prints the command about to run, with its environment overrides.
fn echo(cmd: &Command) {
    println!("$ {}", display(cmd));
    // Keep our echo ordered before the child's output in logs.
    let _ = io::stdout().flush();
}

/// `KEY=value program args...`, with the program shortened to its file name.
fn display(cmd: &Command) -> String {
    let envs = cmd.get_envs().filter_map(|(key, value)| {
        value.map(|value| format!("{}={}", key.to_string_lossy(), shell_word(value)))
    });
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program());
    let words = std::iter::once(program)
        .chain(cmd.get_args())
        .map(shell_word);
    envs.chain(words).collect::<Vec<_>>().join(" ")
}

fn shell_word(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    if word.is_empty() || word.contains(char::is_whitespace) {
        format!("{word:?}")
    } else {
        word.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_sums_libtest_summaries() {
        let mut tally = Tally::default();
        tally.add_line("test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n");
        tally.add_line("test result: FAILED. 10 passed; 2 failed; 0 ignored; 0 measured; 5 filtered out; finished in 1.5s");
        tally.add_line("test foo ... ok");
        tally.add_line("running 3 tests");
        assert_eq!(
            tally,
            Tally {
                suites: 2,
                passed: 13,
                failed: 2
            }
        );
    }

    #[test]
    fn tee_copies_bytes_and_counts() {
        let input = b"running 1 test\ntest a ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored\n\xff tail";
        let mut output = Vec::new();
        let mut tally = Tally::default();
        tee_counting(&input[..], &mut output, &mut tally).unwrap();
        assert_eq!(output, input);
        assert_eq!((tally.suites, tally.passed, tally.failed), (1, 1, 0));
    }

    #[test]
    fn display_shows_env_and_args() {
        let mut cmd = Command::new("/some/where/cargo");
        cmd.args(["test", "-p", "x"]).env("RUSTFLAGS", "--cfg loom");
        assert_eq!(display(&cmd), r#"RUSTFLAGS="--cfg loom" cargo test -p x"#);
    }
}
