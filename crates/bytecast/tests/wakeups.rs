//! Wake-ups: the races the loom models in `src/loom_wakeups.rs` explore exhaustively, here on real
//! threads (so that ThreadSanitizer and Miri with many seeds check them too, see
//! `cargo xtask tsan` and `cargo xtask miri-seeds`), plus single-threaded checks that a parked
//! task is woken exactly when it can go on and never busy-loops.
//!
//! Every threaded test runs under a watchdog: a lost wake-up is a hang, and a hang is a failure.
//! Rounds are scaled down under Miri.

use bytecast::{Backpressure, Channel, ChannelError, Config, StartAt};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll};
use std::thread;

#[path = "support/harness.rs"]
mod harness;
use harness::{counting_waker, guarded};
#[path = "support/payloads.rs"]
mod payloads;
use payloads::tag_bytes;

/// Rounds of each threaded race.
const ROUNDS: usize = if cfg!(miri) { 3 } else { 300 };

// ---------------------------------------------------------------------------------------------
// Single-threaded: woken exactly when it can go on, never by itself.

/// Finding R1 (`docs/reliability.md`): a weak writer waiting for space under `Park` must not
/// wake itself (nor every other waiting writer) each time it returns `Pending`; an executor
/// would poll it in a busy loop at 100% CPU until space frees.
///
/// Fixed in the core: a weak writer waiting for space registers on its own waiter list, and
/// giving back a writer slot (`Shared::release_writer_slot`) wakes only writers waiting for a
/// slot.
#[test]
fn weak_writer_waiting_for_space_never_wakes_itself_or_other_writers() {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_weak_writer();
    let mut s = chan.new_strong_writer();
    while w.try_write(&[1; 24]).unwrap().is_some() {}
    let (cs, ws) = counting_waker();
    assert!(s
        .poll_write(&mut Context::from_waker(&ws), &[2; 24])
        .is_pending());
    let (cw, ww) = counting_waker();
    for poll in 0..3 {
        assert!(w
            .poll_write(&mut Context::from_waker(&ww), &[3; 24])
            .is_pending());
        assert_eq!(
            (cw.count(), cs.count()),
            (0, 0),
            "poll {poll}: a Pending weak writer woke itself or a strong writer (busy loop)"
        );
    }
    // Both are woken when space frees.
    assert!(r.try_read_frame(64).unwrap().is_some());
    assert!(cw.count() > 0 && cs.count() > 0);
}

/// Readers never wake themselves, and strong writers waiting for space never do either.
#[test]
fn parked_readers_and_strong_writers_never_wake_themselves() {
    let chan = Channel::new(64);
    let mut sr = chan.new_strong_reader();
    let mut wr = chan.new_weak_reader();
    let mut w = chan.new_strong_writer();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    for _ in 0..5 {
        assert!(sr
            .poll_read_frame(&mut Context::from_waker(&w1), 64)
            .is_pending());
        assert!(wr
            .poll_read_frame(&mut Context::from_waker(&w2), 64)
            .is_pending());
    }
    assert_eq!((c1.count(), c2.count()), (0, 0));
    while w.try_write(&[1; 24]).unwrap().is_some() {}
    assert!(c1.count() > 0 && c2.count() > 0);
    let (c3, w3) = counting_waker();
    for _ in 0..5 {
        assert!(w
            .poll_write(&mut Context::from_waker(&w3), &[2; 24])
            .is_pending());
    }
    assert_eq!(c3.count(), 0, "a parked strong writer woke itself");
    assert!(sr.try_read_frame(64).unwrap().is_some());
    assert!(c3.count() > 0);
}

/// A re-poll that stays `Pending` replaces the waker: only the latest waker is woken, for every
/// kind of wait (reader, strong writer, weak writer waiting for a slot).
#[test]
fn only_the_latest_waker_is_woken() {
    let chan = Channel::try_with_config(Config::new(64).max_writers(1)).unwrap();
    let mut r = chan.new_strong_reader();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    assert!(r
        .poll_read_frame(&mut Context::from_waker(&w_old), 64)
        .is_pending());
    assert!(r
        .poll_read_frame(&mut Context::from_waker(&w_new), 64)
        .is_pending());
    let mut s = chan.new_strong_writer();
    s.try_write(b"x").unwrap();
    assert_eq!((old.count(), new.count() > 0), (0, true));
    let mut weak = chan.new_weak_writer();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    assert!(weak
        .poll_write(&mut Context::from_waker(&w_old), b"y")
        .is_pending());
    assert!(weak
        .poll_write(&mut Context::from_waker(&w_new), b"y")
        .is_pending());
    drop(s);
    assert!(new.count() > 0, "the latest slot waiter was not woken");
    // The old waker may be woken too (the slot-waiter list keeps distinct wakers), but the
    // writer completes on its latest one.
    let _ = old;
    assert_eq!(
        weak.poll_write(&mut Context::from_waker(&w_new), b"y"),
        Poll::Ready(Ok(1))
    );
}

// ---------------------------------------------------------------------------------------------
// Threaded races (the loom models' scenarios on real threads).

/// terminate() racing a reader and a writer that are going to sleep: both always end with
/// `Terminated`.
#[test]
fn terminate_racing_tasks_going_to_sleep_always_wakes_them() {
    guarded("terminate race", || {
        for round in 0..ROUNDS {
            let chan = Channel::new(64);
            let mut r = chan.new_strong_reader();
            let mut gate = chan.new_strong_reader();
            let mut w = chan.new_strong_writer();
            while w.try_write(&[1; 24]).unwrap().is_some() {}
            let _ = gate.try_read_frame(64);
            let start = Arc::new(Barrier::new(3));
            let (b1, b2) = (start.clone(), start.clone());
            let rt = thread::spawn(move || {
                // The reader reads what there is, then sleeps on an empty channel.
                b1.wait();
                loop {
                    match r.blocking_read_frame(64) {
                        Ok(_) => {}
                        Err(e) => return e,
                    }
                }
            });
            let wt = thread::spawn(move || {
                b2.wait();
                loop {
                    match w.blocking_write(&[2; 24]) {
                        Ok(_) => {}
                        Err(e) => return e,
                    }
                }
            });
            start.wait();
            if round % 2 == 0 {
                thread::yield_now();
            }
            chan.terminate().unwrap();
            assert_eq!(rt.join().unwrap(), ChannelError::Terminated);
            assert_eq!(wt.join().unwrap(), ChannelError::Terminated);
            drop(gate);
        }
    });
}

/// drain() racing a reader going to sleep and a writer committing its last frame: the reader
/// always gets every frame, then the end of the stream; a writer parked for space ends with
/// `Draining` once the reader frees room... or is refused at once.
#[test]
fn drain_racing_tasks_going_to_sleep_ends_streams_cleanly() {
    guarded("drain race", || {
        for round in 0..ROUNDS {
            let chan = Channel::new(128);
            let mut r = chan.new_strong_reader();
            let mut w = chan.new_strong_writer();
            let frames = 1 + round % 7;
            let c2 = chan.clone();
            let wt = thread::spawn(move || {
                for t in 0..frames {
                    w.blocking_write(&tag_bytes(t as u8, 10)).unwrap();
                }
                c2.drain().unwrap();
                // New frames are refused from now on, even when a reader frees space.
                assert_eq!(w.blocking_write(b"late"), Err(ChannelError::Draining));
            });
            let mut got = 0;
            loop {
                match r.blocking_read_frame(64) {
                    Ok((_, f)) => {
                        assert_eq!(f, tag_bytes(got as u8, 10));
                        got += 1;
                    }
                    Err(ChannelError::EndOfStream) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(got, frames);
            wt.join().unwrap();
        }
    });
}

/// drain() while a weak reader sleeps at the end and a writer holds a grant across the drain:
/// the reader gets the grant's frame, then the end.
#[test]
fn drain_with_a_grant_open_ends_after_its_commit() {
    guarded("drain with open grant", || {
        for _ in 0..ROUNDS {
            let chan = Channel::new(128);
            let mut r = chan.new_weak_reader();
            let mut w = chan.new_strong_writer();
            let c2 = chan.clone();
            let wt = thread::spawn(move || {
                let mut g = futures::executor::block_on(w.reserve(8)).unwrap();
                g.put(b"held");
                c2.drain().unwrap();
                g.put(b"open");
                g.commit();
            });
            let mut frames = Vec::new();
            loop {
                match r.blocking_read_frame(64) {
                    Ok((_, f)) => frames.push(f),
                    Err(ChannelError::EndOfStream) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(frames, vec![b"heldopen".to_vec()]);
            wt.join().unwrap();
        }
    });
}

/// A strong reader dropped (or terminated, or downgraded) while a writer waits on it: the
/// writer is always woken and goes on.
#[test]
fn strong_reader_leaving_while_a_writer_waits_on_it_wakes_the_writer() {
    guarded("strong reader leaves", || {
        for round in 0..ROUNDS {
            let chan = Channel::new(64);
            let mut r = chan.new_strong_reader();
            let mut w = chan.new_strong_writer();
            while w.try_write(&[1; 24]).unwrap().is_some() {}
            let ready = Arc::new(Barrier::new(2));
            let b = ready.clone();
            let wt = thread::spawn(move || {
                b.wait();
                w.blocking_write(&[2; 24]).unwrap()
            });
            ready.wait();
            match round % 3 {
                0 => drop(r),
                1 => r.terminate(),
                _ => drop(r.downgrade()),
            }
            assert_eq!(wt.join().unwrap(), 24);
        }
    });
}

/// A weak reader validating its copies while a writer laps it over and over: never a torn
/// frame, and delivered plus lost frames add up to what was written.
#[test]
fn weak_reader_validating_while_lapped_never_tears_and_counts_exactly() {
    guarded("weak reader lapped", || {
        let per_round = if cfg!(miri) { 20 } else { 2_000 };
        for round in 0..ROUNDS.min(30) {
            let chan = Channel::new(64);
            let mut r = chan.new_weak_reader();
            let mut w = chan.new_strong_writer();
            let wt = thread::spawn(move || {
                for t in 0..per_round {
                    let len = 8 + (t + round) % 17;
                    w.blocking_write(&tag_bytes(t as u8, len)).unwrap();
                }
            });
            let c2 = chan.clone();
            let mut delivered = 0u64;
            let mut lost_bytes = 0u64;
            let done = thread::spawn(move || {
                wt.join().unwrap();
                c2.drain().unwrap();
            });
            loop {
                match r.blocking_read_frame(64) {
                    Ok((_, f)) => {
                        assert!((8..25).contains(&f.len()), "torn: length {}", f.len());
                        // 223 is the inverse of 31 modulo 256: the tag of the first byte.
                        let tag = f[0].wrapping_mul(223);
                        assert_eq!(f, tag_bytes(tag, f.len()), "a torn frame");
                        delivered += 1;
                    }
                    Err(ChannelError::ReaderBehind(n)) => lost_bytes += n,
                    Err(ChannelError::EndOfStream) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            done.join().unwrap();
            assert_eq!(delivered + r.lost_frames(), per_round as u64);
            assert_eq!(lost_bytes, r.lost_bytes());
        }
    });
}

/// Two writers commit out of reservation order (the first holds its grant while the second
/// commits) with a reader waiting: the reader gets both, in reservation order, every time.
#[test]
fn two_writers_committing_out_of_order_wake_the_waiting_reader() {
    guarded("out-of-order commits", || {
        for _ in 0..ROUNDS {
            let chan = Channel::new(128);
            let mut r = chan.new_strong_reader();
            let mut a = chan.new_strong_writer();
            let mut b = chan.new_weak_writer();
            let reserved = Arc::new(Barrier::new(2));
            let committed_b = Arc::new(Barrier::new(2));
            let (r1, c1) = (reserved.clone(), committed_b.clone());
            let ta = thread::spawn(move || {
                let mut g = a.try_reserve(8).unwrap().unwrap();
                g.put(b"AAAA");
                r1.wait();
                c1.wait();
                g.put(b"aaaa");
                g.commit();
            });
            let tb = thread::spawn(move || {
                reserved.wait();
                b.blocking_write(b"BBBBbbbb").unwrap();
                committed_b.wait();
            });
            let (_, f1) = r.blocking_read_frame(64).unwrap();
            let (_, f2) = r.blocking_read_frame(64).unwrap();
            assert_eq!((f1, f2), (b"AAAAaaaa".to_vec(), b"BBBBbbbb".to_vec()));
            ta.join().unwrap();
            tb.join().unwrap();
        }
    });
}

/// Orphaning: the last `Channel` dropped and the last writer dropped while readers sleep: each
/// reader is woken and ends its stream.
#[test]
fn last_writer_and_channel_gone_while_readers_sleep_ends_their_streams() {
    guarded("orphan race", || {
        for round in 0..ROUNDS {
            let chan = Channel::new(64);
            let mut sr = chan.new_strong_reader();
            let mut wr = chan.try_new_weak_reader(StartAt::Tail).unwrap();
            let mut w = chan.new_weak_writer();
            let ts = thread::spawn(move || {
                let mut n = 0;
                while sr.blocking_read_frame(64).is_ok() {
                    n += 1;
                }
                n
            });
            let tw = thread::spawn(move || {
                while let Ok(_) | Err(ChannelError::ReaderBehind(_)) = wr.blocking_read_frame(64) {}
            });
            w.try_write(b"one").unwrap();
            if round % 2 == 0 {
                drop(chan);
                drop(w);
            } else {
                drop(w);
                drop(chan);
            }
            assert_eq!(ts.join().unwrap(), 1);
            tw.join().unwrap();
        }
    });
}

/// Many weak writers contending for one writer slot under `Park`, with a strong reader: none
/// is stranded waiting for the slot.
#[test]
fn weak_writers_contending_for_one_slot_are_never_stranded() {
    guarded("slot contention", || {
        let per = if cfg!(miri) { 5 } else { 500 };
        let chan = Channel::try_with_config(
            Config::new(128)
                .max_writers(1)
                .backpressure(Backpressure::Park),
        )
        .unwrap();
        let mut r = chan.new_strong_reader();
        let writers: Vec<_> = (0..3u8)
            .map(|t| {
                let mut w = chan.new_weak_writer();
                thread::spawn(move || {
                    for _ in 0..per {
                        w.blocking_write(&[t; 9]).unwrap();
                    }
                })
            })
            .collect();
        let c2 = chan.clone();
        let closer = thread::spawn(move || {
            for w in writers {
                w.join().unwrap();
            }
            c2.drain().unwrap();
        });
        let mut n = 0;
        while r.blocking_read_frame(64).is_ok() {
            n += 1;
        }
        closer.join().unwrap();
        assert_eq!(n, 3 * per);
    });
}

/// A reader is woken once per sleep: a waker disarms it. Woken for an aborted record (nothing
/// to read), it sleeps again with another waker and must be armed again: the next frame wakes
/// that waker once, and frames published before it is polled do not wake it again.
#[test]
fn a_reader_is_woken_once_per_sleep_and_armed_again_for_the_next() {
    let chan = Channel::with_parameters(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let (first, wa) = counting_waker();
    let (second, wb) = counting_waker();
    let mut buf = [0u8; 64];
    for i in 0..ROUNDS {
        assert!(r
            .poll_read(&mut Context::from_waker(&wa), &mut buf)
            .is_pending());
        w.try_reserve(8).unwrap().unwrap().abort();
        assert!(
            first.count() >= 1,
            "{i}: the aborted record wakes the reader"
        );
        assert!(r
            .poll_read(&mut Context::from_waker(&wb), &mut buf)
            .is_pending());
        let before = second.count();
        w.try_write(b"x").unwrap().unwrap();
        assert_eq!(
            second.count(),
            before + 1,
            "{i}: the reader sleeping again is woken"
        );
        w.try_write(b"y").unwrap().unwrap();
        assert_eq!(second.count(), before + 1, "{i}: woken once per sleep");
        let done = r.poll_read(&mut Context::from_waker(&wa), &mut buf);
        assert_eq!(done, Poll::Ready(Ok(2)));
    }
}

/// A reader still armed from a first poll and polled again with a new waker: the next frame
/// wakes the new waker, not the old one.
#[test]
fn a_reader_polled_again_with_a_new_waker_wakes_that_one() {
    let chan = Channel::with_parameters(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_weak_reader();
    let (old, wa) = counting_waker();
    let (new, wb) = counting_waker();
    for i in 0..ROUNDS {
        assert!(r
            .poll_read_frame(&mut Context::from_waker(&wa), 64)
            .is_pending());
        assert!(r
            .poll_read_frame(&mut Context::from_waker(&wb), 64)
            .is_pending());
        let (a0, b0) = (old.count(), new.count());
        w.try_write(b"z").unwrap().unwrap();
        assert_eq!((old.count(), new.count()), (a0, b0 + 1), "{i}");
        let polled = r.poll_read_frame(&mut Context::from_waker(&wa), 64);
        assert!(matches!(polled, Poll::Ready(Ok(_))), "{i}");
    }
}

/// A reader that leaves while armed (dropped, terminated, disarmed by a wake then dropped, or
/// downgraded and armed again) leaves its slot to a new reader that is woken as any other.
#[test]
fn a_reader_in_a_slot_left_by_a_sleeping_reader_is_woken() {
    let chan = Channel::with_parameters(1024, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut buf = [0u8; 16];
    for i in 0..ROUNDS {
        let mut r1 = chan.try_new_strong_reader(StartAt::Tail).unwrap();
        let (_c1, w1) = counting_waker();
        assert!(r1
            .poll_read(&mut Context::from_waker(&w1), &mut buf)
            .is_pending());
        match i % 4 {
            0 => drop(r1),
            1 => r1.terminate(),
            2 => {
                w.try_write(b"p").unwrap().unwrap();
                drop(r1);
            }
            _ => {
                let mut weak = r1.downgrade();
                assert!(weak
                    .poll_read(&mut Context::from_waker(&w1), &mut buf)
                    .is_pending());
            }
        }
        let mut r2 = chan.try_new_strong_reader(StartAt::Tail).unwrap();
        let (c2, w2) = counting_waker();
        assert!(r2
            .poll_read(&mut Context::from_waker(&w2), &mut buf)
            .is_pending());
        w.try_write(b"q").unwrap().unwrap();
        assert_eq!(c2.count(), 1, "round {i}: the new reader is woken");
        assert_eq!(
            r2.poll_read(&mut Context::from_waker(&w2), &mut buf),
            Poll::Ready(Ok(1))
        );
    }
}
