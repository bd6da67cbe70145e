//! One or more tests per promise of `SEMANTICS.md`, in the order of that document.
//!
//! Every test is single-threaded and driven by hand (`try_*` and `poll_*` with counting
//! wakers) unless it needs real concurrency; tests that could hang on a bug run under a
//! watchdog that turns a hang into a failure.

use bytecast::{
    Backpressure, Channel, ChannelError, Config, StartAt, StrongReader, StrongWriter, WeakReader,
    WeakWriter, MAX_CAPACITY, MIN_CAPACITY,
};
use futures::executor::block_on;
use futures::task::noop_waker;
use std::task::{Context, Poll};
use std::thread;

// ---------------------------------------------------------------------------------------------
// Helpers.

#[path = "support/harness.rs"]
mod harness;
use harness::{counting_waker, guarded};

/// Loop counts, scaled down under Miri.
const N: usize = if cfg!(miri) { 50 } else { 5_000 };

/// Distinct, recognisable payload for frame number `tag`.
fn payload(tag: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (tag.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8)
        .collect()
}

/// Fills a `Park` channel until the writer would have to wait; returns the frames written.
fn fill(w: &mut StrongWriter, len: usize) -> Vec<Vec<u8>> {
    let mut written = Vec::new();
    loop {
        let p = payload(written.len(), len);
        match w.try_write(&p).expect("fill") {
            Some(n) => {
                assert_eq!(n, len);
                written.push(p);
            }
            None => return written,
        }
        assert!(written.len() < 1_000_000, "fill never filled the ring");
    }
}

fn read_all_strong(r: &mut StrongReader) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(f) = r.try_read_frame(usize::MAX).expect("read") {
        out.push(f);
    }
    out
}

fn read_all_weak(r: &mut WeakReader) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(f) = r.try_read_frame(usize::MAX).expect("read") {
        out.push(f);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The log.

#[test]
fn capacity_is_rounded_up_to_a_power_of_two_of_at_least_the_minimum_and_reported() {
    for (requested, real) in [
        (1, 64),
        (3, 64),
        (63, 64),
        (64, 64),
        (65, 128),
        (100, 128),
        (1000, 1024),
        (4096, 4096),
        (4097, 8192),
    ] {
        let chan = Channel::new(requested);
        assert_eq!(
            chan.capacity(),
            real,
            "capacity for a request of {requested}"
        );
        assert_eq!(chan.stats().capacity, real);
        assert_eq!(Config::new(requested).ring_capacity(), Ok(real));
        assert_eq!(chan.max_frame_len(), real - 8);
    }
    assert_eq!(MIN_CAPACITY, 64);
}

#[test]
#[should_panic(expected = "invalid channel capacity 0")]
fn zero_capacity_panics_with_a_clear_message() {
    let _ = Channel::new(0);
}

#[test]
#[should_panic(expected = "invalid channel capacity")]
fn unallocatable_capacity_panics_with_a_clear_message() {
    let _ = Channel::with_parameters(usize::MAX, Backpressure::Drop);
}

#[test]
fn zero_or_unallocatable_capacity_is_an_error_from_the_fallible_constructors() {
    assert_eq!(
        Channel::try_new(0, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: 0,
            max: bytecast::MAX_CAPACITY
        }
    );
    assert_eq!(
        Channel::try_new(MAX_CAPACITY + 1, Backpressure::Drop).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: MAX_CAPACITY + 1,
            max: bytecast::MAX_CAPACITY,
        }
    );
    assert_eq!(
        Channel::try_new(usize::MAX, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: usize::MAX,
            max: bytecast::MAX_CAPACITY,
        }
    );
    assert_eq!(
        Channel::try_with_config(Config::new(0)).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: 0,
            max: bytecast::MAX_CAPACITY
        }
    );
    let msg = ChannelError::InvalidCapacity {
        requested: 0,
        max: bytecast::MAX_CAPACITY,
    }
    .to_string();
    assert!(msg.contains("capacity") && msg.contains('0'), "{msg}");
    assert!(Channel::try_new(1, Backpressure::Park).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Frames and writers.

#[test]
fn frames_carry_their_writer_id_and_arrive_whole_in_order() {
    let chan = Channel::new(1024);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_strong_writer();
    let mut c = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let (ia, ib) = (a.id().unwrap(), b.id().unwrap());
    assert_ne!(ia, ib);
    assert_eq!(
        c.id(),
        None,
        "a weak writer has no id before its first frame"
    );
    let mut expected = Vec::new();
    for i in 0..12 {
        let p = payload(i, 1 + i % 20);
        match i % 3 {
            0 => assert_eq!(a.try_write(&p), Ok(Some(p.len()))),
            1 => assert_eq!(b.try_write(&p), Ok(Some(p.len()))),
            _ => assert_eq!(c.try_write(&p), Ok(Some(p.len()))),
        }
        let id = [Some(ia), Some(ib), c.id()][i % 3].unwrap();
        expected.push((id, p));
    }
    let ic = c.id().unwrap();
    assert!(
        ic != ia && ic != ib,
        "a weak writer's frame never carries a live writer's id"
    );
    assert_eq!(read_all_strong(&mut r), expected);
    assert_eq!(read_all_weak(&mut weak), expected);
}

#[test]
fn concurrent_writers_frames_are_never_interleaved_or_reordered() {
    guarded("three writer threads, one strong reader", || {
        const WRITERS: usize = 3;
        let per_writer = if cfg!(miri) { 30 } else { 3_000 };
        let chan = Channel::new(256);
        let mut r = chan.new_strong_reader();
        let mut threads = Vec::new();
        let mut ids = Vec::new();
        for t in 0..WRITERS {
            let mut w = chan.new_strong_writer();
            ids.push(w.id().unwrap());
            threads.push(thread::spawn(move || {
                for seq in 0..per_writer {
                    let mut p = vec![t as u8; 1 + (seq * 7 + t) % 40];
                    p[0] = (seq % 256) as u8;
                    assert_eq!(w.blocking_write(&p), Ok(p.len()));
                }
            }));
        }
        let mut next = [0usize; WRITERS];
        for _ in 0..WRITERS * per_writer {
            let (id, f) = r.blocking_read_frame(usize::MAX).expect("frame");
            let t = ids.iter().position(|&i| i == id).expect("known writer id");
            let seq = next[t];
            assert_eq!(
                f.len(),
                1 + (seq * 7 + t) % 40,
                "frame length of writer {t}"
            );
            assert_eq!(
                f[0],
                (seq % 256) as u8,
                "writer {t}'s frames arrive in order"
            );
            assert!(
                f[1..].iter().all(|&b| b == t as u8),
                "spliced frame from writer {t}"
            );
            next[t] += 1;
        }
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(next, [per_writer; WRITERS]);
    });
}

#[test]
fn readers_see_frames_in_reservation_order_not_commit_order() {
    let chan = Channel::new(1024);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let ia = a.id().unwrap();
    let mut ga = a.try_reserve(4).unwrap().unwrap();
    let mut gb = b.try_reserve(4).unwrap().unwrap();
    gb.put(b"bbbb");
    assert_eq!(gb.commit(), 4);
    assert_eq!(
        r.try_read_frame(64),
        Ok(None),
        "a frame behind an open reservation is not readable yet"
    );
    ga.put(b"aaaa");
    assert_eq!(ga.commit(), 4);
    assert_eq!(r.try_read_frame(64), Ok(Some((ia, b"aaaa".to_vec()))));
    assert_eq!(
        r.try_read_frame(64),
        Ok(Some((b.id().unwrap(), b"bbbb".to_vec())))
    );
    assert_eq!(r.try_read_frame(64), Ok(None));
}

#[test]
fn grant_is_reserved_filled_and_committed_as_one_frame() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut g = w.try_reserve(10).unwrap().expect("room");
    assert_eq!(
        (g.capacity(), g.len(), g.remaining(), g.is_empty()),
        (10, 0, 10, true)
    );
    assert_eq!(g.put(b"hello "), 6);
    assert_eq!(g.put(b"world!"), 4, "put stops at the reservation");
    assert_eq!((g.len(), g.remaining(), g.is_empty()), (10, 0, false));
    assert_eq!(g.commit(), 10);
    assert_eq!(
        r.try_read_frame(64),
        Ok(Some((w.id().unwrap(), b"hello worl".to_vec())))
    );
    let g = block_on(w.reserve(3)).unwrap();
    assert_eq!(g.capacity(), 3);
    drop(g);
}

#[test]
fn grant_committed_shorter_than_reserved_delivers_only_the_committed_bytes() {
    let chan = Channel::new(128);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let id = w.id().unwrap();
    for round in 0..20 {
        let mut g = w.try_reserve(40).unwrap().expect("room");
        g.put(&payload(round, 3));
        assert_eq!(g.commit(), 3);
        assert_eq!(w.try_write(&payload(round + 100, 9)), Ok(Some(9)));
        assert_eq!(r.try_read_frame(64), Ok(Some((id, payload(round, 3)))));
        assert_eq!(
            r.try_read_frame(64),
            Ok(Some((id, payload(round + 100, 9))))
        );
        assert_eq!(weak.try_read_frame(64), Ok(Some((id, payload(round, 3)))));
        assert_eq!(
            weak.try_read_frame(64),
            Ok(Some((id, payload(round + 100, 9))))
        );
    }
}

#[test]
fn dropped_or_aborted_grant_is_skipped_by_every_reader() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let id = w.id().unwrap();
    let mut g = w.try_reserve(12).unwrap().unwrap();
    g.put(b"never seen");
    drop(g);
    let mut g = w.try_reserve(12).unwrap().unwrap();
    g.put(b"never!");
    g.abort();
    let g = w.try_reserve(12).unwrap().unwrap();
    assert_eq!(g.commit(), 0, "committing an empty grant aborts it");
    assert_eq!(w.try_write(b"seen"), Ok(Some(4)));
    assert_eq!(r.try_read_frame(64), Ok(Some((id, b"seen".to_vec()))));
    assert_eq!(r.try_read_frame(64), Ok(None));
    assert_eq!(weak.try_read_frame(64), Ok(Some((id, b"seen".to_vec()))));
    assert_eq!(weak.try_read_frame(64), Ok(None));
    assert_eq!(chan.stats().frames_published, 1);
    assert_eq!(chan.stats().bytes_published, 4);
}

#[test]
fn aborted_frame_never_stalls_other_writers_or_readers() {
    let chan = Channel::new(64);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let ib = b.id().unwrap();
    let mut rounds = 0;
    for round in 0..N {
        let mut g = a
            .try_reserve(8)
            .unwrap()
            .expect("room for the aborted frame");
        g.put(b"doomed");
        // B writes behind the open reservation: not readable until A finishes.
        assert_eq!(b.try_write(&payload(round, 5)), Ok(Some(5)));
        assert_eq!(r.try_read_frame(64), Ok(None));
        drop(g);
        assert_eq!(r.try_read_frame(64), Ok(Some((ib, payload(round, 5)))));
        rounds += 1;
    }
    assert_eq!(rounds, N, "aborted frames never used up the ring");
}

#[test]
fn poll_write_takes_at_most_max_frame_len_bytes_per_frame() {
    let chan = Channel::new(64);
    let max = chan.max_frame_len();
    assert_eq!(max, 56);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let data = payload(1, 150);
    let noop = noop_waker();
    let mut cx = Context::from_waker(&noop);
    assert_eq!(w.poll_write(&mut cx, &data), Poll::Ready(Ok(max)));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, data[..max]);
    assert_eq!(w.try_write(&data[max..]), Ok(Some(max)));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, data[max..2 * max]);
    // A write-all loop moves everything through, frame by frame.
    let mut got = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let n = w.try_write(rest).unwrap().expect("the reader keeps up");
        assert!(n <= max && n > 0);
        rest = &rest[n..];
        let (_, f) = r.try_read_frame(64).unwrap().unwrap();
        assert_eq!(f.len(), n);
        got.extend(f);
    }
    assert_eq!(got, data);
}

#[test]
fn empty_write_is_ok_zero_and_creates_no_frame() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let noop = noop_waker();
    let mut cx = Context::from_waker(&noop);
    assert_eq!(w.try_write(&[]), Ok(Some(0)));
    assert_eq!(w.poll_write(&mut cx, &[]), Poll::Ready(Ok(0)));
    assert_eq!(block_on(w.write(&[])), Ok(0));
    assert_eq!(ww.try_write(&[]), Ok(Some(0)));
    assert_eq!(block_on(ww.write(&[])), Ok(0));
    assert_eq!(r.try_read_frame(64), Ok(None));
    let s = chan.stats();
    assert_eq!((s.frames_published, s.bytes_published, s.in_use), (0, 0, 0));
}

#[test]
fn park_writer_is_pending_then_woken_when_a_strong_reader_releases() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let written = fill(&mut w, 8);
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    let next = payload(99, 8);
    assert_eq!(w.poll_write(&mut cx, &next), Poll::Pending);
    assert_eq!(w.poll_write(&mut cx, &next), Poll::Pending, "still full");
    assert_eq!(count.count(), 0, "nobody released anything yet");
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, written[0]);
    assert!(count.count() >= 1, "the release woke the parked writer");
    assert_eq!(w.poll_write(&mut cx, &next), Poll::Ready(Ok(8)));
    let rest: Vec<Vec<u8>> = read_all_strong(&mut r).into_iter().map(|f| f.1).collect();
    assert_eq!(rest[..written.len() - 1], written[1..]);
    assert_eq!(rest.last(), Some(&next));
}

#[test]
fn park_writer_future_completes_when_reader_thread_releases() {
    guarded("parked write future", || {
        let chan = Channel::new(64);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let written = fill(&mut w, 16);
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..written.len() + 1 {
                got.push(r.blocking_read_frame(64).unwrap().1);
            }
            (written, got)
        });
        assert_eq!(block_on(w.write(&payload(7, 16))), Ok(16));
        let (written, got) = reader.join().unwrap();
        assert_eq!(got[..written.len()], written[..]);
        assert_eq!(got.last().unwrap(), &payload(7, 16));
    });
}

#[test]
fn drop_mode_refuses_a_frame_whole_counts_it_and_later_writes_succeed() {
    let chan = Channel::with_parameters(64, Backpressure::Drop);
    assert_eq!(chan.backpressure(), Backpressure::Drop);
    let mut w = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let id = w.id().unwrap();
    let mut written = Vec::new();
    loop {
        let p = payload(written.len(), 8);
        match w.try_write(&p) {
            Ok(Some(8)) => written.push(p),
            Err(ChannelError::Full) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(chan.stats().dropped_frames, 1);
    let noop = noop_waker();
    let mut cx = Context::from_waker(&noop);
    assert_eq!(
        w.poll_write(&mut cx, b"refused!"),
        Poll::Ready(Err(ChannelError::Full))
    );
    assert_eq!(ww.try_write(b"refused!"), Err(ChannelError::Full));
    assert_eq!(block_on(w.write(b"refused!")), Err(ChannelError::Full));
    assert!(matches!(w.try_reserve(8), Err(ChannelError::Full)));
    assert_eq!(chan.stats().dropped_frames, 5);
    // Nothing of a refused frame was written.
    let got: Vec<_> = read_all_strong(&mut r);
    assert_eq!(
        got,
        written.iter().map(|p| (id, p.clone())).collect::<Vec<_>>()
    );
    // Space is back: later writes succeed.
    assert_eq!(w.try_write(b"later"), Ok(Some(5)));
    assert_eq!(ww.try_write(b"later too"), Ok(Some(9)));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"later");
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"later too");
    assert_eq!(chan.stats().dropped_frames, 5);
}

#[test]
fn drop_mode_refuses_a_frame_that_does_not_fit_even_if_a_smaller_one_would() {
    let chan = Channel::with_parameters(64, Backpressure::Drop);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    // 24 + 16 bytes used of 64 (headers included): 24 left.
    assert_eq!(w.try_write(&[1; 16]), Ok(Some(16)));
    assert_eq!(w.try_write(&[2; 8]), Ok(Some(8)));
    assert_eq!(
        w.try_write(&[3; 24]),
        Err(ChannelError::Full),
        "needs 32 bytes"
    );
    assert_eq!(w.try_write(&[4; 16]), Ok(Some(16)), "needs 24 bytes: fits");
    assert_eq!(chan.stats().dropped_frames, 1);
    let lens: Vec<usize> = read_all_strong(&mut r).iter().map(|f| f.1.len()).collect();
    assert_eq!(lens, [16, 8, 16]);
}

#[test]
fn idle_strong_writer_never_holds_readers_back() {
    let chan = Channel::new(64);
    let _idle = chan.new_strong_writer();
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    for i in 0..N {
        assert_eq!(w.try_write(&payload(i, 8)), Ok(Some(8)));
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, payload(i, 8));
    }
}

#[test]
fn idle_weak_writer_never_holds_readers_back() {
    let chan = Channel::new(64);
    let mut idle = chan.new_weak_writer();
    assert_eq!(idle.try_write(b"once"), Ok(Some(4)));
    let mut w = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"once");
    for i in 0..N {
        assert_eq!(w.try_write(&payload(i, 8)), Ok(Some(8)));
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, payload(i, 8));
    }
}

#[test]
fn writer_ids_are_unique_among_live_writers_and_reused_after_a_writer_is_gone() {
    let chan = Channel::try_with_config(Config::new(256).max_writers(3)).unwrap();
    let a = chan.new_strong_writer();
    let b = chan.try_new_strong_writer().unwrap();
    let c = chan.try_new_strong_writer().unwrap();
    let ids = [a.id().unwrap(), b.id().unwrap(), c.id().unwrap()];
    assert!(ids.iter().all(|&i| i != 0));
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    assert_eq!(
        chan.try_new_strong_writer().unwrap_err(),
        ChannelError::TooManyWriters { max: 3 }
    );
    let freed = b.id().unwrap();
    drop(b);
    let d = chan.try_new_strong_writer().unwrap();
    assert_eq!(d.id(), Some(freed), "the freed id is reused");
    let mut weak = chan.new_weak_writer();
    assert_eq!(
        weak.try_write(b"x"),
        Ok(None),
        "Park: a weak writer with no free slot waits"
    );
    drop(c);
    assert_eq!(weak.try_write(b"x"), Ok(Some(1)));
    let iw = weak.id().unwrap();
    assert!(iw != a.id().unwrap() && iw != d.id().unwrap());
}

#[test]
fn weak_writer_holds_no_writer_slot_between_frames() {
    let chan = Channel::try_with_config(Config::new(256).max_writers(1)).unwrap();
    let mut weak = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    assert_eq!(weak.try_write(b"first"), Ok(Some(5)));
    let mut strong = chan
        .try_new_strong_writer()
        .expect("the weak writer is idle");
    assert_eq!(strong.try_write(b"second"), Ok(Some(6)));
    assert_eq!(
        weak.try_write(b"third"),
        Ok(None),
        "Park: the only slot is taken"
    );
    drop(strong);
    assert_eq!(weak.try_write(b"third"), Ok(Some(5)));
    let got: Vec<Vec<u8>> = read_all_strong(&mut r).into_iter().map(|f| f.1).collect();
    assert_eq!(got, [&b"first"[..], b"second", b"third"]);
}

#[test]
fn idle_weak_writer_refused_for_space_holds_no_writer_slot() {
    // An idle weak writer "holds nothing between frames": a `try_write` that found the ring
    // full has returned, so the writer is idle again and must not keep a writer slot.
    let chan = Channel::try_with_config(Config::new(64).max_writers(1)).unwrap();
    let mut weak = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    while weak.try_write(&[1; 24]).unwrap().is_some() {}
    assert_eq!(weak.try_write(&[1; 24]), Ok(None));
    assert!(
        chan.try_new_strong_writer().is_ok(),
        "an idle weak writer (its try_write returned Ok(None)) still holds a writer slot"
    );
    drop(r.try_read_frame(64));
}

#[test]
fn weak_writer_refused_by_drain_or_terminate_gives_back_its_writer_slot() {
    // A weak writer waiting for space holds a writer slot; when drain or terminate refuses its
    // write it is idle again and must hold nothing ("an idle weak writer costs nothing").
    for terminate in [false, true] {
        let chan = Channel::try_with_config(Config::new(64).max_writers(1)).unwrap();
        let mut weak = chan.new_weak_writer();
        let _r = chan.new_strong_reader();
        while weak.try_write(&[1; 24]).unwrap().is_some() {}
        let noop = noop_waker();
        let mut cx = Context::from_waker(&noop);
        assert_eq!(weak.poll_write(&mut cx, &[1; 24]), Poll::Pending);
        let refusal = if terminate {
            chan.terminate().unwrap();
            ChannelError::Terminated
        } else {
            chan.drain().unwrap();
            ChannelError::Draining
        };
        assert_eq!(
            weak.poll_write(&mut cx, &[1; 24]),
            Poll::Ready(Err(refusal.clone()))
        );
        assert_eq!(chan.stats().weak_writers, 1);
        if terminate {
            // A new writer cannot be created on a terminated channel; the slot shows through a
            // downgraded/upgraded writer count instead.
            continue;
        }
        assert!(
            chan.try_new_strong_writer().is_ok(),
            "the weak writer refused with {refusal:?} still holds the only writer slot"
        );
    }
}

#[test]
fn writers_convert_between_strong_and_weak() {
    let chan = Channel::try_with_config(Config::new(256).max_writers(1)).unwrap();
    let mut r = chan.new_strong_reader();
    let mut s = chan.new_strong_writer();
    assert_eq!(s.try_write(b"strong"), Ok(Some(6)));
    let mut weak = s.downgrade();
    assert_eq!(weak.try_write(b"weak"), Ok(Some(4)));
    let other = chan
        .try_new_strong_writer()
        .expect("downgrading freed the slot");
    drop(other);
    let mut s = weak.upgrade().expect("a slot is free");
    assert_eq!(s.try_write(b"strong again"), Ok(Some(12)));
    let st = chan.stats();
    assert_eq!((st.strong_writers, st.weak_writers), (1, 0));
    let w2 = chan.new_weak_writer();
    let (w2, e) = w2.upgrade().unwrap_err();
    assert_eq!(e, ChannelError::TooManyWriters { max: 1 });
    drop(w2);
    let got: Vec<Vec<u8>> = read_all_strong(&mut r).into_iter().map(|f| f.1).collect();
    assert_eq!(got, [&b"strong"[..], b"weak", b"strong again"]);
}

#[test]
fn terminated_writer_stays_terminated_when_converted() {
    // `terminate()` on a handle: "every later call fails with Terminated"; converting the
    // handle is a later call and must not revive it.
    let chan = Channel::new(256);
    let mut s = chan.new_strong_writer();
    s.terminate();
    let mut weak = s.downgrade();
    assert_eq!(weak.try_write(b"x"), Err(ChannelError::Terminated));
    assert!(weak.is_terminated());
    match weak.upgrade() {
        Err((w, e)) => {
            assert_eq!(e, ChannelError::Terminated);
            assert!(w.is_terminated());
        }
        Ok(mut revived) => panic!(
            "upgrading a terminated weak writer revived it: try_write = {:?}",
            revived.try_write(b"y")
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Readers.

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

#[test]
fn new_weak_reader_starts_at_the_oldest_frame_still_whole_after_a_refused_write() {
    // A strong reader read frame 0 of four; a write that does not fit is refused. Nothing was
    // overwritten: frame 0 is still whole in the ring, so a new reader starts there.
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
    // the ring", whoever else exists (F19).
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut s = chan.new_strong_reader();
    for i in 0..4 {
        w.try_write(&payload(i, 8)).unwrap().unwrap();
    }
    s.try_read_frame(64).unwrap().unwrap();
    assert_eq!(w.try_write(&[9; 24]), Ok(None));
    let mut strong = chan.new_strong_reader();
    assert_eq!(strong.try_read_frame(64).unwrap().unwrap().1, payload(0, 8));
}

// ---------------------------------------------------------------------------------------------
// Ending.

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
    assert_eq!(r.try_read(&mut [0; 4]), Ok(Some(0)));
    assert_eq!(block_on(r.read(&mut [0; 4])), Ok(0));
    assert_eq!(r.try_skip_frame(), Err(ChannelError::EndOfStream));
    assert!(matches!(
        r.try_borrow_frame(),
        Err(ChannelError::EndOfStream)
    ));
    assert_eq!(weak.try_read_frame(64), Err(ChannelError::EndOfStream));
    assert_eq!(block_on(weak.read(&mut [0; 4])), Ok(0));
    // read_to_end-style byte reading finishes cleanly.
    let mut all = Vec::new();
    let mut buf = [0u8; 3];
    loop {
        let n = block_on(byte_reader.read(&mut buf)).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
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

// ---------------------------------------------------------------------------------------------
// Introspection.

#[test]
fn stats_report_capacity_handle_counts_and_published_totals() {
    let chan = Channel::with_parameters(200, Backpressure::Drop);
    let s = chan.stats();
    assert_eq!(s.capacity, 256);
    assert_eq!(
        (
            s.strong_writers,
            s.weak_writers,
            s.strong_readers,
            s.weak_readers
        ),
        (0, 0, 0, 0)
    );
    let mut w = chan.new_strong_writer();
    let _w2 = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let _weak = chan.new_weak_reader();
    let _weak2 = chan.new_weak_reader();
    let s = chan.stats();
    assert_eq!(
        (
            s.strong_writers,
            s.weak_writers,
            s.strong_readers,
            s.weak_readers
        ),
        (2, 1, 1, 2)
    );
    w.try_write(&[1; 10]).unwrap().unwrap();
    ww.try_write(&[2; 3]).unwrap().unwrap();
    let s = chan.stats();
    assert_eq!((s.frames_published, s.bytes_published), (2, 13));
    assert_eq!(s.in_use, 24 + 16, "two records with their headers");
    assert_eq!(s.dropped_frames, 0);
    r.try_read_frame(64).unwrap().unwrap();
    drop(ww);
    let s = chan.stats();
    assert_eq!((s.strong_writers, s.weak_writers), (2, 0));
    assert!(format!("{chan:?}").contains("capacity"));
}

/// Strong readers give their space back in batches (every `capacity / 16` bytes, and whenever
/// they find nothing more to read). A reader that stops polling right after a frame, with
/// everything published read, never keeps a frame of `max_frame_len()` from fitting, whatever
/// it read before: under `Drop` such a frame is accepted, never refused.
#[test]
fn a_reader_that_stops_right_after_a_frame_never_keeps_a_full_size_frame_out() {
    for backpressure in [Backpressure::Park, Backpressure::Drop] {
        let chan = Channel::with_parameters(1024, backpressure);
        let mut r = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let big = vec![7u8; chan.max_frame_len()];
        for k in 0..28usize {
            // `k` small frames (8 to 40 bytes of payload), read with exactly `k` calls: the
            // reader never sees "nothing more".
            for i in 0..k {
                let len = 8 + (i * 8) % 40;
                assert_eq!(w.try_write(&vec![i as u8; len]), Ok(Some(len)));
            }
            for i in 0..k {
                let (_, f) = r.try_read_frame(1024).unwrap().unwrap();
                assert_eq!(f[0], i as u8);
            }
            assert_eq!(
                w.try_write(&big),
                Ok(Some(big.len())),
                "{backpressure:?}, k = {k}: a full-size frame fits behind a reader that read all"
            );
            assert_eq!(r.try_read_frame(1024).unwrap().unwrap().1, big);
        }
        assert_eq!(chan.stats().dropped_frames, 0);
    }
}

#[test]
fn stats_in_use_falls_when_strong_readers_release() {
    // `Stats::in_use`: "Bytes reserved and not yet released by every strong reader". A strong
    // reader releases in batches: every capacity/16 bytes read (64 here), and when it catches
    // up with the published end.
    let chan = Channel::new(1024);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    for i in 0..6 {
        w.try_write(&payload(i, 8)).unwrap().unwrap();
    }
    assert_eq!(chan.stats().in_use, 96);
    r.try_read_frame(64).unwrap().unwrap();
    assert_eq!(
        chan.stats().in_use,
        96,
        "16 bytes read: below the batch, not yet released"
    );
    for _ in 0..3 {
        r.try_read_frame(64).unwrap().unwrap();
    }
    assert_eq!(chan.stats().in_use, 32, "64 bytes read: one batch released");
    read_all_strong(&mut r);
    assert_eq!(chan.stats().in_use, 0, "everything released");
}

#[test]
fn readers_report_each_readers_lag_and_losses() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut strong = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    for i in 0..3 {
        w.try_write(&payload(i, 8)).unwrap().unwrap();
    }
    assert_eq!(strong.lag(), 48);
    assert_eq!(weak.lag(), 48);
    strong.try_read_frame(64).unwrap().unwrap();
    assert_eq!(strong.lag(), 32);
    let stats = chan.readers();
    assert_eq!(stats.len(), 2);
    let s = stats.iter().find(|s| s.strong).unwrap();
    let k = stats.iter().find(|s| !s.strong).unwrap();
    assert_eq!((s.lag, s.lost_bytes, s.lost_frames), (32, 0, 0));
    assert_eq!((k.lag, k.lost_bytes, k.lost_frames), (48, 0, 0));
    assert_ne!(s.id, k.id);
    // Lap the weak reader (the strong one keeps up).
    for i in 3..12 {
        w.try_write(&payload(i, 8)).unwrap().unwrap();
        strong.try_read_frame(64).unwrap().unwrap();
    }
    let mut lost = 0;
    loop {
        match weak.try_read_frame(64) {
            Err(ChannelError::ReaderBehind(n)) => lost += n,
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(lost > 0);
    let k = chan.readers().into_iter().find(|s| !s.strong).unwrap();
    assert_eq!((k.lost_bytes, k.lost_frames), (lost, weak.lost_frames()));
    assert_eq!(k.lost_bytes, weak.lost_bytes());
    assert_eq!(k.lag, 0);
}

// ---------------------------------------------------------------------------------------------
// Types and the std `io` mapping.

#[test]
fn channel_error_is_a_well_behaved_error_type() {
    fn assert_error<E>()
    where
        E: std::fmt::Debug
            + std::fmt::Display
            + Clone
            + PartialEq
            + Eq
            + Send
            + Sync
            + 'static
            + std::error::Error,
    {
    }
    assert_error::<ChannelError>();
    let e = ChannelError::ReaderBehind(3);
    assert_eq!(e.clone(), e);
    assert!(!format!("{e:?}").is_empty() && e.to_string().contains('3'));
}

#[test]
fn handles_and_their_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Channel>();
    let chan = Channel::new(64);
    let mut sw = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut sr = chan.new_strong_reader();
    let mut wr = chan.new_weak_reader();
    assert_send(&chan);
    assert_send(&sw);
    assert_send(&ww);
    assert_send(&sr);
    assert_send(&wr);
    assert_send(&sw.write(b"x"));
    assert_send(&ww.write(b"x"));
    assert_send(&sw.reserve(1));
    assert_send(&sr.read_frame(8));
    assert_send(&wr.read_frame(8));
    assert_send(&sr.read(&mut [0; 1]));
    assert_send(&sr.borrow_frame());
    let mut any = chan.new_writer();
    assert_send(&any.write(b"x"));
    let mut reader: bytecast::Reader = chan.new_weak_reader().into();
    assert_send(&reader.read_frame(8));
    fn assert_static_send<T: Send + 'static>(_: T) {}
    assert_static_send(chan.new_strong_writer());
    assert_static_send(chan.new_weak_reader());
    let _: (StrongWriter, WeakWriter, StrongReader, WeakReader) = (sw, ww, sr, wr);
}

#[test]
fn io_errors_map_as_documented_and_reader_behind_is_downcastable() {
    use bytecast::io::{read_result, write_result};
    use std::io;
    let kind = |e: ChannelError| io::Error::from(e).kind();
    assert_eq!(
        kind(ChannelError::Terminated),
        io::ErrorKind::ConnectionAborted
    );
    assert_eq!(kind(ChannelError::Draining), io::ErrorKind::BrokenPipe);
    assert_eq!(kind(ChannelError::ReaderBehind(5)), io::ErrorKind::Other);
    assert_eq!(
        kind(ChannelError::FrameTooLarge { len: 9, max: 8 }),
        io::ErrorKind::InvalidInput
    );
    assert_ne!(kind(ChannelError::Draining), io::ErrorKind::Interrupted);
    let e = io::Error::from(ChannelError::ReaderBehind(42));
    assert_eq!(
        e.get_ref().and_then(|i| i.downcast_ref::<ChannelError>()),
        Some(&ChannelError::ReaderBehind(42))
    );
    assert_eq!(write_result(Err(ChannelError::Full)).unwrap(), 0);
    assert_eq!(write_result(Ok(7)).unwrap(), 7);
    assert_eq!(
        write_result(Err(ChannelError::Draining))
            .unwrap_err()
            .kind(),
        io::ErrorKind::BrokenPipe
    );
    assert_eq!(
        read_result(Err(ChannelError::Terminated))
            .unwrap_err()
            .kind(),
        io::ErrorKind::ConnectionAborted
    );
    assert_eq!(read_result(Ok(0)).unwrap(), 0);
}

#[test]
fn nothing_panics_when_handles_drop_in_any_order() {
    for order in 0..6 {
        let chan = Channel::new(64);
        let mut w = chan.new_strong_writer();
        let r = chan.new_strong_reader();
        let weak = chan.new_weak_reader();
        let ww = chan.new_weak_writer();
        let g = w.try_reserve(8).unwrap().unwrap();
        drop(g);
        match order {
            0 => drop((chan, w, r, weak, ww)),
            1 => drop((w, chan, ww, weak, r)),
            2 => drop((r, weak, chan, ww, w)),
            3 => {
                chan.terminate().unwrap();
                drop((w, r, chan));
            }
            4 => {
                chan.drain().unwrap();
                drop((chan, r, w));
            }
            _ => {
                let s = w.downgrade();
                drop((chan, s, r));
            }
        }
    }
}
