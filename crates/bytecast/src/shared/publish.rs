//! Publication: the baton, `published`, and the history marks.
//!
//! # Invariants
//! - `published` is the end of the longest prefix of the log in which every record is finished;
//!   only the baton holder advances it, so records are published in reservation order.
//! - The baton is in exactly one place: held, parked at a position in `baton`, or parked in
//!   `reserve` (its `PARKED` bit). A writer moving off an announcement takes the baton if it is
//!   parked exactly there (a Dekker pair of `SeqCst` fences with the holder's park), so a
//!   finished record is never left unpublished.
//! - Each history cell holds the first record start of its segment in the current or the
//!   previous lap, or nothing: the cells of segments that a record covers without a record
//!   starting in them are cleared.

use super::*;

impl Shared {
    /// Marks the writer slot idle after it announced `was`.
    pub(super) fn set_idle(&self, slot: usize, was: usize) {
        // Fast path: the baton is parked on this record (the usual case when this writer is
        // next in line). Take it first, then mark the slot idle: as holder, this thread is the
        // only one that scans the slots until it parks the baton again, and its own scan sees
        // its own store. The CAS is a full barrier, so no fence is needed here.
        // ORDERING: Relaxed; a hint only, the CAS decides.
        if self.baton.load(Relaxed) == was
            && self
                .baton
                // ORDERING: SeqCst; the baton changes hands in one total order.
                .compare_exchange(was, HELD, SeqCst, Relaxed)
                .is_ok()
        {
            // ORDERING: Release; publishes the headers to later holders' Acquire slot loads.
            self.writers[slot].open.store(IDLE, Release);
            self.run_publisher();
            return;
        }
        // ORDERING: Release; publishes the headers written before (pairs with the Acquire slot
        // loads in `unfinished_from`); the Dekker with the publisher goes through the SeqCst
        // fences in `baton_check` and `run_publisher`.
        self.writers[slot].open.store(IDLE, Release);
        self.baton_check(was);
    }

    /// After a writer slot moved off the announcement `was`, runs the publisher
    /// if the baton is parked exactly there. Every announcement is eventually moved off (by a
    /// commit, an abort, giving up, or a new announcement), and the baton only parks on an
    /// announcement or on `reserve` (which the next reservation announces), so the baton is
    /// never left parked on a finished record.
    pub(super) fn baton_check(&self, was: usize) {
        // Dekker with `run_publisher`: slot store; SeqCst fence; baton load here, against baton
        // store; SeqCst fence; slot loads there. (Fences, not SeqCst accesses: loom models
        // SeqCst fences exactly, and they state the pattern.)
        fence(SeqCst);
        // ORDERING: Relaxed; ordered after the slot store by the SeqCst fence above.
        if self.baton.load(Relaxed) == was {
            self.try_publish(was);
        }
    }

    /// First position at or after `from` that may still be unfinished: the smallest announced
    /// reservation at or after `from`, or `reserve`.
    #[inline]
    pub(super) fn unfinished_from(&self, from: usize) -> usize {
        // ORDERING: Acquire; pairs with the reservation CAS, so every reservation below `limit`
        // has its slot claim and announcement (made before the CAS) visible to the loads below.
        let mut limit = self.reserve.load(Acquire) & !PARKED;
        if limit == from {
            // Nothing reserved at or after `from`: no announcement can be below `reserve`.
            return limit;
        }
        let bits = usize::BITS as usize;
        for (wi, word) in self.writer_bits.iter().enumerate() {
            // ORDERING: Acquire; a slot claimed before a CAS we saw is seen as claimed (the
            // claim happens-before the CAS, which happens-before our load of `reserve`).
            let mut set = word.load(Acquire);
            while set != 0 {
                let i = wi * bits + set.trailing_zeros() as usize;
                set &= set - 1;
                // ORDERING: Acquire; pairs with the Release store of IDLE in `set_idle`, so the
                // headers of a finished record are visible before we read them.
                let v = self.writers[i].open.load(Acquire);
                // Only an announcement in `[from, limit)` counts: one below `from` is stale (its
                // CAS cannot succeed any more), however old it is (the window test is exact
                // modulo the position space, and a stale value that falls inside the window by
                // wrap-around only stops this walk early, at a record boundary at or before the
                // real limit).
                if v != IDLE && pos_sub(v, from) < pos_sub(limit, from) {
                    limit = v;
                }
            }
        }
        limit
    }

    pub(super) fn try_publish(&self, parked_at: usize) {
        // ORDERING: SeqCst; the baton changes hands in one total order with the slot stores.
        if self
            .baton
            .compare_exchange(parked_at, HELD, SeqCst, SeqCst)
            .is_ok()
        {
            self.run_publisher();
        }
    }

    /// Holds the baton: publishes every finished record, then parks the baton and re-checks;
    /// wakes sleepers once at the end (after the re-checks, so that a panicking waker cannot
    /// leave a finished record unpublished).
    pub(super) fn run_publisher(&self) {
        let m = self.holder_copy.mark();
        self.publish_from(m.pos, m.frames, m.payload, false);
    }

    /// The baton holder's loop (see `run_publisher`), from the mark `pos`/`frames`/`payload`:
    /// the published end, or past it (`walked`) when the holder has already walked its own
    /// finished records.
    ///
    /// The mark comes as three words, in registers, rather than as a `Mark`, which (24 bytes)
    /// would go through a stack copy: the compiler then summed its fields with 16-byte loads of
    /// words just stored 8 bytes at a time, a store-forwarding failure that made the lone
    /// writer wait for every store before it, the frame's included (`perf annotate`: 40 % of
    /// `try_write`'s samples; `docs/design.md`, "Hot path: locks and allocation").
    #[inline]
    pub(super) fn publish_from(&self, pos: usize, frames: u64, payload: u64, walked: bool) {
        let mut mark = Mark {
            pos,
            frames,
            payload,
        };
        let mut unpublished = walked;
        let mut advanced = false;
        loop {
            let limit = self.unfinished_from(mark.pos);
            let start = mark.pos;
            while pos_lt(mark.pos, limit) {
                let raw = self.ring.load_u64(self.index(mark.pos));
                let h = Header::decode(raw).expect("finished record has a valid header");
                self.note_history(mark, h.footprint());
                if h.kind == Kind::Data {
                    mark.frames = mark.frames.wrapping_add(1);
                    mark.payload = mark.payload.wrapping_add(u64::from(h.len));
                }
                mark.pos = pos_add(mark.pos, h.footprint());
            }
            if unpublished || mark.pos != start {
                self.holder_copy.publish(&self.published, mark);
                advanced = true;
                unpublished = false;
            }
            // Nothing reserved past the published end: park the baton in `reserve`, where the
            // next reservation takes it with the CAS it makes anyway. No record can be
            // unfinished, so there is nothing to re-check; the fence after the CAS is the
            // sleepers' Dekker fence (below).
            // ORDERING: SeqCst; the baton changes hands in one total order with the
            // reservation CASes that take it.
            if self
                .reserve
                .compare_exchange(mark.pos, mark.pos | PARKED, SeqCst, Relaxed)
                .is_ok()
            {
                fence(SeqCst);
                break;
            }
            // ORDERING: Release; parks the baton; the CASes that take it are SeqCst RMWs and
            // read this store; the Dekker with `baton_check` goes through the fence below.
            self.baton.store(mark.pos, Release);
            // One fence for three Dekker pairs: sleeping readers (they wait for `published`),
            // sleeping writers (`published` bounds the gate), and `baton_check` (park, fence,
            // then re-scan the slots). The last iteration's fence follows every publication.
            fence(SeqCst);
            if self.unfinished_from(mark.pos) == mark.pos {
                break;
            }
            // ORDERING: SeqCst; someone else may have taken the parked baton meanwhile.
            if self
                .baton
                .compare_exchange(mark.pos, HELD, SeqCst, SeqCst)
                .is_err()
            {
                break;
            }
        }
        if advanced {
            self.wake_sleepers_after_fence();
        }
    }

    /// Records `mark`, the start of a record of `footprint` bytes being published, if it is the
    /// first record starting in its history segment in this lap, and clears the cells of the
    /// segments the record covers without a record starting in them. Baton holder only
    /// (SEQ-ONE-WRITER for the history cells).
    ///
    /// So every cell holds a record start of the current or the previous lap, or nothing: a cell
    /// is never left with a position so old that comparing it with current positions would wrap
    /// (a segment can go any number of laps without a record start, e.g. under frames as long
    /// as the ring).
    #[inline]
    pub(super) fn note_history(&self, mark: Mark, footprint: usize) {
        // `capacity` and `HISTORY` are powers of two: shifts and masks, no division on the path
        // of every published record.
        let seg_shift = self.history_shift;
        let cell = &self.history[(mark.pos >> seg_shift) & (HISTORY - 1)];
        // A record starts in a new segment when the previous record start recorded in this cell
        // belongs to an older lap or an earlier segment.
        let seg_start = mark.pos & !((1 << seg_shift) - 1);
        let last = cell.pos();
        if last == NO_MARK || pos_lt(last, seg_start) {
            cell.write(mark);
        }
        let next_seg = pos_add(seg_start, 1 << seg_shift);
        let end = pos_add(mark.pos, footprint);
        if pos_lt(next_seg, end) {
            self.clear_history(next_seg, end);
        }
    }

    /// Clears the history cells of the segments starting in `[from, end)` (covered by one
    /// record, so no record starts in them in this lap).
    #[cold]
    pub(super) fn clear_history(&self, mut from: usize, end: usize) {
        let seg = 1usize << self.history_shift;
        while pos_lt(from, end) {
            let cell = &self.history[(from >> self.history_shift) & (HISTORY - 1)];
            if cell.pos() != NO_MARK {
                cell.write(Mark {
                    pos: NO_MARK,
                    ..Mark::default()
                });
            }
            from = pos_add(from, seg);
        }
    }
}
