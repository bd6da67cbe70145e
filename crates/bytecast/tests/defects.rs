//! One test (or a few) per finding F1..F19 of `SEED_DEFECTS.md` (the seed crate
//! `selium-messaging` 1.0.0-alpha.6), each asserting what that finding's "Correct channel"
//! paragraph asks for, in this crate's API. Tests that could hang on a regression run under a
//! watchdog (20 s natively), so a hang shows as a failure.

use bytecast::{
    Backpressure, Channel, ChannelError, Config, StartAt, StrongReader, StrongWriter, MAX_HANDLES,
};
use futures::executor::block_on;
use futures::task::noop_waker;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread;

// ---------------------------------------------------------------------------------------------
// Helpers.

#[path = "support/harness.rs"]
mod harness;
use harness::{counting_waker, guarded};

/// A self-checking frame: `[seq: u32 LE][tag][filler derived from seq and tag...]`, 5 to
/// `5 + spread - 1` bytes long.
fn frame(tag: u8, seq: u32, spread: usize) -> Vec<u8> {
    let len = 5 + (seq as usize * 7 + tag as usize) % spread;
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&seq.to_le_bytes());
    f.push(tag);
    for i in 5..len {
        f.push((seq as usize * 13 + tag as usize * 29 + i) as u8);
    }
    f
}

/// Checks a self-checking frame; returns `(tag, seq)`.
fn check(f: &[u8], spread: usize) -> (u8, u32) {
    assert!(f.len() >= 5, "short frame {f:?}");
    let seq = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
    let tag = f[4];
    assert_eq!(f, &frame(tag, seq, spread)[..], "torn or spliced frame");
    (tag, seq)
}

fn payload(tag: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (tag.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8)
        .collect()
}

fn frames_of(r: &mut StrongReader) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((_, f)) = r.try_read_frame(usize::MAX).unwrap() {
        out.push(f);
    }
    out
}

fn fill(w: &mut StrongWriter, len: usize) -> usize {
    let mut n = 0;
    while w.try_write(&payload(n, len)).unwrap().is_some() {
        n += 1;
    }
    n
}

/// `writers` writer threads (strong or weak) and `readers` strong reader threads; every reader
/// must receive every frame, whole, per-writer in order.
fn strong_stress(writers: usize, weak_writers: bool, readers: usize, cap: usize, per_writer: u32) {
    const SPREAD: usize = 60;
    let chan = Channel::new(cap);
    let spread = SPREAD.min(chan.max_frame_len() - 4);
    let mut reader_threads = Vec::new();
    for _ in 0..readers {
        let mut r = chan.new_strong_reader();
        reader_threads.push(thread::spawn(move || {
            let mut next = vec![0u32; writers];
            for _ in 0..writers as u64 * per_writer as u64 {
                let (_, f) = r.blocking_read_frame(usize::MAX).expect("read");
                let (tag, seq) = check(&f, spread);
                assert_eq!(seq, next[tag as usize], "frames of writer {tag} in order");
                next[tag as usize] += 1;
            }
        }));
    }
    let mut writer_threads = Vec::new();
    for t in 0..writers {
        if weak_writers {
            let mut w = chan.new_weak_writer();
            writer_threads.push(thread::spawn(move || {
                for seq in 0..per_writer {
                    let f = frame(t as u8, seq, spread);
                    assert_eq!(w.blocking_write(&f), Ok(f.len()));
                }
            }));
        } else {
            let mut w = chan.new_strong_writer();
            writer_threads.push(thread::spawn(move || {
                for seq in 0..per_writer {
                    let f = frame(t as u8, seq, spread);
                    assert_eq!(block_on(w.write(&f)), Ok(f.len()));
                }
            }));
        }
    }
    for t in writer_threads {
        t.join().unwrap();
    }
    for t in reader_threads {
        t.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// F1 (S1): an idle writer hid every other writer's frames (the tail was the minimum over all
// writers' cursors). Correct: only open reservations bound the readable tail.

#[test]
fn f01_idle_writer_does_not_hide_other_writers_frames() {
    let chan = Channel::new(1024);
    let _idle_strong = chan.new_strong_writer();
    let _idle_weak = chan.new_weak_writer();
    let _never_polled = chan.new_writer();
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    assert_eq!(w.try_write(&[8; 8]), Ok(Some(8)));
    assert_eq!(
        r.try_read_frame(64),
        Ok(Some((w.id().unwrap(), vec![8; 8])))
    );
}

#[test]
fn f01_four_writers_one_strong_reader_always_complete() {
    let per = if cfg!(miri) { 20 } else { 2_000 };
    guarded("F1: 4 writers x 1 strong reader", move || {
        strong_stress(4, false, 1, 1024, per);
    });
    guarded(
        "F1: 4 writers x 1 strong reader, writers stay alive",
        move || {
            // Writers that finish stay alive (idle) until the reader is done.
            let chan = Channel::new(1024);
            let mut r = chan.new_strong_reader();
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let done_rx = Arc::new(std::sync::Mutex::new(done_rx));
            let mut threads = Vec::new();
            for t in 0..4u8 {
                let mut w = chan.new_strong_writer();
                let done = done_rx.clone();
                threads.push(thread::spawn(move || {
                    for seq in 0..per {
                        w.blocking_write(&frame(t, seq, 40)).unwrap();
                    }
                    let _ = done.lock().unwrap().recv();
                    drop(w);
                }));
            }
            let mut next = [0u32; 4];
            for _ in 0..4 * per {
                let (_, f) = r.blocking_read_frame(usize::MAX).unwrap();
                let (tag, seq) = check(&f, 40);
                assert_eq!(seq, next[tag as usize]);
                next[tag as usize] += 1;
            }
            drop(done_tx);
            for t in threads {
                t.join().unwrap();
            }
        },
    );
}

// ---------------------------------------------------------------------------------------------
// F2 (S1): lost wake-ups (a frame completing exactly at the tail woke nobody; a tail that moved
// on writer drop woke nobody). Correct: every advance of the readable end wakes the readers.

#[test]
fn f02_commit_or_abort_exactly_at_the_readable_end_wakes_the_parked_reader() {
    let chan = Channel::new(256);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    // A frame that is only partly written when the reader parks.
    let mut g = a.try_reserve(14).unwrap().unwrap();
    g.put(b"partial");
    assert_eq!(r.poll_read_frame(&mut cx, 1 << 20), Poll::Pending);
    g.put(b" frame!");
    g.commit();
    assert!(
        count.count() >= 1,
        "completing the frame at the tail woke the reader"
    );
    assert_eq!(
        r.poll_read_frame(&mut cx, 1 << 20),
        Poll::Ready(Ok((a.id().unwrap(), b"partial frame!".to_vec())))
    );
    // An aborted reservation in front of a committed frame.
    let g = a.try_reserve(8).unwrap().unwrap();
    b.try_write(b"8 bytes!").unwrap().unwrap();
    assert_eq!(r.poll_read_frame(&mut cx, 64), Poll::Pending);
    let before = count.count();
    drop(g);
    assert!(
        count.count() > before,
        "the abort moved the tail and woke the reader"
    );
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Ready(Ok((b.id().unwrap(), b"8 bytes!".to_vec())))
    );
    // Dropping an idle writer does not matter at all: the reader reads at once.
    let mut c = chan.new_strong_writer();
    c.try_write(b"x").unwrap().unwrap();
    drop(c);
    assert_eq!(
        r.poll_read_frame(&mut cx, 64).map(|r| r.unwrap().1),
        Poll::Ready(b"x".to_vec())
    );
}

#[test]
fn f02_one_writer_one_strong_reader_on_a_small_ring_never_hang() {
    let frames: u32 = if cfg!(miri) { 100 } else { 20_000 };
    guarded("F2: 1 writer x 1 strong reader, 64-byte ring", move || {
        let chan = Channel::new(1);
        assert_eq!(chan.capacity(), 64);
        let spread = chan.max_frame_len() - 4;
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let writer = thread::spawn(move || {
            for seq in 0..frames {
                let f = frame(0, seq, spread);
                assert_eq!(w.blocking_write(&f), Ok(f.len()));
            }
        });
        for seq in 0..frames {
            let (_, f) = r.blocking_read_frame(64).unwrap();
            assert_eq!(check(&f, spread), (0, seq));
        }
        writer.join().unwrap();
    });
}

#[test]
fn f02_one_writer_four_strong_readers_never_hang() {
    let per = if cfg!(miri) { 30 } else { 5_000 };
    guarded("F2: 1 writer x 4 strong readers", move || {
        strong_stress(1, false, 4, 128, per);
    });
}

#[test]
fn f02_four_weak_writers_one_strong_reader_never_hang() {
    let per = if cfg!(miri) { 20 } else { 2_000 };
    guarded("F2: 4 weak writers x 1 strong reader", move || {
        strong_stress(4, true, 1, 256, per);
    });
}

// ---------------------------------------------------------------------------------------------
// F3 (S1): weak readers got corrupted frames as Ok (a data race). Correct: a lapped weak reader
// gets ReaderBehind, never someone else's bytes; the copy is race-free (Miri runs this).

#[test]
fn f03_weak_reader_never_delivers_a_torn_frame() {
    let per: u32 = if cfg!(miri) { 60 } else { 10_000 };
    guarded("F3: 2 writers x 1 weak reader", move || {
        let chan = Channel::new(256);
        let spread = 60;
        let mut weak = chan.new_weak_reader();
        let mut threads = Vec::new();
        let mut total_bytes = 0u64;
        for t in 0..2u8 {
            total_bytes += (0..per)
                .map(|s| frame(t, s, spread).len() as u64)
                .sum::<u64>();
            let mut w = chan.new_strong_writer();
            threads.push(thread::spawn(move || {
                for seq in 0..per {
                    w.blocking_write(&frame(t, seq, spread)).unwrap();
                }
            }));
        }
        let reader = thread::spawn(move || {
            let (mut frames, mut bytes, mut reported) = (0u64, 0u64, 0u64);
            let mut last = [None::<u32>; 2];
            loop {
                match weak.blocking_read_frame(usize::MAX) {
                    Ok((_, f)) => {
                        let (tag, seq) = check(&f, spread);
                        if let Some(prev) = last[tag as usize] {
                            assert!(seq > prev, "weak reader went backwards");
                        }
                        last[tag as usize] = Some(seq);
                        frames += 1;
                        bytes += f.len() as u64;
                    }
                    Err(ChannelError::ReaderBehind(n)) => {
                        assert!(n > 0);
                        reported += n;
                    }
                    Err(ChannelError::EndOfStream) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!(reported, weak.lost_bytes());
            (frames, bytes, weak.lost_frames(), weak.lost_bytes())
        });
        for t in threads {
            t.join().unwrap();
        }
        chan.drain().unwrap();
        let (frames, bytes, lost_frames, lost_bytes) = reader.join().unwrap();
        assert_eq!(
            frames + lost_frames,
            2 * per as u64,
            "delivered + lost = written"
        );
        assert_eq!(
            bytes + lost_bytes,
            total_bytes,
            "delivered + lost bytes = written"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// F4 (S1): a writer stopped mid-frame yielded a torn frame or a permanent stall. Correct: the
// unfinished frame is skipped by every reader and never stalls the channel.

#[test]
fn f04_writer_stopped_mid_frame_is_skipped_and_never_stalls() {
    let chan = Channel::new(64);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    for round in 0..if cfg!(miri) { 20 } else { 1_000 } {
        let mut g = a.try_reserve(20).unwrap().unwrap();
        g.put(&[0xEE; 10]);
        b.try_write(&payload(round, 6)).unwrap().unwrap();
        drop(g); // stopped mid-frame
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, payload(round, 6));
        assert_eq!(r.try_read_frame(64), Ok(None));
        assert_eq!(
            weak.try_read_frame(64).unwrap().unwrap().1,
            payload(round, 6)
        );
    }
    // A writer thread that panics while holding a grant.
    guarded("F4: panicking writer", move || {
        let mut a = a;
        let t = thread::spawn(move || {
            let mut g = a.try_reserve(16).unwrap().unwrap();
            g.put(b"half");
            panic!("writer dies mid-frame");
        });
        assert!(t.join().is_err());
        b.try_write(b"after").unwrap().unwrap();
        assert_eq!(r.blocking_read_frame(64).unwrap().1, b"after");
    });
}

// ---------------------------------------------------------------------------------------------
// F5 (S2): the public reserve_slice left an unfillable hole. Correct: a grant committed short
// or dropped leaves no hole: readers skip the unused part.

#[test]
fn f05_grant_committed_short_or_dropped_leaves_no_hole() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    for round in 0..if cfg!(miri) { 20 } else { 2_000 } {
        let mut g = w
            .try_reserve(24)
            .unwrap()
            .expect("the ring never fills with holes");
        g.put(&payload(round, round % 5 + 1));
        g.commit();
        let g = w.try_reserve(24).unwrap().expect("room");
        drop(g);
        assert_eq!(
            r.try_read_frame(64).unwrap().unwrap().1,
            payload(round, round % 5 + 1)
        );
        assert_eq!(r.try_read_frame(64), Ok(None));
    }
}

// ---------------------------------------------------------------------------------------------
// F6 (S1): a shorter buffer after a partial (pending) write panicked. Correct: a Pending write
// wrote nothing; a re-poll with any buffer writes that buffer whole.

#[test]
fn f06_shorter_buffer_after_a_pending_write_is_written_whole() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let n = fill(&mut w, 16);
    let noop = noop_waker();
    let mut cx = Context::from_waker(&noop);
    assert_eq!(w.poll_write(&mut cx, &[1; 24]), Poll::Pending);
    for _ in 0..n {
        r.try_read_frame(64).unwrap().unwrap();
    }
    assert_eq!(w.poll_write(&mut cx, &[2; 3]), Poll::Ready(Ok(3)));
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, [2; 3]);
    assert_eq!(
        r.try_read_frame(64),
        Ok(None),
        "nothing of the pending write appeared"
    );
}

// ---------------------------------------------------------------------------------------------
// F7 (S1): Drop mode with several writers wrote partial frames, panicked and stalled. Correct:
// a frame is accepted whole or refused whole (counted), with any number of writers.

#[test]
fn f07_drop_mode_with_many_writers_accepts_or_refuses_frames_whole() {
    let per: u32 = if cfg!(miri) { 40 } else { 10_000 };
    guarded("F7: Drop mode, 3 writers x 1 strong reader", move || {
        let chan = Channel::with_parameters(128, Backpressure::Drop);
        let spread = 50;
        let mut r = chan.new_strong_reader();
        let mut threads = Vec::new();
        for t in 0..3u8 {
            let mut w = chan.new_strong_writer();
            threads.push(thread::spawn(move || {
                let mut accepted = Vec::new();
                let mut refused = 0u64;
                for seq in 0..per {
                    let f = frame(t, seq, spread);
                    match w.try_write(&f) {
                        Ok(Some(n)) => {
                            assert_eq!(n, f.len());
                            accepted.push(seq);
                        }
                        Err(ChannelError::Full) => refused += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                    if seq % 64 == 0 {
                        thread::yield_now();
                    }
                }
                (accepted, refused)
            }));
        }
        let reader_chan = chan.clone();
        let reader = thread::spawn(move || {
            let mut got = vec![Vec::new(); 3];
            loop {
                match r.blocking_read_frame(usize::MAX) {
                    Ok((_, f)) => {
                        let (tag, seq) = check(&f, spread);
                        got[tag as usize].push(seq);
                    }
                    Err(ChannelError::EndOfStream) => return got,
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        let mut refused_total = 0;
        let mut accepted = Vec::new();
        for t in threads {
            let (a, refused) = t.join().unwrap();
            accepted.push(a);
            refused_total += refused;
        }
        reader_chan.drain().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(
            got, accepted,
            "the reader got exactly the accepted frames, in order"
        );
        assert_eq!(chan.stats().dropped_frames, refused_total);
    });
}

// ---------------------------------------------------------------------------------------------
// F8 (S1/S2): drain() refused reads at once, used Interrupted, and stranded parked tasks.
// Correct: readers get all remaining data then end of stream; new writes get BrokenPipe;
// terminate is always allowed and wakes everyone.

#[test]
fn f08_drain_lets_readers_finish_refuses_writes_and_wakes_parked_tasks() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let n = fill(&mut w, 8);
    let (cw, ww) = counting_waker();
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), &[1; 8]),
        Poll::Pending
    );
    chan.drain().unwrap();
    assert!(cw.count() >= 1, "drain woke the parked writer");
    let e = w.try_write(&[1; 8]).unwrap_err();
    assert_eq!(e, ChannelError::Draining);
    assert_eq!(
        std::io::Error::from(e).kind(),
        std::io::ErrorKind::BrokenPipe
    );
    // The strong reader is not refused: it reads everything, then gets end of stream.
    let mut buf = [0u8; 64];
    let mut total = 0;
    loop {
        match block_on(r.read(&mut buf)) {
            Ok(0) => break,
            Ok(k) => total += k,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(total, n * 8);
    assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
    // Terminate on a draining channel: reported, but the channel is terminated and a parked
    // task is woken.
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let g = w.try_reserve(8).unwrap().unwrap();
    chan.drain().unwrap();
    let (cr, wr) = counting_waker();
    assert_eq!(
        r.poll_read_frame(&mut Context::from_waker(&wr), 64),
        Poll::Pending
    );
    assert_eq!(chan.terminate(), Err(ChannelError::TerminateDraining));
    assert!(cr.count() >= 1);
    assert_eq!(
        r.poll_read_frame(&mut Context::from_waker(&wr), 64),
        Poll::Ready(Err(ChannelError::Terminated))
    );
    drop(g);
}

#[test]
fn f08_dropping_a_draining_channel_strands_no_parked_writer() {
    guarded("F8: parked writer, draining channel dropped", || {
        let chan = Channel::new(64);
        let mut w = chan.new_strong_writer();
        let r = chan.new_strong_reader();
        fill(&mut w, 8);
        let writer = thread::spawn(move || block_on(w.write(&[1; 8])));
        chan.drain().unwrap();
        drop(chan);
        assert_eq!(writer.join().unwrap(), Err(ChannelError::Draining));
        drop(r);
    });
}

// ---------------------------------------------------------------------------------------------
// F9 (S1): writer ids were reused while the writer lived, and the 65,536th writer aborted the
// process. Correct: ids unique among live writers, running out is an error, no panic in Drop.

#[test]
fn f09_writer_ids_are_unique_and_running_out_is_an_error() {
    let chan = Channel::try_with_config(Config::new(1024).max_writers(4)).unwrap();
    let mut strong: Vec<StrongWriter> = (0..4)
        .map(|_| chan.try_new_strong_writer().unwrap())
        .collect();
    assert_eq!(
        chan.try_new_strong_writer().unwrap_err(),
        ChannelError::TooManyWriters { max: 4 }
    );
    let mut ids: Vec<u16> = strong.iter().map(|w| w.id().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    strong.truncate(2);
    // Two weak writers writing at the same time (both grants open) get distinct ids, neither
    // that of a live strong writer.
    let mut r = chan.new_strong_reader();
    let mut wa = chan.new_weak_writer();
    let mut wb = chan.new_weak_writer();
    let mut ga = wa.try_reserve(6).unwrap().unwrap();
    let mut gb = wb.try_reserve(6).unwrap().unwrap();
    ga.put(b"weak-a");
    gb.put(b"weak-b");
    ga.commit();
    gb.commit();
    let (ia, ib) = (wa.id().unwrap(), wb.id().unwrap());
    let live: Vec<u16> = strong.iter().map(|w| w.id().unwrap()).collect();
    assert_ne!(ia, ib);
    assert!(!live.contains(&ia) && !live.contains(&ib));
    assert_eq!(r.try_read_frame(64), Ok(Some((ia, b"weak-a".to_vec()))));
    assert_eq!(r.try_read_frame(64), Ok(Some((ib, b"weak-b".to_vec()))));
    // The seed's downgraded_writer_id_reused_while_alive: a strong writer created after a
    // downgrade never shares an id with a frame written concurrently by the downgraded one.
    let s = strong.pop().unwrap();
    let mut down = s.downgrade();
    let mut fresh = chan.try_new_strong_writer().unwrap();
    let mut g = down.try_reserve(4).unwrap().unwrap();
    g.put(b"down");
    fresh.try_write(b"new!").unwrap().unwrap();
    g.commit();
    let (id_down, id_new) = (down.id().unwrap(), fresh.id().unwrap());
    assert_ne!(id_down, id_new, "two writers writing at once share an id");
    assert_eq!(r.try_read_frame(64), Ok(Some((id_down, b"down".to_vec()))));
    assert_eq!(r.try_read_frame(64), Ok(Some((id_new, b"new!".to_vec()))));
}

#[test]
fn f09_concurrent_weak_and_strong_writers_never_share_an_id() {
    let per: u32 = if cfg!(miri) { 20 } else { 3_000 };
    guarded("F9: ids among concurrent writers", move || {
        let chan = Channel::try_with_config(Config::new(512).max_writers(4)).unwrap();
        let mut r = chan.new_strong_reader();
        let mut threads = Vec::new();
        let mut strong_ids = Vec::new();
        // The strong writers stay alive until every frame is read: once a strong writer is
        // dropped its id is free and a weak writer may rightly take it.
        let all_read = std::sync::Arc::new(std::sync::Barrier::new(3));
        for t in 0..4u8 {
            if t < 2 {
                let mut w = chan.new_strong_writer();
                strong_ids.push(w.id().unwrap());
                let all_read = all_read.clone();
                threads.push(thread::spawn(move || {
                    for seq in 0..per {
                        w.blocking_write(&frame(t, seq, 30)).unwrap();
                    }
                    all_read.wait();
                }));
            } else {
                let mut w = chan.new_weak_writer();
                threads.push(thread::spawn(move || {
                    for seq in 0..per {
                        w.blocking_write(&frame(t, seq, 30)).unwrap();
                    }
                }));
            }
        }
        for _ in 0..4 * per {
            let (id, f) = r.blocking_read_frame(64).unwrap();
            let (tag, _) = check(&f, 30);
            if tag < 2 {
                assert_eq!(
                    id, strong_ids[tag as usize],
                    "a strong writer's frame, its id"
                );
            } else {
                assert!(
                    !strong_ids.contains(&id),
                    "a weak writer used a live strong id {id}"
                );
                assert!(id != 0, "id 0 is reserved");
            }
        }
        all_read.wait();
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn f09_max_handles_writers_then_an_error_and_no_panic_on_drop() {
    let limit = if cfg!(miri) { 100 } else { MAX_HANDLES };
    let chan = Channel::try_with_config(Config::new(64).max_writers(limit)).unwrap();
    let mut writers = Vec::with_capacity(limit);
    for _ in 0..limit {
        writers.push(chan.try_new_strong_writer().expect("a slot"));
    }
    assert_eq!(
        chan.try_new_strong_writer().unwrap_err(),
        ChannelError::TooManyWriters { max: limit }
    );
    let mut weak = chan.new_weak_writer();
    assert_eq!(
        weak.try_write(b"x"),
        Ok(None),
        "Park: waits for a slot, no panic"
    );
    let first = writers[0].id().unwrap();
    let last = writers[limit - 1].id().unwrap();
    assert!(first != 0 && last != 0 && first != last);
    drop(writers);
    assert_eq!(weak.try_write(b"x"), Ok(Some(1)));
    assert_eq!(chan.stats().strong_writers, 0);
    assert_eq!(
        Channel::try_with_config(Config::new(64).max_writers(MAX_HANDLES + 1)).unwrap_err(),
        ChannelError::InvalidLimit {
            requested: MAX_HANDLES + 1,
            max: bytecast::MAX_HANDLES,
        }
    );
}

// ---------------------------------------------------------------------------------------------
// F10 (S2): ReaderBehind(n) carried an absolute position. Correct: n is what this reader lost,
// measured from its position (and the frame count goes up too).

#[test]
fn f10_reader_behind_counts_the_payload_bytes_this_reader_lost() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut weak = chan.new_weak_reader();
    let written: Vec<Vec<u8>> = (0..12).map(|i| payload(i, 4)).collect();
    w.try_write(&written[0]).unwrap().unwrap();
    assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, written[0]);
    for p in &written[1..] {
        w.try_write(p).unwrap().unwrap();
    }
    let n = match weak.try_read_frame(64) {
        Err(ChannelError::ReaderBehind(n)) => n,
        other => panic!("expected ReaderBehind, got {other:?}"),
    };
    let next = weak.try_read_frame(64).unwrap().unwrap().1;
    let k = written.iter().position(|p| *p == next).unwrap();
    assert_eq!(
        n,
        4 * (k as u64 - 1),
        "frames 1..{k} (4 bytes each) were lost"
    );
    assert_eq!(weak.lost_frames(), k as u64 - 1);
    assert_eq!(weak.lost_bytes(), n);
    assert!(n < chan.stats().bytes_published, "not a position");
    for p in &written[k + 1..] {
        assert_eq!(&weak.try_read_frame(64).unwrap().unwrap().1, p);
    }
}

// ---------------------------------------------------------------------------------------------
// F11 (S2): weak readers silently skipped frames still in the ring (metadata pruned to the
// strong readers). Correct: a weak reader gets every frame whose bytes are still in the ring.

#[test]
fn f11_weak_reader_gets_frames_a_strong_reader_already_consumed() {
    let chan = Channel::new(1024);
    let mut w = chan.new_strong_writer();
    let mut strong = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let written: Vec<Vec<u8>> = (0..4).map(|i| payload(i, 5)).collect();
    for p in &written {
        w.try_write(p).unwrap().unwrap();
    }
    assert_eq!(frames_of(&mut strong), written);
    let mut got = Vec::new();
    while let Some((_, f)) = weak.try_read_frame(64).unwrap() {
        got.push(f);
    }
    assert_eq!(got, written, "no frame skipped without a ReaderBehind");
    // A weak reader created next to a strong one starts at the same frame.
    let mut late_weak = chan.new_weak_reader();
    let mut late_strong = chan.new_strong_reader();
    assert_eq!(late_weak.try_read_frame(64).unwrap().unwrap().1, written[0]);
    assert_eq!(
        late_strong.try_read_frame(64).unwrap().unwrap().1,
        written[0]
    );
}

// ---------------------------------------------------------------------------------------------
// F12 (S1): a frame larger than the capacity deadlocked (Park) or was lost at once (weak).
// Correct: a too-large frame is refused when written (or written as a short write), never a
// hang; every accepted frame is readable.

#[test]
fn f12_frame_larger_than_max_frame_len_is_refused_never_a_hang() {
    guarded("F12: oversized frames", || {
        let chan = Channel::new(16);
        let max = chan.max_frame_len();
        assert_eq!(max, 56);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let mut weak = chan.new_weak_reader();
        assert!(matches!(
            w.try_reserve(80),
            Err(ChannelError::FrameTooLarge { len: 80, max: 56 })
        ));
        assert!(matches!(
            block_on(w.reserve(1 << 20)),
            Err(ChannelError::FrameTooLarge { len, max: 56 }) if len == 1 << 20
        ));
        let e = ChannelError::FrameTooLarge { len: 80, max: 56 };
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidInput
        );
        // An 80-byte write is a short write of max_frame_len bytes; write_all finishes.
        let data = payload(1, 80);
        assert_eq!(w.try_write(&data), Ok(Some(56)));
        assert_eq!(weak.try_read_frame(1 << 20).unwrap().unwrap().1, data[..56]);
        assert_eq!(block_on(r.read_frame(1 << 20)).unwrap().1, data[..56]);
        assert_eq!(block_on(w.write(&data[56..])), Ok(24));
        assert_eq!(block_on(r.read_frame(1 << 20)).unwrap().1, data[56..]);
        assert_eq!(weak.try_read_frame(1 << 20).unwrap().unwrap().1, data[56..]);
        assert_eq!(chan.stats().dropped_frames, 0);
    });
}

// ---------------------------------------------------------------------------------------------
// F13 (S2): a frame longer than max_len could never be skipped and wedged the channel.
// Correct: the error names the length, leaves the reader in place, and a skip moves on.

#[test]
fn f13_frame_longer_than_the_callers_limit_can_be_skipped() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    w.try_write(&[3; 24]).unwrap().unwrap();
    w.try_write(&[4; 4]).unwrap().unwrap();
    for _ in 0..3 {
        assert_eq!(
            r.try_read_frame(8),
            Err(ChannelError::FrameTooLong { len: 24, limit: 8 })
        );
    }
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(
        w.poll_write(&mut cx, &[5; 24]),
        Poll::Pending,
        "the ring is full"
    );
    assert_eq!(r.try_skip_frame(), Ok(Some(24)));
    assert!(count.count() >= 1);
    assert_eq!(w.poll_write(&mut cx, &[5; 24]), Poll::Ready(Ok(24)));
    assert_eq!(r.try_read_frame(8).unwrap().unwrap().1, [4; 4]);
}

// ---------------------------------------------------------------------------------------------
// F14 (S3): mixing poll_read and read_frame hung. Correct: a frame read after a partial byte
// read returns the rest of that frame.

#[test]
fn f14_frame_read_after_partial_byte_read_returns_the_rest() {
    guarded("F14: poll_read then read_frame", || {
        let chan = Channel::new(64);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        w.try_write(b"12345678").unwrap().unwrap();
        w.try_write(b"next").unwrap().unwrap();
        let mut four = [0u8; 4];
        let noop = noop_waker();
        let mut cx = Context::from_waker(&noop);
        assert_eq!(r.poll_read(&mut cx, &mut four), Poll::Ready(Ok(4)));
        assert_eq!(block_on(r.read_frame(64)).unwrap().1, b"5678");
        assert_eq!(block_on(r.read_frame(64)).unwrap().1, b"next");
    });
}

// ---------------------------------------------------------------------------------------------
// F15 (S2): metadata grew without bound and every Pending pushed another waker. Correct: one
// waker slot per handle, replaced on each poll; nothing grows with frames written.

#[test]
fn f15_repeated_pending_polls_keep_one_waker() {
    let polls = if cfg!(miri) { 50 } else { 10_000 };
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    for _ in 0..polls {
        assert_eq!(r.poll_read_frame(&mut cx, 64), Poll::Pending);
    }
    w.try_write(&[1; 8]).unwrap().unwrap();
    assert_eq!(
        count.count(),
        1,
        "one write wakes the reader once, not once per poll"
    );
    // Each poll with a new waker replaces the previous one.
    r.try_read_frame(64).unwrap().unwrap();
    let counters: Vec<_> = (0..if cfg!(miri) { 10 } else { 1_000 })
        .map(|_| {
            let (c, wk) = counting_waker();
            assert_eq!(
                r.poll_read_frame(&mut Context::from_waker(&wk), 64),
                Poll::Pending
            );
            c
        })
        .collect();
    w.try_write(&[2; 8]).unwrap().unwrap();
    let woken: usize = counters.iter().map(|c| c.count()).sum();
    assert_eq!(woken, 1);
    assert_eq!(
        counters.last().unwrap().count(),
        1,
        "the latest waker is the one woken"
    );
}

#[test]
fn f15_many_frames_without_readers_leave_nothing_behind() {
    let frames = if cfg!(miri) { 200 } else { 200_000 };
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let _idle_weak = chan.new_weak_reader();
    for i in 0..frames {
        w.try_write(&[i as u8; 8]).unwrap().unwrap();
    }
    // A new reader still starts at once and reads the ring's content.
    let mut r = chan.new_weak_reader();
    let mut got = 0;
    while r.try_read_frame(64).unwrap().is_some() {
        got += 1;
    }
    assert!(
        (1..=4).contains(&got),
        "a 64-byte ring holds at most 4 such frames, got {got}"
    );
    assert_eq!(chan.stats().frames_published, frames as u64);
}

// ---------------------------------------------------------------------------------------------
// F16 (S1): Miri reported a data race on the strong-reader path (`&mut` to the whole buffer
// from several threads). Correct: no such reference; these two-thread tests pass under Miri.

#[test]
fn f16_writer_thread_and_strong_reader_thread_are_race_free() {
    let frames: u32 = if cfg!(miri) { 200 } else { 20_000 };
    guarded("F16: writer thread + strong reader thread", move || {
        let chan = Channel::new(64);
        let spread = 20;
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let reader = thread::spawn(move || {
            for seq in 0..frames {
                if seq % 3 == 0 {
                    let f = block_on(r.borrow_frame()).unwrap();
                    assert_eq!(check(&f, spread), (0, seq));
                } else {
                    let (_, f) = r.blocking_read_frame(64).unwrap();
                    assert_eq!(check(&f, spread), (0, seq));
                }
            }
            assert_eq!(r.blocking_read_frame(64), Err(ChannelError::EndOfStream));
        });
        for seq in 0..frames {
            let f = frame(0, seq, spread);
            if seq % 2 == 0 {
                assert_eq!(w.blocking_write(&f), Ok(f.len()));
            } else {
                let mut g = block_on(w.reserve(f.len())).unwrap();
                g.put(&f);
                g.commit();
            }
        }
        chan.drain().unwrap();
        reader.join().unwrap();
    });
}

#[test]
fn f16_writer_thread_and_weak_reader_thread_are_race_free() {
    let frames: u32 = if cfg!(miri) { 200 } else { 20_000 };
    guarded("F16: writer thread + weak reader thread", move || {
        let chan = Channel::new(64);
        let spread = 20;
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_weak_reader();
        let reader = thread::spawn(move || {
            let mut delivered = 0u64;
            let mut last = None;
            loop {
                match r.blocking_read_frame(64) {
                    Ok((_, f)) => {
                        let (_, seq) = check(&f, spread);
                        if let Some(l) = last {
                            assert!(seq > l, "went backwards");
                        }
                        last = Some(seq);
                        delivered += 1;
                    }
                    Err(ChannelError::ReaderBehind(n)) => assert!(n > 0),
                    Err(ChannelError::EndOfStream) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            delivered + r.lost_frames()
        });
        for seq in 0..frames {
            assert!(w.blocking_write(&frame(0, seq, spread)).is_ok());
        }
        chan.drain().unwrap();
        assert_eq!(reader.join().unwrap(), frames as u64);
    });
}

// ---------------------------------------------------------------------------------------------
// F17 (S3): capacity 0 became 1 and rounding was silent. Correct: 0 is rejected, the real
// capacity is exposed.

#[test]
fn f17_zero_capacity_is_rejected_and_the_real_capacity_is_exposed() {
    assert_eq!(
        Channel::try_new(0, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: 0,
            max: bytecast::MAX_CAPACITY
        }
    );
    assert!(std::panic::catch_unwind(|| Channel::new(0)).is_err());
    for (req, real) in [(1, 64), (3, 64), (5, 64), (1000, 1024), (4096, 4096)] {
        assert_eq!(Channel::new(req).capacity(), real);
    }
}

// ---------------------------------------------------------------------------------------------
// F18 (S3): no end of stream when all writers are gone. Correct: once the channel and every
// writer are gone and the reader read everything, it gets EndOfStream.

#[test]
fn f18_end_of_stream_once_the_channel_and_every_writer_are_gone() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    w.try_write(b"one").unwrap().unwrap();
    ww.try_write(b"two").unwrap().unwrap();
    drop(w);
    drop(chan);
    let (count, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"one");
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"two");
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Pending,
        "a weak writer is still alive"
    );
    drop(ww);
    assert!(
        count.count() >= 1,
        "the last writer leaving woke the reader"
    );
    assert_eq!(
        r.poll_read_frame(&mut cx, 64),
        Poll::Ready(Err(ChannelError::EndOfStream))
    );
    assert_eq!(r.try_read(&mut [0; 4]), Ok(Some(0)));
    assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, b"one");
    assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, b"two");
    assert_eq!(weak.try_read_frame(64), Err(ChannelError::EndOfStream));
}

#[test]
fn f18_end_of_stream_reaches_a_reader_thread_blocked_on_read() {
    guarded("F18: blocked reader sees end of stream", || {
        let chan = Channel::new(64);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let reader = thread::spawn(move || {
            let mut frames = 0;
            loop {
                match r.blocking_read_frame(64) {
                    Ok(_) => frames += 1,
                    Err(ChannelError::EndOfStream) => return frames,
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        drop(chan);
        for i in 0..10 {
            w.blocking_write(&payload(i, 8)).unwrap();
        }
        drop(w);
        assert_eq!(reader.join().unwrap(), 10);
    });
}

// ---------------------------------------------------------------------------------------------
// F19 (S3): a new reader's start position depended on who else existed. Correct: one rule
// (the oldest frame still whole, or the tail on request), whoever else exists.

#[test]
fn f19_new_reader_start_does_not_depend_on_other_readers() {
    // The same writes, with and without another strong reader that has read part of them;
    // both without and with the ring wrapping around.
    for frames in [4usize, 6] {
        let mut starts = Vec::new();
        for other in 0..3 {
            let chan = Channel::new(64);
            let mut w = chan.new_strong_writer();
            let mut others = (
                (other == 1).then(|| chan.new_strong_reader()),
                (other == 2).then(|| chan.new_weak_reader()),
            );
            for i in 0..frames {
                w.try_write(&payload(i, 8)).unwrap().unwrap();
                if i == 0 {
                    if let Some(s) = others.0.as_mut() {
                        s.try_read_frame(64).unwrap().unwrap();
                    }
                }
                if i == 3 {
                    if let Some(s) = others.0.as_mut() {
                        s.try_read_frame(64).unwrap().unwrap();
                    }
                }
            }
            let mut strong = chan.new_strong_reader();
            let mut weak = chan.new_weak_reader();
            let first_strong = strong.try_read_frame(64).unwrap().unwrap().1;
            let first_weak = weak.try_read_frame(64).unwrap().unwrap().1;
            assert_eq!(first_strong, first_weak, "strong and weak start alike");
            let mut tail = chan.try_new_strong_reader(StartAt::Tail).unwrap();
            assert_eq!(
                tail.try_read_frame(64),
                Ok(None),
                "tail sees only new frames"
            );
            starts.push(first_strong);
        }
        let labels = [
            "no other reader",
            "another strong reader",
            "another weak reader",
        ];
        for k in 1..3 {
            assert_eq!(
                starts[k], starts[0],
                "{frames} frames: the start with {} differs from the start with {}",
                labels[k], labels[0]
            );
        }
        // The oldest frame still whole: with 6 frames of 16 bytes in 64, frames 2..5 remain.
        let oldest = frames.saturating_sub(4);
        assert_eq!(
            starts[0],
            payload(oldest, 8),
            "{frames} frames: oldest whole frame"
        );
    }
}
