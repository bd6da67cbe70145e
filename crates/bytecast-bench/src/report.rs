//! The report: progress lines, `docs/bench.md` (tables, ratios, targets, cost growth) and the
//! facts about the machine and the run. `docs/bench.md` is generated whole: every line of it
//! comes from this file and the run's figures.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use crate::cells::{Class, Impl, Workload, IMPLS, WORKLOADS};
use crate::run::{Outcome, CAPACITY, SLOW_READER};

/// What happened to one cell.
#[derive(Debug)]
pub(crate) enum Status {
    /// The implementation cannot run this workload.
    NotApplicable,
    /// Behind a feature this build does not have.
    NotBuilt,
    /// A run did not finish within the window plus the grace period; the child was killed.
    Hang { runs_done: usize },
    /// The child process failed (a panic, usually).
    Crashed(String),
    /// Every run reported.
    Done(Vec<Outcome>),
}

/// One cell's result.
#[derive(Debug)]
pub(crate) struct CellReport {
    pub(crate) workload: &'static Workload,
    pub(crate) imp: Impl,
    pub(crate) status: Status,
    /// Allocations counted and frames written during the counted window.
    pub(crate) allocs: Option<(u64, u64)>,
}

/// Median, min and max of a cell's headline figure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figure {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl CellReport {
    /// The runs, if every one reported and none was wrong.
    pub(crate) fn good_runs(&self) -> Option<&[Outcome]> {
        match &self.status {
            Status::Done(runs) if runs.iter().all(|o| o.error.is_none()) => Some(runs),
            _ => None,
        }
    }

    /// The headline figure: frames per reader per second (per strong reader when the workload
    /// has weak readers).
    pub(crate) fn figure(&self) -> Option<Figure> {
        let runs = self.good_runs()?;
        let weak = self.workload.shape.weak > 0;
        let mut v: Vec<f64> = runs
            .iter()
            .map(|o| {
                if weak {
                    o.per_strong_reader
                } else {
                    o.per_reader
                }
            })
            .collect();
        v.sort_by(f64::total_cmp);
        Some(Figure {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        })
    }

    fn first_error(&self) -> Option<&str> {
        match &self.status {
            Status::Done(runs) => runs.iter().find_map(|o| o.error.as_deref()),
            _ => None,
        }
    }

    /// Loss or drop notes (medians over runs).
    fn notes(&self) -> String {
        let Some(runs) = self.good_runs() else {
            return String::new();
        };
        let mut notes = Vec::new();
        let pct = |part: u64, whole: u64| 100.0 * part as f64 / whole.max(1) as f64;
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        if runs.iter().any(|o| o.lost > 0) {
            let lost = median(
                runs.iter()
                    .map(|o| pct(o.lost, o.lost + o.delivered))
                    .collect(),
            );
            let who = if self.workload.shape.weak > 0 {
                "weak readers lost"
            } else {
                "readers lost"
            };
            notes.push(format!("{who} {lost:.1}% of frames"));
        }
        if runs.iter().any(|o| o.dropped > 0) {
            let dropped = median(
                runs.iter()
                    .map(|o| pct(o.dropped, o.dropped + o.sent))
                    .collect(),
            );
            let offered = median(
                runs.iter()
                    .map(|o| (o.sent + o.dropped) as f64 / o.elapsed.as_secs_f64())
                    .collect(),
            );
            notes.push(format!(
                "writer offered {}/s, {dropped:.1}% refused",
                rate(offered)
            ));
        }
        notes.join("; ")
    }

    fn allocs_per_frame(&self) -> String {
        match self.allocs {
            Some((0, _)) => "0".to_owned(),
            Some((n, frames)) => format!("{:.2}", n as f64 / frames.max(1) as f64),
            None => "–".to_owned(),
        }
    }
}

/// How the run was made.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) runs: usize,
    pub(crate) window: Duration,
    pub(crate) command: String,
    pub(crate) filtered: bool,
    pub(crate) quick: bool,
    pub(crate) total: Duration,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
}

impl Settings {
    /// What kind of run this is, for the report's header and the chart's subtitle.
    pub(crate) fn kind(&self) -> &'static str {
        if self.filtered {
            "a filtered run (some cells only)"
        } else if self.quick {
            "a quick run (3 runs of 100 ms per cell)"
        } else {
            "a full run"
        }
    }
}

/// The machine.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    /// `rustc X.Y.Z`, without the build's hash and date.
    pub(crate) rustc: String,
    /// `git rev-parse HEAD` of the workspace, if git answers, and whether the working tree had
    /// uncommitted changes.
    pub(crate) commit: String,
}

impl Machine {
    pub(crate) fn probe() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let rustc = Command::new(rustc)
            .arg("-V")
            .output()
            .ok()
            .map(|o| rustc_version(&String::from_utf8_lossy(&o.stdout)))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "rustc (unknown version)".to_owned());
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let commit = match (git(&["rev-parse", "HEAD"]), git(&["status", "--porcelain"])) {
            (Some(head), Some(status)) if !status.is_empty() => {
                format!("`{head}` with uncommitted changes")
            }
            (Some(head), _) => format!("`{head}`"),
            (None, _) => "unknown".to_owned(),
        };
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            rustc,
            commit,
        }
    }
}

/// `rustc 1.95.0` from `rustc -V`'s `rustc 1.95.0 (<hash> <date>)`.
fn rustc_version(version: &str) -> String {
    version
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/proc/loadavg`'s three averages, or `unknown`.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `12.3 M`, `456 k`: a rate with three significant digits.
pub(crate) fn rate(v: f64) -> String {
    let (x, unit) = if v >= 1e9 {
        (v / 1e9, " G")
    } else if v >= 1e6 {
        (v / 1e6, " M")
    } else if v >= 1e3 {
        (v / 1e3, " k")
    } else {
        (v, " ")
    };
    let digits = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    format!("{x:.digits$}{unit}").trim_end().to_owned()
}

fn mbps(frames: f64, len: usize) -> String {
    let v = frames * len as f64 / 1e6;
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One line per finished cell, printed as the benchmark goes.
pub(crate) fn progress_line(c: &CellReport) -> String {
    let what = match (&c.status, c.figure()) {
        (_, Some(f)) => format!(
            "{}/s per reader [{} – {}]",
            rate(f.median),
            rate(f.min),
            rate(f.max)
        ),
        (Status::NotApplicable, _) => "N/A".to_owned(),
        (Status::NotBuilt, _) => "not built".to_owned(),
        (Status::Hang { runs_done }, _) => format!("HANG (after {runs_done} runs)"),
        (Status::Crashed(e), _) => format!("FAILED: {e}"),
        (Status::Done(_), None) => format!("WRONG: {}", c.first_error().unwrap_or("?")),
    };
    let allocs = match c.allocs {
        Some(_) => format!("  allocs/frame {}", c.allocs_per_frame()),
        None => String::new(),
    };
    format!("{:<14} {:<23} {what}{allocs}", c.workload.id, c.imp.id())
}

fn cell<'a>(cells: &'a [CellReport], w: &str, i: Impl) -> Option<&'a CellReport> {
    cells.iter().find(|c| c.workload.id == w && c.imp == i)
}

fn median_of(cells: &[CellReport], w: &str, i: Impl) -> Option<f64> {
    cell(cells, w, i).and_then(|c| c.figure()).map(|f| f.median)
}

/// The best bytecast row of a workload in `class` (any class if `None`).
fn best_bytecast(cells: &[CellReport], w: &str, class: Option<Class>) -> Option<(Impl, f64)> {
    cells
        .iter()
        .filter(|c| c.workload.id == w && c.imp.is_bytecast())
        .filter(|c| class.is_none_or(|k| c.imp.class() == k))
        .filter_map(|c| c.figure().map(|f| (c.imp, f.median)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// `docs/bench.md`.
pub(crate) fn markdown(cells: &[CellReport], s: &Settings, m: &Machine) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# bytecast benchmark\n\n\
         <!-- Generated whole by `cargo xtask bench` (crates/bytecast-bench/src/report.rs): do not \
         edit, run it again. What the figures mean is in performance.md. -->\n"
    );
    let _ = writeln!(
        md,
        "This is {}. [performance.md](performance.md) says what the figures show and how to \
         reproduce them.\n\n\
         - Command: `{}`\n\
         - Machine: {}, {} cores; {}\n\
         - Code: commit {}; the run took {:.0} s\n\
         - Load average (1, 5, 15 min) before the run: {}; after: {}\n\
         - Each figure: median of {} runs of {} ms each ({} ms for the copy workloads), with \
         [min – max]; ring capacity {} KiB (typed peers: 1 MiB worth of frame slots)\n\
         \n![frames per second per reader, log scale](bench.svg)\n",
        s.kind(),
        s.command,
        m.cpu,
        m.cores,
        m.rustc,
        m.commit,
        s.total.as_secs_f64(),
        s.load_before,
        s.load_after,
        s.runs,
        s.window.as_millis(),
        copy_window(s).as_millis(),
        CAPACITY / 1024,
    );
    md.push_str("## Targets\n\n");
    md.push_str(&targets(cells));
    md.push_str("\n## Results\n\n");
    md.push_str(
        "Figures are frames per second delivered to each reader (the mean over readers; the \
         strong reader's where a workload has weak readers). `× copy limit` divides by the copy \
         limit of the same workload; `bytecast ÷ peer` divides the best bytecast row of the same \
         kind (async tasks, or spinning threads) by the peer's figure, so above 1 means bytecast \
         is faster. `allocs/frame` comes from a separate run under a counting allocator. Every \
         delivered frame was checked (count, order and content); a run that saw a wrong frame \
         is reported as WRONG, never as a figure.\n\n",
    );
    for w in WORKLOADS {
        workload_table(&mut md, cells, w);
    }
    copy_path(&mut md, cells);
    growth(&mut md, cells);
    md.push_str("## Implementations\n\n");
    for &i in IMPLS {
        let _ = writeln!(md, "- `{}`: {}", i.id(), i.about());
    }
    md.push_str(&format!(
        "\n## Method\n\n\
         - Each run of a cell (a workload on an implementation) runs in a child process of its \
         own, in passes: every cell runs once per pass, so each cell's runs are spread over the \
         whole benchmark and every implementation meets the same mix of machine states. The \
         parent kills a child whose run has not reported within the window plus 10 s, and \
         reports the cell as a hang (not run again).\n\
         - Every writer's staging frame and every reader's buffer, for every implementation, \
         starts at a set offset within a 4 KiB page, a different one in each pass (16, 848, \
         1680, 2512, 3344 bytes), so a cell's median is a median over buffer placements. How \
         fast a large frame is copied depends on that placement, and left to the allocator it \
         depends on everything the process allocated before.\n\
         - A run: set up the channel, start every reader and writer, let writers write for the \
         window (and at least 64 frames each), then stop them, close the channel (drain, drop, or an end frame for peers that \
         have no close) and wait for every reader to read everything. The figure is frames each \
         reader received divided by the time from start to the last reader's end.\n\
         - Async rows run as tasks on a 2-worker multi-thread tokio runtime; every task yields to \
         the scheduler every 32 frames whatever the peer, so that a task whose operations never \
         wait cannot starve the others. Thread rows run one plain thread per writer and reader; \
         a thread that would wait spins with a hint and yields its core every 256 polls (bytecast's \
         `try_` threads and the disruptor's handlers, through a custom wait strategy, alike).\n\
         - Frames carry a sequence number per writer, the writer and length, a check word, and a \
         stamp every 512 bytes that depends on the sequence number; every reader checks all of \
         them (lost, duplicated, reordered, torn and stale frames are caught) and the run checks \
         that each lossless reader got every frame each writer wrote. Lossy readers must see \
         gaps equal to the loss the implementation reported (tokio's `Lagged(n)`, bytecast's \
         `ReaderBehind(bytes)`).\n\
         - Overload (`drop-64B`): the reader spends {} µs per frame; writers never wait.\n\
         - Copy workloads (`copy-*`): one writer task writes the frames, one write each; the \
         reading side forwards every byte to the destination and shuts it down at end of \
         stream. The runs into `tokio::io::sink()` check the byte count (the sink keeps \
         nothing); the runs into loopback TCP check every frame at the far end, and their \
         figure counts frames arriving there. Their window is a third of the others'.\n\
         - Allocations: `bytecast-bench-allocs` runs each cell once more under `stats_alloc`'s \
         counting allocator; allocations counted over the last three quarters of the window, \
         divided by the frames written meanwhile.\n\
         - Nothing here is asserted in a test: `cargo test` only checks, in a few milliseconds \
         per cell, that every implementation delivers verified frames.\n",
        SLOW_READER.as_micros()
    ));
    md
}

fn workload_table(md: &mut String, cells: &[CellReport], w: &Workload) {
    // The copy rows and the other rows never fit each other's workloads: no N/A rows for them.
    let rows: Vec<&CellReport> = cells
        .iter()
        .filter(|c| c.workload.id == w.id)
        .filter(|c| c.imp.is_copy() == w.is_copy() || !matches!(c.status, Status::NotApplicable))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(md, "### {}\n\n{}\n", w.id, w.about);
    md.push_str(
        "| implementation | frames/s per reader, median [min – max] | MB/s | × copy limit | \
         bytecast ÷ peer | allocs/frame | notes |\n|---|---|---|---|---|---|---|\n",
    );
    let copy = median_of(cells, w.id, Impl::CopyLimit);
    for c in &rows {
        let (figure, mb, vs_copy, vs_peer) = match c.figure() {
            Some(f) => {
                let vs_copy = copy.map_or("–".to_owned(), |x| format!("{:.2}", f.median / x));
                let vs_peer = if c.imp.is_bytecast() || c.imp == Impl::CopyLimit {
                    "–".to_owned()
                } else {
                    best_bytecast(cells, w.id, Some(c.imp.class()))
                        .or_else(|| best_bytecast(cells, w.id, None))
                        .map_or("–".to_owned(), |(_, b)| format!("{:.2}×", b / f.median))
                };
                (
                    format!("{} [{} – {}]", rate(f.median), rate(f.min), rate(f.max)),
                    mbps(f.median, w.shape.len),
                    vs_copy,
                    vs_peer,
                )
            }
            None => {
                let s = match &c.status {
                    Status::NotApplicable => "N/A".to_owned(),
                    Status::NotBuilt => "not built (feature `selium` off)".to_owned(),
                    Status::Hang { runs_done } => format!("**hang** (after {runs_done} runs)"),
                    Status::Crashed(e) => format!("**failed**: {e}"),
                    Status::Done(_) => {
                        format!("**WRONG**: {}", c.first_error().unwrap_or("?"))
                    }
                };
                (s, "–".into(), "–".into(), "–".into())
            }
        };
        let name = if c.imp.is_bytecast() {
            format!("**{}**", c.imp.id())
        } else {
            c.imp.id().to_owned()
        };
        let _ = writeln!(
            md,
            "| {name} | {figure} | {mb} | {vs_copy} | {vs_peer} | {} | {} |",
            if c.good_runs().is_some() {
                c.allocs_per_frame()
            } else {
                "–".to_owned()
            },
            c.notes()
        );
    }
    // Ratios of each bytecast row to each peer.
    let peers: Vec<(Impl, f64)> = rows
        .iter()
        .filter(|c| !c.imp.is_bytecast() && c.imp != Impl::CopyLimit)
        .filter_map(|c| c.figure().map(|f| (c.imp, f.median)))
        .collect();
    let mut lines = Vec::new();
    for c in rows.iter().filter(|c| c.imp.is_bytecast()) {
        let Some(f) = c.figure() else { continue };
        if peers.is_empty() {
            continue;
        }
        let ratios: Vec<String> = peers
            .iter()
            .map(|(p, v)| format!("{:.2}× {}", f.median / v, p.id()))
            .collect();
        lines.push(format!("`{}`: {}", c.imp.id(), ratios.join(", ")));
    }
    if !lines.is_empty() {
        let _ = writeln!(md, "\nbytecast ÷ each peer: {}.", lines.join("; "));
    }
    md.push('\n');
}

/// The copy workloads' window in this run.
pub(crate) fn copy_window(s: &Settings) -> Duration {
    WORKLOADS
        .iter()
        .find(|w| w.is_copy())
        .map_or(s.window, |w| w.window(s.window))
}

/// `a ÷ b` of two cells' medians, to two decimals.
fn ratio(cells: &[CellReport], w: &str, a: Impl, b: Impl) -> Option<f64> {
    Some(median_of(cells, w, a)? / median_of(cells, w, b)?)
}

fn show_ratio(r: Option<f64>) -> String {
    r.map_or("–".to_owned(), |r| format!("{r:.2}"))
}

/// The copy path: each way of doing the copy job beside the core's frame loop and
/// `tokio::io::duplex`, per copy workload.
fn copy_path(md: &mut String, cells: &[CellReport]) {
    let workloads: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| w.is_copy() && cells.iter().any(|c| c.workload.id == w.id))
        .collect();
    if workloads.is_empty() {
        return;
    }
    md.push_str(
        "## Copy path\n\n\
         The copy job side by side: frames/s (and MB/s) arriving at the destination for \
         `tokio::io::copy` and `tokio::io::copy_buf` from a `bytecast-tokio` strong reader, the \
         core's frame loop, and `tokio::io::copy` out of a `tokio::io::duplex`; then the copy \
         rows divided by the frame loop and by duplex (above 1: the copy row is faster).\n\n\
         | workload | `copy` | `copy_buf` | frame loop | duplex + `copy` | `copy` ÷ frame loop | \
         `copy` ÷ duplex | `copy_buf` ÷ frame loop | `copy_buf` ÷ duplex |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for w in workloads {
        let fig = |i: Impl| {
            median_of(cells, w.id, i).map_or("–".to_owned(), |v| {
                format!("{} ({} MB/s)", rate(v), mbps(v, w.shape.len))
            })
        };
        let r = |a: Impl, b: Impl| show_ratio(ratio(cells, w.id, a, b));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            w.id,
            fig(Impl::BytecastTokioCopy),
            fig(Impl::BytecastTokioCopyBuf),
            fig(Impl::BytecastFrameLoop),
            fig(Impl::TokioDuplexCopy),
            r(Impl::BytecastTokioCopy, Impl::BytecastFrameLoop),
            r(Impl::BytecastTokioCopy, Impl::TokioDuplexCopy),
            r(Impl::BytecastTokioCopyBuf, Impl::BytecastFrameLoop),
            r(Impl::BytecastTokioCopyBuf, Impl::TokioDuplexCopy),
        );
    }
    md.push('\n');
}

/// Cost growth: per-reader frames/s as strong readers go 1, 4, 16, 64, and frames/s at the
/// reader as writers go 1, 4, 16.
fn growth(md: &mut String, cells: &[CellReport]) {
    let series: [(&str, &[(&str, usize)]); 2] = [
        (
            "strong readers",
            &[
                ("1to1-64B", 1),
                ("1to4-64B", 4),
                ("1to16-64B", 16),
                ("1to64-64B", 64),
            ],
        ),
        (
            "writers",
            &[("1to1-64B", 1), ("4to1-64B", 4), ("16to1-64B", 16)],
        ),
    ];
    md.push_str(
        "## Cost growth\n\n\
         64-byte frames. Each entry: frames/s per reader, and in brackets its ratio to the \
         1-to-1 figure of the same row. With one writer and R readers every frame is copied in \
         once and out R times, so the copy limit's ratio is what the extra copies alone explain; \
         on 2 cores, a row whose ratio stays at or above the copy limit's grows no faster than \
         its copies.\n\n",
    );
    for (what, points) in series {
        let _ = write!(md, "| implementation \\ {what} |");
        for (_, n) in points {
            let _ = write!(md, " {n} |");
        }
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(points.len()));
        md.push('\n');
        for &i in IMPLS {
            let base = median_of(cells, points[0].0, i);
            let entries: Vec<String> = points
                .iter()
                .map(|(w, _)| match (cell(cells, w, i), median_of(cells, w, i)) {
                    (_, Some(v)) => match base {
                        Some(b) if b > 0.0 => format!("{} ({:.2})", rate(v), v / b),
                        _ => rate(v),
                    },
                    (Some(c), None) => match c.status {
                        Status::NotApplicable => "N/A".into(),
                        Status::NotBuilt => "not built".into(),
                        Status::Hang { .. } => "hang".into(),
                        _ => "wrong/failed".into(),
                    },
                    (None, None) => "–".into(),
                })
                .collect();
            if entries
                .iter()
                .all(|e| e == "–" || e == "N/A" || e == "not built")
            {
                continue;
            }
            let _ = writeln!(md, "| {} | {} |", i.id(), entries.join(" | "));
        }
        md.push('\n');
    }
}

/// The throughput targets, met or not, from the figures.
fn targets(cells: &[CellReport]) -> String {
    let mut t = String::from("| target | measured | met? |\n|---|---|---|\n");
    let yes = |ok: bool| if ok { "**yes**" } else { "**no**" };
    let fig = |w: &str, i: Impl| median_of(cells, w, i);
    let mut row = |target: &str, measured: String, ok: Option<bool>| {
        let _ = writeln!(
            t,
            "| {target} | {measured} | {} |",
            ok.map_or("not measured", yes)
        );
    };
    let tokio64 = fig("1to1-64B", Impl::BytecastTokio);
    row(
        "64 B, 1 → 1, tokio adapter ≥ 18 M frames/s",
        tokio64.map_or("–".into(), |v| format!("{}/s", rate(v))),
        tokio64.map(|v| v >= 18e6),
    );
    let try64 = best_bytecast(cells, "1to1-64B", Some(Class::Threads));
    let dis64 = fig("1to1-64B", Impl::Disruptor);
    row(
        "64 B, 1 → 1, non-async path ≥ disruptor",
        match (try64, dis64) {
            (Some((i, v)), Some(d)) => format!(
                "`{}` {}/s vs disruptor {}/s ({:.2}×)",
                i.id(),
                rate(v),
                rate(d),
                v / d
            ),
            _ => "–".into(),
        },
        try64.zip(dis64).map(|((_, v), d)| v >= d),
    );
    for (w, what) in [
        ("4to1-64B", "64 B, 4 → 1 ≥ 10 M frames/s"),
        ("1to4-64B", "64 B, 1 → 4 ≥ 10 M frames/s per reader"),
    ] {
        let a = best_bytecast(cells, w, Some(Class::Async));
        let th = best_bytecast(cells, w, Some(Class::Threads));
        let show = |x: Option<(Impl, f64)>| {
            x.map_or("–".to_owned(), |(i, v)| {
                format!("`{}` {}/s", i.id(), rate(v))
            })
        };
        row(
            what,
            format!("async: {}; threads: {}", show(a), show(th)),
            match (a, th) {
                (None, None) => None,
                _ => Some(a.is_some_and(|x| x.1 >= 10e6) || th.is_some_and(|x| x.1 >= 10e6)),
            },
        );
    }
    let big = best_bytecast(cells, "1to1-64KiB", None);
    let copy = fig("1to1-64KiB", Impl::CopyLimit);
    let selium = fig("1to1-64KiB", Impl::Selium);
    // The copying rows do the copy limit's own work (a copy in and a copy out); shown beside
    // the best row, which may check the frame in place.
    let copying = [Impl::BytecastTokio, Impl::BytecastAsync, Impl::BytecastTry]
        .into_iter()
        .filter_map(|i| fig("1to1-64KiB", i).map(|v| (i, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    row(
        "64 KiB, 1 → 1, within 10% of the copy limit",
        match (big, copy) {
            (Some((i, v)), Some(c)) => {
                let mut m = format!(
                    "`{}` {} MB/s vs copy limit {} MB/s ({:.2})",
                    i.id(),
                    mbps(v, 65536),
                    mbps(c, 65536),
                    v / c
                );
                if let Some((ci, cv)) = copying.filter(|x| x.0 != i) {
                    let _ = write!(
                        m,
                        "; best copying row (a copy in and a copy out, as the copy limit): `{}` {} MB/s ({:.2})",
                        ci.id(),
                        mbps(cv, 65536),
                        cv / c
                    );
                }
                m
            }
            _ => "–".into(),
        },
        big.zip(copy).map(|((_, v), c)| v >= 0.9 * c),
    );
    row(
        "64 KiB, 1 → 1, never below selium-messaging",
        match (big, selium) {
            (Some((i, v)), Some(s)) => format!(
                "`{}` {} MB/s vs selium {} MB/s",
                i.id(),
                mbps(v, 65536),
                mbps(s, 65536)
            ),
            _ => "selium not measured in this run".into(),
        },
        big.zip(selium).map(|((_, v), s)| v >= s),
    );
    // The copy path: at 64 B at least half the core's frame loop, and never below duplex.
    for w in ["copy-sink-64B", "copy-tcp-64B"] {
        let r = ratio(cells, w, Impl::BytecastTokioCopy, Impl::BytecastFrameLoop);
        row(
            &format!("`{w}`: `tokio::io::copy` from a strong reader ≥ half the core's frame loop"),
            match (
                fig(w, Impl::BytecastTokioCopy),
                fig(w, Impl::BytecastFrameLoop),
            ) {
                (Some(c), Some(f)) => {
                    format!(
                        "copy {}/s vs frame loop {}/s ({:.2})",
                        rate(c),
                        rate(f),
                        c / f
                    )
                }
                _ => "–".into(),
            },
            r.map(|r| r >= 0.5),
        );
    }
    let vs_duplex: Vec<(&str, f64)> = WORKLOADS
        .iter()
        .filter(|w| w.is_copy())
        .filter_map(|w| {
            ratio(cells, w.id, Impl::BytecastTokioCopy, Impl::TokioDuplexCopy).map(|r| (w.id, r))
        })
        .collect();
    row(
        "copy workloads: `tokio::io::copy` from a strong reader never below duplex + `copy`",
        if vs_duplex.is_empty() {
            "–".into()
        } else {
            vs_duplex
                .iter()
                .map(|(w, r)| format!("`{w}` {r:.2}×"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        (!vs_duplex.is_empty()).then(|| vs_duplex.iter().all(|(_, r)| *r >= 1.0)),
    );
    // Strong readers 1 → 64: each bytecast row's fall against the copy limit's.
    let c1 = fig("1to1-64B", Impl::CopyLimit);
    let c64 = fig("1to64-64B", Impl::CopyLimit);
    for i in [Impl::BytecastAsync, Impl::BytecastTry] {
        let (b1, b64) = (fig("1to1-64B", i), fig("1to64-64B", i));
        let ok = match (b1, b64, c1, c64) {
            (Some(b1), Some(b64), Some(c1), Some(c64)) => Some((b64 / b1, c64 / c1)),
            _ => None,
        };
        row(
            &format!(
                "strong readers 1 → 64 (`{}`): per-reader throughput falls no more than the \
                 extra copies explain",
                i.id()
            ),
            ok.map_or("–".into(), |(b, c)| {
                format!("falls to {b:.3} of 1 → 1; copy limit falls to {c:.3}")
            }),
            ok.map(|(b, c)| b >= 0.8 * c),
        );
    }
    t.push_str(
        "\n(\"Falls no more than the extra copies explain\" is taken as: the ratio of the \
         64-reader to the 1-reader figure is at least 0.8 times the copy limit's ratio.)\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_three_digits() {
        assert_eq!(rate(12_345_678.0), "12.3 M");
        assert_eq!(rate(456_789.0), "457 k");
        assert_eq!(rate(1.5e9), "1.50 G");
        assert_eq!(rate(12.0), "12.0");
    }

    #[test]
    fn rustc_version_drops_hash_and_date() {
        assert_eq!(
            rustc_version(concat!("rustc 1.95.0 (01234", "56ab 2030", "-01-01)\n")),
            "rustc 1.95.0"
        );
    }

    #[test]
    fn report_without_cells_has_header_and_sections_only() {
        let s = Settings {
            runs: 3,
            window: Duration::from_millis(100),
            command: "cargo xtask bench --quick".to_owned(),
            filtered: false,
            quick: true,
            total: Duration::from_secs(60),
            load_before: "0.1 0.2 0.3".to_owned(),
            load_after: "0.2 0.2 0.3".to_owned(),
        };
        let m = Machine {
            cpu: "CPU".to_owned(),
            cores: 2,
            rustc: "rustc 1.95.0".to_owned(),
            commit: "unknown".to_owned(),
        };
        let md = markdown(&[], &s, &m);
        assert!(md.starts_with("# bytecast benchmark\n"));
        assert!(md.contains("This is a quick run"));
        assert!(md.contains("- Command: `cargo xtask bench --quick`"));
        let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            headings,
            [
                "## Targets",
                "## Results",
                "## Cost growth",
                "## Implementations",
                "## Method"
            ]
        );
    }
}
