//! The one import point for atomics and shared ownership.
//!
//! Under `--cfg loom` every atomic, `Arc` and the waker cell come from loom, so the loom models in
//! `crate::loom_tests` check the real protocol code; otherwise they come from `core`/`alloc` and
//! `atomic-waker`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicUsize};

pub(crate) use crossbeam_utils::CachePadded;

/// Spin-wait hint used while another thread finishes a short critical step (a reader joining,
/// a seqlock writer mid-update). Under loom it yields so the model can schedule the other thread.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// A cell holding at most one waker, replaced on every registration (never piles up).
#[cfg(not(loom))]
pub(crate) type WakerCell = atomic_waker::AtomicWaker;

/// Loom stand-in for `AtomicWaker`: a loom mutex, so loom sees the register/wake handshake.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct WakerCell(loom::sync::Mutex<Option<core::task::Waker>>);

#[cfg(loom)]
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
/// a free writer slot). Never taken on the path of a frame that does not wait.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct SpinMutex<T> {
    locked: AtomicBool,
    value: core::cell::UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to `value` (see `with`), so sharing the mutex across
// threads is sound when `T` can be sent between them.
#[cfg(not(loom))]
unsafe impl<T: Send> Sync for SpinMutex<T> {}

#[cfg(not(loom))]
impl<T> SpinMutex<T> {
    /// Runs `f` with exclusive access to the value.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
        // ORDERING: Acquire; pairs with the Release store below, so the previous holder's
        // changes to `value` are visible.
        while self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            spin_hint();
        }
        // SAFETY: SPIN-EXCL: `locked` is ours until the Release store below, so no other
        // reference to `value` exists while `f` runs.
        let r = f(unsafe { &mut *self.value.get() });
        // ORDERING: Release; publishes the changes to `value` to the next holder.
        self.locked.store(false, Release);
        r
    }
}

/// Loom stand-in for `SpinMutex`: loom's own mutex.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct SpinMutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> SpinMutex<T> {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

/// Calls `wake` on every item of `items`, even if one call panics (a user's `Waker` may): a
/// guard wakes the remaining items while the panic unwinds, then the panic goes on to the
/// caller. So one panicking waker never strands the tasks after it (finding R2 in
/// `docs/reliability.md`). A second panic while unwinding aborts the process, as any panic in a
/// `Drop` during unwinding does.
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
