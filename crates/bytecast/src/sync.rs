//! The one import point for atomics, shared ownership and critical sections.
//!
//! Under `--cfg bytecast_loom` (the crate's own switch, so a user's `--cfg loom` changes nothing
//! here) every atomic, `Arc` and the waker cell come from loom, so the loom models
//! (`crate::loom_publication`, `loom_wakeups`, `loom_edges`) check the real protocol code.
//! Otherwise the atomics come from `core`, or from portable-atomic with the `portable-atomic`
//! feature; `Arc` from `alloc`, or on a target without compare-and-swap from
//! portable-atomic-util ([`ApiArc`] is the one the public API returns); the waker cell and spin
//! lock are this module's, and [`critical`] and [`CriticalGuard`] take the `critical-section`
//! feature's critical sections.

#[cfg(all(test, bytecast_loom))]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
#[cfg(all(test, bytecast_loom))]
pub(crate) use loom::sync::Arc;

#[cfg(all(not(all(test, bytecast_loom)), not(feature = "portable-atomic")))]
pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicUsize};
#[cfg(all(not(all(test, bytecast_loom)), feature = "portable-atomic"))]
pub(crate) use portable_atomic::{fence, AtomicBool, AtomicUsize};
#[cfg(not(all(test, bytecast_loom)))]
pub(crate) use ApiArc as Arc;

/// The `Arc` of the public API (`Channel::new` returns one): `alloc`'s wherever the target has
/// compare-and-swap, so the API is the same with or without `portable-atomic` there.
#[cfg(any(not(feature = "portable-atomic"), target_has_atomic = "ptr"))]
pub(crate) use alloc::sync::Arc as ApiArc;
/// The `Arc` of the public API: portable-atomic-util's, on a target without compare-and-swap
/// (where `alloc` has no `Arc`).
#[cfg(all(feature = "portable-atomic", not(target_has_atomic = "ptr")))]
pub(crate) use portable_atomic_util::Arc as ApiArc;

pub(crate) use crossbeam_utils::CachePadded;

/// Runs `f` inside a critical section when the `critical-section` feature is on (`f` is then
/// never preempted by another context of the same core that could call into the channel),
/// else simply runs it (no cost).
///
/// Wraps every step that another context may spin on until it ends: a seqlock write
/// (`shared::MarkCell`) and a hold of [`SpinMutex`]. A context that spins
/// on such a step then never spins on a holder it preempted: on a single core the holder
/// cannot be preempted, and on several cores it runs on another core and finishes.
#[inline(always)]
pub(crate) fn critical<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "critical-section", not(all(test, bytecast_loom))))]
    return critical_section::with(|_| f());
    #[cfg(not(all(feature = "critical-section", not(all(test, bytecast_loom)))))]
    f()
}

/// A critical section held for a guard's life (with the `critical-section` feature; an empty
/// guard without it), for a lock whose hold spans a function's return (the gate lock). Enter
/// it *before* spinning for the lock, so the lock is taken and released inside one section.
///
/// Guards must drop in the reverse order of their creation (the `critical-section` crate's
/// nesting rule): each lives in a local of the function that takes it and is never moved out
/// of that scope or forgotten, and the type is neither `Send` nor `Sync`.
#[derive(Debug)]
pub(crate) struct CriticalGuard {
    #[cfg(all(feature = "critical-section", not(all(test, bytecast_loom))))]
    state: critical_section::RestoreState,
    /// `!Send + !Sync`: released on the context that entered it.
    _not_send: core::marker::PhantomData<*const ()>,
}

impl CriticalGuard {
    #[inline(always)]
    pub(crate) fn enter() -> Self {
        Self {
            #[cfg(all(feature = "critical-section", not(all(test, bytecast_loom))))]
            // SAFETY: released exactly once, with this state, by `Drop`; guards drop in the
            // reverse order of their creation (see the type's doc), as `acquire` requires.
            state: unsafe { critical_section::acquire() },
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Drop for CriticalGuard {
    #[inline(always)]
    fn drop(&mut self) {
        #[cfg(all(feature = "critical-section", not(all(test, bytecast_loom))))]
        // SAFETY: the state `acquire` returned in `enter`, released once, in nesting order.
        unsafe {
            critical_section::release(self.state)
        };
    }
}

/// Spin-wait hint used while another thread finishes a short critical step (a reader joining,
/// a seqlock writer mid-update). Under loom it yields so the model can schedule the other thread.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(all(test, bytecast_loom))]
    loom::thread::yield_now();
    #[cfg(not(all(test, bytecast_loom)))]
    core::hint::spin_loop();
}

/// A cell holding at most one waker, replaced on every registration (never piles up): the
/// register/wake protocol of `atomic-waker`'s `AtomicWaker`, made panic-safe.
///
/// A user's `Waker::clone`, `wake` and `drop` may panic. `AtomicWaker` clones and drops inside
/// its registration state, so a panic there leaves the cell registering forever and every later
/// wake is lost. Here the clone runs under a guard that ends the registration while the panic
/// unwinds, and the replaced waker is dropped, and a pending wake delivered, only after the
/// state is back to `WAITING`.
///
/// # Invariants
/// - `WAKER-EXCL`: `waker` is accessed only by the thread that moved `state` from `WAITING` to
///   `REGISTERING` (until it leaves `REGISTERING`), or from `WAITING` to `WAKING` (until it
///   clears `WAKING`). Each transition is a single atomic RMW, so at most one thread holds
///   either right at a time.
#[cfg(not(all(test, bytecast_loom)))]
pub(crate) struct WakerCell {
    state: AtomicUsize,
    waker: core::cell::UnsafeCell<Option<core::task::Waker>>,
}

#[cfg(not(all(test, bytecast_loom)))]
const WAITING: usize = 0;
#[cfg(not(all(test, bytecast_loom)))]
const REGISTERING: usize = 1;
#[cfg(not(all(test, bytecast_loom)))]
const WAKING: usize = 2;

// SAFETY: WAKER-EXCL: the `UnsafeCell` is only accessed under the state protocol, which gives one
// thread at a time exclusive access; `Waker` is `Send + Sync`.
#[cfg(not(all(test, bytecast_loom)))]
unsafe impl Sync for WakerCell {}

#[cfg(not(all(test, bytecast_loom)))]
impl core::fmt::Debug for WakerCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("WakerCell")
    }
}

#[cfg(not(all(test, bytecast_loom)))]
impl WakerCell {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(WAITING),
            waker: core::cell::UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (a clone of it, unless the stored one already wakes the same task). If a
    /// wake comes in meanwhile, the new waker is woken at once.
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        use core::sync::atomic::Ordering::{AcqRel, Acquire};
        // ORDERING: Acquire; pairs with the Release/AcqRel transitions back to WAITING, so the
        // previous owner's writes to `waker` are visible.
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {}
            // A wake is taking the stored waker right now: wake the new one directly.
            Err(WAKING) => return waker.wake_by_ref(),
            // Another registration in progress: each cell belongs to one handle, whose `&mut`
            // serialises its registrations, so this is not reached; doing nothing is safe.
            Err(_) => return,
        }
        /// Ends the registration if the clone below panics: back to WAITING (a wake that came
        /// in meanwhile is dropped; the panicking poll's task re-registers if it polls again).
        struct Unwinding<'a>(&'a AtomicUsize);
        impl Drop for Unwinding<'_> {
            fn drop(&mut self) {
                // ORDERING: AcqRel; releases `waker` as in the normal exit.
                self.0.swap(WAITING, AcqRel);
            }
        }
        let unwinding = Unwinding(&self.state);
        // SAFETY: WAKER-EXCL: this thread moved `state` to REGISTERING above.
        let slot = unsafe { &mut *self.waker.get() };
        let replaced = match slot {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        };
        core::mem::forget(unwinding);
        // ORDERING: AcqRel; Release publishes the new waker to the next taker; Acquire on
        // failure sees a waker's WAKING bit.
        let woken = match self
            .state
            .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
        {
            Ok(_) => None,
            Err(_) => {
                // REGISTERING | WAKING: a wake came in while we registered; deliver it.
                // SAFETY: WAKER-EXCL: still REGISTERING (a waker only sets WAKING and backs off).
                let w = unsafe { (*self.waker.get()).take() };
                // ORDERING: AcqRel; as above.
                self.state.swap(WAITING, AcqRel);
                w
            }
        };
        // User code last, with the cell already free: the wake, then the replaced waker's drop.
        let _replaced = replaced;
        if let Some(w) = woken {
            w.wake();
        }
    }

    /// Wakes and removes the stored waker, if any.
    pub(crate) fn wake(&self) {
        use core::sync::atomic::Ordering::{AcqRel, Release};
        // ORDERING: AcqRel; Acquire sees the registered waker (pairs with the Release exit of
        // `register`); Release orders the caller's progress before a registering thread's
        // failure CAS, which then delivers this wake.
        if self.state.fetch_or(WAKING, AcqRel) == WAITING {
            // SAFETY: WAKER-EXCL: this thread moved `state` from WAITING to WAKING.
            let w = unsafe { (*self.waker.get()).take() };
            // ORDERING: Release; hands the cell back to the next registration.
            self.state.fetch_and(!WAKING, Release);
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

/// Loom stand-in for `AtomicWaker`: a loom mutex, so loom sees the register/wake handshake.
#[cfg(all(test, bytecast_loom))]
#[derive(Debug, Default)]
pub(crate) struct WakerCell(loom::sync::Mutex<Option<core::task::Waker>>);

#[cfg(all(test, bytecast_loom))]
impl WakerCell {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        *self.0.lock().unwrap() = Some(waker.clone());
    }
    pub(crate) fn wake(&self) {
        if let Some(w) = self.0.lock().unwrap().take() {
            w.wake();
        }
    }
}

/// A tiny spin lock around a value, for the rare paths that may lock (a weak writer waiting for
/// a free writer slot). Never taken on the path of a frame that does not wait. With the
/// `critical-section` feature every hold runs in a critical section ([`critical`]).
#[cfg(not(all(test, bytecast_loom)))]
#[derive(Debug, Default)]
pub(crate) struct SpinMutex<T> {
    locked: AtomicBool,
    value: core::cell::UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to `value` (see `with`), so sharing the mutex across
// threads is sound when `T` can be sent between them.
#[cfg(not(all(test, bytecast_loom)))]
unsafe impl<T: Send> Sync for SpinMutex<T> {}

#[cfg(not(all(test, bytecast_loom)))]
impl<T> SpinMutex<T> {
    /// Runs `f` with exclusive access to the value. If `f` panics (a user's `Waker::clone`
    /// may), the lock is released while the panic unwinds, so no later caller spins forever.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // ORDERING: Release; publishes the changes to `value` to the next holder.
                self.0.store(false, Release);
            }
        }
        // The whole hold in one critical section (with the feature): a context that preempts
        // nothing inside it never spins on a holder it interrupted.
        critical(|| {
            // ORDERING: Acquire; pairs with the Release store in `Unlock`, so the previous
            // holder's changes to `value` are visible.
            while self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_err()
            {
                spin_hint();
            }
            let _unlock = Unlock(&self.locked);
            // SAFETY: SPIN-EXCL: `locked` is ours until `_unlock` drops (after `f` returns or
            // unwinds), so no other reference to `value` exists while `f` runs.
            f(unsafe { &mut *self.value.get() })
        })
    }
}

/// Loom stand-in for `SpinMutex`: loom's own mutex.
#[cfg(all(test, bytecast_loom))]
#[derive(Debug, Default)]
pub(crate) struct SpinMutex<T>(loom::sync::Mutex<T>);

#[cfg(all(test, bytecast_loom))]
impl<T> SpinMutex<T> {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

/// Calls `wake` on every item of `items`, even if some calls panic (a user's `Waker` may).
///
/// With `std`, each call runs under `catch_unwind`; after the loop the first panic is resumed,
/// so it reaches the caller once every item has been woken, and any number of panicking wakers
/// never aborts the process. Without `std` (where firmware usually aborts on panic), a guard
/// wakes the remaining items while the first panic unwinds; a second panic during that unwind
/// aborts, as any panic in a `Drop` during unwinding does. Either way one panicking waker never
/// strands the tasks after it (`docs/reliability.md`, "A panicking waker").
#[cfg(feature = "std")]
pub(crate) fn wake_each<I: Iterator>(items: I, mut wake: impl FnMut(I::Item)) {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    let mut first_panic = None;
    for item in items {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| wake(item))) {
            first_panic.get_or_insert(panic);
        }
    }
    if let Some(panic) = first_panic {
        resume_unwind(panic);
    }
}

/// See the `std` version above.
#[cfg(not(feature = "std"))]
pub(crate) fn wake_each<I: Iterator>(items: I, wake: impl FnMut(I::Item)) {
    struct Rest<I: Iterator, F: FnMut(I::Item)> {
        items: I,
        wake: F,
    }
    impl<I: Iterator, F: FnMut(I::Item)> Drop for Rest<I, F> {
        fn drop(&mut self) {
            // Empty after a normal loop; the remainder after a panic.
            for item in &mut self.items {
                (self.wake)(item);
            }
        }
    }
    let mut rest = Rest { items, wake };
    for item in rest.items.by_ref() {
        (rest.wake)(item);
    }
}
