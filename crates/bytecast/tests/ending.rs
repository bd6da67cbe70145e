//! Ending: `terminate()` fails every operation with `Terminated` and wakes every parked task;
//! a handle's own `terminate()` aborts that handle alone; `drain()` refuses new frames, lets
//! readers finish and then gives them end of stream, and wakes every parked task with its new
//! state; a commit or abort that completes at the readable end wakes the reader parked on it;
//! a writer's `close()` releases it as dropping it would, and later calls on it fail with
//! `Closed`.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{Channel, ChannelError, Config, StartAt, Writer};
use futures::executor::block_on;
use std::task::{Context, Poll};

#[path = "support/harness.rs"]
mod harness;
use harness::counting_waker;
#[path = "support/payloads.rs"]
mod payloads;
use payloads::{fill, payload};

#[test]
fn terminate_makes_every_operation_fail_with_terminated() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    w.try_write(b"unread").unwrap().unwrap();
    assert_eq!(chan.terminate(), Ok(()));
    assert!(chan.is_terminated() && !chan.is_draining());
    assert!(w.is_terminated() && r.is_terminated());
    let t = Err(ChannelError::Terminated);
    assert_eq!(w.try_write(b"x"), t.clone().map(Some));
    assert_eq!(ww.try_write(b"x"), t.clone().map(Some));
    assert!(matches!(w.try_reserve(1), Err(ChannelError::Terminated)));
    assert!(matches!(
        block_on(w.reserve(1)),
        Err(ChannelError::Terminated)
    ));
    assert_eq!(block_on(w.write(b"x")), t.clone());
    assert_eq!(block_on(ww.write(b"x")), t.clone());
    assert_eq!(r.try_read_frame(64), Err(ChannelError::Terminated));
    assert_eq!(r.try_read(&mut [0; 4]), Err(ChannelError::Terminated));
    assert_eq!(r.try_skip_frame(), Err(ChannelError::Terminated));
    assert!(matches!(
        r.try_borrow_frame(),
        Err(ChannelError::Terminated)
    ));
    assert_eq!(block_on(r.read_frame(64)), Err(ChannelError::Terminated));
    assert_eq!(block_on(r.read(&mut [0; 4])), Err(ChannelError::Terminated));
    assert_eq!(weak.try_read_frame(64), Err(ChannelError::Terminated));
    assert_eq!(block_on(weak.read_frame(64)), Err(ChannelError::Terminated));
    assert_eq!(
        weak.try_read_frame_into(&mut [0; 64]),
        Err(ChannelError::Terminated)
    );
    // Handles created on a terminated channel are terminated handles (never an error or a
    // panic: another task may terminate the channel at any moment).
    let mut late_strong = chan.try_new_strong_writer().unwrap();
    assert_eq!(late_strong.try_write(b"x"), Err(ChannelError::Terminated));
    let mut late_sr = chan.try_new_strong_reader(StartAt::Oldest).unwrap();
    assert_eq!(late_sr.try_read_frame(64), Err(ChannelError::Terminated));
    let mut late_wr = chan.try_new_weak_reader(StartAt::Tail).unwrap();
    assert_eq!(late_wr.try_read(&mut [0; 4]), Err(ChannelError::Terminated));
    let mut late = chan.new_weak_writer();
    assert_eq!(late.try_write(b"x"), t.map(Some));
    assert_eq!(chan.terminate(), Ok(()), "terminating twice is fine");
}

#[test]
fn terminated_channel_fails_even_zero_length_reads_and_writes() {
    // "every current and future read and write fails with ChannelError::Terminated".
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    chan.terminate().unwrap();
    assert_eq!(
        w.try_write(&[]),
        Err(ChannelError::Terminated),
        "empty write"
    );
    assert_eq!(
        r.try_read(&mut []),
        Err(ChannelError::Terminated),
        "empty read"
    );
}

#[test]
fn terminate_wakes_every_parked_task() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    fill(&mut w, 8);
    let mut idle_reader = chan.try_new_weak_reader(StartAt::Tail).unwrap();
    let mut idle_strong = chan.try_new_strong_reader(StartAt::Tail).unwrap();
    drop(r.try_read_frame(0)); // FrameTooLong: r does not move and keeps gating.
    let (cw, ww) = counting_waker();
    let (cr, wr) = counting_waker();
    let (cs, ws) = counting_waker();
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), b"12345678"),
        Poll::Pending
    );
    assert_eq!(
        idle_reader.poll_read_frame(&mut Context::from_waker(&wr), 64),
        Poll::Pending
    );
    assert_eq!(
        idle_strong.poll_read(&mut Context::from_waker(&ws), &mut [0; 8]),
        Poll::Pending
    );
    assert_eq!((cw.count(), cr.count(), cs.count()), (0, 0, 0));
    chan.terminate().unwrap();
    assert!(cw.count() >= 1, "parked writer woken");
    assert!(cr.count() >= 1, "parked weak reader woken");
    assert!(cs.count() >= 1, "parked strong reader woken");
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), b"12345678"),
        Poll::Ready(Err(ChannelError::Terminated))
    );
    assert_eq!(
        idle_reader.poll_read_frame(&mut Context::from_waker(&wr), 64),
        Poll::Ready(Err(ChannelError::Terminated))
    );
    assert_eq!(
        idle_strong.poll_read(&mut Context::from_waker(&ws), &mut [0; 8]),
        Poll::Ready(Err(ChannelError::Terminated))
    );
}

#[test]
fn terminate_fails_a_weak_writer_waiting_for_a_writer_slot() {
    // A weak writer parked because every writer slot is taken is a waiting task: terminate
    // must wake it and its write must then fail with Terminated (not stay Pending forever).
    let chan = Channel::try_with_config(Config::new(256).max_writers(1)).unwrap();
    let _holder = chan.new_strong_writer();
    let mut weak = chan.new_weak_writer();
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(weak.poll_write(&mut cx, b"x"), Poll::Pending);
    chan.terminate().unwrap();
    assert!(count.count() >= 1, "terminate woke the weak writer");
    assert_eq!(
        weak.poll_write(&mut cx, b"x"),
        Poll::Ready(Err(ChannelError::Terminated)),
        "the woken weak writer must see the termination"
    );
    assert_eq!(weak.try_write(b"x"), Err(ChannelError::Terminated));
}

#[test]
fn terminating_a_draining_channel_is_an_error_but_terminates_and_wakes() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let g = w.try_reserve(4).unwrap().unwrap();
    chan.drain().unwrap();
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Pending,
        "waits for the open grant"
    );
    assert_eq!(chan.terminate(), Err(ChannelError::TerminateDraining));
    assert!(chan.is_terminated());
    assert!(count.count() >= 1, "the parked reader was woken");
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Ready(Err(ChannelError::Terminated))
    );
    drop(g);
    assert_eq!(w.try_write(b"x"), Err(ChannelError::Terminated));
}

#[test]
fn draining_a_terminated_channel_is_an_error_and_draining_twice_is_fine() {
    let chan = Channel::new(64);
    assert_eq!(chan.drain(), Ok(()));
    assert_eq!(chan.drain(), Ok(()));
    assert!(chan.is_draining());
    let chan = Channel::new(64);
    chan.terminate().unwrap();
    assert_eq!(chan.drain(), Err(ChannelError::DrainTerminated));
    assert!(chan.is_terminated());
}

#[test]
fn handle_terminate_aborts_that_handle_alone() {
    let chan = Channel::try_with_config(Config::new(64).max_writers(1)).unwrap();
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut r2 = chan.new_strong_reader();
    w.try_write(b"one").unwrap().unwrap();
    w.terminate();
    assert!(w.is_terminated() && !chan.is_terminated());
    assert_eq!(w.try_write(b"x"), Err(ChannelError::Terminated));
    assert_eq!(w.try_write(&[]), Err(ChannelError::Terminated));
    assert!(matches!(w.try_reserve(1), Err(ChannelError::Terminated)));
    // Its slot is free again; other handles carry on.
    let mut w2 = chan
        .try_new_strong_writer()
        .expect("the terminated writer left its slot");
    w2.try_write(b"two").unwrap().unwrap();
    r.terminate();
    assert!(r.is_terminated());
    assert_eq!(r.try_read_frame(64), Err(ChannelError::Terminated));
    assert_eq!(r.try_read(&mut [0; 4]), Err(ChannelError::Terminated));
    assert_eq!(r2.try_read_frame(64).unwrap().unwrap().1, b"one");
    assert_eq!(r2.try_read_frame(64).unwrap().unwrap().1, b"two");
    let s = chan.stats();
    assert_eq!((s.strong_writers, s.strong_readers), (1, 1));
    // A terminated strong reader no longer gates writers.
    for i in 0..20 {
        assert_eq!(w2.try_write(&payload(i, 8)), Ok(Some(8)));
        assert_eq!(r2.try_read_frame(64).unwrap().unwrap().1, payload(i, 8));
    }
}

#[test]
fn drain_refuses_new_frames_and_readers_finish_then_see_end_of_stream() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut byte_reader = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    for i in 0..3 {
        w.try_write(&payload(i, 5)).unwrap().unwrap();
    }
    chan.drain().unwrap();
    assert!(chan.is_draining() && !chan.is_terminated());
    assert_eq!(w.try_write(b"late"), Err(ChannelError::Draining));
    assert_eq!(ww.try_write(b"late"), Err(ChannelError::Draining));
    assert!(matches!(w.try_reserve(4), Err(ChannelError::Draining)));
    assert_eq!(block_on(w.write(b"late")), Err(ChannelError::Draining));
    assert_eq!(
        chan.stats().dropped_frames,
        0,
        "a refusal while draining is not a drop"
    );
    for i in 0..3 {
        assert_eq!(block_on(r.read_frame(64)).unwrap().1, payload(i, 5));
        assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, payload(i, 5));
    }
    assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
    assert_eq!(block_on(r.read_frame(64)), Err(ChannelError::EndOfStream));
    assert_eq!(r.try_read(&mut [0; 4]), Err(ChannelError::EndOfStream));
    assert_eq!(
        block_on(r.read(&mut [0; 4])),
        Err(ChannelError::EndOfStream)
    );
    assert_eq!(r.try_skip_frame(), Err(ChannelError::EndOfStream));
    assert!(matches!(
        r.try_borrow_frame(),
        Err(ChannelError::EndOfStream)
    ));
    assert_eq!(weak.try_read_frame(64), Err(ChannelError::EndOfStream));
    assert_eq!(
        block_on(weak.read(&mut [0; 4])),
        Err(ChannelError::EndOfStream)
    );
    // read_to_end-style byte reading finishes cleanly.
    let mut all = Vec::new();
    let mut buf = [0u8; 3];
    loop {
        match block_on(byte_reader.read(&mut buf)) {
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(ChannelError::EndOfStream) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let expected: Vec<u8> = (0..3).flat_map(|i| payload(i, 5)).collect();
    assert_eq!(all, expected);
    // A reader created now is at the end at once.
    let mut late = chan.try_new_strong_reader(StartAt::Tail).unwrap();
    assert_eq!(late.try_read_frame(64), Err(ChannelError::EndOfStream));
}

#[test]
fn grant_held_across_drain_may_still_commit_and_is_delivered() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let id = w.id().unwrap();
    let mut g = w.try_reserve(8).unwrap().unwrap();
    chan.drain().unwrap();
    assert_eq!(
        r.try_read_frame(64),
        Ok(None),
        "not the end: a grant is open"
    );
    g.put(b"finished");
    assert_eq!(g.commit(), 8);
    assert_eq!(r.try_read_frame(64), Ok(Some((id, b"finished".to_vec()))));
    assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
    assert_eq!(w.try_write(b"more"), Err(ChannelError::Draining));
}

#[test]
fn drain_wakes_every_parked_task_with_its_new_state() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let written = fill(&mut w, 8);
    let mut waiting = chan.try_new_weak_reader(StartAt::Tail).unwrap();
    let (cw, ww) = counting_waker();
    let (cr, wr) = counting_waker();
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), b"12345678"),
        Poll::Pending
    );
    assert_eq!(
        waiting.poll_read_frame(&mut Context::from_waker(&wr), 64),
        Poll::Pending
    );
    chan.drain().unwrap();
    assert!(cw.count() >= 1 && cr.count() >= 1, "drain woke both");
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), b"12345678"),
        Poll::Ready(Err(ChannelError::Draining))
    );
    assert_eq!(
        waiting.poll_read_frame(&mut Context::from_waker(&wr), 64),
        Poll::Ready(Err(ChannelError::EndOfStream))
    );
    for p in &written {
        assert_eq!(&r.try_read_frame(64).unwrap().unwrap().1, p);
    }
    assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
}

#[test]
fn commit_or_abort_completing_at_the_readable_end_wakes_the_parked_reader() {
    let chan = Channel::new(256);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    // Commit exactly at the readable end.
    let mut g = a.try_reserve(14).unwrap().unwrap();
    assert_eq!(r.poll_read_frame(&mut cx, 64), Poll::Pending);
    g.put(b"fourteen bytes");
    g.commit();
    assert_eq!(count.count(), 1, "the commit woke the reader once");
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Ready(Ok((a.id().unwrap(), b"fourteen bytes".to_vec())))
    );
    // Abort of the reservation that held a committed frame back.
    let g = a.try_reserve(8).unwrap().unwrap();
    b.try_write(b"behind").unwrap().unwrap();
    assert_eq!(r.poll_read_frame(&mut cx, 64), Poll::Pending);
    let before = count.count();
    drop(g);
    assert!(
        count.count() > before,
        "the abort made data readable and woke the reader"
    );
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Ready(Ok((b.id().unwrap(), b"behind".to_vec())))
    );
}

/// `close()` releases a writer at once, as dropping it would: its slot and id go, it no longer
/// counts among the writers, the frames it committed stay readable, and every later call on it
/// fails with `Closed` (`BrokenPipe` through `bytecast::io`), an empty write included. Closing
/// twice does nothing; conversions of a closed writer are closed; `terminate` after `close`
/// leaves it closed, and `close` after `terminate` leaves it terminated.
#[test]
fn closed_writer_leaves_at_once_and_every_later_call_fails_with_closed() {
    let chan = Channel::try_with_config(Config::new(256).max_writers(3)).unwrap();
    let mut strong = chan.new_strong_writer();
    let mut weak = chan.new_weak_writer();
    let mut either = Writer::from(chan.new_strong_writer());
    let mut r = chan.new_strong_reader();
    assert_eq!(strong.try_write(b"strong"), Ok(Some(6)));
    assert_eq!(weak.try_write(b"weak"), Ok(Some(4)));
    assert_eq!(either.try_write(b"either"), Ok(Some(6)));
    assert!(!strong.is_closed() && !weak.is_closed() && !either.is_closed());
    strong.close();
    weak.close();
    either.close();
    let s = chan.stats();
    assert_eq!((s.strong_writers, s.weak_writers), (0, 0));
    // Every slot is free again.
    let fresh: Vec<_> = (0..3)
        .map(|_| chan.try_new_strong_writer().unwrap())
        .collect();
    drop(fresh);
    let closed = Some(ChannelError::Closed);
    assert!(strong.is_closed() && weak.is_closed() && either.is_closed());
    assert!(!strong.is_terminated() && !weak.is_terminated());
    for _ in 0..2 {
        assert_eq!(strong.try_write(b"x").err(), closed);
        assert_eq!(strong.try_write(b"").err(), closed);
        assert_eq!(strong.try_reserve(1).map(|g| g.is_some()).err(), closed);
        assert_eq!(block_on(strong.write(b"x")).err(), closed);
        assert_eq!(block_on(strong.reserve(1)).map(|_| ()).err(), closed);
        assert_eq!(weak.try_write(b"x").err(), closed);
        assert_eq!(block_on(weak.write(b"")).err(), closed);
        assert_eq!(weak.try_reserve(1).map(|g| g.is_some()).err(), closed);
        assert_eq!(either.try_write(b"x").err(), closed);
        assert_eq!(block_on(either.reserve(1)).map(|_| ()).err(), closed);
        strong.close();
        weak.close();
        either.close();
    }
    let frames: Vec<_> = (0..3)
        .map(|_| r.try_read_frame(64).unwrap().unwrap().1)
        .collect();
    assert_eq!(frames, [&b"strong"[..], b"weak", b"either"]);
    assert_eq!(
        std::io::Error::from(ChannelError::Closed).kind(),
        std::io::ErrorKind::BrokenPipe
    );

    let mut down = strong.downgrade();
    assert!(down.is_closed());
    assert_eq!(down.try_write(b"x").err(), closed);
    let (mut weak, e) = weak.upgrade().unwrap_err();
    assert_eq!(e, ChannelError::Closed);
    assert_eq!(either.downgrade().try_write(b"x").err(), closed);
    weak.terminate();
    assert_eq!(
        weak.try_write(b"x").err(),
        closed,
        "terminate after close: still closed"
    );
    let mut w = chan.new_strong_writer();
    w.terminate();
    w.close();
    assert!(w.is_terminated() && !w.is_closed());
    assert_eq!(w.try_write(b"x"), Err(ChannelError::Terminated));
    let s = chan.stats();
    assert_eq!((s.strong_writers, s.weak_writers), (0, 0));
}

/// Closing counts as dropping for end of stream, nothing more: while a `Channel` is left,
/// closing every writer ends nothing (a new writer may come); once the `Channel` is gone too,
/// a reader parked on the end is woken and, having read everything, gets end of stream.
#[test]
fn closing_every_writer_ends_the_stream_as_dropping_every_writer_does() {
    let chan = Channel::new(256);
    let mut strong = chan.new_strong_writer();
    let mut weak = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    assert_eq!(strong.try_write(b"one"), Ok(Some(3)));
    strong.close();
    assert_eq!(weak.try_write(b"two"), Ok(Some(3)));
    weak.close();
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"one");
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"two");
    assert_eq!(r.try_read_frame(64), Ok(None), "a Channel is left: no end");
    let mut last = chan.new_weak_writer();
    drop(chan);
    let (woken, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(
        r.poll_read_frame(&mut cx, 64).is_pending(),
        "a writer is left"
    );
    last.close();
    assert!(
        woken.count() > 0,
        "the last writer closing wakes the parked reader"
    );
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Ready(Err(ChannelError::EndOfStream))
    );
}

/// A writer closed while a grant of its own was forgotten (`mem::forget`) aborts that frame, as
/// dropping it would: the frames reserved after it reach the reader, nothing of the forgotten
/// one does, and the writer's slot is free.
#[test]
fn closing_a_writer_with_a_forgotten_grant_aborts_that_frame() {
    for weak in [false, true] {
        let chan = Channel::try_with_config(Config::new(256).max_writers(2)).unwrap();
        let mut a = if weak {
            Writer::from(chan.new_weak_writer())
        } else {
            Writer::from(chan.new_strong_writer())
        };
        let mut b = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let mut g = a.try_reserve(8).unwrap().unwrap();
        g.put(b"leaked!!");
        std::mem::forget(g);
        assert_eq!(b.try_write(b"after"), Ok(Some(5)));
        assert_eq!(r.try_read_frame(64), Ok(None), "behind the forgotten grant");
        a.close();
        assert_eq!(
            r.try_read_frame(64),
            Ok(Some((b.id().unwrap(), b"after".to_vec())))
        );
        assert_eq!(r.try_read_frame(64), Ok(None));
        assert!(chan.try_new_strong_writer().is_ok(), "its slot is free");
        assert_eq!(a.try_write(b"x"), Err(ChannelError::Closed));
    }
}
