//! Behaviours that selium-messaging 1.0.0-alpha.6 got wrong, each with a test of what a correct
//! channel does instead, in this crate's API. Each section opens with what selium-messaging did
//! and what is correct. Tests that could hang on a regression run under a watchdog (20 s
//! natively), so a hang shows as a failure.
//!
//! The feature suites hold the tests for the rest of what selium-messaging got wrong:
//! `writers.rs` (`idle_strong_writer_never_holds_readers_back`,
//! `idle_weak_writer_never_holds_readers_back`), `ending.rs`
//! (`commit_or_abort_completing_at_the_readable_end_wakes_the_parked_reader`,
//! `drain_refuses_new_frames_and_readers_finish_then_see_end_of_stream`,
//! `terminating_a_draining_channel_is_an_error_but_terminates_and_wakes`), `readers.rs`
//! (`weak_reader_lapped_reports_exact_loss_and_resumes_at_a_whole_frame`,
//! `weak_reader_gets_every_frame_still_in_the_ring`,
//! `frame_too_long_leaves_the_reader_in_place_and_skip_frame_moves_on`,
//! `skipping_a_frame_releases_its_space_for_parked_writers`,
//! `frame_read_after_a_partial_byte_read_returns_the_rest_of_that_frame`) and `log.rs`
//! (`zero_or_unallocatable_capacity_is_an_error_from_the_fallible_constructors`,
//! `capacity_is_rounded_up_to_a_power_of_two_of_at_least_the_minimum_and_reported`).

use bytecast::{Backpressure, Channel, ChannelError, Config, StartAt, StrongWriter, MAX_HANDLES};
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
#[path = "support/payloads.rs"]
mod payloads;
use payloads::{check_frame, checked_frame, fill, payload};

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
                let (tag, seq) = check_frame(&f, spread);
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
                    let f = checked_frame(t as u8, seq, spread);
                    assert_eq!(w.blocking_write(&f), Ok(f.len()));
                }
            }));
        } else {
            let mut w = chan.new_strong_writer();
            writer_threads.push(thread::spawn(move || {
                for seq in 0..per_writer {
                    let f = checked_frame(t as u8, seq, spread);
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
// An idle writer hid every other writer's frames: the readable end was the minimum over all
// writers' cursors. Correct: only open reservations bound the readable end.

#[test]
fn four_writers_reach_one_strong_reader_while_finished_writers_stay_idle() {
    let per = if cfg!(miri) { 20 } else { 2_000 };
    guarded("4 writers x 1 strong reader", move || {
        strong_stress(4, false, 1, 1024, per);
    });
    guarded(
        "4 writers x 1 strong reader, writers stay alive",
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
                        w.blocking_write(&checked_frame(t, seq, 40)).unwrap();
                    }
                    let _ = done.lock().unwrap().recv();
                    drop(w);
                }));
            }
            let mut next = [0u32; 4];
            for _ in 0..4 * per {
                let (_, f) = r.blocking_read_frame(usize::MAX).unwrap();
                let (tag, seq) = check_frame(&f, 40);
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
// Lost wake-ups: a frame completing exactly at the readable end woke nobody, nor did a readable
// end that moved when a writer left. Correct: every advance of the readable end wakes the
// readers.

#[test]
fn one_writer_one_strong_reader_on_a_small_ring_never_hang() {
    let frames: u32 = if cfg!(miri) { 100 } else { 20_000 };
    guarded("1 writer x 1 strong reader, 64-byte ring", move || {
        let chan = Channel::new(1);
        assert_eq!(chan.capacity(), 64);
        let spread = chan.max_frame_len() - 4;
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let writer = thread::spawn(move || {
            for seq in 0..frames {
                let f = checked_frame(0, seq, spread);
                assert_eq!(w.blocking_write(&f), Ok(f.len()));
            }
        });
        for seq in 0..frames {
            let (_, f) = r.blocking_read_frame(64).unwrap();
            assert_eq!(check_frame(&f, spread), (0, seq));
        }
        writer.join().unwrap();
    });
}

#[test]
fn one_writer_four_strong_readers_never_hang() {
    let per = if cfg!(miri) { 30 } else { 5_000 };
    guarded("1 writer x 4 strong readers", move || {
        strong_stress(1, false, 4, 128, per);
    });
}

#[test]
fn four_weak_writers_one_strong_reader_never_hang() {
    let per = if cfg!(miri) { 20 } else { 2_000 };
    guarded("4 weak writers x 1 strong reader", move || {
        strong_stress(4, true, 1, 256, per);
    });
}

// ---------------------------------------------------------------------------------------------
// Weak readers got corrupted frames as `Ok` (a data race). Correct: a lapped weak reader gets
// `ReaderBehind`, never someone else's bytes; the copy is race-free (Miri runs this).

#[test]
fn weak_reader_never_delivers_a_torn_frame() {
    let per: u32 = if cfg!(miri) { 60 } else { 10_000 };
    guarded("2 writers x 1 weak reader", move || {
        let chan = Channel::new(256);
        let spread = 60;
        let mut weak = chan.new_weak_reader();
        let mut threads = Vec::new();
        let mut total_bytes = 0u64;
        for t in 0..2u8 {
            total_bytes += (0..per)
                .map(|s| checked_frame(t, s, spread).len() as u64)
                .sum::<u64>();
            let mut w = chan.new_strong_writer();
            threads.push(thread::spawn(move || {
                for seq in 0..per {
                    w.blocking_write(&checked_frame(t, seq, spread)).unwrap();
                }
            }));
        }
        let reader = thread::spawn(move || {
            let (mut frames, mut bytes, mut reported) = (0u64, 0u64, 0u64);
            let mut last = [None::<u32>; 2];
            loop {
                match weak.blocking_read_frame(usize::MAX) {
                    Ok((_, f)) => {
                        let (tag, seq) = check_frame(&f, spread);
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
// A writer stopped mid-frame yielded a torn frame or a permanent stall. Correct: the unfinished
// frame is skipped by every reader and never stalls the channel.

#[test]
fn writer_stopped_mid_frame_is_skipped_and_never_stalls() {
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
    guarded("panicking writer", move || {
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
// The public `reserve_slice` left an unfillable hole. Correct: a grant committed short or
// dropped leaves no hole: readers skip the unused part.

#[test]
fn grant_committed_short_or_dropped_leaves_no_hole() {
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
// A shorter buffer after a partial (pending) write panicked. Correct: a `Pending` write wrote
// nothing; a re-poll with any buffer writes that buffer whole.

#[test]
fn shorter_buffer_after_a_pending_write_is_written_whole() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let n = fill(&mut w, 16).len();
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
// `Drop` mode with several writers wrote partial frames, panicked and stalled. Correct: a frame
// is accepted whole or refused whole (counted), with any number of writers.

#[test]
fn drop_mode_with_many_writers_accepts_or_refuses_frames_whole() {
    let per: u32 = if cfg!(miri) { 40 } else { 10_000 };
    guarded("Drop mode, 3 writers x 1 strong reader", move || {
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
                    let f = checked_frame(t, seq, spread);
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
                        let (tag, seq) = check_frame(&f, spread);
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
// `drain()` stranded parked tasks. Correct: draining, and dropping a draining channel, wakes
// every parked task with its new state.

#[test]
fn dropping_a_draining_channel_strands_no_parked_writer() {
    guarded("parked writer, draining channel dropped", || {
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
// Writer ids were reused while the writer lived, and the 65,536th writer aborted the process.
// Correct: ids unique among live writers, running out is an error, no panic in `Drop`.

#[test]
fn writer_ids_are_unique_and_running_out_is_an_error() {
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
    // A strong writer created after a downgrade never shares an id with a frame written
    // concurrently by the downgraded one (selium-messaging reused it while the downgraded writer
    // was alive).
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
fn concurrent_weak_and_strong_writers_never_share_an_id() {
    let per: u32 = if cfg!(miri) { 20 } else { 3_000 };
    guarded("ids among concurrent writers", move || {
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
                        w.blocking_write(&checked_frame(t, seq, 30)).unwrap();
                    }
                    all_read.wait();
                }));
            } else {
                let mut w = chan.new_weak_writer();
                threads.push(thread::spawn(move || {
                    for seq in 0..per {
                        w.blocking_write(&checked_frame(t, seq, 30)).unwrap();
                    }
                }));
            }
        }
        for _ in 0..4 * per {
            let (id, f) = r.blocking_read_frame(64).unwrap();
            let (tag, _) = check_frame(&f, 30);
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
fn max_handles_writers_then_an_error_and_no_panic_on_drop() {
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
// A frame larger than the capacity deadlocked (`Park`) or was lost at once (weak readers).
// Correct: a too-large frame is refused when reserved (or written as a short write), never a
// hang; every accepted frame is readable.

#[test]
fn frame_larger_than_max_frame_len_is_refused_never_a_hang() {
    guarded("oversized frames", || {
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
// Metadata grew without bound and every `Pending` pushed another waker. Correct: one waker
// cell per handle, replaced on each poll; nothing grows with frames written.

#[test]
fn repeated_pending_polls_keep_one_waker() {
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
fn many_frames_without_readers_leave_nothing_behind() {
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
// Miri reported a data race on the strong-reader path (`&mut` to the whole buffer from several
// threads). Correct: no such reference; these two-thread tests pass under Miri.

#[test]
fn writer_thread_and_strong_reader_thread_are_race_free() {
    let frames: u32 = if cfg!(miri) { 200 } else { 20_000 };
    guarded("writer thread + strong reader thread", move || {
        let chan = Channel::new(64);
        let spread = 20;
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let reader = thread::spawn(move || {
            for seq in 0..frames {
                if seq % 3 == 0 {
                    let f = block_on(r.borrow_frame()).unwrap();
                    assert_eq!(check_frame(&f, spread), (0, seq));
                } else {
                    let (_, f) = r.blocking_read_frame(64).unwrap();
                    assert_eq!(check_frame(&f, spread), (0, seq));
                }
            }
            assert_eq!(r.blocking_read_frame(64), Err(ChannelError::EndOfStream));
        });
        for seq in 0..frames {
            let f = checked_frame(0, seq, spread);
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
fn writer_thread_and_weak_reader_thread_are_race_free() {
    let frames: u32 = if cfg!(miri) { 200 } else { 20_000 };
    guarded("writer thread + weak reader thread", move || {
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
                        let (_, seq) = check_frame(&f, spread);
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
            assert!(w.blocking_write(&checked_frame(0, seq, spread)).is_ok());
        }
        chan.drain().unwrap();
        assert_eq!(reader.join().unwrap(), frames as u64);
    });
}

// ---------------------------------------------------------------------------------------------
// No end of stream when all writers were gone. Correct: once the channel and every writer are
// gone and the reader has read everything, it gets `EndOfStream`.

#[test]
fn end_of_stream_once_the_channel_and_every_writer_are_gone() {
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
    assert_eq!(r.try_read(&mut [0; 4]), Err(ChannelError::EndOfStream));
    assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, b"one");
    assert_eq!(weak.try_read_frame(64).unwrap().unwrap().1, b"two");
    assert_eq!(weak.try_read_frame(64), Err(ChannelError::EndOfStream));
}

#[test]
fn end_of_stream_reaches_a_reader_thread_blocked_on_read() {
    guarded("blocked reader sees end of stream", || {
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
// A new reader's start position depended on who else existed. Correct: one rule (the oldest
// frame still whole, or the tail on request), whoever else exists.

#[test]
fn new_reader_start_does_not_depend_on_other_readers() {
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
