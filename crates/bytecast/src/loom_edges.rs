//! Loom models of the edges of the protocol that safe code can reach: a leaked (`mem::forget`)
//! grant, the admission priority of a writer waiting for space, and a writer converted between
//! kinds while a reader waits for the end of the stream. Run by `cargo xtask loom` with the
//! other models (every test name contains `loom`).
//!
//! Each model parks in `loom::future::block_on`, so a lost wake-up or a stall is a deadlock that
//! loom reports; the bounded ones set a preemption bound of 1.

use crate::loom_wakeups::{bounded, frame};
use crate::Channel;
use alloc::vec::Vec;
use loom::thread;

/// A grant forgotten with bytes in it, then its writer reused, while another writer commits:
/// the reader gets exactly the two committed frames, never a byte of the forgotten one, and is
/// never stalled by it.
#[test]
fn loom_forgotten_grant_is_aborted_when_its_writer_is_reused() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut a = chan.new_strong_writer();
        let mut b = chan.new_weak_writer();
        let ta = thread::spawn(move || {
            let mut g = a.try_reserve(8).unwrap().unwrap();
            g.put(&frame(0xEE, 8));
            core::mem::forget(g);
            loom::future::block_on(a.write(&frame(1, 8))).unwrap();
        });
        let tb = thread::spawn(move || {
            loom::future::block_on(b.write(&frame(2, 8))).unwrap();
        });
        let mut got = Vec::new();
        for _ in 0..2 {
            let (_, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
            got.push(bytes);
        }
        got.sort();
        assert_eq!(got, [frame(1, 8), frame(2, 8)]);
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// A grant forgotten, then its writer dropped, while another writer commits: the other frame
/// is delivered (the forgotten reservation does not hold it back) and then the end of stream.
#[test]
fn loom_forgotten_grant_is_aborted_when_its_writer_is_dropped() {
    loom::model(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut a = chan.new_strong_writer();
        let mut b = chan.new_strong_writer();
        drop(chan);
        let ta = thread::spawn(move || {
            let g = a.try_reserve(8).unwrap().unwrap();
            core::mem::forget(g);
            drop(a);
        });
        loom::future::block_on(b.write(&frame(2, 8))).unwrap();
        drop(b);
        let (_, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
        assert_eq!(bytes, frame(2, 8));
        assert_eq!(
            loom::future::block_on(reader.read_frame(64)),
            Err(crate::ChannelError::EndOfStream)
        );
        ta.join().unwrap();
    });
}

/// A full-size frame waits for space while a small frame is offered: the small writer leaves
/// the room to the waiting one (admission priority) and is refused meanwhile, and the big frame
/// is admitted and woken once the reader frees the ring (no stall); the small one fits after it.
#[test]
fn loom_waiting_full_size_frame_is_admitted_before_a_later_small_one() {
    bounded().check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut filler = chan.new_strong_writer();
        filler.try_write(&frame(9, 24)).unwrap().unwrap();
        let mut big = chan.new_strong_writer();
        let mut small = chan.new_strong_writer();
        let tbig = thread::spawn(move || {
            loom::future::block_on(big.write(&frame(1, 56))).unwrap();
        });
        // Refused only if the big writer already waits with the priority: without it, 16 bytes
        // fit beside the 32 the filler holds.
        let early = small.try_write(&frame(2, 8)).unwrap();
        let mut read = || loom::future::block_on(reader.read_frame(64)).unwrap().1;
        assert_eq!(read(), frame(9, 24));
        if early.is_some() {
            let mut rest = [read(), read()];
            rest.sort();
            assert_eq!(rest, [frame(1, 56), frame(2, 8)]);
        } else {
            assert_eq!(read(), frame(1, 56), "the waiting frame goes first");
            assert_eq!(small.try_write(&frame(2, 8)).unwrap(), Some(8));
            assert_eq!(read(), frame(2, 8));
        }
        tbig.join().unwrap();
    });
}

/// With the `Channel` dropped, a writer is downgraded and upgraded between its two frames while
/// the reader waits: the reader gets both frames and only then the end of stream.
#[test]
fn loom_writer_conversion_is_never_end_of_stream() {
    loom::model(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        drop(chan);
        let tw = thread::spawn(move || {
            w.try_write(&frame(1, 8)).unwrap().unwrap();
            let weak = w.downgrade();
            let mut strong = weak.upgrade().map_err(|(_, e)| e).unwrap();
            strong.try_write(&frame(2, 8)).unwrap().unwrap();
        });
        for t in 1..=2 {
            let (_, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
            assert_eq!(
                bytes,
                frame(t, 8),
                "no end of stream while the writer lives"
            );
        }
        assert_eq!(
            loom::future::block_on(reader.read_frame(64)),
            Err(crate::ChannelError::EndOfStream)
        );
        tw.join().unwrap();
    });
}
