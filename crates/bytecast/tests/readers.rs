//! Readers: a strong reader is never overwritten and frees writers when it goes; a weak reader
//! never holds writers back, is told its exact loss when lapped and resumes at a whole frame;
//! byte reads and frame reads (copied, into a buffer, borrowed) deliver payload in order;
//! `FrameTooLong` leaves the reader in place and `try_skip_frame` moves on; a new reader starts
//! at the oldest frame still whole, or at the tail on request.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{Channel, ChannelError, StartAt, StrongReader};
use futures::executor::block_on;
use std::sync::Arc;
use std::task::{Context, Poll};

#[path = "support/harness.rs"]
mod harness;
use harness::counting_waker;
#[path = "support/payloads.rs"]
mod payloads;
use payloads::{fill, payload, read_all_strong, read_all_weak};

/// Loop counts, scaled down under Miri.
const N: usize = if cfg!(miri) { 50 } else { 5_000 };

#[test]
fn strong_reader_is_never_overwritten() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut slow = chan.new_strong_reader();
    let mut fast = chan.new_strong_reader();
    let mut expected = Vec::new();
    for round in 0..N / 10 + 3 {
        let written = fill(&mut w, 1 + round % 24);
        assert!(!written.is_empty());
        for p in &written {
            assert_eq!(&fast.try_read_frame(64).unwrap().unwrap().1, p);
        }
        assert_eq!(
            w.try_write(&payload(0, 1 + round % 24)),
            Ok(None),
            "the slow strong reader still gates"
        );
        for p in &written {
            assert_eq!(&slow.try_read_frame(64).unwrap().unwrap().1, p);
        }
        expected.extend(written);
    }
    assert_eq!(slow.try_read_frame(64), Ok(None));
}

#[test]
fn dropping_a_strong_reader_frees_writers_and_wakes_them() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let r = chan.new_strong_reader();
    fill(&mut w, 8);
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(w.poll_write(&mut cx, b"12345678"), Poll::Pending);
    drop(r);
    assert!(
        count.count() >= 1,
        "dropping the strong reader woke the writer"
    );
    assert_eq!(w.poll_write(&mut cx, b"12345678"), Poll::Ready(Ok(8)));
}

#[test]
fn terminating_or_downgrading_a_strong_reader_frees_writers_and_wakes_them() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let r2 = chan.new_strong_reader();
    fill(&mut w, 8);
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(w.poll_write(&mut cx, b"12345678"), Poll::Pending);
    r.terminate();
    assert_eq!(r.try_read_frame(64), Err(ChannelError::Terminated));
    let woken = count.count();
    assert!(woken >= 1, "terminating a strong reader woke the writer");
    assert_eq!(
        w.poll_write(&mut cx, b"12345678"),
        Poll::Pending,
        "r2 still gates"
    );
    let weak = r2.downgrade();
    assert!(
        count.count() > woken,
        "downgrading a strong reader woke the writer"
    );
    assert_eq!(w.poll_write(&mut cx, b"12345678"), Poll::Ready(Ok(8)));
    drop(weak);
}

#[test]
fn weak_reader_never_holds_writers_back() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let _weak = chan.new_weak_reader();
    for i in 0..N {
        assert_eq!(w.try_write(&payload(i, 24)), Ok(Some(24)));
    }
}

#[test]
fn weak_reader_lapped_reports_exact_loss_and_resumes_at_a_whole_frame() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut weak = chan.new_weak_reader();
    let id = w.id().unwrap();
    let lens = [8usize, 3, 20, 5, 12, 7, 16, 1, 24, 9, 2, 17, 6, 24, 11];
    let mut written: Vec<Vec<u8>> = Vec::new();
    let mut delivered = 0usize;
    let mut reported_bytes = 0u64;
    let mut lost_bytes_total = 0u64;
    let mut cursor = 0usize; // index in `written` of the next frame not yet accounted for
    let mut errors = 0;
    for round in 0..if cfg!(miri) { 3 } else { 40 } {
        // Write 2 to 10 frames (a varying amount of laps), then read everything.
        for k in 0..2 + round % 9 {
            let p = payload(written.len(), lens[(round + k) % lens.len()]);
            assert_eq!(w.try_write(&p), Ok(Some(p.len())));
            written.push(p);
        }
        let frames_before = weak.lost_frames();
        loop {
            match weak.try_read_frame(64) {
                Ok(Some((got_id, f))) => {
                    assert_eq!(got_id, id);
                    // Account for every frame skipped since the last delivery.
                    let start = cursor;
                    while written[cursor] != f {
                        cursor += 1;
                        assert!(cursor < written.len(), "delivered a frame never written");
                    }
                    let skipped: u64 = written[start..cursor].iter().map(|p| p.len() as u64).sum();
                    assert_eq!(
                        skipped, reported_bytes,
                        "ReaderBehind must carry exactly the payload of the frames skipped"
                    );
                    lost_bytes_total += skipped;
                    reported_bytes = 0;
                    cursor += 1;
                    delivered += 1;
                }
                Ok(None) => break,
                Err(ChannelError::ReaderBehind(n)) => {
                    assert!(n > 0);
                    reported_bytes += n;
                    errors += 1;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(reported_bytes, 0, "a loss report not followed by a frame");
        assert_eq!(cursor, written.len(), "the reader caught up");
        let _ = frames_before;
        assert_eq!(weak.lost_bytes(), lost_bytes_total);
        assert_eq!(
            weak.lost_frames() as usize + delivered,
            written.len(),
            "lost_frames + delivered = written"
        );
    }
    assert!(errors > 0, "the scenario must lap the weak reader");
    let stats = chan.readers();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].lost_bytes, weak.lost_bytes());
    assert_eq!(stats[0].lost_frames, weak.lost_frames());
    assert!(!stats[0].strong);
}

#[test]
fn weak_reader_lapped_loses_only_the_frames_writers_overwrote() {
    // SEMANTICS: "it resumes at the oldest frame still whole" and "it loses only what writers
    // overwrote". A 64-byte ring holds four 8-byte frames (16 bytes each with the header); the
    // fifth overwrites only the first, so frames 1 to 4 are whole and must be delivered.
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut weak = chan.new_weak_reader();
    for i in 0..5 {
        assert_eq!(w.try_write(&payload(i, 8)), Ok(Some(8)));
    }
    assert_eq!(
        weak.try_read_frame(64),
        Err(ChannelError::ReaderBehind(8)),
        "only frame 0 (8 payload bytes) was overwritten"
    );
    assert_eq!((weak.lost_frames(), weak.lost_bytes()), (1, 8));
    let got: Vec<Vec<u8>> = read_all_weak(&mut weak).into_iter().map(|f| f.1).collect();
    assert_eq!(got, (1..5).map(|i| payload(i, 8)).collect::<Vec<_>>());
}

#[test]
fn weak_reader_lapped_in_a_large_ring_resumes_at_the_oldest_frame_still_whole() {
    // 512-byte ring. Records: [0,128) [128,256) [256,288) [288,304) [304,320) [320,448)
    // [448,512) [512,640) [640,768) [768,808). The ring now holds [296, 808): frame 3 at 288
    // was (partly) overwritten, frame 4 at 304 is whole and must be delivered.
    let lens = [120usize, 120, 24, 8, 8, 120, 56, 120, 120, 32];
    let chan = Channel::new(512);
    let mut w = chan.new_strong_writer();
    let mut weak = chan.new_weak_reader();
    for (i, &len) in lens.iter().enumerate() {
        assert_eq!(w.try_write(&payload(i, len)), Ok(Some(len)));
    }
    assert_eq!(
        weak.try_read_frame(1024),
        Err(ChannelError::ReaderBehind(120 + 120 + 24 + 8)),
        "frames 0 to 3 were lost, frame 4 is whole"
    );
    assert_eq!((weak.lost_frames(), weak.lost_bytes()), (4, 272));
    let got: Vec<Vec<u8>> = read_all_weak(&mut weak).into_iter().map(|f| f.1).collect();
    let expected: Vec<Vec<u8>> = (4..lens.len()).map(|i| payload(i, lens[i])).collect();
    assert_eq!(got, expected);
    let mut late = chan.new_weak_reader();
    let got: Vec<Vec<u8>> = read_all_weak(&mut late).into_iter().map(|f| f.1).collect();
    assert_eq!(
        got, expected,
        "a new reader starts at the same oldest whole frame"
    );
}

#[test]
fn weak_reader_gets_every_frame_still_in_the_ring() {
    let chan = Channel::new(1024);
    let mut w = chan.new_strong_writer();
    let mut strong = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let written: Vec<Vec<u8>> = (0..20).map(|i| payload(i, 1 + i)).collect();
    for p in &written {
        assert_eq!(w.try_write(p), Ok(Some(p.len())));
    }
    // The strong reader consumes everything first; the weak reader still gets it all.
    assert_eq!(read_all_strong(&mut strong).len(), written.len());
    let got: Vec<Vec<u8>> = read_all_weak(&mut weak).into_iter().map(|f| f.1).collect();
    assert_eq!(got, written);
    assert_eq!((weak.lost_frames(), weak.lost_bytes()), (0, 0));
}

#[test]
fn byte_reads_deliver_payload_in_order_across_frame_boundaries() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    for f in [&b"abc"[..], b"defg", b"h", b"ijklmnopq"] {
        assert_eq!(w.try_write(f), Ok(Some(f.len())));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 2];
    while let Some(n) = r.try_read(&mut buf).unwrap() {
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"abcdefghijklmnopq");
    let mut got = Vec::new();
    let mut buf = [0u8; 5];
    while got.len() < 17 {
        let n = block_on(weak.read(&mut buf)).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"abcdefghijklmnopq");
    assert_eq!(r.try_read(&mut buf), Ok(None));
}

#[test]
fn a_byte_read_fills_the_buffer_across_frames_as_a_pipe() {
    let chan = Channel::new(1024);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    for f in [&b"abc"[..], b"defg", b"h", b"ijklmnopq"] {
        w.try_write(f).unwrap().unwrap();
    }
    // One read takes every published frame that fits, and stops inside a frame when full.
    let mut buf = [0u8; 12];
    assert_eq!(r.try_read(&mut buf), Ok(Some(12)));
    assert_eq!(&buf, b"abcdefghijkl");
    assert_eq!(block_on(weak.read(&mut buf)), Ok(12));
    // It returns what is published without waiting for the buffer to fill.
    let mut big = [0u8; 64];
    assert_eq!(r.try_read(&mut big), Ok(Some(5)));
    assert_eq!(&big[..5], b"mnopq");
    assert_eq!(r.try_read(&mut big), Ok(None));
    // Fifty small frames arrive in one read of a large buffer.
    for i in 0..50u8 {
        w.try_write(&[i; 3]).unwrap().unwrap();
    }
    let mut all = [0u8; 400];
    assert_eq!(r.try_read(&mut all), Ok(Some(150)));
    assert!(all[..150]
        .chunks(3)
        .enumerate()
        .all(|(i, c)| c == [i as u8; 3]));
    // End of stream comes after the last bytes, as every core read reports it.
    chan.drain().unwrap();
    assert_eq!(weak.try_read(&mut all), Ok(Some(155)));
    assert_eq!(weak.try_read(&mut all), Err(ChannelError::EndOfStream));
    assert_eq!(r.try_read(&mut all), Err(ChannelError::EndOfStream));
    assert_eq!(r.try_read(&mut []), Ok(Some(0)));
}

#[test]
fn a_weak_readers_byte_read_never_joins_bytes_from_both_sides_of_a_loss() {
    let chan = Channel::new(64);
    let mut w = chan.new_weak_writer();
    let mut weak = chan.new_weak_reader();
    w.try_write(b"first").unwrap().unwrap();
    let mut buf = [0u8; 256];
    assert_eq!(weak.try_read(&mut buf[..2]), Ok(Some(2)));
    // Writers lap the reader: the rest of "first" and more are overwritten.
    for i in 0..40u8 {
        w.try_write(&[i; 7]).unwrap().unwrap();
    }
    // The loss comes alone, then the bytes after it.
    assert!(matches!(
        weak.try_read(&mut buf),
        Err(ChannelError::ReaderBehind(n)) if n > 3
    ));
    let n = weak.try_read(&mut buf).unwrap().unwrap();
    assert!(n > 0 && n % 7 == 0, "whole frames after the loss: {n}");
    assert!(buf[..n].chunks(7).all(|c| c.iter().all(|&b| b == c[0])));
}

#[test]
fn frame_read_after_a_partial_byte_read_returns_the_rest_of_that_frame() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let id = w.id().unwrap();
    for f in [&b"hello"[..], b"world", b"frame", b"bytes"] {
        w.try_write(f).unwrap().unwrap();
    }
    let mut two = [0u8; 2];
    assert_eq!(r.try_read(&mut two), Ok(Some(2)));
    assert_eq!(&two, b"he");
    assert_eq!(r.try_read_frame(64), Ok(Some((id, b"llo".to_vec()))));
    assert_eq!(r.try_read(&mut two), Ok(Some(2)));
    let mut buf = [0u8; 8];
    assert_eq!(r.try_read_frame_into(&mut buf), Ok(Some((id, 3))));
    assert_eq!(&buf[..3], b"rld");
    assert_eq!(r.try_read(&mut two), Ok(Some(2)));
    {
        let f = r.try_borrow_frame().unwrap().unwrap();
        assert_eq!((f.writer(), &f[..]), (id, &b"ame"[..]));
    }
    assert_eq!(r.try_read(&mut two), Ok(Some(2)));
    assert_eq!(r.try_skip_frame(), Ok(Some(3)));
    assert_eq!(r.try_read_frame(64), Ok(None));
    assert_eq!(weak.try_read(&mut two), Ok(Some(2)));
    assert_eq!(weak.try_read_frame(64), Ok(Some((id, b"llo".to_vec()))));
    assert_eq!(weak.try_read_frame(64), Ok(Some((id, b"world".to_vec()))));
}

#[test]
fn frame_too_long_leaves_the_reader_in_place_and_skip_frame_moves_on() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let id = w.id().unwrap();
    w.try_write(&[7; 32]).unwrap().unwrap();
    w.try_write(b"next").unwrap().unwrap();
    for _ in 0..3 {
        assert_eq!(
            r.try_read_frame(8),
            Err(ChannelError::FrameTooLong { len: 32, limit: 8 })
        );
        assert_eq!(
            r.try_read_frame_into(&mut [0; 8]),
            Err(ChannelError::FrameTooLong { len: 32, limit: 8 })
        );
        assert_eq!(
            weak.try_read_frame(31),
            Err(ChannelError::FrameTooLong { len: 32, limit: 31 })
        );
    }
    let msg = ChannelError::FrameTooLong { len: 32, limit: 8 }.to_string();
    assert!(
        msg.contains("32"),
        "the error names the frame's length: {msg}"
    );
    assert_eq!(
        r.try_read_frame(32),
        Ok(Some((id, vec![7; 32]))),
        "retry with room"
    );
    assert_eq!(weak.try_skip_frame(), Ok(Some(32)));
    assert_eq!(weak.try_read_frame(8), Ok(Some((id, b"next".to_vec()))));
    assert_eq!(r.try_read_frame(8), Ok(Some((id, b"next".to_vec()))));
}

#[test]
fn skipping_a_frame_releases_its_space_for_parked_writers() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    fill(&mut w, 24);
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(w.poll_write(&mut cx, &[1; 24]), Poll::Pending);
    assert_eq!(
        r.try_read_frame(4),
        Err(ChannelError::FrameTooLong { len: 24, limit: 4 })
    );
    assert_eq!(r.try_skip_frame(), Ok(Some(24)));
    assert!(count.count() >= 1);
    assert_eq!(w.poll_write(&mut cx, &[1; 24]), Poll::Ready(Ok(24)));
}

#[test]
fn borrowed_frame_is_zero_copy_and_released_when_dropped() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let id = w.id().unwrap();
    let written = fill(&mut w, 24);
    assert_eq!(written.len(), 2);
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    {
        let f = r.try_borrow_frame().unwrap().expect("a frame");
        assert_eq!(f.writer(), id);
        assert_eq!(f.bytes(), &written[0][..]);
        assert_eq!(&*f, &written[0][..]);
        assert!(format!("{f:?}").contains("FrameRef"));
        // Still held: the writer cannot reuse its space.
        assert_eq!(w.poll_write(&mut cx, &[9; 24]), Poll::Pending);
    }
    assert!(
        count.count() >= 1,
        "releasing the borrowed frame woke the writer"
    );
    assert_eq!(w.poll_write(&mut cx, &[9; 24]), Poll::Ready(Ok(24)));
    let f = block_on(r.borrow_frame()).unwrap();
    assert_eq!(&*f, &written[1][..]);
    drop(f);
    assert_eq!(&*r.try_borrow_frame().unwrap().unwrap(), &[9; 24][..]);
    assert!(r.try_borrow_frame().unwrap().is_none());
}

#[test]
fn new_reader_starts_at_the_oldest_frame_or_at_the_tail_on_request() {
    let chan = Channel::new(1024);
    let mut w = chan.new_strong_writer();
    for i in 0..3 {
        w.try_write(&payload(i, 10)).unwrap().unwrap();
    }
    let mut oldest_strong = chan.new_strong_reader();
    let mut oldest_weak = chan.new_weak_reader();
    let mut tail_strong = chan.try_new_strong_reader(StartAt::Tail).unwrap();
    let mut tail_weak = chan.try_new_weak_reader(StartAt::Tail).unwrap();
    let mut default_start = chan.try_new_strong_reader(StartAt::default()).unwrap();
    assert_eq!(StartAt::default(), StartAt::Oldest);
    assert_eq!(tail_strong.try_read_frame(64), Ok(None));
    assert_eq!(tail_weak.try_read_frame(64), Ok(None));
    w.try_write(&payload(3, 10)).unwrap().unwrap();
    let all: Vec<Vec<u8>> = (0..4).map(|i| payload(i, 10)).collect();
    let frames = |v: Vec<(u16, Vec<u8>)>| v.into_iter().map(|f| f.1).collect::<Vec<_>>();
    assert_eq!(frames(read_all_strong(&mut oldest_strong)), all);
    assert_eq!(frames(read_all_weak(&mut oldest_weak)), all);
    assert_eq!(frames(read_all_strong(&mut default_start)), all);
    assert_eq!(frames(read_all_strong(&mut tail_strong)), all[3..]);
    assert_eq!(frames(read_all_weak(&mut tail_weak)), all[3..]);
    let r = chan.try_new_reader(false, StartAt::Tail).unwrap();
    drop(r);
}

#[test]
fn new_reader_after_wraparound_starts_at_the_oldest_frame_still_whole() {
    // SEMANTICS: "A new reader starts at the oldest whole frame still in the ring". Five 8-byte
    // frames into a 64-byte ring: frame 0 was overwritten, frames 1 to 4 are whole.
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    for i in 0..5 {
        w.try_write(&payload(i, 8)).unwrap().unwrap();
    }
    let expected: Vec<Vec<u8>> = (1..5).map(|i| payload(i, 8)).collect();
    let mut weak = chan.new_weak_reader();
    let got: Vec<Vec<u8>> = read_all_weak(&mut weak).into_iter().map(|f| f.1).collect();
    assert_eq!(got, expected, "new weak reader (StartAt::Oldest)");
    let mut strong = chan.new_strong_reader();
    let got: Vec<Vec<u8>> = read_all_strong(&mut strong)
        .into_iter()
        .map(|f| f.1)
        .collect();
    assert_eq!(got, expected, "new strong reader (StartAt::Oldest)");
}

/// A 64-byte ring with four 8-byte frames, of which a strong reader (returned, still alive)
/// read frame 0; then a write that does not fit is refused. Nothing was overwritten: frame 0 is
/// still whole in the ring, so a new reader starts there.
fn four_frames_one_read_and_a_refused_write() -> (Arc<Channel>, StrongReader) {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut s = chan.new_strong_reader();
    for i in 0..4 {
        w.try_write(&payload(i, 8)).unwrap().unwrap();
    }
    s.try_read_frame(64).unwrap().unwrap();
    assert_eq!(
        w.try_write(&[9; 24]),
        Ok(None),
        "needs 32 bytes, 16 are free"
    );
    (chan, s)
}

#[test]
fn new_weak_reader_starts_at_the_oldest_frame_still_whole_after_a_refused_write() {
    let (chan, _s) = four_frames_one_read_and_a_refused_write();
    let mut weak = chan.new_weak_reader();
    assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, payload(0, 8));
    // No strong reader: a write refused behind an open grant, then the grant aborted.
    let chan = Channel::new(64);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_weak_writer();
    b.try_write(&[1]).unwrap().unwrap(); // [0, 16)
    b.try_write(&[2]).unwrap().unwrap(); // [16, 32)
    let g = b.try_reserve(1).unwrap().unwrap(); // [32, 48), open
    a.try_write(&payload(7, 9)).unwrap().unwrap(); // [48, 72), into the spare tail
    drop(g);
    let g = a.try_reserve(1).unwrap().unwrap(); // [72, 88), open
    assert_eq!(
        b.try_write(&[3; 49]),
        Ok(None),
        "refused behind the open grant"
    );
    drop(g);
    // The ring holds [32, 88): the 9-byte frame at 48 is whole.
    let mut weak = chan.new_weak_reader();
    assert_eq!(
        weak.try_read_frame(64).unwrap().map(|f| f.1),
        Some(payload(7, 9)),
        "the new reader skipped a frame still whole in the ring"
    );
}

#[test]
fn new_strong_reader_starts_at_the_oldest_frame_still_whole_after_a_refused_write() {
    // As above, for a strong reader: "A new reader starts at the oldest whole frame still in
    // the ring", whoever else exists.
    let (chan, _s) = four_frames_one_read_and_a_refused_write();
    let mut strong = chan.new_strong_reader();
    assert_eq!(strong.try_read_frame(64).unwrap().unwrap().1, payload(0, 8));
}
