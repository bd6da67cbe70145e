//! Marks: a log position with the cumulative counts before it, and the cells that share them.
//!
//! # Invariants
//! - `SEQ-ONE-WRITER`: one thread at a time writes a [`MarkCell`] (the baton holder for
//!   `published` and the history cells, the gate-lock holder for `gate`, the owning reader for
//!   its slot). A violation gives wrong marks, never undefined behaviour: every field is atomic.
//! - A [`Mark`]'s counts are the data frames and payload bytes before its position, as `u64` on
//!   every target ([`Count`]), so the difference of two marks is an exact loss.
//! - Only the baton holder touches [`HolderCopy`]; the baton's hand-over orders one holder's
//!   stores before the next holder's loads.

use super::*;
use crate::sync::critical;

/// A log position with the cumulative number of data frames and payload bytes before it.
///
/// The counts are `u64` on every target (two atomic words each on 32-bit ones, see [`Count`]),
/// so a loss computed from two marks is exact however much was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mark {
    pub(crate) pos: usize,
    pub(crate) frames: u64,
    pub(crate) payload: u64,
}

/// A `u64` count in pointer-width atomics: one word on 64-bit targets, two on 32-bit ones. Only
/// one thread writes a given count (the [`MarkCell`] writer, or a reader for its own loss
/// counters), and marks are read under the seqlock, so the halves are consistent there; a
/// statistic read without it may tear on 32-bit targets while it is being written.
#[derive(Debug, Default)]
pub(crate) struct Count {
    lo: AtomicUsize,
    #[cfg(not(target_pointer_width = "64"))]
    hi: AtomicUsize,
}

impl Count {
    pub(super) fn new(v: u64) -> Self {
        let c = Self::default();
        c.set(v);
        c
    }

    #[inline]
    pub(super) fn get(&self) -> u64 {
        // ORDERING: Relaxed; ordered by the caller (seqlock fences, or one writer).
        let lo = self.lo.load(Relaxed) as u64;
        #[cfg(not(target_pointer_width = "64"))]
        // ORDERING: Relaxed; as above.
        let lo = lo | (self.hi.load(Relaxed) as u64) << 32;
        lo
    }

    #[inline]
    pub(super) fn set(&self, v: u64) {
        // ORDERING: Relaxed; ordered by the caller (seqlock fences, or one writer).
        self.lo.store(v as usize, Relaxed);
        #[cfg(not(target_pointer_width = "64"))]
        // ORDERING: Relaxed; as above.
        self.hi.store((v >> 32) as usize, Relaxed);
    }
}

/// A [`Mark`] written by one thread at a time and read by any, as a seqlock.
///
/// # Invariants
/// - `SEQ-ONE-WRITER`: only one thread calls [`MarkCell::write`] at a time (the baton holder for
///   `published`, the gate-lock holder for `gate`, the owning reader for a reader slot).
#[derive(Debug, Default)]
pub(crate) struct MarkCell<P: PosSlot = AtomicUsize> {
    seq: AtomicUsize,
    pos: P,
    frames: Count,
    payload: Count,
}

/// Where a [`MarkCell`] keeps its position: among its other words (`AtomicUsize`), or on a
/// cache line of its own ([`PublishedCell`]).
pub(crate) trait PosSlot: Default + core::fmt::Debug {
    /// A slot holding `pos`.
    fn with(pos: usize) -> Self;
    /// The position's atomic.
    fn atomic(&self) -> &AtomicUsize;
}

impl PosSlot for AtomicUsize {
    fn with(pos: usize) -> Self {
        AtomicUsize::new(pos)
    }
    #[inline(always)]
    fn atomic(&self) -> &AtomicUsize {
        self
    }
}

impl PosSlot for CachePadded<AtomicUsize> {
    fn with(pos: usize) -> Self {
        CachePadded::new(AtomicUsize::new(pos))
    }
    #[inline(always)]
    fn atomic(&self) -> &AtomicUsize {
        self
    }
}

/// `published`: a [`MarkCell`] whose position has a cache line of its own.
///
/// Why: caught-up readers load only the position, over and over; the holder's other stores
/// (the sequence number twice, the counts) then go to a line no reader holds, and only the
/// store of the position has to take its line back from them. Measured (`docs/design.md`,
/// "Cache padding"), with the rest of the memory layout unchanged: `bytecast-try` 1→4, three
/// alternating rounds, 10.0 M → 12.0 M frames/s per reader.
pub(crate) type PublishedCell = MarkCell<CachePadded<AtomicUsize>>;

impl<P: PosSlot> MarkCell<P> {
    pub(super) fn new(m: Mark) -> Self {
        Self {
            seq: AtomicUsize::new(0),
            pos: P::with(m.pos),
            frames: Count::new(m.frames),
            payload: Count::new(m.payload),
        }
    }

    #[inline]
    pub(super) fn write(&self, m: Mark) {
        // ORDERING: Relaxed; only this thread writes `seq` (SEQ-ONE-WRITER).
        self.write_after(self.seq.load(Relaxed), m);
    }

    /// [`MarkCell::write`] by a writer that keeps the cell's sequence number `seq` itself (so
    /// that it does not load this cell's line, see [`HolderCopy`]).
    ///
    /// The write (odd `seq` to even `seq`) is one critical section with the `critical-section`
    /// feature, so a context that preempts the writer never finds `seq` odd and never spins in
    /// [`MarkCell::read`] on a writer it interrupted.
    #[inline]
    fn write_after(&self, seq: usize, m: Mark) {
        critical(|| {
            // ORDERING: Relaxed; the Release fence below orders it before the field stores.
            self.seq.store(seq.wrapping_add(1), Relaxed);
            fence(Release);
            // Relaxed stores (`Count::set`); readers validate with the closing Release store
            // of `seq`.
            self.frames.set(m.frames);
            self.payload.set(m.payload);
            // ORDERING: Release; publishes everything written before (ring bytes for
            // `published`), pairs with the Acquire load in `MarkCell::pos`.
            self.pos.atomic().store(m.pos, Release);
            // ORDERING: Release; pairs with the Acquire load of `seq` in `MarkCell::read`.
            self.seq.store(seq.wrapping_add(2), Release);
        })
    }

    /// The position alone: the hot path of readers and writers.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        // ORDERING: Acquire; pairs with the Release store of `pos` in `MarkCell::write_after`,
        // so the records below a published position are visible.
        self.pos.atomic().load(Acquire)
    }

    /// A consistent mark (retries while a write is in progress).
    pub(crate) fn read(&self) -> Mark {
        self.read_with_seq().0
    }

    /// The sequence number of the last write, for the cell's own writer (which alone changes
    /// it, so a `Relaxed` load returns its own last store).
    pub(crate) fn own_seq(&self) -> usize {
        // ORDERING: Relaxed; see above (SEQ-ONE-WRITER).
        self.seq.load(Relaxed)
    }

    /// A consistent mark and the sequence number of the write it comes from.
    ///
    /// Retries only while a write is in progress, which with the `critical-section` feature
    /// runs on another core (never on a context this one preempted).
    pub(crate) fn read_with_seq(&self) -> (Mark, usize) {
        loop {
            // ORDERING: Acquire; pairs with the closing Release store of `seq` in `write`.
            let s1 = self.seq.load(Acquire);
            if s1 & 1 == 0 {
                let m = Mark {
                    // ORDERING: Acquire; see `MarkCell::pos`.
                    pos: self.pos.atomic().load(Acquire),
                    // Relaxed loads (`Count::get`); validated by the seq re-check after the fence.
                    frames: self.frames.get(),
                    payload: self.payload.get(),
                };
                // ORDERING: Acquire fence; orders the field loads before the re-check of `seq`.
                fence(Acquire);
                // ORDERING: Relaxed; ordered after the field loads by the Acquire fence.
                if self.seq.load(Relaxed) == s1 {
                    return (m, s1);
                }
            }
            spin_hint();
        }
    }
}

/// The baton holder's own copy of the mark it last wrote into `published`, and of that cell's
/// sequence number, on a line that no reader loads.
///
/// Why: every caught-up reader keeps loading `published`'s line. A holder that read its last
/// mark (or the seqlock's sequence number) back from that line would load a line the readers
/// keep taking, and its loads would be squashed and replayed when they do; from this copy it
/// only stores to `published` (`docs/design.md`, "Publication: the baton").
#[derive(Debug, Default)]
pub(super) struct HolderCopy {
    seq: AtomicUsize,
    pos: AtomicUsize,
    frames: Count,
    payload: Count,
}

impl HolderCopy {
    /// The mark as the baton holders last wrote it. Only for the baton holder (like every
    /// access to this copy): the hand-over of the baton (SeqCst CASes) orders the previous
    /// holder's stores before this holder's loads.
    #[inline]
    pub(super) fn mark(&self) -> Mark {
        Mark {
            // ORDERING: Relaxed (all three); see above: written by this thread or by a holder
            // whose stores happen before this thread took the baton.
            pos: self.pos.load(Relaxed),
            frames: self.frames.get(),
            payload: self.payload.get(),
        }
    }

    /// Writes `m` into `cell` (the holder's seqlock write) and keeps the copy.
    #[inline]
    pub(super) fn publish(&self, cell: &PublishedCell, m: Mark) {
        // ORDERING: Relaxed (all); as in `mark`: only the baton holder touches this copy.
        let seq = self.seq.load(Relaxed);
        cell.write_after(seq, m);
        // ORDERING: Relaxed; as above.
        self.seq.store(seq.wrapping_add(2), Relaxed);
        // ORDERING: Relaxed; as above.
        self.pos.store(m.pos, Relaxed);
        self.frames.set(m.frames);
        self.payload.set(m.payload);
    }
}
