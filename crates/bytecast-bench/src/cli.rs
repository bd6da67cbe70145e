//! Command line, child processes and the watchdog.
//!
//! The parent runs every run of a cell in a child process of its own (this binary with
//! `--child`), in passes over all cells (one run of each cell per pass), reads the run's line,
//! and kills the child when it does not report within the window plus [`GRACE`]: that cell is
//! reported as a hang, is not run again, and the benchmark goes on. A second child of the
//! counting binary (`bytecast-bench-allocs`) measures allocations per frame.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::cells::{self, Impl, Workload, IMPLS, WORKLOADS};
use crate::frame::{set_page_offset, PAGE_OFFSETS};
use crate::report::{self, CellReport, Machine, Settings, Status};
use crate::run::Outcome;

/// How long after the window a run may take to finish (drain, and start-up for the first run)
/// before the cell is declared hung.
const GRACE: Duration = Duration::from_secs(10);

const USAGE: &str = "\
Usage: bytecast-bench [--quick] [--filter TEXT]... [--runs N] [--window-ms MS]
                      [--out DIR] [--command TEXT] [--no-allocs] [--list]
       bytecast-bench --single-thread copy|grant|grant-pieces|adapter|pipe|duplex-pipe|copy-limit
                      FRAMES [LEN]

  --quick         3 runs of 100 ms per cell (about a minute) instead of 5 of 300 ms
  --filter TEXT   only cells whose `workload/implementation` contains TEXT (repeatable)
  --runs N        runs per cell (the figure is their median, with min and max)
  --window-ms MS  length of each run's measured window (a third of it for the copy
                  workloads)
  --out DIR       write DIR/bench.md and DIR/bench.svg (both generated whole)
  --command TEXT  the command to print in bench.md (default: this one)
  --no-allocs     skip the allocation-counting pass
  --list          list workloads and implementations";

#[derive(Debug)]
struct Args {
    runs: usize,
    window: Duration,
    filters: Vec<String>,
    out: Option<PathBuf>,
    command: Option<String>,
    allocs: bool,
    quick: bool,
}

pub(crate) fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => return child(&args[1..]),
        Some("--single-thread") => return single_thread(&args[1..]),
        _ => {}
    }
    let parsed = match parse(&args) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    parent(&parsed, &args)
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        runs: 5,
        window: Duration::from_millis(300),
        filters: Vec::new(),
        out: None,
        command: None,
        allocs: true,
        quick: false,
    };
    let mut runs = None;
    let mut window = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--filter" => a.filters.push(value()?),
            "--runs" => runs = Some(value()?.parse().map_err(|e| format!("--runs: {e}"))?),
            "--window-ms" => {
                window = Some(Duration::from_millis(
                    value()?.parse().map_err(|e| format!("--window-ms: {e}"))?,
                ));
            }
            "--out" => a.out = Some(value()?.into()),
            "--command" => a.command = Some(value()?),
            "--no-allocs" => a.allocs = false,
            "--list" => {
                list();
                return Ok(None);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if a.quick {
        a.runs = 3;
        a.window = Duration::from_millis(100);
    }
    a.runs = runs.unwrap_or(a.runs).max(1);
    a.window = window.unwrap_or(a.window).max(cells::MIN_WINDOW);
    Ok(Some(a))
}

fn list() {
    println!("workloads:");
    for w in WORKLOADS {
        println!("  {:<14} {}", w.id, w.about);
    }
    println!("implementations:");
    for &i in IMPLS {
        println!("  {:<23} {}", i.id(), i.about());
    }
}

fn selected(a: &Args, w: &Workload, i: Impl) -> bool {
    let id = format!("{}/{}", w.id, i.id());
    a.filters.is_empty() || a.filters.iter().any(|f| id.contains(f.as_str()))
}

fn parent(a: &Args, raw: &[String]) -> ExitCode {
    let exe = std::env::current_exe().expect("current_exe");
    let allocs_exe = exe.with_file_name(format!(
        "bytecast-bench-allocs{}",
        std::env::consts::EXE_SUFFIX
    ));
    let count_allocs = a.allocs && allocs_exe.exists();
    if a.allocs && !count_allocs {
        eprintln!(
            "note: {} not found (build the whole package): no allocation counts",
            allocs_exe.display()
        );
    }
    let load_before = report::load_average();
    let started = Instant::now();
    // Every selected cell that can run gets one run per pass, and the passes follow each other:
    // a cell's runs are spread over the whole benchmark, so a slow spell of the machine (a 2-vCPU
    // VM's host can halve or triple a figure for a minute) reaches every implementation alike
    // instead of whichever cells it happened to fall on, and a median of runs is a median over
    // time.
    let mut plan: Vec<(&Workload, Impl, Status)> = Vec::new();
    for w in WORKLOADS {
        for &imp in IMPLS {
            if !selected(a, w, imp) {
                continue;
            }
            let status = if !imp.fits(&w.shape) {
                Status::NotApplicable
            } else if !imp.built() {
                Status::NotBuilt
            } else {
                Status::Done(Vec::new())
            };
            plan.push((w, imp, status));
        }
    }
    for pass in 1..=a.runs {
        for (w, imp, status) in &mut plan {
            let Status::Done(done) = status else {
                // Not runnable, or it already hung or crashed in an earlier pass.
                continue;
            };
            let offset = PAGE_OFFSETS[(pass - 1) % PAGE_OFFSETS.len()];
            match run_child(&exe, w, *imp, 1, w.window(a.window), offset) {
                Status::Done(mut runs) => done.append(&mut runs),
                Status::Hang { .. } => {
                    *status = Status::Hang {
                        runs_done: done.len(),
                    }
                }
                other => *status = other,
            }
        }
        println!(
            "pass {pass}/{} done after {:.0} s",
            a.runs,
            started.elapsed().as_secs_f64()
        );
    }
    let mut cells = Vec::new();
    for (w, imp, status) in plan {
        let allocs = match (&status, count_allocs) {
            (Status::Done(runs), true) if runs.iter().all(|r| r.error.is_none()) => {
                let window = w.window(a.window).max(Duration::from_millis(200));
                match run_child(&allocs_exe, w, imp, 1, window, PAGE_OFFSETS[0]) {
                    Status::Done(r) => r
                        .first()
                        .and_then(|o| o.allocs.map(|n| (n, o.alloc_frames))),
                    _ => None,
                }
            }
            _ => None,
        };
        let cell = CellReport {
            workload: w,
            imp,
            status,
            allocs,
        };
        // The copy rows and the other rows never fit each other's workloads: not worth a line.
        if imp.is_copy() == w.is_copy() || !matches!(cell.status, Status::NotApplicable) {
            println!("{}", report::progress_line(&cell));
        }
        cells.push(cell);
    }
    let settings = Settings {
        runs: a.runs,
        window: a.window,
        command: a.command.clone().unwrap_or_else(|| {
            format!("cargo run --release -p bytecast-bench -- {}", raw.join(" "))
                .trim_end()
                .to_owned()
        }),
        filtered: !a.filters.is_empty(),
        quick: a.quick,
        total: started.elapsed(),
        load_before,
        load_after: report::load_average(),
    };
    let machine = Machine::probe();
    let md = report::markdown(&cells, &settings, &machine);
    if let Some(dir) = &a.out {
        if let Err(e) = write_out(dir, &md, &crate::svg::chart(&cells, &settings, &machine)) {
            eprintln!("error: cannot write to {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {0}/bench.md and {0}/bench.svg", dir.display());
    } else {
        println!("\n{md}");
    }
    let wrong = cells
        .iter()
        .filter(|c| matches!(&c.status, Status::Done(r) if r.iter().any(|o| o.error.is_some())))
        .count();
    if wrong > 0 {
        eprintln!("{wrong} cell(s) delivered wrong results (see the tables)");
    }
    ExitCode::SUCCESS
}

fn write_out(dir: &Path, md: &str, svg: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("bench.md"), md)?;
    std::fs::write(dir.join("bench.svg"), svg)
}

/// Runs one cell in a child process under the watchdog.
fn run_child(
    exe: &Path,
    w: &Workload,
    imp: Impl,
    runs: usize,
    window: Duration,
    page_offset: usize,
) -> Status {
    let mut child = match Command::new(exe)
        .args([
            "--child",
            w.id,
            imp.id(),
            &runs.to_string(),
            &window.as_millis().to_string(),
            &page_offset.to_string(),
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Status::Crashed(format!("cannot start {}: {e}", exe.display())),
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut outcomes = Vec::new();
    while outcomes.len() < runs {
        match rx.recv_timeout(window + GRACE) {
            Ok(line) => {
                if let Some(o) = parse_run(&line) {
                    outcomes.push(o);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return Status::Hang {
                    runs_done: outcomes.len(),
                };
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Status::Crashed(format!(
                    "child exited ({status}) after {} of {runs} runs",
                    outcomes.len()
                ));
            }
        }
    }
    let _ = child.wait();
    Status::Done(outcomes)
}

fn opt(v: Option<u64>) -> String {
    v.map_or("-".to_owned(), |n| n.to_string())
}

fn format_run(o: &Outcome) -> String {
    format!(
        "run\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        o.elapsed.as_nanos(),
        o.per_reader,
        o.per_strong_reader,
        o.sent,
        o.dropped,
        o.lost,
        o.delivered,
        opt(o.allocs),
        o.alloc_frames,
        o.error.as_deref().unwrap_or("-").replace(['\t', '\n'], " ")
    )
}

fn parse_run(line: &str) -> Option<Outcome> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != 11 || f[0] != "run" {
        return None;
    }
    Some(Outcome {
        elapsed: Duration::from_nanos(f[1].parse().ok()?),
        per_reader: f[2].parse().ok()?,
        per_strong_reader: f[3].parse().ok()?,
        sent: f[4].parse().ok()?,
        dropped: f[5].parse().ok()?,
        lost: f[6].parse().ok()?,
        delivered: f[7].parse().ok()?,
        allocs: f[8].parse().ok(),
        alloc_frames: f[9].parse().ok()?,
        error: (f[10] != "-").then(|| f[10].to_owned()),
    })
}

/// `--child WORKLOAD IMPL RUNS WINDOW_MS PAGE_OFFSET`: runs one cell, its frame buffers placed
/// at `PAGE_OFFSET` within a page ([`crate::frame::Buf`]), and prints one line per run.
fn child(args: &[String]) -> ExitCode {
    let [w, imp, runs, window, offset] = args else {
        eprintln!("--child WORKLOAD IMPL RUNS WINDOW_MS PAGE_OFFSET");
        return ExitCode::from(2);
    };
    let (Some(w), Some(imp), Ok(runs), Ok(window), Ok(offset)) = (
        cells::workload(w),
        Impl::from_id(imp),
        runs.parse::<usize>(),
        window.parse::<u64>(),
        offset.parse::<usize>(),
    ) else {
        eprintln!("--child: bad arguments {args:?}");
        return ExitCode::from(2);
    };
    set_page_offset(offset);
    let rt = cells::runtime();
    for _ in 0..runs {
        let o = cells::run_cell(&rt, imp, w.shape, Duration::from_millis(window));
        println!("{}", format_run(&o));
    }
    // Tasks of a peer that never finished must not keep the process alive.
    rt.shutdown_timeout(Duration::from_millis(100));
    ExitCode::SUCCESS
}

/// `--single-thread PATH FRAMES [LEN]` (see `profile.rs`).
fn single_thread(args: &[String]) -> ExitCode {
    let (path, frames, len) = match args {
        [p, f] => (p, f, "64"),
        [p, f, l] => (p, f, l.as_str()),
        _ => {
            eprintln!(
                "--single-thread PATH FRAMES [LEN], PATH one of {:?}",
                crate::profile::PATHS
            );
            return ExitCode::from(2);
        }
    };
    let (Ok(frames), Ok(len)) = (frames.parse(), len.parse()) else {
        eprintln!("--single-thread: `{frames}` frames of `{len}` bytes?");
        return ExitCode::from(2);
    };
    match crate::profile::single_thread(path, frames, len) {
        Ok(n) => {
            println!("{path}: {n} frames checked");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lines_round_trip() {
        let o = Outcome {
            elapsed: Duration::from_millis(301),
            per_reader: 1.5e6,
            per_strong_reader: 1.25e6,
            sent: 10,
            dropped: 2,
            lost: 3,
            delivered: 9,
            allocs: Some(4),
            alloc_frames: 7,
            error: Some("torn\tframe".to_owned()),
        };
        let back = parse_run(&format_run(&o)).unwrap();
        assert_eq!(back.elapsed, o.elapsed);
        assert_eq!(back.per_reader, o.per_reader);
        assert_eq!(
            (back.sent, back.dropped, back.lost, back.delivered),
            (10, 2, 3, 9)
        );
        assert_eq!((back.allocs, back.alloc_frames), (Some(4), 7));
        assert_eq!(back.error.as_deref(), Some("torn frame"));
        let none = parse_run(&format_run(&Outcome::default())).unwrap();
        assert_eq!((none.allocs, none.error), (None, None));
    }

    #[test]
    fn quick_and_filters_parse() {
        let a = parse(&["--quick".into(), "--filter".into(), "1to1".into()])
            .unwrap()
            .unwrap();
        assert_eq!((a.runs, a.window), (3, Duration::from_millis(100)));
        let w = cells::workload("1to1-64B").unwrap();
        assert!(selected(&a, w, Impl::Disruptor));
        assert!(!selected(
            &a,
            cells::workload("4to1-64B").unwrap(),
            Impl::Disruptor
        ));
        assert!(parse(&["--bogus".into()]).is_err());
    }
}
