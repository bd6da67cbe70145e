//! Pipe reads against lapping writers (losses exact, reported once, never joined across), loss
//! deliveries, end of stream under closes, clones and conversions, wake-ups on the last close,
//! `for_frames`' promise and the channel's loss totals. Threads and sweeps: not under Miri, and
//! not with narrowed positions (rings beyond their 256 KiB limit).
#![cfg(not(any(miri, bytecast_narrow_positions)))]

use bytecast::poll::{Delivery, Loss};
use bytecast::{Backpressure, Channel, ChannelError};
use futures::task::noop_waker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;

fn cx_noop() -> Context<'static> {
    let w = Box::leak(Box::new(noop_waker()));
    Context::from_waker(w)
}

/// A weak reader that pipe-reads part of a frame, is lapped, then reads on: the loss is held,
/// counted once, exact, and matches the channel totals.
#[test]
fn pipe_loss_after_partial_frame_is_exact_and_once() {
    let chan = Channel::with_parameters(64, Backpressure::Drop);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_weak_reader();
    // 3 frames of 8 bytes: 16 ring bytes each, 48 of 64.
    for i in 0..3u8 {
        assert_eq!(w.try_write(&[i; 8]).unwrap(), Some(8));
    }
    let mut b = [0u8; 11];
    // Reads frame 0 and 3 bytes of frame 1.
    assert_eq!(r.try_read(&mut b).unwrap(), Some(11));
    assert_eq!(&b[..8], &[0; 8]);
    assert_eq!(&b[8..], &[1; 3]);
    // Lap it: frames 1.. overwritten.
    for i in 3..12u8 {
        assert_eq!(w.try_write(&[i; 8]).unwrap(), Some(8));
    }
    let mut big = [0u8; 256];
    let e = r.try_read(&mut big).unwrap_err();
    let ChannelError::ReaderBehind(lost) = e else {
        panic!("{e:?}")
    };
    // Then data.
    let mut got = Vec::new();
    loop {
        match r.try_read(&mut big) {
            Ok(Some(n)) => got.extend_from_slice(&big[..n]),
            Ok(None) => break,
            Err(e) => panic!("second error {e:?}"),
        }
    }
    assert_eq!(got.len() % 8, 0);
    let first = got[0];
    // Everything between what was delivered (11 bytes) and the resume point was lost.
    let delivered = 11 + got.len() as u64;
    assert_eq!(delivered + lost, 12 * 8, "lost {lost}, got {got:?}");
    assert_eq!(r.lost_bytes(), lost);
    // Frames 1..first were lost (frame 1 in part).
    assert_eq!(r.lost_frames(), first as u64 - 1);
    let s = chan.stats();
    assert_eq!((s.lost_bytes, s.lost_frames), (lost, first as u64 - 1));
}

/// Same via `poll_delivery`: Loss.frames matches lost_frames exactly, and the sum of the loss
/// and delivered frames equals what was published.
#[test]
fn delivery_loss_counts_match_published() {
    let chan = Channel::with_parameters(128, Backpressure::Drop);
    let mut w = chan.new_weak_writer();
    let mut r = chan.new_weak_reader();
    let mut cx = cx_noop();
    let mut frames = 0u64;
    let mut bytes = 0u64;
    let mut lost = Loss::default();
    let mut next = 0u32;
    for round in 0..200u32 {
        let k = (round * 7) % 13 + 1;
        for _ in 0..k {
            let len = (next as usize * 5) % 37 + 1;
            assert_eq!(w.try_write(&vec![next as u8; len]).unwrap(), Some(len));
            next += 1;
        }
        // read a few
        for _ in 0..(round % 4) {
            match r.poll_delivery(&mut cx) {
                Poll::Ready(Ok(Delivery::Frame(f))) => {
                    frames += 1;
                    bytes += f.payload.len() as u64;
                }
                Poll::Ready(Ok(Delivery::Lost(l))) => {
                    assert!(l.frames > 0 && l.bytes > 0, "{l:?}");
                    lost.frames += l.frames;
                    lost.bytes += l.bytes;
                }
                Poll::Ready(Err(e)) => panic!("{e:?}"),
                Poll::Pending => break,
            }
        }
    }
    loop {
        match r.poll_delivery(&mut cx) {
            Poll::Ready(Ok(Delivery::Frame(f))) => {
                frames += 1;
                bytes += f.payload.len() as u64;
            }
            Poll::Ready(Ok(Delivery::Lost(l))) => {
                lost.frames += l.frames;
                lost.bytes += l.bytes;
            }
            Poll::Ready(Err(e)) => panic!("{e:?}"),
            Poll::Pending => break,
        }
    }
    let s = chan.stats();
    assert_eq!(frames + lost.frames, s.frames_published);
    assert_eq!(bytes + lost.bytes, s.bytes_published);
    assert_eq!((r.lost_frames(), r.lost_bytes()), (lost.frames, lost.bytes));
    assert_eq!((s.lost_frames, s.lost_bytes), (lost.frames, lost.bytes));
}

/// Threads: a writer floods, a weak reader pipe-reads with odd buffer sizes. Each frame is
/// `[seq as u32 LE][seq byte * n]`; reads are checked for never joining two sides of a loss
/// and for exact accounting.
#[test]
fn threaded_pipe_reads_never_join_across_a_loss() {
    for _ in 0..4 {
        let chan = Channel::with_parameters(1024, Backpressure::Drop);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_weak_reader();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let writer = thread::spawn(move || {
            let mut seq = 0u32;
            let mut published = 0u64;
            while seq < 200_000 {
                let len = 4 + (seq as usize % 29);
                let mut f = vec![(seq % 251) as u8; len];
                f[..4].copy_from_slice(&seq.to_le_bytes());
                if let Ok(Some(n)) = w.try_write(&f) {
                    assert_eq!(n, len);
                    published += n as u64;
                    seq += 1;
                }
            }
            stop2.store(true, Ordering::SeqCst);
            published
        });
        let byte = |seq: u32, off: usize| {
            if off < 4 {
                seq.to_le_bytes()[off]
            } else {
                (seq % 251) as u8
            }
        };
        let mut lost_total = 0u64;
        let mut delivered = 0u64;
        let mut buf = [0u8; 97];
        let mut expect: (u32, usize) = (0, 0);
        let sizes = [1usize, 3, 7, 64, 97, 13];
        let mut k = 0;
        let mut last_seq = 0u32;
        loop {
            let sz = sizes[k % sizes.len()];
            k += 1;
            match r.try_read(&mut buf[..sz]) {
                Ok(Some(n)) => {
                    delivered += n as u64;
                    for &b in &buf[..n] {
                        let (seq, off) = expect;
                        assert_eq!(b, byte(seq, off), "joined/torn: seq {seq} off {off}");
                        last_seq = seq;
                        expect = if off + 1 == flen(seq) {
                            (seq + 1, 0)
                        } else {
                            (seq, off + 1)
                        };
                    }
                }
                Ok(None) => {
                    if stop.load(Ordering::SeqCst) && r.lag() == 0 {
                        break;
                    }
                }
                Err(ChannelError::ReaderBehind(n)) => {
                    assert!(n > 0);
                    lost_total += n;
                    let mut lost_here = n;
                    let mut seen_between = 0u64;
                    let (from_seq, from_off) = expect;
                    // Resumes at a frame start: read its 4-byte seq.
                    'resync: loop {
                        let mut h = [0u8; 4];
                        let mut got = 0;
                        while got < 4 {
                            match r.try_read(&mut h[got..]) {
                                Ok(Some(m)) => {
                                    got += m;
                                    delivered += m as u64;
                                }
                                Ok(None) => {}
                                Err(ChannelError::ReaderBehind(m)) => {
                                    lost_total += m;
                                    lost_here += m;
                                    seen_between += got as u64;
                                    continue 'resync;
                                }
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                        let seq = u32::from_le_bytes(h);
                        assert!(seq > last_seq, "resumed backwards {seq} <= {last_seq}");
                        let span: u64 = (from_seq..seq).map(|x| flen(x) as u64).sum();
                        assert_eq!(
                            lost_here + seen_between,
                            span - from_off as u64,
                            "loss from ({from_seq},{from_off}) to {seq}"
                        );
                        last_seq = seq;
                        expect = if flen(seq) == 4 {
                            (seq + 1, 0)
                        } else {
                            (seq, 4)
                        };
                        break;
                    }
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        let published = writer.join().unwrap();
        // Drain the rest.
        assert_eq!(delivered + lost_total, published, "accounting");
        assert_eq!(r.lost_bytes(), lost_total);
    }
}

/// EndOfStream only after the bytes: a pipe read meeting the end with bytes delivers them,
/// and the next call is EndOfStream (never Ok(Some(0)) on a non-empty buffer).
#[test]
fn end_of_stream_after_close_and_channel_drop() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut wk = chan.new_weak_writer();
    let mut wk2 = wk.clone();
    let mut r = chan.new_strong_reader();
    w.try_write(b"abc").unwrap();
    wk.try_write(b"def").unwrap();
    drop(chan);
    w.close();
    wk.close();
    let mut b = [0u8; 64];
    // The clone still lives: no end of stream.
    assert_eq!(r.try_read(&mut b).unwrap(), Some(6));
    assert_eq!(r.try_read(&mut b).unwrap(), None);
    wk2.try_write(b"g").unwrap();
    wk2.close();
    assert_eq!(r.try_read(&mut b).unwrap(), Some(1));
    assert_eq!(r.try_read(&mut b), Err(ChannelError::EndOfStream));
    assert_eq!(r.try_read(&mut b), Err(ChannelError::EndOfStream));
    // A clone of a closed weak writer is closed and does not revive the stream.
    let mut c = wk.clone();
    assert!(c.is_closed());
    assert_eq!(c.try_write(b"x"), Err(ChannelError::Closed));
    assert_eq!(r.try_read(&mut b), Err(ChannelError::EndOfStream));
}

/// A reader parked in poll_read is woken when the last writer closes after the channel is gone.
#[test]
fn parked_reader_wakes_on_last_close() {
    for _ in 0..200 {
        let chan = Channel::new(256);
        let w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        drop(chan);
        let t = thread::spawn(move || {
            let mut w = w;
            thread::yield_now();
            w.close();
            w
        });
        let mut b = [0u8; 8];
        assert_eq!(r.blocking_read(&mut b), Err(ChannelError::EndOfStream));
        t.join().unwrap();
    }
}

/// for_frames: from an empty ring at any offset, `frames` frames of `len` bytes fit under Drop.
#[test]
fn for_frames_promise_sweep() {
    let lens = [
        1usize,
        7,
        8,
        9,
        31,
        56,
        57,
        100,
        1000,
        4095,
        4096,
        32 * 1024,
        40_000,
        70_000,
    ];
    for &len in &lens {
        for frames in [1usize, 2, 3, 5, 7, 16] {
            let chan = Channel::for_frames(frames, len, Backpressure::Drop).unwrap();
            let cap = chan.capacity();
            let mut w = chan.new_strong_writer();
            let mut r = chan.new_strong_reader();
            let payload = vec![1u8; len];
            // Walk the ring 24 bytes at a time (a 9-byte frame), which visits every multiple
            // of 8 (gcd(24, cap) = 8); test at up to 256 of those offsets.
            let steps = cap / 8;
            let every = (steps / 256).max(1);
            for step in 0..steps {
                assert_eq!(w.try_write(&[0u8; 9]).unwrap(), Some(9));
                let mut b = [0u8; 16];
                assert_eq!(r.try_read(&mut b).unwrap(), Some(9));
                if step % every != 0 {
                    continue;
                }
                for i in 0..frames {
                    match w.try_write(&payload) {
                        Ok(Some(n)) => assert_eq!(n, len),
                        other => panic!(
                            "for_frames({frames}, {len}) cap {cap}: frame {i} at step {step}: {other:?}"
                        ),
                    }
                }
                let mut sink = vec![0u8; len];
                for _ in 0..frames {
                    r.try_read_frame_into(&mut sink).unwrap().unwrap();
                }
            }
        }
    }
}

fn flen(seq: u32) -> usize {
    4 + (seq as usize % 29)
}

/// Threads: every `Delivery::Lost` names exactly the frames and bytes skipped (checked
/// against the sequence numbers of the frames around it).
#[test]
fn threaded_delivery_loss_is_exact_per_event() {
    for cap in [64usize, 256, 4096] {
        let chan = Channel::with_parameters(cap, Backpressure::Drop);
        let mut w = chan.new_weak_writer();
        let mut r = chan.new_weak_reader();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let n_frames = 300_000u32;
        let writer = thread::spawn(move || {
            let mut seq = 0u32;
            while seq < n_frames {
                let mut f = vec![(seq % 251) as u8; flen(seq)];
                f[..4].copy_from_slice(&seq.to_le_bytes());
                if let Ok(Some(_)) = w.try_write(&f) {
                    seq += 1;
                }
            }
            stop2.store(true, Ordering::SeqCst);
        });
        let mut cx = cx_noop();
        let mut next = 0u32; // seq expected next
        let mut pending: Option<Loss> = None;
        let mut losses = 0;
        loop {
            match r.poll_delivery(&mut cx) {
                Poll::Ready(Ok(Delivery::Frame(f))) => {
                    let seq = u32::from_le_bytes(f.payload[..4].try_into().unwrap());
                    let mut want = vec![(seq % 251) as u8; flen(seq)];
                    want[..4].copy_from_slice(&seq.to_le_bytes());
                    assert_eq!(f.payload, want, "torn frame");
                    if let Some(l) = pending.take() {
                        let frames = (seq - next) as u64;
                        let bytes: u64 = (next..seq).map(|s| flen(s) as u64).sum();
                        assert_eq!(
                            l,
                            Loss { frames, bytes },
                            "loss before seq {seq}, expected from {next}"
                        );
                    } else {
                        assert_eq!(seq, next, "silent gap");
                    }
                    next = seq + 1;
                }
                Poll::Ready(Ok(Delivery::Lost(l))) => {
                    losses += 1;
                    // Two in a row is legal (lapped again before reading the resume frame).
                    assert!(l.frames > 0 && l.bytes > 0, "{l:?}");
                    let p = pending.get_or_insert(Loss::default());
                    p.frames += l.frames;
                    p.bytes += l.bytes;
                }
                Poll::Ready(Err(e)) => panic!("{e:?}"),
                Poll::Pending => {
                    if stop.load(Ordering::SeqCst) && r.lag() == 0 {
                        break;
                    }
                }
            }
        }
        writer.join().unwrap();
        let s = chan.stats();
        assert_eq!(s.lost_frames, r.lost_frames());
        assert!(losses > 0 || cap == 4096);
    }
}

/// A forgotten grant, then the channel and the writer go: the reader reaches end of stream.
#[test]
fn forgotten_grant_then_all_gone_is_end_of_stream() {
    let chan = Channel::new(128);
    let mut w = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    w.try_write(b"a").unwrap();
    let mut g = w.try_reserve(16).unwrap().unwrap();
    g.put(b"zzz");
    std::mem::forget(g);
    drop(chan);
    let mut b = [0u8; 8];
    assert_eq!(r.try_read(&mut b).unwrap(), Some(1));
    assert_eq!(r.try_read(&mut b).unwrap(), None);
    w.close();
    assert_eq!(r.try_read(&mut b), Err(ChannelError::EndOfStream));
}

#[test]
fn stats_totals_survive_departures() {
    let chan = Channel::with_parameters(64, Backpressure::Drop);
    let mut w = chan.new_weak_writer();
    let mut sum_b = 0;
    let mut sum_f = 0;
    for k in 0..5u64 {
        let mut r = chan.new_weak_reader();
        let mut r2 = chan.new_strong_reader().downgrade();
        for i in 0..(10 + k) {
            w.try_write(&[i as u8; 8]).unwrap();
        }
        let mut b = [0u8; 4];
        for rr in [&mut r, &mut r2] {
            match rr.try_read(&mut b) {
                Err(ChannelError::ReaderBehind(n)) => {
                    sum_b += n;
                    sum_f += rr.lost_frames();
                }
                other => panic!("{other:?}"),
            }
        }
        if k % 2 == 0 {
            r.terminate();
        }
        drop(r);
        drop(r2);
    }
    let s = chan.stats();
    assert_eq!(
        (s.lost_bytes, s.lost_frames, s.departed_readers),
        (sum_b, sum_f, 10)
    );
    assert_eq!((s.strong_readers, s.weak_readers), (0, 0));
}

/// A weak writer parked for a writer slot wakes when the strong writer holding it closes.
#[test]
fn weak_writer_waiting_for_slot_wakes_on_close() {
    for _ in 0..100 {
        let chan = Channel::try_with_config(bytecast::Config::new(256).max_writers(1)).unwrap();
        let mut s = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let mut wk = chan.new_weak_writer();
        let t = thread::spawn(move || {
            let n = wk.blocking_write(b"weak").unwrap();
            (n, wk)
        });
        thread::yield_now();
        s.try_write(b"s").unwrap();
        s.close();
        let (n, _wk) = t.join().unwrap();
        assert_eq!(n, 4);
        let mut b = [0u8; 8];
        assert_eq!(r.blocking_read(&mut b).unwrap(), 5);
    }
}

/// A reader parked while a writer lives wakes when the writer closes first and the channel is
/// dropped last (on another thread).
#[test]
fn parked_reader_wakes_on_channel_drop_after_close() {
    for _ in 0..200 {
        let chan = Channel::new(256);
        let mut w = chan.new_weak_writer();
        let mut r = chan.new_strong_reader();
        let t = thread::spawn(move || {
            thread::yield_now();
            w.close();
            thread::yield_now();
            drop(chan);
        });
        let mut b = [0u8; 8];
        assert_eq!(r.blocking_read(&mut b), Err(ChannelError::EndOfStream));
        t.join().unwrap();
    }
}

/// End of stream is never early: writers clone, downgrade, upgrade and close on threads after
/// the channel is gone; the reader must see every frame before EndOfStream.
#[test]
fn end_of_stream_never_early_under_conversions_and_clones() {
    for round in 0..30u32 {
        let chan = Channel::new(512);
        let mut r = chan.new_strong_reader();
        let writers: Vec<_> = (0..3).map(|_| chan.new_strong_writer()).collect();
        drop(chan);
        let mut ts = Vec::new();
        for (k, w) in writers.into_iter().enumerate() {
            ts.push(thread::spawn(move || {
                let mut w = w.downgrade();
                let mut count = 0u32;
                for i in 0..300u32 {
                    let mut c = w.clone();
                    if (i + k as u32 + round) % 3 == 0 {
                        w.close();
                        w = c;
                    } else if (i + round) % 5 == 0 {
                        let s = c.upgrade().map_err(|(_, e)| e).unwrap();
                        c = s.downgrade();
                        drop(std::mem::replace(&mut w, c));
                    } else {
                        drop(c);
                    }
                    w.blocking_write(&[k as u8; 3]).unwrap();
                    count += 1;
                }
                w.close();
                count
            }));
        }
        let mut got = 0u32;
        let mut b = [0u8; 64];
        loop {
            match r.blocking_read(&mut b) {
                Ok(n) => got += n as u32,
                Err(ChannelError::EndOfStream) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        let sent: u32 = ts.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(got, sent * 3, "end of stream before every frame was read");
    }
}
