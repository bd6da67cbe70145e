//! Live counters: each task publishes its running totals here and the view reads them.
//!
//! Every meter has exactly one writer (its task), so plain relaxed stores are enough: the view
//! only needs recent values, and the final numbers travel in each task's report instead.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// What the view shows of one writer task.
#[derive(Debug, Default)]
pub(crate) struct WriterMeter {
    /// Frames written to the `Park` channel.
    pub(crate) frames: AtomicU64,
    /// Bytes written to the `Park` channel.
    pub(crate) bytes: AtomicU64,
    /// Frames the `Drop` channel accepted.
    pub(crate) kept: AtomicU64,
    /// Frames the `Drop` channel refused.
    pub(crate) refused: AtomicU64,
    /// Milliseconds from the start to the writer's last frame, once it is done.
    pub(crate) finished_ms: AtomicU64,
    pub(crate) done: AtomicBool,
}

/// A snapshot of a [`WriterMeter`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriterView {
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) kept: u64,
    pub(crate) refused: u64,
    pub(crate) finished_ms: Option<u64>,
}

impl WriterMeter {
    pub(crate) fn publish(&self, frames: u64, bytes: u64, kept: u64, refused: u64) {
        self.frames.store(frames, Relaxed);
        self.bytes.store(bytes, Relaxed);
        self.kept.store(kept, Relaxed);
        self.refused.store(refused, Relaxed);
    }

    pub(crate) fn finish(&self, ms: u64) {
        self.finished_ms.store(ms, Relaxed);
        self.done.store(true, Relaxed);
    }

    pub(crate) fn read(&self) -> WriterView {
        WriterView {
            frames: self.frames.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            kept: self.kept.load(Relaxed),
            refused: self.refused.load(Relaxed),
            finished_ms: self
                .done
                .load(Relaxed)
                .then(|| self.finished_ms.load(Relaxed)),
        }
    }
}

/// What the view shows of one reader task (its lag and losses come from the channel's
/// per-reader statistics).
#[derive(Debug, Default)]
pub(crate) struct ReaderMeter {
    pub(crate) frames: AtomicU64,
    pub(crate) bytes: AtomicU64,
    /// Weak readers: how many `ReaderBehind` reports.
    pub(crate) reports: AtomicU64,
    /// Weak readers, once done: frames and bytes lost in all.
    pub(crate) lost_frames: AtomicU64,
    pub(crate) lost_bytes: AtomicU64,
    pub(crate) done: AtomicBool,
}

/// A snapshot of a [`ReaderMeter`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReaderView {
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) reports: u64,
    pub(crate) lost_frames: u64,
    pub(crate) lost_bytes: u64,
    pub(crate) done: bool,
}

impl ReaderMeter {
    pub(crate) fn publish(&self, frames: u64, bytes: u64, reports: u64) {
        self.frames.store(frames, Relaxed);
        self.bytes.store(bytes, Relaxed);
        self.reports.store(reports, Relaxed);
    }

    pub(crate) fn finish(&self, lost_frames: u64, lost_bytes: u64) {
        self.lost_frames.store(lost_frames, Relaxed);
        self.lost_bytes.store(lost_bytes, Relaxed);
        self.done.store(true, Relaxed);
    }

    pub(crate) fn read(&self) -> ReaderView {
        ReaderView {
            frames: self.frames.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            reports: self.reports.load(Relaxed),
            lost_frames: self.lost_frames.load(Relaxed),
            lost_bytes: self.lost_bytes.load(Relaxed),
            done: self.done.load(Relaxed),
        }
    }
}
