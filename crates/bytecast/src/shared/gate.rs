//! The gate: the lower bound of `published` and every strong reader, and weak-reader validation.
//!
//! # Invariants
//! - Every byte at or after the gate is intact; the gate never moves back; it moves only under
//!   the gate lock, to a recorded record boundary no further than a writer needs.
//! - A weak reader keeps a copy of `[pos, ..)` only if no writer can have reserved past
//!   `pos + capacity` (a fence-based seqlock against the reservation CAS).
//! - Every refresh flags the weak readers more than a quarter of the position space behind
//!   `reserve`; refreshes happen at least once per ring of traffic, so a weak reader is flagged
//!   before distances to it stop being exact (`frame::POS_FAR`).

use super::*;
use crate::sync::CriticalGuard;

/// RAII guard of the gate lock (joins, leaves and gate refreshes). With the `critical-section`
/// feature the whole hold, from before the first attempt to the release, is one critical
/// section: no context of the same core runs while the lock is held, so none spins on it.
pub(super) struct GateGuard<'a> {
    lock: &'a AtomicBool,
    /// Dropped after the lock's release (fields drop after `Drop::drop`).
    _critical: CriticalGuard,
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        // ORDERING: Release; pairs with the Acquire CAS in `lock_gate`.
        self.lock.store(false, Release);
    }
}

impl Shared {
    /// Takes the gate lock. Callers keep the guard in a local until the end of their scope
    /// (the nesting rule of [`CriticalGuard`]).
    pub(super) fn lock_gate(&self) -> GateGuard<'_> {
        let critical = CriticalGuard::enter();
        loop {
            // ORDERING: Acquire; pairs with the Release in `GateGuard::drop`.
            if self
                .gate_lock
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return GateGuard {
                    lock: &self.gate_lock,
                    _critical: critical,
                };
            }
            spin_hint();
        }
    }

    /// Moves the gate forward so that a writer can reserve up to `need + capacity`, if the
    /// strong readers and `published` allow, but no further than the oldest record boundary
    /// that suffices (a history mark), so that new readers and lapped weak readers keep as much
    /// intact history as possible. Returns the gate's position.
    pub(crate) fn refresh_gate(&self, need: usize) -> usize {
        let _guard = self.lock_gate();
        let cur = self.gate.read();
        let limit = self.gate_limit_locked();
        if pos_lt(limit.pos, need) || !pos_lt(cur.pos, need) {
            // Not enough for this writer even at the limit (it will wait or be refused), or
            // already enough: the gate stays, keeping history for new and lapped readers.
            return cur.pos;
        }
        let next = self.history_mark_at_or_after(need, limit);
        self.gate.write(next);
        next.pos
    }

    /// `min(published, every strong reader)`, with counts. Gate lock held.
    ///
    /// Also flags every weak reader whose published position is more than [`POS_FAR`] behind
    /// `reserve` (`ReaderSlot::far`). Every space check that fails against the cached gate
    /// comes here, and `reserve` never runs more than a ring past the gate, so this runs at
    /// least once per ring of traffic: an idle weak reader is flagged while its distance is
    /// between a quarter of the position space and a quarter plus a ring (below half, where
    /// distances are still exact), and it is lapped for certain then: an active weak reader
    /// publishes its position at least every ring, so its real position is within two rings
    /// of the published one, and `MAX_CAPACITY` is a sixteenth of the space.
    pub(super) fn gate_limit_locked(&self) -> Mark {
        let mut best = self.published.read();
        // ORDERING: Acquire; the bound to measure weak readers against (any recent value
        // does: the flag needs only a distance above a quarter of the space).
        let reserve = self.reserve.load(Acquire) & !PARKED;
        for r in &self.readers[..self.reader_hwm()] {
            // ORDERING: Relaxed; membership only changes under the gate lock, which we hold.
            match r.kind.load(Relaxed) {
                SLOT_STRONG => {
                    let m = r.mark.read();
                    if pos_lt(m.pos, best.pos) {
                        best = m;
                    }
                }
                SLOT_WEAK => {
                    let (m, seq) = r.mark.read_with_seq();
                    if pos_sub(reserve, m.pos) > POS_FAR && pos_sub(reserve, m.pos) < 2 * POS_FAR {
                        // ORDERING: Relaxed; see `flagged_far`.
                        r.far.store(seq, Relaxed);
                    }
                }
                _ => {}
            }
        }
        best
    }

    /// The first recorded record start in `[need, limit.pos]`, or `limit`. Probes the history
    /// cells from the segment of `need` on, so it usually reads one or two cells.
    pub(super) fn history_mark_at_or_after(&self, need: usize, limit: Mark) -> Mark {
        let seg_size = self.capacity / HISTORY;
        let first = need / seg_size;
        for k in 0..HISTORY {
            let m = self.history[(first + k) % HISTORY].read();
            if m.pos != NO_MARK && !pos_lt(m.pos, need) && pos_lt(m.pos, limit.pos) {
                return m;
            }
            let seg_end = (first + k + 1).wrapping_mul(seg_size) & crate::frame::POS_MASK;
            if !pos_lt(seg_end, limit.pos) {
                break;
            }
        }
        limit
    }

    /// Where a lapped weak reader resumes: the oldest record boundary with known counts that is
    /// still intact and published: the oldest history mark at or after `reserve - capacity`
    /// (every such mark is past the lapped reader, whose position is below that), or the gate
    /// (always intact). The caller re-validates as it reads.
    pub(crate) fn resume_mark(&self) -> Mark {
        // ORDERING: Acquire; the reservation bound to compare history marks with.
        let oldest = pos_sub(self.reserve.load(Acquire) & !PARKED, self.capacity);
        let mut best = self.gate.read();
        let published = self.published.pos();
        for cell in self.history.iter() {
            let m = cell.read();
            let usable = m.pos != NO_MARK && !pos_lt(m.pos, oldest) && !pos_lt(published, m.pos);
            if usable && pos_lt(m.pos, best.pos) {
                best = m;
            }
        }
        best
    }

    /// In-use bytes: reserved but not yet released by every strong reader.
    pub(crate) fn in_use(&self) -> usize {
        let _guard = self.lock_gate();
        let limit = self.gate_limit_locked();
        // ORDERING: Relaxed; statistics.
        pos_sub(self.reserve.load(Relaxed) & !PARKED, limit.pos)
    }

    /// Fence-based seqlock, reader side: after copying bytes of `[pos, ...)` with atomic loads,
    /// `true` if no writer can have overwritten them (nothing was reserved past `pos + cap`).
    ///
    /// First against the gate, which caught-up weak readers are usually at or past: a writer
    /// that overwrote bytes at `pos` reserved up to `end > pos + capacity` after seeing a gate
    /// `g >= end - capacity > pos` (its space check), before its `Release` fence. If the copy
    /// read any of its stores, the fences synchronise, so this load of the gate (coherence:
    /// it comes after the writer's observation of `g`, and the gate never goes back) sees at
    /// least `g`, past `pos`. So a gate at or below `pos` proves the bytes intact without
    /// loading `reserve`, the line every reservation CAS needs (`docs/design.md`, "Weak
    /// readers").
    /// Otherwise the answer comes from `reserve`, as the seqlock's exact check.
    pub(crate) fn intact_since(&self, pos: usize) -> bool {
        // ORDERING: Acquire fence; pairs with the Release fence after the reservation CAS in
        // `try_reserve`.
        fence(Acquire);
        if !pos_lt(pos, self.gate.pos()) {
            return true;
        }
        // ORDERING: Relaxed; ordered after the copy by the Acquire fence above, which pairs with
        // the Release fence after the reservation CAS in `try_reserve`.
        let r = self.reserve.load(Relaxed) & !PARKED;
        !pos_lt(pos_add(pos, self.capacity), r)
    }
}
