//! More loom models: the wake-up races (`docs/reliability.md`), run by `cargo xtask loom`
//! with the models of `loom_publication.rs` (every test name here contains `loom`).
//!
//! - terminate and drain racing a reader and a writer that are going to sleep;
//! - a strong reader dropped while a writer waits on it;
//! - a weak reader validating (byte reads and reads into a buffer) while a writer laps it;
//! - two writers committing out of reservation order with a reader waiting;
//! - a reader woken (and disarmed by its waker) that sleeps again and must be woken again,
//!   within one wait (woken for an aborted record) and across two.
//!
//! Each model parks in `loom::future::block_on`, so a lost wake-up is a deadlock loom reports.
//! The larger ones set a preemption bound of 1 themselves (the others take
//! `LOOM_MAX_PREEMPTIONS`, 1 in `test-all`); each finishes in seconds in release mode. Loom
//! treats `SeqCst` accesses as `AcqRel`, but models `SeqCst` fences exactly, and the core's
//! Dekker pairs are written with fences.

use crate::{Backpressure, Channel, ChannelError};
use alloc::vec::Vec;
use core::sync::atomic::Ordering::SeqCst;
use loom::sync::atomic::AtomicBool;
use loom::sync::Arc;
use loom::thread;

/// A frame of `len` bytes recognisable by `tag` (shared with `loom_edges`).
pub(crate) fn frame(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

/// A model builder with preemption bound 1 (shared with `loom_edges`).
pub(crate) fn bounded() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(1);
    b.max_branches = 100_000;
    b
}

/// `terminate()` racing a writer that is going to sleep on a full ring: it always ends with
/// `Terminated`.
#[test]
fn loom_terminate_wakes_writer_going_to_sleep() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let _gate = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        for t in 0..2 {
            w.try_write(&frame(t, 24)).unwrap().unwrap();
        }
        let c2 = chan.clone();
        let t = thread::spawn(move || c2.terminate().unwrap());
        let r = loom::future::block_on(w.write(&frame(9, 24)));
        assert_eq!(r, Err(ChannelError::Terminated));
        t.join().unwrap();
    });
}

/// `drain()` racing a writer that is going to sleep on a full ring: it is woken and refused
/// with `Draining`, never stranded.
#[test]
fn loom_drain_wakes_writer_going_to_sleep() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let _gate = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        for t in 0..2 {
            w.try_write(&frame(t, 24)).unwrap().unwrap();
        }
        let c2 = chan.clone();
        let t = thread::spawn(move || c2.drain().unwrap());
        let r = loom::future::block_on(w.write(&frame(9, 24)));
        assert_eq!(r, Err(ChannelError::Draining));
        t.join().unwrap();
    });
}

/// `drain()` racing a weak reader going to sleep at the end of the log, with one frame
/// committed concurrently: the reader gets the frame (if it was accepted) and then the end.
#[test]
fn loom_drain_ends_weak_readers_stream() {
    bounded().check(|| {
        let chan = Channel::with_parameters(64, Backpressure::Drop);
        let mut reader = chan.new_weak_reader();
        let mut w = chan.new_strong_writer();
        let c2 = chan.clone();
        let t = thread::spawn(move || {
            let accepted = w.try_write(b"last").is_ok();
            c2.drain().unwrap();
            accepted
        });
        let mut got = Vec::new();
        loop {
            match loom::future::block_on(reader.read_frame(64)) {
                Ok((_, f)) => got.push(f),
                Err(ChannelError::EndOfStream) => break,
                Err(e) => panic!("{e}"),
            }
        }
        let accepted = t.join().unwrap();
        assert_eq!(got.len(), usize::from(accepted));
        if accepted {
            assert_eq!(got[0], b"last");
        }
    });
}

/// `terminate()` racing a strong reader going to sleep and a writer committing: the reader ends
/// with `Terminated` (after the frame, or before it), never stranded.
#[test]
fn loom_terminate_races_commit_and_sleeping_reader() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let c2 = chan.clone();
        let tw = thread::spawn(move || {
            let _ = w.try_write(b"frame");
        });
        let tt = thread::spawn(move || c2.terminate().unwrap());
        loop {
            match loom::future::block_on(reader.read_frame(64)) {
                Ok((_, f)) => assert_eq!(f, b"frame"),
                Err(ChannelError::Terminated) => break,
                Err(e) => panic!("{e}"),
            }
        }
        tw.join().unwrap();
        tt.join().unwrap();
    });
}

/// A strong reader dropped while the writer waits on it (a full ring): the writer is always
/// woken and writes.
#[test]
fn loom_strong_reader_dropped_while_writer_waits() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let reader = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        for t in 0..2 {
            w.try_write(&frame(t, 24)).unwrap().unwrap();
        }
        let t = thread::spawn(move || drop(reader));
        let n = loom::future::block_on(w.write(&frame(9, 24))).unwrap();
        assert_eq!(n, 24);
        t.join().unwrap();
    });
}

/// A strong reader terminated (handle) while the writer waits on it, with a second strong
/// reader that already caught up: the writer is woken.
#[test]
fn loom_strong_reader_terminated_while_writer_waits() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut slow = chan.new_strong_reader();
        let mut fast = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        for t in 0..2 {
            w.try_write(&frame(t, 24)).unwrap().unwrap();
        }
        for _ in 0..2 {
            fast.try_read_frame(64).unwrap().unwrap();
        }
        let t = thread::spawn(move || slow.terminate());
        let n = loom::future::block_on(w.write(&frame(9, 24))).unwrap();
        assert_eq!(n, 24);
        t.join().unwrap();
        assert_eq!(fast.try_read_frame(64).unwrap().unwrap().1, frame(9, 24));
    });
}

/// A weak reader copying frames with byte reads while a writer laps it: every byte it delivers
/// belongs to an intact frame (a pipe read may span frames, and each frame's bytes match it),
/// and a lap is reported, never papered over.
#[test]
fn loom_weak_byte_reader_validates_against_lapping_writer() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_weak_reader();
        let mut w = chan.new_strong_writer();
        w.try_write(&frame(0, 24)).unwrap().unwrap();
        let writer = thread::spawn(move || {
            for t in 1..3u8 {
                w.try_write(&frame(t * 64, 24)).unwrap().unwrap();
            }
        });
        let mut buf = [0u8; 16];
        // The frame and offset the next byte belongs to; `None` where a frame must start (at
        // the beginning, and after a loss).
        let mut at: Option<(u8, u8)> = None;
        for _ in 0..3 {
            match reader.try_read(&mut buf) {
                Ok(Some(n)) => {
                    // A pipe: a read may end inside a frame and run on into the next one, but
                    // each frame's bytes are consecutive values from its tag.
                    for &b in &buf[..n] {
                        let (tag, off) = match at {
                            Some((tag, off)) if off < 24 => (tag, off),
                            _ => {
                                assert_eq!(b % 64, 0, "a frame started inside itself");
                                (b, 0)
                            }
                        };
                        assert_eq!(b, tag.wrapping_add(off), "torn bytes");
                        at = Some((tag, off + 1));
                    }
                }
                Ok(None) => thread::yield_now(),
                // (0 is allowed: a lap detected by a copy that lost no whole frame.)
                Err(ChannelError::ReaderBehind(n)) => {
                    assert_eq!(n % 8, 0);
                    at = None;
                }
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
    });
}

/// A weak reader reading into a caller's buffer while a writer laps it: whole frames or an
/// exact loss report, and the totals add up.
#[test]
fn loom_weak_reader_into_buffer_validates_against_lapping_writer() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_weak_reader();
        let mut w = chan.new_strong_writer();
        let writer = thread::spawn(move || {
            for t in 0..3u8 {
                w.try_write(&frame(t * 32, 24)).unwrap().unwrap();
            }
        });
        let mut buf = [0u8; 24];
        let (mut delivered, mut lost) = (0u64, 0u64);
        while delivered + lost / 24 < 3 {
            match reader.try_read_frame_into(&mut buf) {
                Ok(Some((_, n))) => {
                    assert_eq!(n, 24);
                    assert_eq!(&buf[..], &frame(buf[0], 24)[..], "never a torn frame");
                    delivered += 1;
                }
                Ok(None) => thread::yield_now(),
                Err(ChannelError::ReaderBehind(n)) => {
                    assert_eq!(n % 24, 0, "loss is whole frames of payload");
                    lost += n;
                }
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        assert_eq!(reader.lost_bytes(), lost);
        assert_eq!(delivered + reader.lost_frames(), 3);
    });
}

/// Two writers commit out of reservation order: A reserves first and commits after B, with the
/// reader already waiting. The reader gets A's frame, then B's, both whole, and is woken for
/// each (a lost wake-up deadlocks the model).
#[test]
fn loom_two_writers_commit_out_of_order_with_reader_waiting() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut a = chan.new_strong_writer();
        let mut b = chan.new_strong_writer();
        let ida = a.id().unwrap();
        // A's reservation is made before B's.
        let ta = thread::spawn(move || {
            let mut g = a.try_reserve(8).unwrap().unwrap();
            g.put(b"aaaa");
            thread::yield_now();
            g.put(b"AAAA");
            g.commit();
        });
        let tb = thread::spawn(move || {
            // B may reserve before or after A: both orders must deliver whole frames.
            loom::future::block_on(b.write(b"bbbbBBBB")).unwrap();
        });
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(loom::future::block_on(reader.read_frame(64)).unwrap());
        }
        ta.join().unwrap();
        tb.join().unwrap();
        let a_frame = (ida, b"aaaaAAAA".to_vec());
        assert!(got.contains(&a_frame), "{got:?}");
        assert!(got.iter().any(|(_, f)| f == b"bbbbBBBB"));
    });
}

/// Out-of-order completion where the first reservation is aborted (its grant dropped) after
/// the second commits: the reader skips it and is woken for the second.
#[test]
fn loom_abort_after_later_commit_wakes_waiting_reader() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut a = chan.new_strong_writer();
        let mut b = chan.new_strong_writer();
        // B reserves after A (so A's record is first), commits, then A aborts.
        let reserved = Arc::new(AtomicBool::new(false));
        let (a_reserved, b_waits) = (reserved.clone(), reserved);
        let committed = Arc::new(AtomicBool::new(false));
        let c2 = committed.clone();
        let ta = thread::spawn(move || {
            let mut g = a.try_reserve(8).unwrap().unwrap();
            g.put(b"gone");
            a_reserved.store(true, SeqCst);
            while !c2.load(SeqCst) {
                thread::yield_now();
            }
            drop(g);
        });
        let tb = thread::spawn(move || {
            while !b_waits.load(SeqCst) {
                thread::yield_now();
            }
            b.try_write(b"kept").unwrap().unwrap();
            committed.store(true, SeqCst);
        });
        let (_, f) = loom::future::block_on(reader.read_frame(64)).unwrap();
        assert_eq!(f, b"kept");
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// One writer does `first`, yields, then writes `b"last"`; the reader waits
/// (`block_on(read_frame)`) for each frame of `expect` in turn.
fn reader_waits_through(first: fn(&mut crate::StrongWriter), expect: &'static [&'static [u8]]) {
    bounded().check(move || {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let t = thread::spawn(move || {
            first(&mut w);
            thread::yield_now();
            w.try_write(b"last").unwrap().unwrap();
        });
        for want in expect {
            let (_, f) = loom::future::block_on(reader.read_frame(64)).unwrap();
            assert_eq!(f, *want);
        }
        t.join().unwrap();
    });
}

/// A waker disarms the reader it wakes (`Shared::wake_sleeping_readers`), so a reader that
/// sleeps again must arm again: the reader waits for each of two frames published one at a
/// time. A reader left unarmed after its first wake never wakes for the second frame, a
/// deadlock loom reports.
#[test]
fn loom_reader_woken_once_sleeps_again_and_is_woken_again() {
    reader_waits_through(
        |w| {
            w.try_write(b"first").unwrap().unwrap();
        },
        &[b"first", b"last"],
    );
}

/// As above within one wait: the writer's first record is aborted, so the reader woken for it
/// finds nothing to read and sleeps again in the same `read_frame`, still counting itself
/// asleep while its waker has disarmed it. It must arm again (`Shared::sleep_reader` checks
/// the flag, not the reader's own idea of it) or the frame after never wakes it.
#[test]
fn loom_reader_woken_for_an_aborted_record_arms_again() {
    reader_waits_through(|w| w.try_reserve(8).unwrap().unwrap().abort(), &[b"last"]);
}
