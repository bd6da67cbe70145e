//! `Shared`: the protocol, once; handles in `writer.rs` and `reader.rs` only keep their own
//! cursors. One concept per module: `mark` (positions with counts, seqlocked cells),
//! `reserve` (claiming and finishing frames, admission priority), `publish` (the baton,
//! `published`, history marks), `gate` (gating and weak-reader validation), `slots` (handle
//! slots and counts), `wake` (sleep and wake-up). Each opens with the invariants it keeps.
//!
//! See `docs/design.md` for the prose version. In short:
//!
//! - `reserve` is the next free log position. A writer announces the position it is about to
//!   reserve in its slot (`open`), then claims `[r, r + n)` with one CAS on `reserve`, after
//!   checking `r + n <= gate + capacity`. Under `Drop` a failed check refuses the frame; the
//!   check and the CAS are one step, so a frame is accepted whole or not at all.
//! - `published` is the end of the prefix of the log in which every record is finished
//!   (committed, aborted or padding). Readers read below it and nowhere else. It is advanced in
//!   reservation order by whoever holds the publication *baton*; a writer whose slot moves off
//!   an announcement takes the baton if it is parked exactly there. The baton holder walks
//!   finished records and keeps the cumulative frame and payload counts that make loss reports
//!   exact, and records a history mark (a record start with its counts) per ring segment.
//! - `gate` is a cached lower bound of `min(published, every strong reader's position)`, with the
//!   cumulative counts at that position. Writers never reserve past `gate + capacity`, so every
//!   byte at or after `gate` is intact; new readers start there, and a lapped weak reader resumes
//!   at the oldest history mark still intact (or the gate).
//! - Sleeping is a Dekker handshake: a task registers its waker, counts itself in a sleeper
//!   counter, issues a `SeqCst` fence and checks its condition again; the side that makes
//!   progress publishes, issues a `SeqCst` fence and wakes only if the counter is non-zero.

use crate::config::{max_frame_len, Backpressure};
use crate::error::ChannelError;
use crate::frame::{pos_add, pos_lt, pos_sub, Header, Kind, Placement, POS_FAR};
use crate::ring::{Ring, WordWriter};
use crate::sync::{
    fence, spin_hint, wake_each, AtomicBool, AtomicUsize, CachePadded, SpinMutex, WakerCell,
};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use core::task::Waker;

mod gate;
#[cfg(all(test, bytecast_loom))]
mod loom_exclusive;
mod mark;
mod publish;
mod reserve;
mod slots;
mod wake;

pub(crate) use mark::{Mark, MarkCell};
pub(crate) use reserve::{Claimed, NoRoom, Reservation, PRIORITY_PATIENCE};
pub use slots::ReaderStats;

use mark::{Count, HolderCopy, PublishedCell};
use slots::{ReaderSlot, WriterSlot};
use wake::WaiterList;

/// Value of a writer slot's `open` when it has no reservation in flight. Positions are multiples
/// of 8, so an odd value is never a position.
const IDLE: usize = 1;
/// Value of `baton` while some thread holds it, or while the baton is parked in `reserve`.
/// Parked values are positions (multiples of 8).
const HELD: usize = 3;
/// Bit of `reserve` set while the publication baton is parked there: nothing is reserved past
/// `published`, and the next reservation takes the baton with its CAS. Positions are multiples
/// of 8, so the bit is never part of one.
const PARKED: usize = 1;

const OPEN: usize = 0;
const DRAINING: usize = 1;
const TERMINATED: usize = 2;

const SLOT_FREE: usize = 0;
const SLOT_STRONG: usize = 1;
const SLOT_WEAK: usize = 2;

/// The state every handle shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) ring: Ring,
    capacity: usize,
    mask: usize,
    pub(crate) backpressure: Backpressure,
    /// Next free log position.
    reserve: CachePadded<AtomicUsize>,
    /// End of the finished prefix, with counts; written by the baton holder.
    pub(crate) published: PublishedCell,
    /// The baton holder's copy of `published` (and its sequence number).
    holder_copy: CachePadded<HolderCopy>,
    /// [`HELD`], or the position where the publication baton is parked.
    baton: CachePadded<AtomicUsize>,
    /// Lower bound of `min(published, strong readers)`; written under `gate_lock`.
    gate: CachePadded<MarkCell>,
    gate_lock: AtomicBool,
    state: AtomicUsize,
    /// Set when the last `Channel` is dropped: no writer can be created any more.
    orphaned: AtomicBool,
    writer_bits: Box<[AtomicUsize]>,
    pub(crate) writers: Box<[CachePadded<WriterSlot>]>,
    pub(crate) readers: Box<[CachePadded<ReaderSlot>]>,
    reader_sleepers: CachePadded<AtomicUsize>,
    writer_sleepers: CachePadded<AtomicUsize>,
    strong_writers: AtomicUsize,
    weak_writers: AtomicUsize,
    /// Writer handles of both kinds, in one word: end of stream reads it in one load, and a
    /// conversion counts its new kind before the old one leaves, so it never reads zero while
    /// a writer lives (the two per-kind counts, read one after the other, could).
    writer_handles: AtomicUsize,
    strong_readers: AtomicUsize,
    weak_readers: AtomicUsize,
    dropped_frames: AtomicUsize,
    /// 0, or the claim of the writer that holds the admission priority: the reservation size
    /// (a frame's largest placement, a multiple of 8) that it waits for, plus a tag in the low
    /// bits. Every other writer leaves that much room when it reserves, so frames arriving
    /// meanwhile cannot starve it. Claimed by a CAS from 0; given back by its holder when it is
    /// admitted, refused, cancelled or dropped; taken over by a writer it keeps refusing while
    /// it does not come for room it has (`reserve.rs`, `PRIORITY_PATIENCE`).
    priority: AtomicUsize,
    /// A counter whose low bits tag priority claims.
    priority_tags: AtomicUsize,
    /// The token of the writer that held the priority last (`WriterCore::token`).
    last_priority_holder: AtomicUsize,
    /// Source of writer tokens.
    writer_tokens: AtomicUsize,
    /// Weak writers waiting for a free writer slot (rare path; may lock).
    slot_waiters: WaiterList,
    /// Weak writers waiting for space (they give their slot back while they wait).
    space_waiters: WaiterList,
    /// The first record start published in each of [`HISTORY`] segments of the ring, with its
    /// counts: where a lapped weak reader can resume close to the oldest intact frame.
    history: Box<[MarkCell]>,
    /// One past the highest reader slot ever used (scans stop there); under the gate lock.
    reader_hwm: AtomicUsize,
    /// `log2(capacity / HISTORY)`: a position's history segment is `pos >> history_shift`.
    history_shift: u32,
    /// Losses of every reader ever, and readers that left; under the gate lock.
    reader_totals: slots::ReaderTotals,
    /// [`max_frame_len`] of the capacity, computed once.
    max_frame_len: usize,
}

/// `pos` of a history cell that holds no record start (never a position: positions are
/// multiples of 8).
const NO_MARK: usize = usize::MAX;

/// A reader's lag behind `published`: never negative (a reader may move past `published` as read
/// here).
fn lag(published: usize, pos: usize) -> u64 {
    if pos_lt(pos, published) {
        pos_sub(published, pos) as u64
    } else {
        0
    }
}

/// Segments of the ring that keep a resume mark for lapped weak readers.
///
/// Loom models use 4, to keep the explored state space small.
const HISTORY: usize = if cfg!(all(test, bytecast_loom)) {
    4
} else {
    64
};

impl Shared {
    pub(crate) fn new(
        capacity: usize,
        backpressure: Backpressure,
        max_writers: usize,
        max_readers: usize,
    ) -> Option<Self> {
        let ring = Ring::try_new(capacity)?;
        let words = max_writers.div_ceil(usize::BITS as usize);
        Some(Self {
            ring,
            capacity,
            mask: capacity - 1,
            backpressure,
            // The baton starts parked in `reserve`: the first reservation takes it.
            reserve: CachePadded::new(AtomicUsize::new(PARKED)),
            published: PublishedCell::default(),
            holder_copy: CachePadded::new(HolderCopy::default()),
            baton: CachePadded::new(AtomicUsize::new(HELD)),
            gate: CachePadded::new(MarkCell::default()),
            gate_lock: AtomicBool::new(false),
            state: AtomicUsize::new(OPEN),
            orphaned: AtomicBool::new(false),
            writer_bits: (0..words).map(|_| AtomicUsize::new(0)).collect(),
            writers: (0..max_writers)
                .map(|_| {
                    CachePadded::new(WriterSlot {
                        open: AtomicUsize::new(IDLE),
                        asleep: AtomicBool::new(false),
                        waker: WakerCell::new(),
                    })
                })
                .collect(),
            readers: (0..max_readers)
                .map(|_| {
                    CachePadded::new(ReaderSlot {
                        kind: AtomicUsize::new(SLOT_FREE),
                        mark: MarkCell::default(),
                        lost_bytes: Count::default(),
                        lost_frames: Count::default(),
                        far: AtomicUsize::new(0),
                        asleep: AtomicBool::new(false),
                        waker: WakerCell::new(),
                    })
                })
                .collect(),
            reader_sleepers: CachePadded::new(AtomicUsize::new(0)),
            writer_sleepers: CachePadded::new(AtomicUsize::new(0)),
            strong_writers: AtomicUsize::new(0),
            weak_writers: AtomicUsize::new(0),
            writer_handles: AtomicUsize::new(0),
            strong_readers: AtomicUsize::new(0),
            weak_readers: AtomicUsize::new(0),
            dropped_frames: AtomicUsize::new(0),
            priority: AtomicUsize::new(0),
            priority_tags: AtomicUsize::new(0),
            last_priority_holder: AtomicUsize::new(0),
            writer_tokens: AtomicUsize::new(1),
            slot_waiters: WaiterList::default(),
            space_waiters: WaiterList::default(),
            history: (0..HISTORY)
                .map(|_| {
                    MarkCell::new(Mark {
                        pos: NO_MARK,
                        ..Mark::default()
                    })
                })
                .collect(),
            reader_hwm: AtomicUsize::new(0),
            history_shift: (capacity / HISTORY).trailing_zeros(),
            reader_totals: slots::ReaderTotals::default(),
            max_frame_len: max_frame_len(capacity),
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    #[inline]
    pub(crate) fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    #[inline]
    pub(crate) fn index(&self, pos: usize) -> usize {
        pos & self.mask
    }

    pub(super) fn state(&self) -> usize {
        // ORDERING: Acquire; pairs with the AcqRel CAS in `terminate`/`drain`, so a task that sees
        // the new state also sees everything published before it.
        self.state.load(Acquire)
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state() == TERMINATED
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.state() == DRAINING
    }

    /// Error for a new frame, if the channel refuses new frames.
    pub(crate) fn write_refusal(&self) -> Option<ChannelError> {
        match self.state() {
            OPEN => None,
            DRAINING => Some(ChannelError::Draining),
            _ => Some(ChannelError::Terminated),
        }
    }

    /// Terminates the channel: every current and future operation fails; every waiting task is
    /// woken. On a draining channel it still terminates, and reports `TerminateDraining`.
    pub(crate) fn terminate(&self) -> Result<(), ChannelError> {
        // ORDERING: AcqRel; publishes the state change (pairs with `state()`'s Acquire).
        let prev = self.state.swap(TERMINATED, AcqRel);
        self.wake_all();
        if prev == DRAINING {
            Err(ChannelError::TerminateDraining)
        } else {
            Ok(())
        }
    }

    /// Starts draining: new frames are refused, readers finish what is published.
    pub(crate) fn drain(&self) -> Result<(), ChannelError> {
        // ORDERING: AcqRel; as in `terminate`.
        match self.state.compare_exchange(OPEN, DRAINING, AcqRel, Acquire) {
            Ok(_) | Err(DRAINING) => {
                self.wake_all();
                Ok(())
            }
            Err(_) => Err(ChannelError::DrainTerminated),
        }
    }

    /// The last `Channel` is gone: once no writer is left, readers that caught up see the end.
    pub(crate) fn orphan(&self) {
        // ORDERING: Release; pairs with the Acquire load in `ended`.
        self.orphaned.store(true, Release);
        self.wake_readers();
    }

    /// `true` if a record is reserved at or past `pos` (a writer is filling a frame that will
    /// be published there).
    #[inline]
    pub(crate) fn in_flight_past(&self, pos: usize) -> bool {
        // ORDERING: Relaxed; a hint for spinning only, never trusted for correctness.
        self.reserve.load(Relaxed) & !PARKED != pos
    }

    /// `true` when no more frames can ever be published after `pos`.
    pub(crate) fn ended(&self, pos: usize) -> bool {
        // ORDERING: Acquire; pairs with the Release store in `orphan`.
        let no_more_writers = self.orphaned.load(Acquire) && self.writer_count() == 0;
        (self.is_draining() || no_more_writers)
            // ORDERING: Acquire; pairs with the CAS on `reserve`; if nothing was reserved past
            // `pos`, no record can be published past it.
            && self.reserve.load(Acquire) & !PARKED == pos
            && self.published.pos() == pos
    }

    /// A token that tells writer handles apart (for the admission priority's turns).
    pub(crate) fn writer_token(&self) -> usize {
        // ORDERING: Relaxed; a unique number is all that is needed.
        self.writer_tokens.fetch_add(1, Relaxed)
    }

    /// Whether writers other than one (that is itself counted as sleeping if `me_sleeping`)
    /// wait.
    pub(crate) fn other_writers_wait(&self, me_sleeping: bool) -> bool {
        // ORDERING: Relaxed; fairness only.
        self.writer_sleepers.load(Relaxed) > usize::from(me_sleeping)
    }

    pub(crate) fn count_dropped(&self) {
        // ORDERING: Relaxed; statistics.
        self.dropped_frames.fetch_add(1, Relaxed);
    }

    pub(crate) fn counts(&self) -> [usize; 5] {
        // ORDERING: Relaxed (all five); statistics, each value exact on its own.
        let load = |c: &AtomicUsize| c.load(Relaxed);
        [
            load(&self.strong_writers),
            load(&self.weak_writers),
            load(&self.strong_readers),
            load(&self.weak_readers),
            load(&self.dropped_frames),
        ]
    }

    pub(crate) fn reader_stats(&self) -> Vec<ReaderStats> {
        let _guard = self.lock_gate();
        let published = self.published.pos();
        self.readers[..self.reader_hwm()]
            .iter()
            .enumerate()
            .filter_map(|(id, r)| {
                // ORDERING: Relaxed; under the gate lock.
                let kind = r.kind.load(Relaxed);
                (kind != SLOT_FREE).then(|| ReaderStats {
                    id,
                    strong: kind == SLOT_STRONG,
                    // A reader may move past `published` as read here: no negative lag.
                    lag: {
                        let (m, seq) = r.mark.read_with_seq();
                        // ORDERING: Relaxed; under the gate lock, which every flagging refresh
                        // holds.
                        if kind == SLOT_WEAK && r.far.load(Relaxed) == seq {
                            POS_FAR as u64 // lapped past a quarter of the position space
                        } else {
                            lag(published, m.pos)
                        }
                    },
                    lost_bytes: r.lost_bytes.get(),
                    lost_frames: r.lost_frames.get(),
                })
            })
            .collect()
    }
}
