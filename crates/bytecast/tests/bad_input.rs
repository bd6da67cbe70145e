//! Bad input and misuse: each test is one row of the catalogue in `docs/reliability.md`, and
//! asserts the outcome that row documents (an error, a documented panic, or well-defined
//! behaviour), then that the channel is still usable where it exists.
//!
//! An allocation failure is produced without `unsafe`: the test re-runs itself in a child
//! process whose address space is limited to 1 GiB (`ulimit -v`), where a ring of
//! `MAX_CAPACITY` (2 GiB) cannot be allocated on any machine.

use bytecast::{
    Backpressure, Channel, ChannelError, Config, StartAt, MAX_CAPACITY, MAX_HANDLES, MIN_CAPACITY,
};
use futures::task::{noop_waker, waker, ArcWake};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;

#[path = "support/harness.rs"]
mod harness;
use harness::counting_waker;

/// A waker that panics when woken (once armed).
struct Bomb(AtomicBool);

impl ArcWake for Bomb {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if arc_self.0.load(SeqCst) {
            panic!("waker panicked");
        }
    }
}

fn bomb() -> Waker {
    waker(Arc::new(Bomb(AtomicBool::new(true))))
}

/// The channel still moves frames: a fresh writer and a fresh tail reader round-trip some.
fn still_works(chan: &Arc<Channel>) {
    let mut w = chan.new_weak_writer();
    let mut r = chan.try_new_strong_reader(StartAt::Tail).unwrap();
    for t in 0..(chan.capacity() / 8) as u8 {
        assert_eq!(w.try_write(&[t; 5]), Ok(Some(5)));
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, vec![t; 5]);
    }
}

// ---------------------------------------------------------------------------------------------
// Capacity.

#[test]
#[should_panic(expected = "invalid channel capacity 0")]
fn capacity_zero_panics_in_new() {
    let _ = Channel::new(0);
}

#[test]
fn capacity_zero_is_an_error_from_try_new() {
    assert_eq!(
        Channel::try_new(0, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: 0,
            max: bytecast::MAX_CAPACITY
        }
    );
}

#[test]
fn capacity_one_is_rounded_up_to_the_minimum_and_works() {
    let chan = Channel::new(1);
    assert_eq!(chan.capacity(), MIN_CAPACITY);
    assert_eq!(chan.max_frame_len(), MIN_CAPACITY - 8);
    still_works(&chan);
}

#[test]
fn capacity_not_a_power_of_two_is_rounded_up_and_reported() {
    for (asked, real) in [(65, 128), (100, 128), (1000, 1024), (4097, 8192)] {
        let chan = Channel::new(asked);
        assert_eq!(chan.capacity(), real, "{asked}");
        assert_eq!(chan.max_frame_len(), real - 8);
        still_works(&chan);
    }
}

#[test]
fn capacity_usize_max_is_an_error_and_new_panics_with_its_value() {
    assert_eq!(
        Channel::try_new(usize::MAX, Backpressure::Drop).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: usize::MAX,
            max: bytecast::MAX_CAPACITY,
        }
    );
    let msg = catch_unwind(|| Channel::new(usize::MAX))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(
        msg.contains(&format!("invalid channel capacity {}", usize::MAX)),
        "{msg}"
    );
}

#[test]
fn capacity_above_max_capacity_is_an_error() {
    assert_eq!(
        Channel::try_new(MAX_CAPACITY + 1, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: MAX_CAPACITY + 1,
            max: bytecast::MAX_CAPACITY,
        }
    );
}

/// The child side of [`max_capacity_whose_allocation_fails_is_an_error_not_an_abort`]: runs
/// only in the address-space-limited child (a no-op otherwise).
#[test]
fn max_capacity_allocation_failure_child() {
    if std::env::var_os("BYTECAST_LIMITED_CHILD").is_none() {
        return;
    }
    assert_eq!(
        Channel::try_new(MAX_CAPACITY, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: MAX_CAPACITY,
            max: bytecast::MAX_CAPACITY,
        }
    );
    let msg = catch_unwind(|| Channel::new(MAX_CAPACITY))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(msg.contains("allocatable"), "{msg}");
    // The process is fine: a normal channel still works.
    still_works(&Channel::new(256));
    println!("child: allocation failure handled");
}

/// `MAX_CAPACITY` is valid, but its 2 GiB allocation fails in a child process limited to 1 GiB
/// of address space: an error from the fallible constructor, a panic naming the problem from
/// `new`, no abort, and the process goes on using channels.
#[test]
fn max_capacity_whose_allocation_fails_is_an_error_not_an_abort() {
    if cfg!(miri) || !cfg!(target_os = "linux") || MAX_CAPACITY < 1 << 30 {
        // Miri cannot spawn processes; `ulimit -v` is a Linux shell feature here; with the
        // position space narrowed (`cargo xtask wrap`), `MAX_CAPACITY` is small and allocates.
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" --exact max_capacity_allocation_failure_child --nocapture --test-threads=1")
        .arg(&exe)
        .env("BYTECAST_LIMITED_CHILD", "1")
        .output()
        .expect("spawn the limited child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child: allocation failure handled"),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Frames and grants.

#[test]
fn frame_larger_than_max_frame_len_is_refused_by_reserve_and_cut_by_write() {
    for bp in [Backpressure::Park, Backpressure::Drop] {
        let chan = Channel::with_parameters(256, bp);
        let max = chan.max_frame_len();
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        for len in [max + 1, 2 * max, usize::MAX] {
            assert_eq!(
                w.try_reserve(len).map(|g| g.is_some()),
                Err(ChannelError::FrameTooLarge { len, max })
            );
            let fut = std::pin::pin!(w.reserve(len));
            let noop = noop_waker();
            assert!(matches!(
                fut.poll(&mut Context::from_waker(&noop)),
                Poll::Ready(Err(ChannelError::FrameTooLarge { .. }))
            ));
        }
        // A write takes at most max_frame_len bytes: one frame, the rest is the caller's.
        let big = vec![7u8; max + 100];
        assert_eq!(w.try_write(&big), Ok(Some(max)));
        assert_eq!(
            r.try_read_frame(usize::MAX).unwrap().unwrap().1,
            vec![7; max]
        );
        assert_eq!(
            chan.stats().dropped_frames,
            0,
            "a FrameTooLarge is not a drop"
        );
    }
}

#[test]
fn grant_put_beyond_its_capacity_is_cut_and_an_empty_commit_aborts() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut g = w.try_reserve(4).unwrap().unwrap();
    assert_eq!(g.put(b"abcdef"), 4);
    assert_eq!(g.put(b"x"), 0);
    assert_eq!(g.remaining(), 0);
    assert_eq!(g.commit(), 4);
    let g = w.try_reserve(8).unwrap().unwrap();
    assert_eq!(g.commit(), 0, "an empty commit is an abort");
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"abcd");
    assert_eq!(r.try_read_frame(64), Ok(None));
}

#[test]
fn read_limits_of_zero_and_empty_buffers_are_defined() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    w.try_write(b"hello").unwrap();
    assert_eq!(
        r.try_read_frame(0),
        Err(ChannelError::FrameTooLong { len: 5, limit: 0 })
    );
    assert_eq!(
        r.try_read_frame_into(&mut []),
        Err(ChannelError::FrameTooLong { len: 5, limit: 0 })
    );
    assert_eq!(r.try_read(&mut []), Ok(Some(0)), "an empty read is Ok(0)");
    assert_eq!(r.try_read_frame(5).unwrap().unwrap().1, b"hello");
}

#[test]
#[should_panic(expected = "consume(6) past the end of the buffer")]
fn consume_past_what_fill_buf_returned_panics() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    w.try_write(b"hello").unwrap();
    let noop = noop_waker();
    let Poll::Ready(Ok(b)) = r.poll_fill_buf(&mut Context::from_waker(&noop)) else {
        panic!("no buffer")
    };
    assert_eq!(b, b"hello");
    r.consume(6);
}

#[test]
#[should_panic(expected = "consume(1) without a frame")]
fn consume_without_a_buffer_panics() {
    let chan = Channel::new(128);
    let mut r = chan.new_strong_reader();
    r.consume(1);
}

// ---------------------------------------------------------------------------------------------
// Handle limits.

/// 65,535 live strong writers (the most `MAX_HANDLES` allows) are fine; the next is
/// `TooManyWriters`, a limit of 65,536 is `InvalidLimit`, weak writers are not limited, and
/// dropping them all panics nowhere.
#[test]
fn max_handles_writers_then_too_many_writers_and_invalid_limit_above() {
    assert_eq!(
        Channel::try_with_config(Config::new(64).max_writers(MAX_HANDLES + 1)).unwrap_err(),
        ChannelError::InvalidLimit {
            requested: MAX_HANDLES + 1,
            max: bytecast::MAX_HANDLES,
        }
    );
    assert_eq!(
        Channel::try_with_config(Config::new(64).max_readers(0)).unwrap_err(),
        ChannelError::InvalidLimit {
            requested: 0,
            max: bytecast::MAX_HANDLES
        }
    );
    let n = if cfg!(miri) { 100 } else { MAX_HANDLES };
    let chan = Channel::try_with_config(Config::new(1024).max_writers(n)).unwrap();
    let mut writers: Vec<_> = (0..n)
        .map(|_| chan.try_new_strong_writer().unwrap())
        .collect();
    let mut ids: Vec<u16> = writers.iter().map(|w| w.id().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "ids unique");
    assert!(!ids.contains(&0), "id 0 is reserved");
    assert_eq!(
        chan.try_new_strong_writer().unwrap_err(),
        ChannelError::TooManyWriters { max: n }
    );
    let msg = catch_unwind(AssertUnwindSafe(|| chan.new_strong_writer()))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(msg.contains("too many writers"), "{msg}");
    // A weak writer can be created but finds no slot: Park waits, the write is not lost.
    let mut weak = chan.new_weak_writer();
    assert_eq!(weak.try_write(b"w"), Ok(None));
    let mut r = chan.new_strong_reader();
    assert_eq!(writers[n - 1].try_write(b"last"), Ok(Some(4)));
    writers.truncate(n - 1);
    assert_eq!(weak.try_write(b"w"), Ok(Some(1)));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"last");
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"w");
    drop(writers);
    assert_eq!(chan.stats().strong_writers, 0);
    drop(r);
    still_works(&chan);
}

#[test]
fn too_many_readers_is_an_error_and_new_reader_panics_with_it() {
    let chan = Channel::try_with_config(Config::new(64).max_readers(2)).unwrap();
    let _a = chan.new_strong_reader();
    let _b = chan.new_weak_reader();
    assert_eq!(
        chan.try_new_reader(true, StartAt::Oldest).unwrap_err(),
        ChannelError::TooManyReaders { max: 2 }
    );
    assert!(catch_unwind(AssertUnwindSafe(|| chan.new_weak_reader())).is_err());
}

// ---------------------------------------------------------------------------------------------
// Ending.

#[test]
fn reads_and_writes_after_terminate_fail_with_terminated() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut wr = chan.new_weak_reader();
    w.try_write(b"unread").unwrap();
    chan.terminate().unwrap();
    assert_eq!(w.try_write(b"x"), Err(ChannelError::Terminated));
    assert_eq!(w.try_write(b""), Err(ChannelError::Terminated));
    assert_eq!(ww.try_write(b"x"), Err(ChannelError::Terminated));
    assert_eq!(
        w.try_reserve(1).map(|g| g.is_some()),
        Err(ChannelError::Terminated)
    );
    assert_eq!(r.try_read_frame(64), Err(ChannelError::Terminated));
    assert_eq!(r.try_read(&mut []), Err(ChannelError::Terminated));
    assert_eq!(wr.try_read(&mut [0; 4]), Err(ChannelError::Terminated));
    assert_eq!(r.try_skip_frame(), Err(ChannelError::Terminated));
    // Handles created now are terminated handles, not errors or panics.
    let mut late_writer = chan.try_new_strong_writer().unwrap();
    assert_eq!(late_writer.try_write(b"x"), Err(ChannelError::Terminated));
    let mut late_reader = chan.try_new_reader(false, StartAt::Tail).unwrap();
    assert_eq!(late_reader.try_skip_frame(), Err(ChannelError::Terminated));
    // consume after terminate does nothing (documented).
    r.consume(3);
    assert_eq!(chan.terminate(), Ok(()), "terminating twice is fine");
}

#[test]
fn drain_twice_is_fine_and_drain_after_terminate_is_an_error() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    w.try_write(b"one").unwrap();
    assert_eq!(chan.drain(), Ok(()));
    assert_eq!(chan.drain(), Ok(()));
    assert_eq!(w.try_write(b"two"), Err(ChannelError::Draining));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"one");
    assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
    assert_eq!(chan.terminate(), Err(ChannelError::TerminateDraining));
    assert!(chan.is_terminated());
    assert_eq!(chan.drain(), Err(ChannelError::DrainTerminated));
}

/// terminate() while draining: reported as `TerminateDraining`, but the channel is terminated
/// and every parked task is woken with `Terminated`.
#[test]
fn terminate_while_draining_terminates_and_wakes_everyone() {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut gate = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    while w.try_write(&[1; 24]).unwrap().is_some() {}
    let _ = gate.try_read_frame(64);
    // A grant held across the drain, a writer and a reader parked.
    let mut w2 = chan.new_strong_writer();
    let (cw, wkw) = counting_waker();
    assert!(w
        .poll_write(&mut Context::from_waker(&wkw), &[2; 24])
        .is_pending());
    let mut r2 = chan.try_new_strong_reader(StartAt::Tail).unwrap();
    let (cr, wkr) = counting_waker();
    assert!(r2
        .poll_read_frame(&mut Context::from_waker(&wkr), 64)
        .is_pending());
    chan.drain().unwrap();
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&wkw), &[2; 24]),
        Poll::Ready(Err(ChannelError::Draining))
    );
    assert_eq!(chan.terminate(), Err(ChannelError::TerminateDraining));
    assert!(cr.count() > 0 && cw.count() > 0);
    assert_eq!(
        r2.poll_read_frame(&mut Context::from_waker(&wkr), 64),
        Poll::Ready(Err(ChannelError::Terminated))
    );
    assert_eq!(r.try_read_frame(64), Err(ChannelError::Terminated));
    assert_eq!(w2.try_write(b"x"), Err(ChannelError::Terminated));
}

// ---------------------------------------------------------------------------------------------
// A waker that panics.

/// A reader's waker panics when a writer's commit wakes it: the panic comes out of the writer's
/// call (`try_write` here), as documented; the frame was committed and published before the
/// wake, and the channel stays consistent: the reader reads it, later frames flow, and other
/// parked tasks are woken by later progress.
#[test]
fn panicking_reader_waker_propagates_to_the_writer_and_the_channel_stays_usable() {
    let chan = Channel::new(128);
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    assert!(r
        .poll_read_frame(&mut Context::from_waker(&bomb()), 64)
        .is_pending());
    let res = catch_unwind(AssertUnwindSafe(|| w.try_write(b"boom")));
    assert!(
        res.is_err(),
        "the waker's panic reaches the caller that woke it"
    );
    // The frame is there, and the channel goes on.
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"boom");
    for t in 0..40u8 {
        assert_eq!(w.try_write(&[t; 9]), Ok(Some(9)));
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, vec![t; 9]);
    }
    // A reader parked with a good waker is woken by the next commit.
    let (c, wk) = counting_waker();
    assert!(r
        .poll_read_frame(&mut Context::from_waker(&wk), 64)
        .is_pending());
    w.try_write(b"next").unwrap();
    assert!(c.count() > 0, "a wake-up was lost after the panic");
    drop((r, w));
    still_works(&chan);
}

/// A writer's waker panics when a strong reader's release wakes it: the panic comes out of the
/// reader's read call. The read's frame is consumed (the reader moved past it before waking
/// writers), so the caller loses that one frame (documented); the channel stays consistent.
#[test]
fn panicking_writer_waker_propagates_to_the_reader_and_the_channel_stays_usable() {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let mut filled = 0u8;
    while w.try_write(&[filled; 24]).unwrap().is_some() {
        filled += 1;
    }
    assert!(w
        .poll_write(&mut Context::from_waker(&bomb()), &[9; 24])
        .is_pending());
    let res = catch_unwind(AssertUnwindSafe(|| r.try_read_frame(64)));
    assert!(
        res.is_err(),
        "the waker's panic reaches the reader that woke it"
    );
    // The rest flows; the writer, polled again with a good waker, writes.
    let (c, wk) = counting_waker();
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&wk), &[9; 24]),
        Poll::Ready(Ok(24))
    );
    let mut rest = Vec::new();
    while let Some((_, f)) = r.try_read_frame(64).unwrap() {
        rest.push(f[0]);
    }
    assert_eq!(
        rest,
        vec![1, 9],
        "frame 0 went to the panicking call, the rest flows"
    );
    let _ = c;
    drop((r, w));
    still_works(&chan);
}

/// terminate() with a parked task whose waker panics: terminate() panics, the channel is
/// terminated all the same, and every other parked task is woken anyway (finding R2: the wake
/// loop finishes while the panic unwinds), whatever their slot order.
#[test]
fn panicking_waker_during_terminate_propagates_and_the_channel_is_terminated() {
    // Two parked readers, the panicking waker in the first or the last slot.
    for bomb_first in [true, false] {
        let chan = Channel::new(64);
        let mut a = chan.new_strong_reader();
        let mut b = chan.new_strong_reader();
        let (cb, wkb) = counting_waker();
        let (first, second) = if bomb_first {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        assert!(first
            .poll_read_frame(&mut Context::from_waker(&bomb()), 64)
            .is_pending());
        assert!(second
            .poll_read_frame(&mut Context::from_waker(&wkb), 64)
            .is_pending());
        let c2 = chan.clone();
        assert!(catch_unwind(AssertUnwindSafe(|| c2.terminate())).is_err());
        assert!(chan.is_terminated());
        assert!(
            cb.count() >= 1,
            "the other reader was woken despite the panic"
        );
        assert_eq!(a.try_read_frame(64), Err(ChannelError::Terminated));
        assert_eq!(
            b.poll_read_frame(&mut Context::from_waker(&wkb), 64),
            Poll::Ready(Err(ChannelError::Terminated))
        );
    }
    // Two writers parked on a full ring (the panicking waker is the first writer's) and a
    // caught-up weak reader: the second writer and the reader are woken all the same.
    let chan = Channel::new(64);
    let _holder = chan.new_strong_reader(); // reads nothing: the ring fills
    let mut weak = chan.new_weak_reader();
    let mut w1 = chan.new_strong_writer();
    let mut w2 = chan.new_strong_writer();
    assert_eq!(w1.try_write(&[1; 24]), Ok(Some(24)));
    assert_eq!(w2.try_write(&[2; 24]), Ok(Some(24)));
    while weak.try_read_frame(64).unwrap().is_some() {}
    let (cw, wkw) = counting_waker();
    let (cr, wkr) = counting_waker();
    assert!(weak
        .poll_read_frame(&mut Context::from_waker(&wkr), 64)
        .is_pending());
    assert!(w1
        .poll_write(&mut Context::from_waker(&bomb()), &[3; 24])
        .is_pending());
    assert!(w2
        .poll_write(&mut Context::from_waker(&wkw), &[4; 24])
        .is_pending());
    let c2 = chan.clone();
    assert!(catch_unwind(AssertUnwindSafe(|| c2.terminate())).is_err());
    assert!(
        cw.count() >= 1,
        "the second writer was woken despite the panic"
    );
    assert!(cr.count() >= 1, "the reader was woken despite the panic");
    assert_eq!(
        w2.poll_write(&mut Context::from_waker(&wkw), &[4; 24]),
        Poll::Ready(Err(ChannelError::Terminated))
    );
}

/// A publication that wakes a reader whose waker panics still wakes the other sleeping reader,
/// and the frame is published for both (finding R2, publication side).
#[test]
fn panicking_waker_during_publication_still_wakes_the_other_readers() {
    let chan = Channel::new(256);
    let mut a = chan.new_strong_reader();
    let mut b = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let (cb, wkb) = counting_waker();
    assert!(a
        .poll_read_frame(&mut Context::from_waker(&bomb()), 64)
        .is_pending());
    assert!(b
        .poll_read_frame(&mut Context::from_waker(&wkb), 64)
        .is_pending());
    let res = catch_unwind(AssertUnwindSafe(|| w.try_write(&[7; 10])));
    assert!(
        res.is_err(),
        "the waker's panic reaches the writer that woke it"
    );
    assert!(
        cb.count() >= 1,
        "the second reader was woken despite the panic"
    );
    assert_eq!(
        b.poll_read_frame(&mut Context::from_waker(&wkb), 64),
        Poll::Ready(Ok((1, vec![7; 10])))
    );
    assert_eq!(a.try_read_frame(64), Ok(Some((1, vec![7; 10]))));
    assert_eq!(w.try_write(&[8; 10]), Ok(Some(10)), "the channel goes on");
    assert_eq!(b.try_read_frame(64), Ok(Some((1, vec![8; 10]))));
}

// ---------------------------------------------------------------------------------------------
// Handles moved between threads mid-operation.

/// A reader parked on one thread is moved to another thread and polled there with a new waker:
/// the new waker is the one woken, and the frame arrives whole.
#[test]
fn reader_moved_to_another_thread_mid_read_is_woken_there() {
    let chan = Channel::new(128);
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let (old, wk_old) = counting_waker();
    assert!(r
        .poll_read_frame(&mut Context::from_waker(&wk_old), 64)
        .is_pending());
    let t = thread::spawn(move || {
        let f = futures::executor::block_on(r.read_frame(64)).unwrap();
        (r, f)
    });
    // Let the thread park (not required for correctness: either order must work).
    thread::yield_now();
    w.try_write(b"moved").unwrap();
    let (_r, (_, f)) = t.join().unwrap();
    assert_eq!(f, b"moved");
    let _ = old;
}

/// A `Reserve` future pending on one thread is moved and completed on another; a grant taken
/// on one thread is filled and committed on another (scoped).
#[test]
fn writer_future_and_grant_moved_to_another_thread_mid_operation() {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    while w.try_write(&[1; 24]).unwrap().is_some() {}
    let noop = noop_waker();
    {
        let mut fut = Box::pin(w.reserve(24));
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&noop))
            .is_pending());
        thread::scope(|s| {
            let t = s.spawn(move || {
                let mut g = futures::executor::block_on(fut).unwrap();
                g.put(&[2; 24]);
                g.commit()
            });
            thread::yield_now();
            assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, vec![1; 24]);
            assert_eq!(t.join().unwrap(), 24);
        });
    }
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, vec![1; 24]);
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, vec![2; 24]);
    let mut g = w.try_reserve(8).unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            let g = g.as_mut().expect("room");
            g.put(b"threaded");
        });
    });
    assert_eq!(g.unwrap().commit(), 8);
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"threaded");
}

// ---------------------------------------------------------------------------------------------
// Positions.

/// Positions are `usize` log positions compared by distance (`frame::pos_lt`); their wrap at
/// `usize::MAX` cannot be reached from outside (the start position is not settable and 2^64
/// bytes cannot be written in a test), so the wrap itself is the unit test
/// `position_order_survives_wrap` in `src/frame.rs`. What the public behaviour can show: many
/// laps of a small ring keep every order and count exact.
#[test]
fn many_laps_keep_order_and_counts_exact() {
    let laps = if cfg!(miri) { 4 } else { 20_000 };
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let mut delivered = 0u64;
    for i in 0..laps * 2u64 {
        let len = 1 + (i % 24) as usize;
        assert_eq!(w.try_write(&vec![i as u8; len]), Ok(Some(len)));
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, vec![i as u8; len]);
        if i % 3 == 0 {
            match weak.try_read_frame(64) {
                Ok(Some(_)) => delivered += 1,
                Ok(None) | Err(ChannelError::ReaderBehind(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    loop {
        match weak.try_read_frame(64) {
            Ok(Some(_)) => delivered += 1,
            Err(ChannelError::ReaderBehind(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(chan.stats().frames_published, laps * 2);
    assert_eq!(
        delivered + weak.lost_frames(),
        laps * 2,
        "every frame delivered or counted lost"
    );
}
