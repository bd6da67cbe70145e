//! Frames and writers: frames carry their writer id and arrive whole, in reservation order,
//! never interleaved; grants are reserved, filled and committed as one frame, and a dropped or
//! aborted grant is skipped without stalling anyone; `poll_write` takes at most
//! `max_frame_len()` bytes; `Park` writers wait and are woken, `Drop` writers have frames
//! refused whole and counted; idle writers never hold readers back; writer ids are unique among
//! live writers; weak writers hold no slot between frames; writers convert between strong and
//! weak; a weak writer's clone is a new weak writer on the same channel.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{Backpressure, Channel, ChannelError, Config};
use futures::executor::block_on;
use futures::task::noop_waker;
use std::task::{Context, Poll};
use std::thread;

#[path = "support/harness.rs"]
mod harness;
use harness::{counting_waker, guarded};
#[path = "support/payloads.rs"]
mod payloads;
use payloads::{fill, payload, read_all_strong, read_all_weak};

/// Loop counts, scaled down under Miri.
const N: usize = if cfg!(miri) { 50 } else { 5_000 };

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

/// A clone of a weak writer is a new weak writer on the same channel: counted among the weak
/// writers, writing frames of its own, leaving alone when dropped. A clone of a handle that
/// left (terminated or closed) has left the same way, and a clone made on a terminated channel
/// is terminated; neither is counted.
#[test]
fn weak_writer_clone_is_a_new_weak_writer_on_the_same_channel() {
    let chan = Channel::new(256);
    let mut a = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut b = a.clone();
    assert_eq!(chan.stats().weak_writers, 2);
    assert_eq!(a.try_write(b"from a"), Ok(Some(6)));
    assert_eq!(b.try_write(b"from b"), Ok(Some(6)));
    let got: Vec<_> = read_all_strong(&mut r).into_iter().map(|f| f.1).collect();
    assert_eq!(got, [b"from a".to_vec(), b"from b".to_vec()]);
    drop(a);
    assert_eq!(chan.stats().weak_writers, 1);
    assert_eq!(b.try_write(b"b again"), Ok(Some(7)));

    let mut terminated = b.clone();
    terminated.terminate();
    let mut clone = terminated.clone();
    assert!(clone.is_terminated() && !clone.is_closed());
    assert_eq!(clone.try_write(b"x"), Err(ChannelError::Terminated));
    let mut closed = b.clone();
    closed.close();
    let mut clone = closed.clone();
    assert!(clone.is_closed() && !clone.is_terminated());
    assert_eq!(clone.try_write(b"x"), Err(ChannelError::Closed));
    assert_eq!(chan.stats().weak_writers, 1, "only b is left");

    chan.terminate().unwrap();
    let mut clone = b.clone();
    assert_eq!(clone.try_write(b"x"), Err(ChannelError::Terminated));
    drop(b);
    assert_eq!(chan.stats().weak_writers, 0);
    drop(clone);
    assert_eq!(chan.stats().weak_writers, 0);
}

/// With the `Channel` gone, clones of a weak writer keep the stream open until the last of
/// them leaves: a reader that read everything waits while one lives, then gets end of stream.
#[test]
fn weak_writer_clones_keep_the_stream_open_until_the_last_one_leaves() {
    let chan = Channel::new(256);
    let a = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut b = a.clone();
    drop(chan);
    drop(a);
    assert_eq!(r.try_read_frame(64), Ok(None), "the clone still lives");
    assert_eq!(b.try_write(b"late"), Ok(Some(4)));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"late");
    let c = b.clone();
    drop(b);
    assert_eq!(
        r.try_read_frame(64),
        Ok(None),
        "the clone of the clone still lives"
    );
    drop(c);
    assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
}

/// Under `Drop`, every refused frame is counted once, whichever path wrote it (`try_write`,
/// `poll_write`, a weak writer's): the copying write's fast path makes one attempt and the
/// general path decides again, and only the general path counts.
#[test]
fn every_refusal_is_counted_once_on_every_write_path() {
    guarded("drop accounting", || {
        let chan = Channel::with_parameters(256, Backpressure::Drop);
        let mut w = chan.new_strong_writer();
        let mut weak = chan.new_weak_writer();
        let mut r = chan.new_strong_reader();
        let (_c, wk) = counting_waker();
        let mut cx = Context::from_waker(&wk);
        let mut refused = 0u64;
        let mut seed = 99u64;
        for i in 0..N {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = 1 + (seed >> 33) as usize % 100;
            let f = vec![1u8; len];
            let res = match i % 3 {
                0 => w.try_write(&f),
                1 => match w.poll_write(&mut cx, &f) {
                    Poll::Ready(r) => r.map(Some),
                    Poll::Pending => panic!("a Drop channel's poll_write waited"),
                },
                _ => weak.try_write(&f),
            };
            match res {
                Ok(Some(n)) => assert_eq!(n, len),
                Err(ChannelError::Full) => refused += 1,
                other => panic!("{other:?}"),
            }
            if (seed >> 20) % 4 == 0 {
                while r.try_read_frame(1000).unwrap().is_some() {}
            }
            assert_eq!(chan.stats().dropped_frames, refused, "write {i}");
        }
        assert!(refused > 0);
    });
}

/// A forgotten grant is aborted by the next copying write of its writer, on every write path
/// and under both policies: the forgotten bytes are never delivered, the new frame is.
#[test]
fn a_copying_write_aborts_the_forgotten_grant_before_it() {
    guarded("forgotten grant", || {
        for bp in [Backpressure::Park, Backpressure::Drop] {
            let chan = Channel::with_parameters(256, bp);
            let mut w = chan.new_strong_writer();
            let mut r = chan.new_strong_reader();
            let (_c, wk) = counting_waker();
            let mut cx = Context::from_waker(&wk);
            for i in 0..(N / 25) as u32 {
                let mut g = w.try_reserve(40).unwrap().unwrap();
                g.put(b"NEVER-DELIVER");
                std::mem::forget(g);
                let f = i.to_le_bytes();
                if i % 2 == 0 {
                    assert_eq!(w.try_write(&f), Ok(Some(4)));
                } else {
                    assert_eq!(w.poll_write(&mut cx, &f), Poll::Ready(Ok(4)));
                }
                let (_, got) = r.try_read_frame(100).unwrap().expect("the frame after");
                assert_eq!(got, f, "{bp:?} {i}");
                assert!(r.try_read_frame(100).unwrap().is_none());
            }
            let mut weak = chan.new_weak_writer();
            std::mem::forget(weak.try_reserve(16).unwrap().unwrap());
            assert_eq!(weak.try_write(b"abc"), Ok(Some(3)));
            assert_eq!(r.try_read_frame(100).unwrap().unwrap().1, b"abc");
            assert!(r.try_read_frame(100).unwrap().is_none());
        }
    });
}

/// A writer that waits with a full-size frame holds the admission priority: another writer's
/// copying write (which takes the fast path: it holds a slot and waits for nothing) still
/// leaves the waiting writer's room.
#[test]
fn a_copying_write_leaves_the_room_of_a_waiting_writer() {
    let chan = Channel::with_parameters(256, Backpressure::Park);
    let max = chan.max_frame_len();
    let mut big_writer = chan.new_strong_writer();
    let mut small_writer = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    assert_eq!(small_writer.try_write(&[1u8; 40]), Ok(Some(40)));
    let (woken, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    let big = vec![7u8; max];
    assert!(big_writer.poll_write(&mut cx, &big).is_pending());
    assert_eq!(r.try_read_frame(1000).unwrap().unwrap().1.len(), 40);
    assert!(woken.count() >= 1);
    assert_eq!(small_writer.try_write(&[2u8; 16]), Ok(None));
    assert_eq!(big_writer.poll_write(&mut cx, &big), Poll::Ready(Ok(max)));
    assert_eq!(r.try_read_frame(1000).unwrap().unwrap().1.len(), max);
    assert_eq!(small_writer.try_write(&[2u8; 16]), Ok(Some(16)));
}
