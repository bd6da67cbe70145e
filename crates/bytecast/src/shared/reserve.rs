//! Reservation: claiming log space for a frame, filling it, and finishing it.
//!
//! # Invariants
//! - A writer announces the position it is about to reserve in its slot (`open`) before the
//!   reservation CAS, and moves off every announcement (commit, abort, giving up, or a new
//!   announcement) with a baton check (`publish.rs`).
//! - Space: every reservation ends at or before `g + room` for a gate value `g` it read, where
//!   `room` is the capacity less what a writer holding the admission priority needs (unless it
//!   is that writer). Under `Drop` the check and the CAS are one step: a frame is accepted
//!   whole or not at all.
//! - Every reservation fits in an empty ring (`frame::Placement`), so no writer waits for space
//!   that can never exist, and the writer holding the admission priority is admitted once the
//!   strong readers have released its record's size.
//! - `RING-EXCL-W`: an exclusive reservation (no weak reader registered after its CAS) is
//!   copied with `memcpy`; every other one with word-sized atomic stores.

use super::*;

/// The reservation a writer got: where its padding and frame go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    pub(crate) start: usize,
    pub(crate) placement: Placement,
    pub(crate) len: usize,
    /// The reservation's CAS took the publication baton parked in `reserve`.
    pub(crate) holds_baton: bool,
    /// No weak reader was registered after the reservation: the payload may be copied with a
    /// plain `memcpy` (`RING-EXCL-W`).
    pub(crate) exclusive: bool,
}

/// Frames from this many payload bytes on are copied with `memcpy` instead of word-sized atomic
/// stores when no weak reader is registered (the check is one load, `no_weak_readers`).
/// Smaller ones, one or two words, keep the stores: the threshold is not tuned below 16 bytes
/// (the benchmark's frames are 24 bytes or more). Never under loom, which cannot see plain
/// copies.
const EXCLUSIVE_MIN: usize = if cfg!(all(test, bytecast_loom)) {
    usize::MAX
} else {
    16
};

impl Reservation {
    pub(crate) fn frame_pos(&self) -> usize {
        pos_add(self.start, self.placement.pad)
    }
}

/// Low bits of `Shared::priority` that tag a claim (needs are multiples of 8).
const PRIORITY_TAG: usize = 7;

/// The bits of a claim from here up tag it too: a need is at most `MAX_CAPACITY`, below
/// 2^32 on 64-bit targets and 2^29 on 32-bit ones.
const TAG_SHIFT: u32 = if usize::BITS >= 64 { 32 } else { 29 };

/// The reservation size a claim holds room for.
fn need_of(claim: usize) -> usize {
    claim & ((1 << TAG_SHIFT) - 1) & !PRIORITY_TAG
}

/// The outcome of `Shared::claim_priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// The writer holds the priority with this claim.
    Yes(usize),
    /// Another writer holds it.
    No,
    /// The writer held it last and lets the writers waiting behind it claim it first.
    Deferred,
}

/// How many times in a row a writer is refused only for the room a waiting writer's priority
/// holds, while that writer's frame fits, before it takes the priority over: the holder was
/// woken when its room freed, and on an executor it runs before a writer that yields this
/// often; one that never comes (an abandoned wait) holds the others back no longer.
pub(crate) const PRIORITY_PATIENCE: u32 = 64;

/// Why a reservation attempt did not produce a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// Not enough space now (Park: wait; Drop: refuse).
    Full,
    /// Enough space for this frame, but not beside the room that the holder of the admission
    /// priority (claim in the field) needs, and the holder's frame fits now: yield to it.
    Priority(usize),
    /// No writer slot is free (weak writers).
    NoSlot,
    /// The channel refuses new frames.
    Closed(ChannelError),
}

impl Shared {
    /// Tries to reserve a frame of `len` payload bytes for the writer in `slot`.
    /// The caller (`WriterCore::try_reserve`) has just refused the frame if the channel is
    /// draining or terminated; a drain or terminate that races this reservation is caught by
    /// the check after the CAS.
    #[inline(always)]
    pub(crate) fn try_reserve(
        &self,
        slot: usize,
        len: usize,
        claim: usize,
    ) -> Result<Reservation, NoRoom> {
        let open = &self.writers[slot].open;
        let mut announced = None;
        // Room this writer may use past the gate: the ring, less what the writer holding the
        // admission priority needs (unless that is this writer: `claim` is its claim, or 0).
        // ORDERING: Relaxed; fairness only: a claim seen late admits a few more frames first.
        // The holder's release and the sleepers' re-checks pair through the SeqCst fences of
        // `wake_writers` / `sleep_writer`.
        let priority = self.priority.load(Relaxed);
        let reserved_for_waiter = if priority == claim {
            0
        } else {
            need_of(priority)
        };
        let room = self.capacity - reserved_for_waiter;
        // ORDERING: Relaxed; a first guess, validated by the CAS.
        let mut raw = self.reserve.load(Relaxed);
        let (r, placement) = loop {
            let r = raw & !PARKED;
            let placement = Placement::at(self.index(r), len, self.capacity);
            let end = pos_add(r, placement.total());
            if pos_lt(pos_add(self.gate.pos(), room), end)
                && pos_lt(pos_add(self.refresh_gate(pos_sub(end, room)), room), end)
            {
                if let Some(was) = announced {
                    self.set_idle(slot, was);
                }
                // Refused only for the room left to the priority's holder, while the holder's
                // frame fits now: the holder has been woken and should come; the caller yields
                // to it rather than sleep (a holder that never comes would leave it asleep for
                // ever), and takes the priority over after `PRIORITY_PATIENCE` such refusals.
                if reserved_for_waiter > 0 {
                    // Each against the gate as far as that end needs it (the refresh above
                    // asked for this writer's end plus the holder's room, which the strong
                    // readers may not allow).
                    let fits = |end: usize| {
                        let gate = self.refresh_gate(pos_sub(end, self.capacity));
                        !pos_lt(pos_add(gate, self.capacity), end)
                    };
                    let fits_alone = fits(end);
                    let holder_fits = fits(pos_add(r, reserved_for_waiter));
                    if fits_alone && holder_fits {
                        return Err(NoRoom::Priority(priority));
                    }
                }
                return Err(NoRoom::Full);
            }
            // ORDERING: Relaxed; the CAS below (SeqCst, so also Release) publishes it to the
            // publisher's Acquire load of `reserve`; the Dekker with a parked baton goes
            // through the SeqCst fence in `baton_check`.
            open.store(r, Relaxed);
            if let Some(was) = announced.replace(r) {
                // Moving off an earlier announcement: the baton may be parked on it.
                self.baton_check(was);
            }
            // SeqCst on success: pairs with the publisher's Acquire load of `reserve` and, when
            // it takes a baton parked here, with the publisher's parking CAS (the baton changes
            // hands in one total order).
            let reserve = &self.reserve;
            // ORDERING: SeqCst on success, see above; Relaxed on failure (a retry).
            let cas = reserve.compare_exchange_weak(raw, end, SeqCst, Relaxed);
            match cas {
                Ok(_) => break (r, placement),
                Err(now) => raw = now,
            }
        };
        // Fence-based seqlock, writer side: the CAS above is ordered before every store into
        // the reserved bytes, so a weak reader that reads any of them and then fences with
        // Acquire sees the new `reserve` and discards its copy.
        // ORDERING: Release fence; pairs with the Acquire fence in `intact_since`.
        fence(Release);
        let exclusive = len >= EXCLUSIVE_MIN && self.no_weak_readers();
        let res = Reservation {
            start: r,
            placement,
            len,
            holds_baton: raw & PARKED != 0,
            exclusive,
        };
        if let Some(e) = self.write_refusal() {
            // Drain or terminate raced the reservation: refuse the frame after all.
            self.finish(slot, res, None, 0);
            return Err(NoRoom::Closed(e));
        }
        Ok(res)
    }

    /// Finishes a reservation: writes the headers (a committed frame of `committed_len` bytes
    /// written by `writer`, or an aborted record when `writer` is `None`), marks the slot idle
    /// and publishes.
    #[inline(always)]
    pub(crate) fn finish(
        &self,
        slot: usize,
        res: Reservation,
        writer: Option<u16>,
        committed_len: usize,
    ) {
        let Placement { pad, frame } = res.placement;
        if pad > 0 {
            self.write_header(res.start, Kind::Padding, 0, pad - crate::frame::HEADER);
        }
        let at = res.frame_pos();
        // The data frame's footprint, if one was committed (else the frame is an aborted record).
        let used = writer.map(|_| crate::frame::footprint(committed_len));
        match writer.zip(used) {
            Some((id, used)) => {
                self.write_header(at, Kind::Data, id, committed_len);
                if used < frame {
                    let gap = pos_add(at, used);
                    self.write_header(gap, Kind::Padding, 0, frame - used - crate::frame::HEADER);
                }
            }
            None => self.write_header(at, Kind::Aborted, 0, frame - crate::frame::HEADER),
        }
        if !res.holds_baton {
            self.set_idle(slot, res.start);
            return;
        }
        // This writer took the baton with its reservation (it was parked in `reserve`), so its
        // record starts at `published`: it walks its own records from what it just wrote,
        // without reading their headers back, then publishes. Its own slot store is visible to
        // its own scans.
        // ORDERING: Release; publishes the headers to later holders' Acquire slot loads.
        self.writers[slot].open.store(IDLE, Release);
        let mut mark = self.holder_copy.mark();
        debug_assert_eq!(
            mark.pos, res.start,
            "the baton taken from `reserve` is at our record"
        );
        if pad > 0 {
            self.note_history(mark, pad);
            mark.pos = pos_add(mark.pos, pad);
        }
        match used {
            Some(used) => {
                self.note_history(mark, used);
                mark.frames = mark.frames.wrapping_add(1);
                mark.payload = mark.payload.wrapping_add(committed_len as u64);
                mark.pos = pos_add(mark.pos, used);
                if used < frame {
                    self.note_history(mark, frame - used);
                    mark.pos = pos_add(mark.pos, frame - used);
                }
            }
            None => {
                self.note_history(mark, frame);
                mark.pos = pos_add(mark.pos, frame);
            }
        }
        self.publish_from(mark.pos, mark.frames, mark.payload, true);
    }

    #[inline]
    pub(super) fn write_header(&self, pos: usize, kind: Kind, writer: u16, len: usize) {
        let h = Header {
            len: len as u32,
            writer,
            kind,
        };
        self.ring.store_u64(self.index(pos), h.encode());
    }

    /// Writes `payload` (at most the reserved length) as the reservation's whole payload, in
    /// one call, its last partial word zero-padded: a `memcpy` for an exclusive reservation
    /// (`RING-EXCL-W`), whole-word stores otherwise.
    #[inline(always)]
    pub(crate) fn write_payload(&self, res: &Reservation, payload: &[u8]) {
        debug_assert!(payload.len() <= res.len);
        let idx = self.index(res.frame_pos()) + crate::frame::HEADER;
        self.ring.store_payload(idx, payload, res.exclusive);
    }

    /// The [`WordWriter`] that fills a grant's reservation piece by piece (a copying write
    /// stores its payload in one call instead: [`Shared::write_payload`]).
    pub(crate) fn word_writer(&self, res: &Reservation) -> WordWriter {
        WordWriter::new(
            self.index(res.frame_pos()) + crate::frame::HEADER,
            res.exclusive,
        )
    }

    /// After the reservation CAS of a reservation whose space check used gate `g` (so it ends
    /// at or before `g + capacity`): `true` if no weak reader is registered, in which case no
    /// weak reader can read the reserved bytes in an older lap while the writer fills them
    /// (`RING-EXCL-W`).
    ///
    /// Why: a weak reader registers (`join_reader`, `downgrade_reader`) under the gate lock, and
    /// the gate is only written under it, so the reader's hold and the hold that wrote `g` (the
    /// value loaded with `Acquire`, or read under the lock in `refresh_gate`) are ordered by
    /// the lock:
    /// - the reader's hold first: its increment happens before the write of `g`, which the
    ///   writer's `Acquire` load of the gate synchronizes with, so this load sees it;
    /// - the hold that wrote `g` first (or `g` is the initial gate): the reader's start read
    ///   comes after it and sees a gate no older than `g`, or a published end no older than the
    ///   one that hold read (at least `g`). Its position never falls below `g`, and the
    ///   reserved bytes alias only positions below `end - capacity <= g`.
    ///
    /// A strong reader that is downgraded sits at or after every gate. A weak reader's reads
    /// happen before its deregistering `Release` decrement, which the `Acquire` load here
    /// synchronizes with. So no fence is needed on either side.
    #[inline(always)]
    pub(super) fn no_weak_readers(&self) -> bool {
        // ORDERING: Acquire; synchronizes with the Release decrement in `leave_reader`, so a
        // departed weak reader's reads happen before our copy. An increment is ordered before
        // this load through the gate (see above).
        self.weak_readers.load(Acquire) == 0
    }

    /// A writer waiting for space for a frame of `len` bytes asks for admission priority.
    /// `defer`: the asking writer lets others that wait go first if it (`token`) held the
    /// priority last; it defers once, so a writer waiting behind it claims the priority in its
    /// next poll, and two writers of full-size frames take turns.
    pub(crate) fn claim_priority(&self, len: usize, token: usize, defer: bool) -> Claimed {
        // ORDERING: Relaxed (all); fairness only: no data is published with the priority.
        if defer && self.last_priority_holder.load(Relaxed) == token {
            return Claimed::Deferred;
        }
        // The need is a multiple of 8 below 2^TAG_SHIFT; the claim's other bits tag it, so
        // that a holder whose claim was taken over never mistakes a later one for its own.
        // ORDERING: Relaxed; a counter for tags only.
        let n = self.priority_tags.fetch_add(1, Relaxed);
        let tag = (1 + n % PRIORITY_TAG) | ((n >> 3) << TAG_SHIFT);
        let claim = Placement::largest(len, self.capacity) | tag;
        // ORDERING: Relaxed; as above.
        match self.priority.compare_exchange(0, claim, Relaxed, Relaxed) {
            Ok(_) => {
                // ORDERING: Relaxed; as above.
                self.last_priority_holder.store(token, Relaxed);
                Claimed::Yes(claim)
            }
            Err(_) => Claimed::No,
        }
    }

    /// `true` if `claim` is still the priority's claim (not given back, nor taken over).
    pub(crate) fn holds_priority(&self, claim: usize) -> bool {
        // ORDERING: Relaxed; fairness only.
        self.priority.load(Relaxed) == claim
    }

    /// Gives back the priority claimed as `claim` (unless it was taken over meanwhile) and
    /// wakes the writers that left room for it.
    pub(crate) fn release_priority(&self, claim: usize) {
        // ORDERING: Relaxed; the SeqCst fence in `wake_writers` orders it before the sleeper
        // check (Dekker with `sleep_writer`'s fence and re-check).
        if self
            .priority
            .compare_exchange(claim, 0, Relaxed, Relaxed)
            .is_ok()
        {
            self.wake_writers();
        }
    }

    /// Takes over the priority claimed as `seen` from a holder that has had room for its frame
    /// through `PRIORITY_PATIENCE` refusals of this writer without coming (a holder whose wait
    /// was abandoned, or whose future was forgotten). The holder asks again if it still waits.
    pub(crate) fn revoke_priority(&self, seen: usize) {
        self.release_priority(seen);
    }
}
