//! The harness every implementation runs in: the workload's shape, a stop flag, the 2-worker
//! tokio runtime or plain threads, the measured window, and the verdict on what readers saw.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::frame::Tally;

/// Ring capacity of every channel, in bytes (typed peers get `CAPACITY / len` slots).
pub(crate) const CAPACITY: usize = 1 << 20;

/// What a workload asks of an implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Writers.
    pub(crate) writers: usize,
    /// Lossless (strong) readers.
    pub(crate) strong: usize,
    /// Lossy (weak) readers.
    pub(crate) weak: usize,
    /// Frame length in bytes.
    pub(crate) len: usize,
    /// `Drop` under overload: readers are slowed down to [`SLOW_READER`] per frame and writers
    /// never wait; frames that do not fit are refused (or, for lossy peers, lost).
    pub(crate) overload: bool,
    /// Where the reader forwards the bytes (the copy workloads); [`Dest::None`]: the reader
    /// checks the frames itself.
    pub(crate) dest: Dest,
}

/// Where the reader of a copy workload forwards what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// Not a copy workload: the reader checks every frame.
    None,
    /// `tokio::io::sink()`: the bytes vanish; the run checks their count.
    Sink,
    /// A loopback TCP connection: a task drains the far end and checks every frame.
    Tcp,
}

impl Shape {
    pub(crate) fn readers(&self) -> usize {
        self.strong + self.weak
    }

    /// Slots of a typed peer holding `CAPACITY` bytes of frames (a power of two).
    pub(crate) fn slots(&self) -> usize {
        (CAPACITY / self.len).next_power_of_two()
    }
}

/// Extra work per frame of a reader in the overload workload.
pub(crate) const SLOW_READER: Duration = Duration::from_micros(2);

/// Busy work standing for a slow consumer.
pub(crate) fn slow_reader(shape: &Shape) {
    if shape.overload {
        let t = Instant::now();
        while t.elapsed() < SLOW_READER {
            std::hint::spin_loop();
        }
    }
}

/// Set when the measured window is over: writers stop writing and close.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stop(Arc<AtomicBool>);

/// Frames every writer writes whatever the window, so that each run (and each test, however
/// loaded the machine) has frames to check.
pub(crate) const MIN_FRAMES: u64 = 64;

impl Stop {
    /// Whether a writer that has written `sent` frames stops now: the window is over and it
    /// wrote at least [`MIN_FRAMES`].
    pub(crate) fn done(&self, sent: u64) -> bool {
        sent >= MIN_FRAMES && self.0.load(Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Relaxed);
    }
}

/// What one writer did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriterReport {
    /// Frames written (accepted by the channel).
    pub(crate) sent: u64,
    /// Frames the channel refused (`Drop` workloads).
    pub(crate) dropped: u64,
}

/// What one reader saw.
#[derive(Debug, Clone)]
pub(crate) struct ReaderReport {
    pub(crate) tally: Tally,
    /// The reader may lose frames (a weak reader, or a lossy peer), including the last ones
    /// of a writer.
    pub(crate) lossy: bool,
    /// The implementation reports what it lost, so reported loss must equal the gaps seen.
    pub(crate) reports_loss: bool,
    /// A strong reader (counted in the headline figure of mixed workloads).
    pub(crate) strong: bool,
}

impl ReaderReport {
    pub(crate) fn strong(tally: Tally) -> Self {
        Self {
            tally,
            lossy: false,
            reports_loss: false,
            strong: true,
        }
    }

    /// A reader that loses frames and reports how many.
    pub(crate) fn lossy(tally: Tally, strong: bool) -> Self {
        Self {
            tally,
            lossy: true,
            reports_loss: true,
            strong,
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) elapsed: Duration,
    /// Frames delivered per reader per second (mean over readers).
    pub(crate) per_reader: f64,
    /// Frames delivered per strong reader per second.
    pub(crate) per_strong_reader: f64,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
    /// Frames lossy readers missed, summed over readers.
    pub(crate) lost: u64,
    /// Frames delivered, summed over readers.
    pub(crate) delivered: u64,
    /// Heap allocations counted during the measured window (counting binary only).
    pub(crate) allocs: Option<u64>,
    /// Frames written during the counted part of the window (estimate).
    pub(crate) alloc_frames: u64,
    /// The first thing found wrong, if any.
    pub(crate) error: Option<String>,
}

/// The counting allocator's counter, when running under `bytecast-bench-allocs`.
static ALLOC_COUNTER: OnceLock<fn() -> u64> = OnceLock::new();

/// Installs the allocation counter (the counting binary calls this first).
pub(crate) fn set_alloc_counter(f: fn() -> u64) {
    let _ = ALLOC_COUNTER.set(f);
}

fn allocs_now() -> Option<u64> {
    ALLOC_COUNTER.get().map(|f| f())
}

/// Frames written so far by every writer, for the allocation estimate (relaxed counter bumped
/// once per 1024 frames, so it costs nothing measurable).
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress(Arc<AtomicU64>);

impl Progress {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Per-writer frame counter that reports to [`Progress`] every 1024 frames.
#[derive(Debug)]
pub(crate) struct Counter {
    progress: Progress,
    pending: u64,
    pub(crate) report: WriterReport,
}

impl Counter {
    pub(crate) fn new(progress: &Progress) -> Self {
        Self {
            progress: progress.clone(),
            pending: 0,
            report: WriterReport::default(),
        }
    }

    pub(crate) fn sent(&mut self) {
        self.report.sent += 1;
        self.pending += 1;
        if self.pending == 1024 {
            self.progress.add(1024);
            self.pending = 0;
        }
    }

    pub(crate) fn dropped(&mut self) {
        self.report.dropped += 1;
    }

    pub(crate) fn finish(self) -> WriterReport {
        self.progress.add(self.pending);
        self.report
    }
}

/// Everything an implementation gets to set a run up.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) shape: Shape,
    pub(crate) stop: Stop,
    pub(crate) progress: Progress,
}

/// Async tasks spawned by an implementation, and how to close its channel once every writer is
/// done (drain, or nothing when dropping the writers closes it).
pub(crate) struct AsyncRun {
    pub(crate) writers: Vec<tokio::task::JoinHandle<WriterReport>>,
    pub(crate) readers: Vec<tokio::task::JoinHandle<ReaderReport>>,
    pub(crate) close: Box<dyn FnOnce() + Send>,
}

/// Threads started by an implementation (see [`AsyncRun`]).
pub(crate) struct ThreadRun {
    pub(crate) writers: Vec<thread::JoinHandle<WriterReport>>,
    pub(crate) readers: Vec<thread::JoinHandle<ReaderReport>>,
    pub(crate) close: Box<dyn FnOnce() + Send>,
}

/// The measured window: allocations are counted over its last three quarters (after every
/// task has started), and the run ends by setting the stop flag.
fn window(window: Duration, ctx: &Ctx, sleep: impl Fn(Duration)) -> (Option<u64>, u64) {
    let settle = window / 4;
    sleep(settle);
    let (a0, f0) = (allocs_now(), ctx.progress.get());
    sleep(window - settle);
    let (a1, f1) = (allocs_now(), ctx.progress.get());
    ctx.stop.set();
    (a0.zip(a1).map(|(a, b)| b - a), f1 - f0)
}

/// Runs an async implementation for `dur` on `rt`.
pub(crate) fn run_async(
    rt: &tokio::runtime::Runtime,
    shape: Shape,
    dur: Duration,
    build: impl FnOnce(&Ctx) -> AsyncRun,
) -> Outcome {
    let ctx = Ctx {
        shape,
        stop: Stop::default(),
        progress: Progress::default(),
    };
    rt.block_on(async {
        let start = Instant::now();
        let run = {
            let _guard = tokio::runtime::Handle::current().enter();
            build(&ctx)
        };
        let (allocs, alloc_frames) = {
            // The window is timed on a plain thread so that the two workers stay free.
            let ctx = ctx.clone();
            tokio::task::spawn_blocking(move || window(dur, &ctx, thread::sleep))
                .await
                .expect("window thread")
        };
        let mut writers = Vec::new();
        let mut errors = Vec::new();
        for w in run.writers {
            match w.await {
                Ok(r) => writers.push(r),
                Err(e) => errors.push(format!("writer task failed: {e}")),
            }
        }
        (run.close)();
        let mut readers = Vec::new();
        for r in run.readers {
            match r.await {
                Ok(r) => readers.push(r),
                Err(e) => errors.push(format!("reader task failed: {e}")),
            }
        }
        let mut out = judge(&shape, start.elapsed(), &writers, &readers);
        out.allocs = allocs;
        out.alloc_frames = alloc_frames;
        if let Some(e) = errors.into_iter().next() {
            out.error.get_or_insert(e);
        }
        out
    })
}

/// Runs a thread-based implementation for `dur`.
pub(crate) fn run_threads(
    shape: Shape,
    dur: Duration,
    build: impl FnOnce(&Ctx) -> ThreadRun,
) -> Outcome {
    let ctx = Ctx {
        shape,
        stop: Stop::default(),
        progress: Progress::default(),
    };
    let start = Instant::now();
    let run = build(&ctx);
    let (allocs, alloc_frames) = window(dur, &ctx, thread::sleep);
    let mut errors = Vec::new();
    let mut writers = Vec::new();
    for w in run.writers {
        match w.join() {
            Ok(r) => writers.push(r),
            Err(_) => errors.push("writer thread panicked".to_owned()),
        }
    }
    (run.close)();
    let mut readers = Vec::new();
    for r in run.readers {
        match r.join() {
            Ok(r) => readers.push(r),
            Err(_) => errors.push("reader thread panicked".to_owned()),
        }
    }
    let mut out = judge(&shape, start.elapsed(), &writers, &readers);
    out.allocs = allocs;
    out.alloc_frames = alloc_frames;
    if let Some(e) = errors.into_iter().next() {
        out.error.get_or_insert(e);
    }
    out
}

/// The verdict: every reader got every frame each writer wrote (lossy readers: in order, with
/// gaps that match the loss reported), and the figures.
pub(crate) fn judge(
    shape: &Shape,
    elapsed: Duration,
    writers: &[WriterReport],
    readers: &[ReaderReport],
) -> Outcome {
    let secs = elapsed.as_secs_f64();
    let mut out = Outcome {
        elapsed,
        sent: writers.iter().map(|w| w.sent).sum(),
        dropped: writers.iter().map(|w| w.dropped).sum(),
        ..Outcome::default()
    };
    if writers.len() != shape.writers || readers.len() != shape.readers() {
        out.error = Some(format!(
            "{} writers and {} readers finished, expected {} and {}",
            writers.len(),
            readers.len(),
            shape.writers,
            shape.readers()
        ));
    }
    let mut strong = (0u64, 0usize);
    for (i, r) in readers.iter().enumerate() {
        let t = &r.tally;
        out.delivered += t.frames;
        if r.strong {
            strong.0 += t.frames;
            strong.1 += 1;
        }
        // Frames of each writer this reader never got after its last one (lossy readers only).
        let tail: u64 = t
            .next
            .iter()
            .zip(writers)
            .map(|(next, w)| w.sent.saturating_sub(*next))
            .sum();
        let missing = t.gaps + tail;
        if r.lossy {
            out.lost += missing;
        }
        let problem = if let Some(e) = &t.error {
            Some(e.clone())
        } else if let Some((w, (next, sent))) = t
            .next
            .iter()
            .zip(writers.iter().map(|w| w.sent))
            .enumerate()
            .find(|(_, (next, sent))| **next > *sent)
        {
            Some(format!(
                "reader {i} got frame {} of writer {w}, which wrote {sent}",
                next - 1
            ))
        } else if !r.lossy && missing > 0 {
            Some(format!(
                "lossless reader {i} missed {missing} frames (of them {tail} at the end)"
            ))
        } else if r.reports_loss && t.reported_lost != missing {
            Some(format!(
                "reader {i} was told it lost {} frames but missed {missing}",
                t.reported_lost
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            out.error.get_or_insert(p);
        }
    }
    if out.sent == 0 && out.error.is_none() {
        out.error = Some("no frame was written".to_owned());
    }
    let n = readers.len().max(1) as f64;
    out.per_reader = out.delivered as f64 / n / secs;
    out.per_strong_reader = strong.0 as f64 / strong.1.max(1) as f64 / secs;
    out
}

/// How spinning threads wait: spin with a hint, and give the core away every so often so that
/// oversubscribed runs (more threads than the 2 cores) still progress. Used alike by bytecast's
/// `try_` threads and the disruptor's threads.
#[derive(Debug, Default)]
pub(crate) struct Backoff(u32);

impl Backoff {
    /// Spins before each yield.
    const SPINS: u32 = 256;

    pub(crate) fn snooze(&mut self) {
        self.0 += 1;
        if self.0 % Self::SPINS == 0 {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }

    pub(crate) fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Async tasks give their worker away every [`Pacer::EVERY`] frames, whatever the peer, so a
/// task whose operations never return `Pending` cannot starve the others on 2 workers.
#[derive(Debug, Default)]
pub(crate) struct Pacer(u32);

impl Pacer {
    const EVERY: u32 = 32;

    pub(crate) async fn tick(&mut self) {
        self.0 += 1;
        if self.0 == Self::EVERY {
            self.0 = 0;
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Verifier;

    fn shape() -> Shape {
        Shape {
            writers: 1,
            strong: 1,
            weak: 1,
            len: 64,
            overload: false,
            dest: Dest::None,
        }
    }

    fn tally(frames: u64, next: u64, gaps: u64, reported: u64) -> Tally {
        let mut t = Verifier::new(64, 1, true).finish();
        t.frames = frames;
        t.next = vec![next];
        t.gaps = gaps;
        t.reported_lost = reported;
        t
    }

    #[test]
    fn judge_accepts_complete_runs_and_counts() {
        let w = [WriterReport {
            sent: 10,
            dropped: 0,
        }];
        let r = [
            ReaderReport::strong(tally(10, 10, 0, 0)),
            ReaderReport::lossy(tally(6, 10, 4, 4), false),
        ];
        let out = judge(&shape(), Duration::from_secs(1), &w, &r);
        assert_eq!(out.error, None);
        assert_eq!((out.delivered, out.lost), (16, 4));
        assert_eq!(out.per_strong_reader, 10.0);
    }

    #[test]
    fn judge_rejects_short_reads_and_wrong_loss_reports() {
        let w = [WriterReport {
            sent: 10,
            dropped: 0,
        }];
        let short = [
            ReaderReport::strong(tally(9, 9, 0, 0)),
            ReaderReport::lossy(tally(10, 10, 0, 0), false),
        ];
        assert!(judge(&shape(), Duration::from_secs(1), &w, &short)
            .error
            .is_some());
        let misreported = [
            ReaderReport::strong(tally(10, 10, 0, 0)),
            ReaderReport::lossy(tally(6, 10, 4, 3), false),
        ];
        assert!(judge(&shape(), Duration::from_secs(1), &w, &misreported)
            .error
            .is_some());
    }
}
