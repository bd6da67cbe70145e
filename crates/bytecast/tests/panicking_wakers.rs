//! A panicking waker (`clone`, `wake` or `drop`) never leaves a lock held or other tasks unwoken
//! (SEMANTICS, "Safe code cannot break the channel").
//!
//! The wakers here panic only while armed, so each scenario controls where the panic happens;
//! the panic is caught around the call that runs the waker, and afterwards the channel keeps
//! working: later registrations take effect, later wake-ups reach their tasks, a second
//! panicking waker while the first unwinds does not abort the process. Wake-ups are counted
//! with the harness's counting waker; every test runs under the watchdog (a spin lock left held
//! is a hang).

#[path = "support/edges.rs"]
mod edges;
#[path = "support/harness.rs"]
mod harness;

use bytecast::{Channel, StrongWriter};
use edges::{noop_cx, read_all, tagged};
use harness::{counting_waker, guarded};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// What an armed waker does, and what it saw. One per waker, shared by its clones.
struct Arming {
    clone: AtomicBool,
    wake: AtomicBool,
    drop: AtomicBool,
    wakes: AtomicUsize,
}

impl Arming {
    const fn new() -> Self {
        Self {
            clone: AtomicBool::new(false),
            wake: AtomicBool::new(false),
            drop: AtomicBool::new(false),
            wakes: AtomicUsize::new(0),
        }
    }

    fn disarm(&self) {
        for f in [&self.clone, &self.wake, &self.drop] {
            f.store(false, SeqCst);
        }
    }
}

/// Every armed waker of the process: a waker's data is its index here (an address-less
/// pointer), so the vtable functions never dereference it.
static ARMINGS: [Arming; 32] = [const { Arming::new() }; 32];
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn arming(data: *const ()) -> &'static Arming {
    &ARMINGS[data.addr()]
}

fn vt_clone(data: *const ()) -> RawWaker {
    if arming(data).clone.load(SeqCst) {
        panic!("armed Waker::clone");
    }
    RawWaker::new(data, &VTABLE)
}

fn vt_wake(data: *const ()) {
    let a = arming(data);
    a.wakes.fetch_add(1, SeqCst);
    if a.wake.load(SeqCst) {
        panic!("armed Waker::wake");
    }
}

fn vt_drop(data: *const ()) {
    if arming(data).drop.load(SeqCst) {
        panic!("armed Waker::drop");
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(vt_clone, vt_wake, vt_wake, vt_drop);

/// A new waker that panics in `clone`, `wake` or `drop` while the matching flag of its
/// [`Arming`] is set, and counts its wake-ups.
fn armed_waker() -> (&'static Arming, Waker) {
    let i = NEXT.fetch_add(1, SeqCst);
    let a = &ARMINGS[i];
    let raw = RawWaker::new(ptr::without_provenance(i), &VTABLE);
    // SAFETY: the vtable functions keep the `RawWaker` contract: the data is an index into a
    // static table, never dereferenced, valid on every thread and for ever; `clone` returns
    // the same data with the same vtable; `wake`, `wake_by_ref` and `drop` free nothing.
    let w = unsafe { Waker::from_raw(raw) };
    (a, w)
}

/// Runs `f`, which may panic because of an armed waker; returns whether it panicked.
fn panics<R>(f: impl FnOnce() -> R) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

/// Fills a `Park` ring with 16-byte frames until one waits.
fn fill(w: &mut StrongWriter) {
    let mut seq = 0;
    while w.try_write(&tagged(9, seq, 16)).unwrap().is_some() {
        seq += 1;
    }
}

/// Polls once with a waker whose `clone` panics; `poll` says whether it was `Pending`, which it
/// must be unless the panic came first (caught here).
fn poll_with_a_panicking_clone(poll: impl FnOnce(&mut Context<'_>) -> bool) {
    let (arm, bad) = armed_waker();
    arm.clone.store(true, SeqCst);
    let first = catch_unwind(AssertUnwindSafe(|| poll(&mut Context::from_waker(&bad))));
    arm.disarm();
    assert!(
        !matches!(first, Ok(false)),
        "no room yet: Pending or a panic"
    );
}

/// A strong writer waiting for space is polled with a waker whose `clone` panics, then with a
/// normal one: when a reader frees space, the normal waker is woken and the write completes. A
/// weak writer waiting meanwhile is woken too.
#[test]
fn strong_writer_polled_with_a_panicking_clone_is_still_woken() {
    guarded("panicking clone, strong writer", || {
        let chan = Channel::new(64);
        let mut r = chan.new_strong_reader();
        let mut filler = chan.new_strong_writer();
        let mut s = chan.new_strong_writer();
        let mut weak = chan.new_weak_writer();
        fill(&mut filler);
        let frame = tagged(1, 0, 16);
        poll_with_a_panicking_clone(|cx| s.poll_write(cx, &frame).is_pending());
        let (cs, ws) = counting_waker();
        assert!(s
            .poll_write(&mut Context::from_waker(&ws), &frame)
            .is_pending());
        let (cw, ww) = counting_waker();
        let wframe = tagged(2, 0, 16);
        assert!(weak
            .poll_write(&mut Context::from_waker(&ww), &wframe)
            .is_pending());
        read_all(&mut r, 64);
        assert!(cs.count() >= 1, "the strong writer's new waker is woken");
        assert!(cw.count() >= 1, "the weak writer is woken");
        let cx = &mut Context::from_waker(&ws);
        assert_eq!(s.poll_write(cx, &frame), Poll::Ready(Ok(16)));
        let cx = &mut Context::from_waker(&ww);
        assert_eq!(weak.poll_write(cx, &wframe), Poll::Ready(Ok(16)));
        assert_eq!(read_all(&mut r, 64).len(), 2);
    });
}

/// A weak writer waiting for space (on the shared waiter list) is polled with a waker whose
/// `clone` panics: afterwards another weak writer can wait and is woken, and so is the first
/// one with a normal waker. Nothing spins on a lock left held.
#[test]
fn weak_writer_polled_with_a_panicking_clone_leaves_no_lock_held() {
    guarded("panicking clone, weak writer", || {
        let chan = Channel::new(64);
        let mut r = chan.new_strong_reader();
        let mut filler = chan.new_strong_writer();
        let mut w1 = chan.new_weak_writer();
        let mut w2 = chan.new_weak_writer();
        fill(&mut filler);
        let (f1, f2) = (tagged(1, 0, 16), tagged(2, 0, 16));
        poll_with_a_panicking_clone(|cx| w1.poll_write(cx, &f1).is_pending());
        let (c2, k2) = counting_waker();
        assert!(w2
            .poll_write(&mut Context::from_waker(&k2), &f2)
            .is_pending());
        let (c1, k1) = counting_waker();
        assert!(w1
            .poll_write(&mut Context::from_waker(&k1), &f1)
            .is_pending());
        read_all(&mut r, 64);
        assert!(
            c1.count() >= 1 && c2.count() >= 1,
            "both weak writers are woken"
        );
        assert_eq!(
            w1.poll_write(&mut Context::from_waker(&k1), &f1),
            Poll::Ready(Ok(16))
        );
        assert_eq!(
            w2.poll_write(&mut Context::from_waker(&k2), &f2),
            Poll::Ready(Ok(16))
        );
    });
}

/// Two readers parked with wakers whose `wake` panics and one parked with a normal waker: a
/// frame's commit wakes the normal one (the writer's call may panic; it is caught), the process
/// does not abort on the second panicking waker, and every reader then reads the frame.
#[test]
fn panicking_wakes_do_not_stop_the_other_readers_wake_up() {
    guarded("panicking wake", || {
        let chan = Channel::new(256);
        let mut w = chan.new_strong_writer();
        let mut readers = [
            chan.new_strong_reader(),
            chan.new_strong_reader(),
            chan.new_strong_reader(),
        ];
        let mut weak = chan.new_weak_reader();
        let (a1, bad1) = armed_waker();
        let (a2, bad2) = armed_waker();
        let (good, gw) = counting_waker();
        let (good_weak, gww) = counting_waker();
        for (r, wk) in readers.iter_mut().zip([&bad1, &bad2, &gw]) {
            assert!(r
                .poll_read_frame(&mut Context::from_waker(wk), 64)
                .is_pending());
        }
        assert!(weak
            .poll_read_frame(&mut Context::from_waker(&gww), 64)
            .is_pending());
        a1.wake.store(true, SeqCst);
        a2.wake.store(true, SeqCst);
        let frame = tagged(3, 0, 20);
        let _ = panics(|| w.try_write(&frame));
        a1.disarm();
        a2.disarm();
        assert!(good.count() >= 1, "the normal reader is woken");
        assert!(good_weak.count() >= 1, "the weak reader is woken");
        assert!(a1.wakes.load(SeqCst) + a2.wakes.load(SeqCst) >= 1);
        for r in &mut readers {
            assert_eq!(
                r.try_read_frame(64).unwrap().map(|f| f.1),
                Some(frame.clone())
            );
        }
        assert_eq!(weak.try_read_frame(64).unwrap().map(|f| f.1), Some(frame));
    });
}

/// A reader re-polled with a new waker while the old waker's `drop` panics: the panic is
/// caught, and later wake-ups still reach the new waker.
#[test]
fn reader_repolled_while_the_old_wakers_drop_panics_keeps_the_new_waker() {
    guarded("panicking drop", || {
        let chan = Channel::new(256);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let (arm, old) = armed_waker();
        assert!(r
            .poll_read_frame(&mut Context::from_waker(&old), 64)
            .is_pending());
        arm.drop.store(true, SeqCst);
        let (c, new) = counting_waker();
        let second = catch_unwind(AssertUnwindSafe(|| {
            r.poll_read_frame(&mut Context::from_waker(&new), 64)
                .is_pending()
        }));
        assert!(
            !matches!(second, Ok(false)),
            "nothing to read: Pending or a panic"
        );
        arm.disarm();
        drop(old);
        let frame = tagged(4, 0, 12);
        let _ = panics(|| w.try_write(&frame));
        assert!(c.count() >= 1, "the new waker is woken");
        assert_eq!(
            r.poll_read_frame(&mut noop_cx(), 64),
            Poll::Ready(Ok((w.id().unwrap(), frame)))
        );
    });
}

/// A `Reserve` future polled with a waker whose `clone` panics, after its writer claimed the
/// admission priority: the future stays in charge of its writer during the poll, so its drop
/// (as the panic unwinds) gives the priority back, and another writer's small frame goes into
/// the emptied ring at once.
#[test]
fn reserve_future_unwinding_from_a_panicking_clone_gives_the_priority_back() {
    guarded("panicking clone in Reserve", || {
        let chan = Channel::new(256);
        let max = chan.max_frame_len();
        let mut reader = chan.new_strong_reader();
        let mut a = chan.new_strong_writer();
        let mut b = chan.new_strong_writer();
        assert_eq!(a.try_write(&vec![1u8; max]).unwrap(), Some(max));
        poll_with_a_panicking_clone(|cx| {
            let mut fut = std::pin::pin!(a.reserve(max));
            std::future::Future::poll(fut.as_mut(), cx).is_ready()
        });
        let _ = reader.try_read_frame(max).unwrap().unwrap();
        assert_eq!(
            b.try_write(&[2u8; 8]).unwrap(),
            Some(8),
            "the unwound Reserve kept the admission priority"
        );
    });
}

/// A reader's waker that panics in `wake` was disarmed by that wake (readers are woken once per
/// sleep); polled again with another waker, the reader is armed again and the next frame wakes
/// it.
#[test]
fn a_reader_whose_waker_panicked_is_woken_through_its_next_waker() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let (bad, bad_waker) = armed_waker();
    bad.wake.store(true, SeqCst);
    let (good, good_waker) = counting_waker();
    let mut buf = [0u8; 8];
    for i in 0..if cfg!(miri) { 3 } else { 50 } {
        assert!(r
            .poll_read(&mut Context::from_waker(&bad_waker), &mut buf)
            .is_pending());
        assert!(
            panics(|| w.try_reserve(8).unwrap().unwrap().abort()),
            "{i}: the wake panics"
        );
        assert!(r
            .poll_read(&mut Context::from_waker(&good_waker), &mut buf)
            .is_pending());
        let before = good.count();
        w.try_write(b"k").unwrap().unwrap();
        assert_eq!(good.count(), before + 1, "{i}: the next waker is woken");
        let done = r.poll_read(&mut Context::from_waker(&good_waker), &mut buf);
        assert_eq!(done, Poll::Ready(Ok(1)));
    }
    bad.disarm();
}
