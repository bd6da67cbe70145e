//! Handle slots: the writer slot bitmap, the reader slots, and the handle counts.
//!
//! # Invariants
//! - A writer slot is claimed and freed in `writer_bits` (lock-free claim, O(1) free); a freed
//!   slot is `IDLE` before the next owner claims it.
//! - Reader slots change kind only under the gate lock, so every gate refresh sees a strong
//!   reader registered before it and the gate never passes one.
//! - `writer_handles` counts every writer handle in one word; a conversion counts its new kind
//!   before the old one leaves, so end of stream never sees zero writers while one lives.
//! - A weak reader registers in `weak_readers` under the gate lock, before it reads its start:
//!   the other side of the exclusive-copy check (`reserve.rs`, `no_weak_readers`).
//! - [`ReaderTotals`] change and are read only under the gate lock.

use super::*;

/// One writer slot: a strong writer's for its life, a weak writer's for one frame.
#[derive(Debug)]
pub(crate) struct WriterSlot {
    /// Start of the reservation this writer is making or holds, or [`IDLE`].
    pub(super) open: AtomicUsize,
    /// Set while the strong writer holding this slot sleeps: wakers wake only such slots.
    pub(super) asleep: AtomicBool,
    /// Woken when space, a slot, or a state change may let this writer go on.
    pub(crate) waker: WakerCell,
}

/// One reader slot.
#[derive(Debug)]
pub(crate) struct ReaderSlot {
    /// `SLOT_FREE`, `SLOT_STRONG` or `SLOT_WEAK`; changed only under the gate lock.
    pub(super) kind: AtomicUsize,
    /// The reader's position and counts; strong readers' gate writers.
    pub(crate) mark: MarkCell,
    /// Weak readers' loss counters (statistics; written by the reader only).
    pub(super) lost_bytes: Count,
    pub(super) lost_frames: Count,
    /// 0, or the sequence number of this weak reader's `mark` that a gate refresh found more
    /// than [`POS_FAR`] behind `reserve`: the reader was lapped, and is told so at its next
    /// read (`Shared::flagged_far`) whatever its stale position compares as.
    pub(super) far: AtomicUsize,
    /// Set while the reader holding this slot sleeps: wakers wake only such slots.
    pub(super) asleep: AtomicBool,
    pub(crate) waker: WakerCell,
}

/// Channel-wide reader totals, for [`crate::Channel::stats`]: what every reader the channel
/// has had lost, those that left included, and how many left. Written and read only under the
/// gate lock, so one thread at a time writes each [`Count`] and a read never sees half of a
/// write (the two words of a count on 32-bit targets).
#[derive(Debug, Default)]
pub(crate) struct ReaderTotals {
    lost_bytes: Count,
    lost_frames: Count,
    departed: Count,
}

/// Adds `n` to a count of [`ReaderTotals`] (gate lock held).
fn add(count: &Count, n: u64) {
    count.set(count.get().wrapping_add(n));
}

/// Statistics of one reader, as seen by [`crate::Channel::readers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderStats {
    /// Reader id (its slot index).
    pub id: usize,
    /// `true` for a strong reader.
    pub strong: bool,
    /// Bytes of the log published but not yet read by this reader.
    pub lag: u64,
    /// Payload bytes this reader lost to being lapped (weak readers).
    pub lost_bytes: u64,
    /// Frames this reader lost to being lapped (weak readers).
    pub lost_frames: u64,
}

impl Shared {
    /// Claims a writer slot, trying `prefer` first. Lock-free, O(slots / usize::BITS).
    pub(crate) fn claim_writer_slot(&self, prefer: Option<usize>) -> Option<usize> {
        let bits = usize::BITS as usize;
        if let Some(i) = prefer {
            let m = 1usize << (i % bits);
            // ORDERING: AcqRel; Acquire pairs with the Release in `release_writer_slot` (the
            // previous owner left its slot IDLE); Release orders nothing extra but is harmless.
            if self.writer_bits[i / bits].fetch_or(m, AcqRel) & m == 0 {
                return Some(i);
            }
        }
        for (wi, word) in self.writer_bits.iter().enumerate() {
            // ORDERING: Relaxed; a hint, re-validated by the CAS.
            let mut cur = word.load(Relaxed);
            loop {
                let free = (!cur).trailing_zeros() as usize;
                let i = wi * bits + free;
                if free >= bits || i >= self.writers.len() {
                    break;
                }
                // ORDERING: AcqRel; as in the fast path above.
                match word.compare_exchange_weak(cur, cur | (1 << free), AcqRel, Relaxed) {
                    Ok(_) => return Some(i),
                    Err(now) => cur = now,
                }
            }
        }
        None
    }

    pub(crate) fn release_writer_slot(&self, i: usize) {
        let bits = usize::BITS as usize;
        // ORDERING: Release; the slot is IDLE before it is handed to the next owner.
        self.writer_bits[i / bits].fetch_and(!(1 << (i % bits)), Release);
        // A freed slot matters only to writers waiting for a slot (space waiters are woken by
        // publication and releases, not here: a weak writer that gives its slot back after
        // finding no room must not wake itself).
        fence(SeqCst);
        self.slot_waiters.wake_all();
    }

    pub(crate) fn add_writer(&self, strong: bool) {
        let c = if strong {
            &self.strong_writers
        } else {
            &self.weak_writers
        };
        // ORDERING: Relaxed (both); statistics, and for `ended` an increment made while the
        // caller holds a handle that keeps the count above zero, or before its first frame.
        c.fetch_add(1, Relaxed);
        // ORDERING: Relaxed; as above.
        self.writer_handles.fetch_add(1, Relaxed);
    }

    pub(crate) fn remove_writer(&self, strong: bool) {
        let c = if strong {
            &self.strong_writers
        } else {
            &self.weak_writers
        };
        // ORDERING: Relaxed; statistics.
        c.fetch_sub(1, Relaxed);
        // ORDERING: AcqRel; the last writer leaving must be seen by `ended` after its records.
        self.writer_handles.fetch_sub(1, AcqRel);
        self.wake_readers();
    }

    pub(super) fn writer_count(&self) -> usize {
        // ORDERING: Acquire; pairs with the AcqRel decrement in `remove_writer`.
        self.writer_handles.load(Acquire)
    }

    pub(super) fn reader_hwm(&self) -> usize {
        // ORDERING: Relaxed; written under the gate lock, read under it.
        self.reader_hwm.load(Relaxed)
    }

    /// Registers a reader starting at the oldest guaranteed-intact frame (`from_tail == false`)
    /// or at the published end.
    pub(crate) fn join_reader(
        &self,
        strong: bool,
        from_tail: bool,
    ) -> Result<(usize, Mark), ChannelError> {
        if self.is_terminated() {
            return Err(ChannelError::Terminated);
        }
        let _guard = self.lock_gate();
        let kind = if strong { SLOT_STRONG } else { SLOT_WEAK };
        let Some(i) = self
            .readers
            .iter()
            // ORDERING: Relaxed; membership changes only under the gate lock, held here.
            .position(|r| r.kind.load(Relaxed) == SLOT_FREE)
        else {
            return Err(ChannelError::TooManyReaders {
                max: self.readers.len(),
            });
        };
        if !strong {
            // Registered under the gate lock: the other side of the exclusivity check in
            // `no_weak_readers`.
            // ORDERING: Relaxed; ordered before every later gate write by the gate lock, and
            // a writer's Acquire load of that gate orders it before its check.
            self.weak_readers.fetch_add(1, Relaxed);
        }
        // Writers only reserve up to `gate + capacity` with a gate no newer than this one, so
        // starting at or after it is safe even against writers that read the gate earlier.
        let start = if from_tail {
            self.published.read()
        } else {
            // One rule for both kinds: the gate, the oldest frame the channel guarantees.
            self.gate.read()
        };
        let slot = &self.readers[i];
        slot.mark.write(start);
        slot.lost_bytes.set(0);
        slot.lost_frames.set(0);
        // ORDERING: Relaxed; under the gate lock, which every flagging refresh holds.
        slot.far.store(0, Relaxed);
        // ORDERING: Relaxed; read only under the gate lock (and by statistics).
        slot.kind.store(kind, Relaxed);
        if i >= self.reader_hwm() {
            // ORDERING: Relaxed; under the gate lock.
            self.reader_hwm.store(i + 1, Relaxed);
        }
        if strong {
            // ORDERING: Relaxed; statistics.
            self.strong_readers.fetch_add(1, Relaxed);
        }
        Ok((i, start))
    }

    /// Frees a reader slot; a strong reader's hold is released at once.
    pub(crate) fn leave_reader(&self, i: usize) {
        {
            let _guard = self.lock_gate();
            let slot = &self.readers[i];
            // ORDERING: Relaxed; under the gate lock.
            let kind = slot.kind.swap(SLOT_FREE, Relaxed);
            add(&self.reader_totals.departed, 1);
            if kind == SLOT_STRONG {
                // ORDERING: Relaxed; statistics.
                self.strong_readers.fetch_sub(1, Relaxed);
            } else {
                // ORDERING: Release; the weak reader's reads of the ring happen before a writer
                // that sees the count fall (Acquire, `no_weak_readers`) copies with `memcpy`.
                self.weak_readers.fetch_sub(1, Release);
            }
        }
        self.wake_writers();
    }

    /// Turns a strong reader into a weak one, keeping its position.
    pub(crate) fn downgrade_reader(&self, i: usize) {
        {
            let _guard = self.lock_gate();
            // ORDERING: Relaxed; under the gate lock.
            self.readers[i].kind.store(SLOT_WEAK, Relaxed);
            // ORDERING: Relaxed; statistics.
            self.strong_readers.fetch_sub(1, Relaxed);
            // The other side of the exclusivity check in `no_weak_readers`, under the gate
            // lock as there (reservations that do not see it sit below this reader's position).
            // ORDERING: Relaxed; as in `join_reader`.
            self.weak_readers.fetch_add(1, Relaxed);
        }
        self.wake_writers();
    }

    /// A strong reader moved to `m`: publish its position and wake writers that wait for room.
    pub(crate) fn release_to(&self, i: usize, m: Mark) {
        self.readers[i].mark.write(m);
        self.wake_writers();
    }

    /// A weak reader moved to `m` (for lag statistics only).
    pub(crate) fn note_position(&self, i: usize, m: Mark) {
        self.readers[i].mark.write(m);
    }

    /// A weak reader's loss totals (it alone writes them), added to the channel's totals. A
    /// cold path (the reader was lapped), so it may take the gate lock.
    pub(crate) fn note_loss(&self, i: usize, lost_bytes: u64, lost_frames: u64) {
        let s = &self.readers[i];
        let _guard = self.lock_gate();
        let t = &self.reader_totals;
        // The slot holds the totals this reader reported last (0 since it joined): the
        // difference is what it lost since.
        add(&t.lost_bytes, lost_bytes.wrapping_sub(s.lost_bytes.get()));
        add(
            &t.lost_frames,
            lost_frames.wrapping_sub(s.lost_frames.get()),
        );
        s.lost_bytes.set(lost_bytes);
        s.lost_frames.set(lost_frames);
    }

    /// Payload bytes and frames lost by every reader the channel has had, and readers that
    /// left.
    pub(crate) fn reader_totals(&self) -> [u64; 3] {
        let _guard = self.lock_gate();
        let t = &self.reader_totals;
        [t.lost_bytes.get(), t.lost_frames.get(), t.departed.get()]
    }

    /// `true` if a gate refresh found this weak reader's current published position lapped by
    /// more than [`POS_FAR`] (its own position can then no longer be compared with the
    /// channel's). A flag set against an older position of the reader is ignored.
    #[inline]
    pub(crate) fn flagged_far(&self, i: usize) -> bool {
        let slot = &self.readers[i];
        // ORDERING: Relaxed; set under the gate lock from a seqlock read of this reader's mark,
        // and compared here with the sequence number this reader itself last wrote. A flag seen
        // late is seen at a later read; the refresh sets it while distances are still exact.
        let far = slot.far.load(Relaxed);
        far != 0 && far == slot.mark.own_seq()
    }
}
