//! Loom models of publication and gating: writers publishing in reservation order, a strong
//! reader gating and waking a writer, aborted grants skipped. Run by `cargo xtask loom`
//! (`RUSTFLAGS="--cfg bytecast_loom" cargo test -p bytecast --lib --release loom`).
//!
//! Each model uses a 64-byte ring (frames of at most 56 bytes) and two or three threads, and
//! drives the public handles, so the real reservation, publication, gating and sleep/wake code
//! runs under loom's scheduler. `loom::future::block_on` parks on loom's own primitives, so a lost
//! wake-up shows up as a deadlock that loom reports.

use crate::{Backpressure, Channel, ChannelError};
use loom::thread;

fn frame(tag: u8, len: usize) -> alloc::vec::Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

/// Two writers commit concurrently, possibly out of reservation order; the publication baton
/// must publish both, and a reader waiting on the channel must be woken for each.
#[test]
fn loom_two_writers_publish_in_reservation_order() {
    loom::model(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let handles: alloc::vec::Vec<_> = (0..2u8)
            .map(|t| {
                let mut w = chan.new_strong_writer();
                thread::spawn(move || {
                    let n = loom::future::block_on(w.write(&frame(t * 16, 8))).unwrap();
                    assert_eq!(n, 8);
                    w.id().unwrap()
                })
            })
            .collect();
        let mut seen = alloc::vec::Vec::new();
        for _ in 0..2 {
            let (id, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
            assert_eq!(bytes, frame(bytes[0], 8), "frame delivered whole");
            seen.push(id);
        }
        let ids: alloc::vec::Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        seen.sort_unstable();
        let mut ids = ids;
        ids.sort_unstable();
        assert_eq!(seen, ids);
    });
}

/// A writer that fills a 64-byte ring must wait for the strong reader and be woken by its
/// release (the writer-side sleep/wake handshake and the gate refresh).
#[test]
fn loom_strong_reader_gates_and_wakes_writer() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.max_branches = 100_000;
    model.check(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let writer = thread::spawn(move || {
            for t in 0..3u8 {
                loom::future::block_on(w.write(&frame(t, 24))).unwrap();
            }
        });
        for t in 0..3u8 {
            let (_, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
            assert_eq!(bytes, frame(t, 24), "strong reader loses nothing");
        }
        writer.join().unwrap();
    });
}

/// A dropped (aborted) grant is skipped and never stalls a reader waiting behind it.
#[test]
fn loom_aborted_grant_is_skipped() {
    loom::model(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let mut a = chan.new_strong_writer();
        let mut b = chan.new_weak_writer();
        let ta = thread::spawn(move || {
            let mut g = loom::future::block_on(a.reserve(8)).unwrap();
            g.put(b"aaaa");
            drop(g);
        });
        let tb = thread::spawn(move || {
            loom::future::block_on(b.write(b"bbbbbbbb")).unwrap();
        });
        let (_, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
        assert_eq!(bytes, b"bbbbbbbb");
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// `terminate()` racing a reader that is going to sleep always wakes it with `Terminated`.
#[test]
fn loom_terminate_wakes_sleeping_reader() {
    loom::model(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_strong_reader();
        let c2 = chan.clone();
        let t = thread::spawn(move || c2.terminate().unwrap());
        let r = loom::future::block_on(reader.read_frame(64));
        assert_eq!(r, Err(ChannelError::Terminated));
        t.join().unwrap();
    });
}

/// `drain()` racing a reader that is going to sleep ends its stream after the last frame.
#[test]
fn loom_drain_ends_stream_after_last_frame() {
    loom::model(|| {
        let chan = Channel::with_parameters(64, Backpressure::Drop);
        let mut reader = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let c2 = chan.clone();
        let t = thread::spawn(move || {
            w.try_write(b"last").unwrap();
            c2.drain().unwrap();
        });
        let (_, bytes) = loom::future::block_on(reader.read_frame(64)).unwrap();
        assert_eq!(bytes, b"last");
        assert_eq!(
            loom::future::block_on(reader.read_frame(64)),
            Err(ChannelError::EndOfStream)
        );
        t.join().unwrap();
    });
}

/// A weak reader racing a writer that laps it never returns torn bytes: it gets whole frames or
/// an exact loss report.
#[test]
fn loom_weak_reader_validates_against_lapping_writer() {
    loom::model(|| {
        let chan = Channel::new(64);
        let mut reader = chan.new_weak_reader();
        let mut w = chan.new_strong_writer();
        let writer = thread::spawn(move || {
            for t in 0..3u8 {
                w.try_write(&frame(t * 32, 24)).unwrap().unwrap();
            }
        });
        let mut delivered = 0u64;
        let mut lost = 0u64;
        loop {
            match reader.try_read_frame(64) {
                Ok(Some((_, bytes))) => {
                    assert_eq!(bytes, frame(bytes[0], 24), "never a torn frame");
                    delivered += 1;
                }
                Ok(None) => {
                    if delivered + lost / 24 == 3 {
                        break;
                    }
                    thread::yield_now();
                }
                Err(ChannelError::ReaderBehind(n)) => {
                    assert_eq!(n % 24, 0, "loss is whole frames of payload");
                    lost += n;
                }
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        assert_eq!(delivered + lost / 24, 3);
    });
}
