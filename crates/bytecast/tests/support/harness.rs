//! Test harness shared by integration tests (`#[path = "support/harness.rs"] mod harness;`):
//! a watchdog that turns a hang into a failure, and a waker that counts its wake-ups.
#![allow(dead_code)]

use futures::task::{waker, ArcWake};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::Waker;
use std::thread;
use std::time::Duration;

/// How long a test may run before it counts as hung: three times the longest correct run seen on
/// a loaded 2-core machine (the racing threads of `races.rs`, about 16 s at load 8), so only a
/// hang trips it. Miri's clock is virtual and advances with interpretation work (a correct
/// two-thread test takes "seconds" there), and Miri itself reports a real deadlock, so it gets a
/// longer budget.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

/// Runs `f` on its own thread and fails (instead of hanging) if it does not finish within [`WATCHDOG`].
pub(crate) fn guarded<F: FnOnce() + Send + 'static>(what: &str, f: F) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) => handle.join().expect("test thread"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {WATCHDOG:?} (hang: lost wake-up or deadlock)")
        }
    }
}

#[derive(Default)]
pub(crate) struct Counter(pub(crate) AtomicUsize);

impl ArcWake for Counter {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, SeqCst);
    }
}

impl Counter {
    pub(crate) fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

pub(crate) fn counting_waker() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), waker(c))
}

/// The handle counts of `stats`: `(strong_writers, weak_writers, strong_readers, weak_readers)`.
pub(crate) fn handle_counts(s: &bytecast::Stats) -> (usize, usize, usize, usize) {
    (
        s.strong_writers,
        s.weak_writers,
        s.strong_readers,
        s.weak_readers,
    )
}
