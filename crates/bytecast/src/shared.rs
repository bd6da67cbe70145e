//! `Shared`: the protocol. Reservation, commit publication, gating, wake-ups and ending all live
//! here, once; handles in `writer.rs` and `reader.rs` only keep their own cursors.
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
    fn new(v: u64) -> Self {
        let c = Self::default();
        c.set(v);
        c
    }

    #[inline]
    fn get(&self) -> u64 {
        // ORDERING: Relaxed; ordered by the caller (seqlock fences, or one writer).
        let lo = self.lo.load(Relaxed) as u64;
        #[cfg(not(target_pointer_width = "64"))]
        // ORDERING: Relaxed; as above.
        let lo = lo | (self.hi.load(Relaxed) as u64) << 32;
        lo
    }

    #[inline]
    fn set(&self, v: u64) {
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
/// store of the position has to take its line back from them. Measured (`docs/bench.md`,
/// "Stop 10"), with the rest of the memory layout unchanged: `bytecast-try` 1→4, three
/// alternating rounds, 10.0 M → 12.0 M frames/s per reader.
pub(crate) type PublishedCell = MarkCell<CachePadded<AtomicUsize>>;

impl<P: PosSlot> MarkCell<P> {
    fn new(m: Mark) -> Self {
        Self {
            seq: AtomicUsize::new(0),
            pos: P::with(m.pos),
            frames: Count::new(m.frames),
            payload: Count::new(m.payload),
        }
    }

    #[inline]
    fn write(&self, m: Mark) {
        // ORDERING: Relaxed; only this thread writes `seq` (SEQ-ONE-WRITER).
        self.write_after(self.seq.load(Relaxed), m);
    }

    /// [`MarkCell::write`] by a writer that keeps the cell's sequence number `seq` itself (so
    /// that it does not load this cell's line, see [`HolderCopy`]).
    #[inline]
    fn write_after(&self, seq: usize, m: Mark) {
        // ORDERING: Relaxed; the Release fence below orders it before the field stores.
        self.seq.store(seq.wrapping_add(1), Relaxed);
        fence(Release);
        // Relaxed stores (`Count::set`); readers validate with the closing Release store of `seq`.
        self.frames.set(m.frames);
        self.payload.set(m.payload);
        // ORDERING: Release; publishes everything written before (ring bytes for `published`),
        // pairs with the Acquire load in `MarkCell::pos`.
        self.pos.atomic().store(m.pos, Release);
        // ORDERING: Release; pairs with the Acquire load of `seq` in `MarkCell::read`.
        self.seq.store(seq.wrapping_add(2), Release);
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
/// only stores to `published` (`docs/bench.md`, "Stop 10").
#[derive(Debug, Default)]
struct HolderCopy {
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
    fn mark(&self) -> Mark {
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
    fn publish(&self, cell: &PublishedCell, m: Mark) {
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

/// One writer slot: a strong writer's for its life, a weak writer's for one frame.
#[derive(Debug)]
pub(crate) struct WriterSlot {
    /// Start of the reservation this writer is making or holds, or [`IDLE`].
    open: AtomicUsize,
    /// Set while the strong writer holding this slot sleeps: wakers wake only such slots.
    asleep: AtomicBool,
    /// Woken when space, a slot, or a state change may let this writer go on.
    pub(crate) waker: WakerCell,
}

/// One reader slot.
#[derive(Debug)]
pub(crate) struct ReaderSlot {
    /// `SLOT_FREE`, `SLOT_STRONG` or `SLOT_WEAK`; changed only under the gate lock.
    kind: AtomicUsize,
    /// The reader's position and counts; strong readers' gate writers.
    pub(crate) mark: MarkCell,
    /// Weak readers' loss counters (statistics; written by the reader only).
    lost_bytes: Count,
    lost_frames: Count,
    /// 0, or the sequence number of this weak reader's `mark` that a gate refresh found more
    /// than [`POS_FAR`] behind `reserve`: the reader was lapped, and is told so at its next
    /// read (`Shared::flagged_far`) whatever its stale position compares as.
    far: AtomicUsize,
    /// Set while the reader holding this slot sleeps: wakers wake only such slots.
    asleep: AtomicBool,
    pub(crate) waker: WakerCell,
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

/// Frames from this many payload bytes on check for exclusivity after their reservation (one
/// `SeqCst` fence, cheap right after the reservation CAS) and, with no weak reader registered,
/// are copied with `memcpy` instead of word-sized atomic stores. Smaller frames gain less from
/// `memcpy` than the check costs. Never under loom, which cannot see plain copies.
const EXCLUSIVE_MIN: usize = if cfg!(loom) { usize::MAX } else { 512 };

impl Reservation {
    pub(crate) fn frame_pos(&self) -> usize {
        pos_add(self.start, self.placement.pad)
    }
}

/// Why a reservation attempt did not produce a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// Not enough space now (Park: wait; Drop: refuse).
    Full,
    /// No writer slot is free (weak writers).
    NoSlot,
    /// The channel refuses new frames.
    Closed(ChannelError),
}

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
    /// 0, or the reservation size (a frame's largest placement) that a writer waiting for space
    /// holds admission priority for: every other writer leaves that much room when it reserves,
    /// so frames arriving meanwhile cannot starve it. Claimed by a CAS from 0, given back by its
    /// holder when it is admitted, refused, cancelled or dropped.
    priority: AtomicUsize,
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
    /// [`max_frame_len`] of the capacity, computed once.
    max_frame_len: usize,
}

/// Wakers of weak writers that wait without holding a writer slot (rare path; may lock).
/// Registration deduplicates by `will_wake`, so re-polling does not pile wakers up.
#[derive(Debug, Default)]
pub(crate) struct WaiterList {
    wakers: SpinMutex<Vec<Waker>>,
    /// `wakers.len()`, readable without the lock.
    count: AtomicUsize,
}

impl WaiterList {
    /// Adds `waker`; the caller then issues a SeqCst fence (`sleep_writer`) and re-checks.
    fn register(&self, waker: &Waker) {
        self.wakers.with(|v| {
            if !v.iter().any(|w| w.will_wake(waker)) {
                v.push(waker.clone());
            }
            // ORDERING: Relaxed; ordered before the caller's re-check by its SeqCst fence.
            self.count.store(v.len(), Relaxed);
        });
    }

    /// Wakes and removes every registered waker; the caller fenced (SeqCst) after publishing
    /// what they wait for.
    fn wake_all(&self) {
        // ORDERING: Relaxed; ordered after the caller's publication by its SeqCst fence.
        if self.count.load(Relaxed) > 0 {
            let waiting = self.wakers.with(|v| {
                // ORDERING: Relaxed; written under the lock.
                self.count.store(0, Relaxed);
                core::mem::take(v)
            });
            wake_each(waiting.into_iter(), Waker::wake);
        }
    }
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
const HISTORY: usize = if cfg!(loom) { 4 } else { 64 };

/// RAII guard of the gate lock (joins, leaves and gate refreshes).
struct GateGuard<'a>(&'a AtomicBool);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        // ORDERING: Release; pairs with the Acquire CAS in `lock_gate`.
        self.0.store(false, Release);
    }
}

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

    // ---------------------------------------------------------------------------------------
    // State: open, draining, terminated.

    fn state(&self) -> usize {
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

    // ---------------------------------------------------------------------------------------
    // Wake-ups.

    fn wake_all(&self) {
        fence(SeqCst);
        // Writers, then readers; a panicking waker does not stop the rest (`wake_each`).
        wake_each(0..2, |part| match part {
            0 => self.wake_all_writers(),
            _ => wake_each(self.readers.iter(), |r| r.waker.wake()),
        });
    }

    /// Wakes sleeping readers and writers; the caller has just issued a SeqCst fence after
    /// publishing (one fence for both Dekker pairs). The check is inlined into the publisher;
    /// the waking, off the path of a frame nobody waits for, is not.
    #[inline]
    fn wake_sleepers_after_fence(&self) {
        // ORDERING: Relaxed (both); ordered after the caller's publication by its SeqCst fence,
        // which pairs with the fences in `sleep_reader` and `sleep_writer`.
        let readers = self.reader_sleepers.load(Relaxed) > 0;
        // ORDERING: Relaxed; as above.
        let writers = self.writer_sleepers.load(Relaxed) > 0;
        if readers || writers {
            self.wake_sleepers(readers, writers);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_sleepers(&self, readers: bool, writers: bool) {
        match (readers, writers) {
            (false, false) => {}
            (true, false) => self.wake_sleeping_readers(),
            (false, true) => self.wake_sleeping_writers(),
            // Both, even if a waker of the first panics (`wake_each`).
            (true, true) => wake_each(0..2, |part| match part {
                0 => self.wake_sleeping_readers(),
                _ => self.wake_sleeping_writers(),
            }),
        }
    }

    /// Wakes the readers whose `asleep` flag is set (stored before their SeqCst fence, so the
    /// caller's fence makes it visible as it does the counter).
    fn wake_sleeping_readers(&self) {
        wake_each(
            self.readers[..self.reader_hwm()]
                .iter()
                // ORDERING: Relaxed; ordered by the fences of the Dekker pair (see caller).
                .filter(|r| r.asleep.load(Relaxed)),
            |r| r.waker.wake(),
        );
    }

    /// Wakes the strong writers whose `asleep` flag is set, and the slot-waiter list.
    fn wake_sleeping_writers(&self) {
        let bits = usize::BITS as usize;
        let claimed = self.writer_bits.iter().enumerate().flat_map(|(wi, word)| {
            // ORDERING: Relaxed; a sleeping strong writer's claim happened before its fence.
            let mut set = word.load(Relaxed);
            core::iter::from_fn(move || {
                (set != 0).then(|| {
                    let i = wi * bits + set.trailing_zeros() as usize;
                    set &= set - 1;
                    i
                })
            })
        });
        // The sleeping strong writers, then the waiter lists (`None`), all of them even if a
        // waker panics (`wake_each`).
        let slots = claimed
            .map(|i| &self.writers[i])
            // ORDERING: Relaxed; ordered by the fences of the Dekker pair (see caller).
            .filter(|w| w.asleep.load(Relaxed))
            .map(Some);
        wake_each(slots.chain([None]), |w| match w {
            Some(w) => w.waker.wake(),
            None => self.wake_slot_waiters(),
        });
    }

    /// Wakes readers if any sleeps. Call after publishing what they wait for.
    pub(crate) fn wake_readers(&self) {
        fence(SeqCst);
        // ORDERING: Relaxed; the SeqCst fence above pairs with the one in `sleep_reader`
        // (Dekker: either the sleeper sees our progress or we see the sleeper).
        if self.reader_sleepers.load(Relaxed) > 0 {
            self.wake_sleeping_readers();
        }
    }

    /// Wakes writers if any sleeps. Call after freeing space or a slot.
    pub(crate) fn wake_writers(&self) {
        fence(SeqCst);
        // ORDERING: Relaxed; the SeqCst fence above pairs with the one in `sleep_writer`.
        if self.writer_sleepers.load(Relaxed) > 0 {
            self.wake_sleeping_writers();
        }
    }

    /// Counts a reader as sleeping (its waker already registered) and fences, so the caller's
    /// re-check cannot miss progress published before a waker check.
    pub(crate) fn sleep_reader(&self, slot: usize, already: &mut bool) {
        if !*already {
            // ORDERING: Relaxed; ordered before the re-check by the SeqCst fence below.
            self.readers[slot].asleep.store(true, Relaxed);
            // ORDERING: Relaxed; ordered before the re-check by the SeqCst fence below.
            self.reader_sleepers.fetch_add(1, Relaxed);
            *already = true;
        }
        fence(SeqCst);
    }

    #[inline]
    pub(crate) fn wake_reader_done(&self, slot: usize, sleeping: &mut bool) {
        if core::mem::take(sleeping) {
            // ORDERING: Relaxed; a stale `true` costs one spurious wake.
            self.readers[slot].asleep.store(false, Relaxed);
            // ORDERING: Relaxed; a counter only (a stale value costs one spurious wake scan).
            self.reader_sleepers.fetch_sub(1, Relaxed);
        }
    }

    /// `slot`: the strong writer's own slot (its waker is registered there), or `None` for a
    /// weak writer registered on the slot-waiter list.
    pub(crate) fn sleep_writer(&self, slot: Option<usize>, already: &mut bool) {
        if !*already {
            if let Some(s) = slot {
                // ORDERING: Relaxed; ordered before the re-check by the SeqCst fence below.
                self.writers[s].asleep.store(true, Relaxed);
            }
            // ORDERING: Relaxed; ordered before the re-check by the SeqCst fence below.
            self.writer_sleepers.fetch_add(1, Relaxed);
            *already = true;
        }
        fence(SeqCst);
    }

    #[inline]
    pub(crate) fn wake_writer_done(&self, slot: Option<usize>, sleeping: &mut bool) {
        if core::mem::take(sleeping) {
            if let Some(s) = slot {
                // ORDERING: Relaxed; a stale `true` costs one spurious wake.
                self.writers[s].asleep.store(false, Relaxed);
            }
            // ORDERING: Relaxed; a counter only.
            self.writer_sleepers.fetch_sub(1, Relaxed);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Writer slots.

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

    /// Registers a weak writer's waker: for a free slot (`for_slot`) or for space.
    pub(crate) fn wait_without_slot(&self, waker: &Waker, for_slot: bool) {
        if for_slot {
            self.slot_waiters.register(waker);
        } else {
            self.space_waiters.register(waker);
        }
    }

    /// Wakes every writer waiting on a slot's waker or on the slot-waiter list.
    fn wake_all_writers(&self) {
        wake_each(self.writers.iter().map(Some).chain([None]), |w| match w {
            Some(w) => w.waker.wake(),
            None => self.wake_slot_waiters(),
        });
    }

    /// Wakes the weak writers waiting without a slot, for space or for a slot.
    fn wake_slot_waiters(&self) {
        wake_each([&self.space_waiters, &self.slot_waiters].into_iter(), |l| {
            l.wake_all()
        });
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

    fn writer_count(&self) -> usize {
        // ORDERING: Acquire; pairs with the AcqRel decrement in `remove_writer`.
        self.writer_handles.load(Acquire)
    }

    // ---------------------------------------------------------------------------------------
    // Reservation.

    /// Tries to reserve a frame of `len` payload bytes for the writer in `slot`.
    /// The caller (`WriterCore::try_reserve`) has just refused the frame if the channel is
    /// draining or terminated; a drain or terminate that races this reservation is caught by
    /// the check after the CAS.
    #[inline(always)]
    pub(crate) fn try_reserve(
        &self,
        slot: usize,
        len: usize,
        has_priority: bool,
    ) -> Result<Reservation, NoRoom> {
        let open = &self.writers[slot].open;
        let mut announced = None;
        // Room this writer may use past the gate: the ring, less what a writer holding the
        // admission priority needs (unless that is this writer).
        let room = if has_priority {
            self.capacity
        } else {
            // ORDERING: Relaxed; fairness only: a claim seen late admits a few more frames
            // first. The holder's release and the sleepers' re-checks pair through the SeqCst
            // fences of `wake_writers` / `sleep_writer`.
            self.capacity - self.priority.load(Relaxed)
        };
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
        // Acquire sees the new `reserve` and discards its copy. (The SeqCst fence of the
        // exclusivity check below is also a Release fence.)
        let exclusive = len >= EXCLUSIVE_MIN && self.no_weak_readers();
        if !exclusive {
            // ORDERING: Release fence; pairs with the Acquire fence in `intact_since`.
            fence(Release);
        }
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
    fn write_header(&self, pos: usize, kind: Kind, writer: u16, len: usize) {
        let h = Header {
            len: len as u32,
            writer,
            kind,
        };
        self.ring.store_u64(self.index(pos), h.encode());
    }

    /// Marks the writer slot idle after it announced `was`.
    fn set_idle(&self, slot: usize, was: usize) {
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
    fn baton_check(&self, was: usize) {
        // Dekker with `run_publisher`: slot store; SeqCst fence; baton load here, against baton
        // store; SeqCst fence; slot loads there. (Fences, not SeqCst accesses: loom models
        // SeqCst fences exactly, and they state the pattern.)
        fence(SeqCst);
        // ORDERING: Relaxed; ordered after the slot store by the SeqCst fence above.
        if self.baton.load(Relaxed) == was {
            self.try_publish(was);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Publication.

    /// First position at or after `from` that may still be unfinished: the smallest announced
    /// reservation at or after `from`, or `reserve`.
    #[inline]
    fn unfinished_from(&self, from: usize) -> usize {
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

    fn try_publish(&self, parked_at: usize) {
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
    fn run_publisher(&self) {
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
    /// `try_write`'s samples; `docs/bench.md`, "Stop 10").
    #[inline]
    fn publish_from(&self, pos: usize, frames: u64, payload: u64, walked: bool) {
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

    // ---------------------------------------------------------------------------------------
    // Gate.

    fn lock_gate(&self) -> GateGuard<'_> {
        loop {
            // ORDERING: Acquire; pairs with the Release in `GateGuard::drop`.
            if self
                .gate_lock
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return GateGuard(&self.gate_lock);
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
    fn gate_limit_locked(&self) -> Mark {
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
    fn history_mark_at_or_after(&self, need: usize, limit: Mark) -> Mark {
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

    fn reader_hwm(&self) -> usize {
        // ORDERING: Relaxed; written under the gate lock, read under it.
        self.reader_hwm.load(Relaxed)
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
    fn note_history(&self, mark: Mark, footprint: usize) {
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
    fn clear_history(&self, mut from: usize, end: usize) {
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

    // ---------------------------------------------------------------------------------------
    // Reader slots.

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
            // Registered before the start is read, with a SeqCst fence between: the other side
            // of the exclusivity check in `no_weak_readers`.
            // ORDERING: Relaxed; ordered before the start read by the SeqCst fence.
            self.weak_readers.fetch_add(1, Relaxed);
            fence(SeqCst);
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
            // ORDERING: Relaxed; ordered before later reservations' checks by the fence below.
            self.weak_readers.fetch_add(1, Relaxed);
            // The other side of the exclusivity check in `no_weak_readers` (for reservations
            // made after this: those made before sit below this reader's position).
            fence(SeqCst);
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

    /// A weak reader's loss totals (it alone writes them).
    pub(crate) fn note_loss(&self, i: usize, lost_bytes: u64, lost_frames: u64) {
        let s = &self.readers[i];
        s.lost_bytes.set(lost_bytes);
        s.lost_frames.set(lost_frames);
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

    /// Fence-based seqlock, reader side: after copying bytes of `[pos, ...)` with atomic loads,
    /// `true` if no writer can have overwritten them (nothing was reserved past `pos + cap`).
    ///
    /// First against the gate, which caught-up weak readers are usually at or past: a writer
    /// that overwrote bytes at `pos` reserved up to `end > pos + capacity` after seeing a gate
    /// `g >= end - capacity > pos` (its space check), before its `Release` fence. If the copy
    /// read any of its stores, the fences synchronise, so this load of the gate (coherence:
    /// it comes after the writer's observation of `g`, and the gate never goes back) sees at
    /// least `g`, past `pos`. So a gate at or below `pos` proves the bytes intact without
    /// loading `reserve`, the line every reservation CAS needs (`docs/bench.md`, "Stop 10").
    /// Otherwise the answer comes from `reserve`, as the seqlock's exact check.
    pub(crate) fn intact_since(&self, pos: usize) -> bool {
        // ORDERING: Acquire fence; pairs with the fence after the reservation CAS in
        // `try_reserve` (`fence(Release)`, or on the exclusive path the `SeqCst` fence of
        // `no_weak_readers`, also a release fence).
        fence(Acquire);
        if !pos_lt(pos, self.gate.pos()) {
            return true;
        }
        // ORDERING: Relaxed; ordered after the copy by the Acquire fence above, which pairs with
        // the Release fence after the reservation CAS in `try_reserve`.
        let r = self.reserve.load(Relaxed) & !PARKED;
        !pos_lt(pos_add(pos, self.capacity), r)
    }

    /// A writer waiting for space for a frame of `len` bytes asks for admission priority;
    /// `true` if it got it (no other writer holds it).
    pub(crate) fn claim_priority(&self, len: usize) -> bool {
        let need = Placement::largest(len, self.capacity);
        // ORDERING: Relaxed; fairness only (see `try_reserve`): no data is published with it.
        self.priority
            .compare_exchange(0, need, Relaxed, Relaxed)
            .is_ok()
    }

    /// The holder gives the admission priority back; the writers that left room for it may fit
    /// now.
    pub(crate) fn release_priority(&self) {
        // ORDERING: Relaxed; the SeqCst fence in `wake_writers` orders it before the sleeper
        // check (Dekker with `sleep_writer`'s fence and re-check).
        self.priority.store(0, Relaxed);
        self.wake_writers();
    }

    pub(crate) fn count_dropped(&self) {
        // ORDERING: Relaxed; statistics.
        self.dropped_frames.fetch_add(1, Relaxed);
    }

    // ---------------------------------------------------------------------------------------
    // Statistics.

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
                    lag: lag(published, r.mark.read().pos),
                    lost_bytes: r.lost_bytes.get(),
                    lost_frames: r.lost_frames.get(),
                })
            })
            .collect()
    }

    /// Writes `payload` (at most the reserved length) as the reservation's whole payload, in
    /// one call: a `memcpy` for an exclusive reservation (`RING-EXCL-W`), whole-word stores
    /// otherwise.
    #[inline(always)]
    pub(crate) fn write_payload(&self, res: &Reservation, payload: &[u8]) {
        debug_assert!(payload.len() <= res.len);
        let idx = self.index(res.frame_pos()) + crate::frame::HEADER;
        if res.exclusive {
            self.ring.copy_in_exclusive(idx, payload);
        } else {
            self.ring.store_payload(idx, payload);
        }
    }

    /// The [`WordWriter`] that fills a grant's reservation piece by piece (a copying write
    /// stores its payload in one call instead: [`Shared::write_payload`]).
    pub(crate) fn word_writer(&self, res: &Reservation) -> WordWriter {
        WordWriter::new(
            self.index(res.frame_pos()) + crate::frame::HEADER,
            res.exclusive,
        )
    }

    /// After a reservation whose gate check read gate `g` (so it ends at or before
    /// `g + capacity`): `true` if no weak reader is registered, in which case no weak reader can
    /// read the reserved bytes in an older lap while the writer fills them (`RING-EXCL-W`).
    ///
    /// Why: a weak reader registers (`join_reader`, `downgrade_reader`) by incrementing
    /// `weak_readers`, then a `SeqCst` fence, then reading its start. Between the two fences,
    /// either this check sees the increment, or the reader's start read comes after this
    /// writer's fence in the fences' total order and so sees a gate (or published end) no older
    /// than `g`: its position never falls below `g`, and the reserved bytes alias only
    /// positions below `end - capacity <= g`. A strong reader that is downgraded later sits at
    /// or after every gate a writer has used. A weak reader's reads happen before its
    /// deregistering `Release` decrement, which the `Acquire` load here synchronizes with.
    fn no_weak_readers(&self) -> bool {
        fence(SeqCst);
        // ORDERING: Acquire; after the SeqCst fence above (pairs with the fence after the
        // increment in `join_reader` / `downgrade_reader`), and synchronizes with the Release
        // decrement in `leave_reader`, so a departed weak reader's reads happen before our copy.
        self.weak_readers.load(Acquire) == 0
    }
}
