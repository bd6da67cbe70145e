//! Wake-ups: sleeping and waking readers and writers.
//!
//! # Invariants
//! - Sleeping is a Dekker handshake: a task registers its waker, marks itself asleep, issues a
//!   `SeqCst` fence and checks its condition again; the side that makes progress publishes,
//!   issues a `SeqCst` fence and wakes the tasks marked asleep. One of the two sees the other.
//! - Every wake loop goes through `sync::wake_each`, so a panicking waker never strands the
//!   tasks after it, and no lock is held while user code (`Waker::wake`) runs.

use super::*;

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
    ///
    /// The waker is cloned before the lock is taken, and a clone not needed is dropped after it
    /// is released: no user code (`Waker::clone`, `Waker::drop`) runs under the lock, which is a
    /// critical section with the `critical-section` feature. `Vec::push` may allocate under it.
    pub(super) fn register(&self, waker: &Waker) {
        let clone = waker.clone();
        let unused = self.wakers.with(|v| {
            let unused = if v.iter().any(|w| w.will_wake(waker)) {
                Some(clone)
            } else {
                v.push(clone);
                None
            };
            // ORDERING: Relaxed; ordered before the caller's re-check by its SeqCst fence.
            self.count.store(v.len(), Relaxed);
            unused
        });
        drop(unused);
    }

    /// Wakes and removes every registered waker; the caller fenced (SeqCst) after publishing
    /// what they wait for.
    pub(super) fn wake_all(&self) {
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

impl Shared {
    pub(super) fn wake_all(&self) {
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
    pub(super) fn wake_sleepers_after_fence(&self) {
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
    pub(super) fn wake_sleepers(&self, readers: bool, writers: bool) {
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
    /// caller's fence makes it visible as it does the counter), and disarms them: the flag is
    /// cleared and the counter decremented by whoever clears it first, this waker or the reader
    /// itself (`wake_reader_done`). So a reader is woken once per sleep, not once per frame
    /// published until its task runs; a reader that sleeps again re-arms (`sleep_reader`).
    pub(super) fn wake_sleeping_readers(&self) {
        wake_each(
            self.readers[..self.reader_hwm()]
                .iter()
                // Whether the wake reaches the reader is `WakerCell`'s ordering (see
                // `sleep_reader`).
                // ORDERING: the load Relaxed, ordered by the Dekker fences (see caller); the
                // swap Acquire, reading the reader's Release store of `true`, made after its
                // increment: our decrement follows it, and the counter never wraps.
                .filter(|r| r.asleep.load(Relaxed) && r.asleep.swap(false, Acquire)),
            |r| {
                // ORDERING: Relaxed; a counter only (a stale value costs one spurious scan).
                self.reader_sleepers.fetch_sub(1, Relaxed);
                r.waker.wake();
            },
        );
    }

    /// Wakes the strong writers whose `asleep` flag is set, and the slot-waiter list.
    pub(super) fn wake_sleeping_writers(&self) {
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
    ///
    /// The reader arms (counts itself, then sets its flag) unless its flag is still set from an
    /// earlier sleep. Only the reader sets the flag; wakers and the reader clear it with a swap,
    /// and whoever swaps `true` out decrements the counter.
    ///
    /// A flag seen set here may be cleared by a waker right after. That waker then wakes the
    /// waker registered just before this call: the caller must register first (`poll_op_wait`
    /// does). In the `WakerCell`'s order of state changes, either our registration comes
    /// before the waker's wake, which then takes the new waker (or our registration sees
    /// `WAKING` and wakes it itself), or the wake comes first; then our registration's
    /// `Acquire` reads the wake's `Release`, so the waker's swap happened before the load
    /// below, which sees the flag clear and arms. The `SeqCst` fences are not what covers this
    /// case: the progress a waker published may hold nothing for this reader (an aborted
    /// record, a frame it already read).
    pub(crate) fn sleep_reader(&self, slot: usize, sleeping: &mut bool) {
        let flag = &self.readers[slot].asleep;
        // ORDERING: Relaxed; a stale `true` is covered by `WakerCell`'s ordering (see above).
        if !flag.load(Relaxed) {
            // ORDERING: Relaxed; ordered before the re-check by the SeqCst fence below, and
            // before the flag's Release store, which a waker's Acquire swap reads.
            self.reader_sleepers.fetch_add(1, Relaxed);
            // ORDERING: Release; see the increment above. Ordered before the re-check by the
            // SeqCst fence below.
            flag.store(true, Release);
        }
        *sleeping = true;
        fence(SeqCst);
    }

    #[inline]
    pub(crate) fn wake_reader_done(&self, slot: usize, sleeping: &mut bool) {
        // ORDERING: Relaxed; the swap decides only who decrements (a waker may have disarmed
        // the reader already).
        if core::mem::take(sleeping) && self.readers[slot].asleep.swap(false, Relaxed) {
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

    /// Registers a weak writer's waker: for a free slot (`for_slot`) or for space.
    pub(crate) fn wait_without_slot(&self, waker: &Waker, for_slot: bool) {
        if for_slot {
            self.slot_waiters.register(waker);
        } else {
            self.space_waiters.register(waker);
        }
    }

    /// Wakes every writer waiting on a slot's waker or on the slot-waiter list.
    pub(super) fn wake_all_writers(&self) {
        wake_each(self.writers.iter().map(Some).chain([None]), |w| match w {
            Some(w) => w.waker.wake(),
            None => self.wake_slot_waiters(),
        });
    }

    /// Wakes the weak writers waiting without a slot, for space or for a slot.
    pub(super) fn wake_slot_waiters(&self) {
        wake_each([&self.space_waiters, &self.slot_waiters].into_iter(), |l| {
            l.wake_all()
        });
    }
}
