//! What the demo shows while it runs: a live view (one `indicatif` bar per writer and per
//! reader, redrawn in place) on a terminal, plain periodic lines otherwise.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytecast_tokio::{Channel, ReaderStats};
use indicatif::{
    HumanBytes, HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

use crate::meter::{ReaderView, WriterMeter, WriterView};
use crate::setup::{Plan, ReaderSlot, Role, Settings, View};

/// How often the view reads the meters.
const TICK: Duration = Duration::from_millis(100);

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    Writing = 0,
    Draining = 1,
    Done = 2,
}

/// What the view reads: the channels and every task's meter.
#[derive(Debug)]
pub(crate) struct Board {
    pub(crate) settings: Settings,
    pub(crate) start: Instant,
    phase: AtomicU8,
    pub(crate) park: Arc<Channel>,
    pub(crate) drop: Arc<Channel>,
    pub(crate) writers: Vec<Arc<WriterMeter>>,
    pub(crate) readers: Vec<ReaderSlot>,
}

impl Board {
    pub(crate) fn new(
        settings: Settings,
        park: Arc<Channel>,
        drop: Arc<Channel>,
        writers: Vec<Arc<WriterMeter>>,
        readers: Vec<ReaderSlot>,
    ) -> Self {
        Self {
            settings,
            start: Instant::now(),
            phase: AtomicU8::new(Phase::Writing as u8),
            park,
            drop,
            writers,
            readers,
        }
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Relaxed);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Relaxed) {
            0 => Phase::Writing,
            1 => Phase::Draining,
            _ => Phase::Done,
        }
    }

    /// The channel's statistics of each reader, in the order of `readers` (`None` once it is
    /// gone).
    pub(crate) fn reader_stats(&self) -> Vec<Option<ReaderStats>> {
        let (park, drop) = (self.park.readers(), self.drop.readers());
        self.readers
            .iter()
            .map(|slot| {
                let stats = if slot.role == Role::DropReader {
                    &drop
                } else {
                    &park
                };
                stats.iter().find(|r| r.id == slot.id).map(|r| ReaderStats {
                    // The channel reads the published position before the reader's, so a
                    // reader that moved in between shows a "negative" lag, wrapped: it has
                    // caught up.
                    lag: if r.lag > u64::MAX / 2 { 0 } else { r.lag },
                    ..*r
                })
            })
            .collect()
    }

    /// "writing 2.1 s / 5 s", "draining", "done in 5.0 s".
    fn status(&self) -> String {
        let t = self.start.elapsed().as_secs_f64();
        match (self.phase(), self.settings.plan) {
            (Phase::Writing, Plan::For(d)) => {
                format!("writing {t:4.1} s / {} s", d.as_secs_f64())
            }
            (Phase::Writing, Plan::Frames(n)) => {
                format!("writing {t:4.1} s, {} frames per writer", HumanCount(n))
            }
            (Phase::Draining, _) => format!("draining {t:4.1} s: readers finish what is left"),
            (Phase::Done, _) => format!("done in {t:.1} s: every reader reached end of stream"),
        }
    }
}

/// Runs the view until the board says [`Phase::Done`], then draws the final state once.
pub(crate) async fn show(board: Arc<Board>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    match board.settings.view {
        View::Live => {
            let live = Live::new(&board);
            loop {
                tick.tick().await;
                let done = board.phase() == Phase::Done;
                live.update(&board);
                if done {
                    live.finish();
                    break;
                }
            }
        }
        #[cfg(test)]
        View::Quiet => {
            while board.phase() != Phase::Done {
                tick.tick().await;
            }
        }
        View::Plain(every) => {
            say(&title(&board));
            let mut last = Instant::now();
            loop {
                tick.tick().await;
                let done = board.phase() == Phase::Done;
                if done || last.elapsed() >= every {
                    last = Instant::now();
                    say(&plain_line(&board));
                }
                if done {
                    break;
                }
            }
        }
    }
}

/// Prints a progress line; a closed stdout (`| head`) is not the demo's problem.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn title(board: &Board) -> String {
    let s = &board.settings;
    format!(
        "bytecast demo · {} writers → Park {} ring ({} archiver(s), {} dashboard(s)) and Drop {} ring (1 slow reader) · frames {}..={} B",
        s.writers,
        HumanBytes(board.park.capacity() as u64),
        s.archivers,
        s.dashboards,
        HumanBytes(board.drop.capacity() as u64),
        s.lens.start(),
        s.lens.end(),
    )
}

/// Totals over the writers: Park frames and bytes, Drop frames kept and refused.
fn totals(board: &Board) -> WriterView {
    board
        .writers
        .iter()
        .map(|m| m.read())
        .fold(WriterView::default(), |a, w| WriterView {
            frames: a.frames + w.frames,
            bytes: a.bytes + w.bytes,
            kept: a.kept + w.kept,
            refused: a.refused + w.refused,
            finished_ms: None,
        })
}

/// Bytes per second over `elapsed`, e.g. "123.4 MiB/s".
pub(crate) fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!("{}/s", HumanBytes((bytes as f64 / secs) as u64))
}

fn plain_line(board: &Board) -> String {
    // Readers first, so that no reader seems ahead of the writers.
    let readers: Vec<_> = board.readers.iter().map(|slot| slot.meter.read()).collect();
    let stats = board.reader_stats();
    let t = totals(board);
    let mut line = format!(
        "[{:5.1} s] {} | written {} frames, {} | drop channel: {} kept, {} refused",
        board.start.elapsed().as_secs_f64(),
        match board.phase() {
            Phase::Writing => "writing",
            Phase::Draining => "draining",
            Phase::Done => "done",
        },
        HumanCount(t.frames),
        HumanBytes(t.bytes),
        HumanCount(t.kept),
        HumanCount(t.refused),
    );
    for ((slot, r), stats) in board.readers.iter().zip(readers).zip(stats) {
        let _ = write!(line, " | {} {}", slot.name, HumanCount(r.frames));
        if slot.role == Role::Dashboard {
            let lost = stats.map_or(r.lost_frames, |s| s.lost_frames);
            let _ = write!(line, " (lost {})", HumanCount(lost));
        }
        if let Some(stats) = stats {
            let _ = write!(line, ", lag {}", HumanBytes(stats.lag));
        }
    }
    line
}

/// The bars.
struct Live {
    header: ProgressBar,
    status: ProgressBar,
    footer: ProgressBar,
    writers: Vec<ProgressBar>,
    readers: Vec<ProgressBar>,
}

impl Live {
    fn new(board: &Board) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(10));
        let text = ProgressStyle::with_template("{wide_msg}").expect("a valid template");
        let header = multi.add(ProgressBar::new(0).with_style(text.clone()));
        header.set_message(title(board));
        let status = multi.add(ProgressBar::new(0).with_style(text.clone()));
        let writer_style =
            ProgressStyle::with_template("{prefix:<12} {bar:20.cyan/blue} {wide_msg}")
                .expect("a valid template")
                .progress_chars("█▉▊▋▌▍▎▏ ");
        let reader_style =
            ProgressStyle::with_template("{prefix:<12} {bar:20.yellow/black} {wide_msg}")
                .expect("a valid template")
                .progress_chars("█▉▊▋▌▍▎▏ ");
        let writers = (0..board.writers.len())
            .map(|i| {
                let len = match board.settings.plan {
                    Plan::Frames(n) => n,
                    Plan::For(d) => d.as_millis() as u64,
                };
                let bar = multi.add(ProgressBar::new(len).with_style(writer_style.clone()));
                bar.set_prefix(format!("writer {i}"));
                bar
            })
            .collect();
        let readers = board
            .readers
            .iter()
            .map(|slot| {
                let ring = match slot.role {
                    Role::Archiver | Role::Dashboard => board.park.capacity(),
                    Role::DropReader => board.drop.capacity(),
                };
                let bar = multi.add(ProgressBar::new(ring as u64).with_style(reader_style.clone()));
                bar.set_prefix(slot.name.clone());
                bar
            })
            .collect();
        let footer = multi.add(ProgressBar::new(0).with_style(text));
        footer.set_message(
            "writer bars: progress of the run · reader bars: ring lag (bytes published, not yet read)",
        );
        Self {
            header,
            status,
            footer,
            writers,
            readers,
        }
    }

    fn update(&self, board: &Board) {
        // Readers first, so that no reader seems ahead of the writers.
        let readers: Vec<_> = board.readers.iter().map(|slot| slot.meter.read()).collect();
        let stats = board.reader_stats();
        let t = totals(board);
        let elapsed = board.start.elapsed();
        let drop = board.drop.stats();
        self.status.set_message(format!(
            "{} · Park: {} frames, {} ({}) · Drop: {} kept, {} refused (dropped_frames {})",
            board.status(),
            HumanCount(t.frames),
            HumanBytes(t.bytes),
            rate(t.bytes, elapsed),
            HumanCount(t.kept),
            HumanCount(t.refused),
            HumanCount(drop.dropped_frames),
        ));
        for (bar, meter) in self.writers.iter().zip(&board.writers) {
            let w = meter.read();
            let ran = w.finished_ms.map_or(elapsed, Duration::from_millis);
            bar.set_position(match (board.settings.plan, w.finished_ms) {
                (_, Some(_)) => bar.length().unwrap_or(0),
                (Plan::Frames(_), None) => w.frames,
                (Plan::For(_), None) => elapsed.as_millis() as u64,
            });
            bar.set_message(format!(
                "{:>10} frames {:>10} {:>12} │ Drop: {} kept, {} refused",
                HumanCount(w.frames).to_string(),
                HumanBytes(w.bytes).to_string(),
                rate(w.bytes, ran),
                HumanCount(w.kept),
                HumanCount(w.refused),
            ));
        }
        for (((bar, slot), r), stats) in self
            .readers
            .iter()
            .zip(&board.readers)
            .zip(readers)
            .zip(stats)
        {
            let lag = stats.map_or(0, |s| s.lag);
            bar.set_position(lag.min(bar.length().unwrap_or(0)));
            bar.set_message(reader_message(slot.role, &r, stats.as_ref(), elapsed));
        }
    }

    fn finish(&self) {
        for bar in [&self.header, &self.status]
            .into_iter()
            .chain(&self.writers)
            .chain(&self.readers)
            .chain([&self.footer])
        {
            // Left on screen as they are (`finish` would fill them); the summary follows below.
            bar.abandon();
        }
    }
}

fn reader_message(
    role: Role,
    r: &ReaderView,
    stats: Option<&ReaderStats>,
    elapsed: Duration,
) -> String {
    let mut msg = format!(
        "{:>10} frames {:>10} {:>12}",
        HumanCount(r.frames).to_string(),
        HumanBytes(r.bytes).to_string(),
        rate(r.bytes, elapsed),
    );
    if let Some(s) = stats {
        let _ = write!(msg, " │ lag {}", HumanBytes(s.lag));
    }
    if role == Role::Dashboard {
        // Live from the channel while the reader runs, its own totals once it is done.
        let (frames, bytes) = stats.map_or((r.lost_frames, r.lost_bytes), |s| {
            (s.lost_frames, s.lost_bytes)
        });
        let _ = write!(
            msg,
            " │ lost {} frames, {} ({} ReaderBehind)",
            HumanCount(frames),
            HumanBytes(bytes),
            HumanCount(r.reports),
        );
    }
    if r.done {
        msg.push_str(" │ end of stream");
    }
    msg
}
