//! Seeded multi-threaded stress with self-checking frames.
//!
//! `BYTECAST_STRESS_SECONDS` (default 1) sets how long each scenario runs; `BYTECAST_SEED` picks
//! the random seed (printed on failure). Strong readers must see every frame of every writer in order,
//! whole; weak readers must never see a torn frame, and their delivered plus lost frames must
//! add up. Under Miri the scenarios run a few hundred frames (and Miri's race detector checks the
//! weak reader's copies).

use bytecast::{Backpressure, Channel, ChannelError, Config};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn seed() -> u64 {
    std::env::var("BYTECAST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed)
}

fn budget() -> Duration {
    let secs = std::env::var("BYTECAST_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

/// xorshift64*: small, seeded, good enough to vary lengths.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// writer u16 | seq u64 | body | fnv u32
fn encode(writer: u16, seq: u64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&writer.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend((0..len).map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8));
    let sum = fnv(out);
    out.extend_from_slice(&sum.to_le_bytes());
}

fn decode(f: &[u8]) -> Option<(u16, u64)> {
    let (body, sum) = f.split_at(f.len().checked_sub(4)?);
    if body.len() < 10 || fnv(body) != u32::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    Some((
        u16::from_le_bytes(body[..2].try_into().ok()?),
        u64::from_le_bytes(body[2..10].try_into().ok()?),
    ))
}

struct Outcome {
    written: Vec<u64>,
    strong: Vec<Vec<u64>>,
    weak: Vec<(u64, u64)>,
}

fn run(capacity: usize, writers: usize, strong: usize, weak: usize, weak_writers: bool) -> Outcome {
    let seed = seed();
    let max_frames: u64 = if cfg!(miri) { 60 } else { u64::MAX };
    let chan = Channel::try_with_config(Config::new(capacity).backpressure(Backpressure::Park))
        .expect("channel");
    let max_len = chan.max_frame_len().min(300) - 14;
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + budget();

    let strong_threads: Vec<_> = (0..strong)
        .map(|_| {
            let mut r = chan.new_strong_reader();
            std::thread::spawn(move || {
                let mut next_seq = vec![0u64; writers];
                loop {
                    match r.blocking_read_frame(1 << 16) {
                        Ok((_, f)) => {
                            let (w, s) = decode(&f).expect("strong reader: torn frame");
                            assert_eq!(
                                s, next_seq[w as usize],
                                "strong reader: loss or reorder (seed {seed})"
                            );
                            next_seq[w as usize] += 1;
                        }
                        Err(ChannelError::EndOfStream) => return next_seq,
                        Err(e) => panic!("strong reader: {e} (seed {seed})"),
                    }
                }
            })
        })
        .collect();
    let weak_threads: Vec<_> = (0..weak)
        .map(|_| {
            let mut r = chan.new_weak_reader();
            std::thread::spawn(move || {
                let mut delivered = 0u64;
                loop {
                    match r.blocking_read_frame(1 << 16) {
                        Ok((_, f)) => {
                            decode(&f).expect("weak reader delivered a torn frame");
                            delivered += 1;
                        }
                        Err(ChannelError::ReaderBehind(_)) => {}
                        Err(ChannelError::EndOfStream) => return (delivered, r.lost_frames()),
                        Err(e) => panic!("weak reader: {e} (seed {seed})"),
                    }
                }
            })
        })
        .collect();
    let writer_threads: Vec<_> = (0..writers)
        .map(|i| {
            let chan = chan.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rng = seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let mut buf = Vec::new();
                let mut seq = 0u64;
                let mut strong_w = (!weak_writers).then(|| chan.new_strong_writer());
                let mut weak_w = weak_writers.then(|| chan.new_weak_writer());
                while seq < max_frames
                    && !stop.load(Ordering::Relaxed)
                    && (cfg!(miri) || Instant::now() < deadline)
                {
                    let len = (next(&mut rng) as usize) % max_len;
                    encode(i as u16, seq, len, &mut buf);
                    if next(&mut rng) % 7 == 0 {
                        // An aborted grant now and then: readers must skip it.
                        let g = match (&mut strong_w, &mut weak_w) {
                            (Some(w), _) => futures::executor::block_on(w.reserve(len + 1)),
                            (_, Some(w)) => futures::executor::block_on(w.reserve(len + 1)),
                            _ => unreachable!(),
                        };
                        let mut g = g.expect("reserve");
                        g.put(&buf[..len.min(buf.len())]);
                        g.abort();
                    }
                    let n = match (&mut strong_w, &mut weak_w) {
                        (Some(w), _) => w.blocking_write(&buf),
                        (_, Some(w)) => w.blocking_write(&buf),
                        _ => unreachable!(),
                    }
                    .expect("write");
                    assert_eq!(n, buf.len());
                    seq += 1;
                }
                seq
            })
        })
        .collect();
    let written: Vec<u64> = writer_threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    stop.store(true, Ordering::Relaxed);
    chan.drain().unwrap();
    Outcome {
        written,
        strong: strong_threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect(),
        weak: weak_threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect(),
    }
}

fn check(o: &Outcome) {
    let total: u64 = o.written.iter().sum();
    assert!(total > 0, "no frame written");
    for seen in &o.strong {
        assert_eq!(
            seen,
            &o.written,
            "strong reader lost frames (seed {})",
            seed()
        );
    }
    for &(delivered, lost) in &o.weak {
        assert_eq!(
            delivered + lost,
            total,
            "weak reader's losses do not add up (seed {})",
            seed()
        );
    }
}

#[test]
fn one_writer_one_strong_reader_small_ring() {
    check(&run(128, 1, 1, 0, false));
}

#[test]
fn four_writers_one_strong_one_weak_reader() {
    check(&run(1024, 4, 1, 1, false));
}

#[test]
fn four_weak_writers_two_strong_readers() {
    check(&run(512, 4, 2, 0, true));
}

#[test]
fn two_writers_weak_readers_only_never_torn() {
    check(&run(256, 2, 0, 2, false));
}

/// Frames from 16 payload bytes are copied with a plain `memcpy` while no weak reader is
/// registered (`RING-EXCL-W`), and with atomic word stores otherwise. Here weak readers join
/// (at the oldest frame or at the tail), read a frame, wait until the writer has lapped them,
/// read again and leave, over and over, while a writer writes large frames: a weak reader must
/// never deliver a torn frame, the strong reader must see every frame, and under Miri a plain
/// copy racing a weak reader's read is reported as a data race (checked: with the exclusivity
/// check disabled, Miri reports one here).
#[test]
fn large_frames_copied_while_weak_readers_join_and_leave() {
    frames_with_weak_reader_churn(8192, 400, 60);
}

/// The same with small frames (14 to about 500 bytes, so some under the `memcpy` threshold) in
/// a 512-byte ring, lapped every few frames.
#[test]
fn small_frames_copied_while_weak_readers_join_and_leave() {
    frames_with_weak_reader_churn(512, 0, 200);
}

/// The same with frames of 4 KiB up to the longest in a 256 KiB ring: those of 32 KiB up to a
/// quarter of the ring start their payload on a 4 KiB boundary (`frame::Placement::at`), after
/// padding that writers, the strong reader and weak readers joining at any record must all step
/// over, under concurrency.
#[test]
fn page_aligned_large_frames_while_weak_readers_join_and_leave() {
    frames_with_weak_reader_churn(256 << 10, 4096, 4);
}

/// A thread with a strong reader of `chan` that checks every frame of writer 0 arrives whole and
/// in order until the end of the stream, and returns how many did.
fn spawn_in_order_reader(chan: &Channel, seed: u64) -> std::thread::JoinHandle<u64> {
    let mut strong = chan.new_strong_reader();
    let read_limit = chan.max_frame_len();
    std::thread::spawn(move || {
        let mut next_seq = 0u64;
        loop {
            match strong.blocking_read_frame(read_limit) {
                Ok((_, f)) => {
                    let (_, s) = decode(&f).expect("strong reader: torn frame");
                    assert_eq!(s, next_seq, "strong reader: loss or reorder (seed {seed})");
                    next_seq += 1;
                }
                Err(ChannelError::EndOfStream) => return next_seq,
                Err(e) => panic!("strong reader: {e} (seed {seed})"),
            }
        }
    })
}

/// Waits (yielding) until the writer has written `n` frames, or the run is stopping.
fn wait_until_written(written: &std::sync::atomic::AtomicU64, n: u64, stop: &AtomicBool) {
    while written.load(Ordering::Relaxed) < n && !stop.load(Ordering::Relaxed) {
        std::thread::yield_now();
    }
}

/// Ends a run with weak-reader churn: the writer leaves, the churn stops, the channel drains,
/// and the strong reader (`spawn_in_order_reader`) must have got all `seq` frames.
fn end_churn(
    w: bytecast::StrongWriter,
    stop: &AtomicBool,
    chan: &Channel,
    strong_thread: std::thread::JoinHandle<u64>,
    seq: u64,
    seed: u64,
) {
    drop(w);
    stop.store(true, Ordering::Relaxed);
    chan.drain().unwrap();
    assert_eq!(
        strong_thread.join().unwrap(),
        seq,
        "strong reader lost frames (seed {seed})"
    );
}

/// One writer writes frames of `min_len` payload bytes (plus the 14 of `encode`) up to the
/// longest (`miri_frames` of them under Miri) while weak readers join, get lapped and leave;
/// see the callers.
fn frames_with_weak_reader_churn(capacity: usize, min_len: usize, miri_frames: u64) {
    use bytecast::StartAt;
    let seed = seed();
    let max_frames: u64 = if cfg!(miri) { miri_frames } else { u64::MAX };
    let chan = Channel::try_with_config(Config::new(capacity).backpressure(Backpressure::Park))
        .expect("channel");
    // Under Miri (slow), frames up to half the ring.
    let max_len = if cfg!(miri) {
        capacity / 2 - 22
    } else {
        chan.max_frame_len() - 14
    };
    let read_limit = chan.max_frame_len();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let deadline = Instant::now() + budget();
    let strong_thread = spawn_in_order_reader(&chan, seed);
    let churn = {
        let chan = chan.clone();
        let stop = stop.clone();
        let written = written.clone();
        std::thread::spawn(move || {
            let (mut joins, mut delivered, mut lapped) = (0u64, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let start = if joins % 2 == 0 {
                    StartAt::Oldest
                } else {
                    StartAt::Tail
                };
                let mut r = chan.try_new_weak_reader(start).expect("weak reader");
                joins += 1;
                let at = written.load(Ordering::Relaxed);
                for round in 0..4 {
                    if round == 1 {
                        // Let the writer lap this reader (8 frames of a sixteenth of the ring
                        // or more).
                        wait_until_written(&written, at + 8, &stop);
                    }
                    match r.try_read_frame(read_limit) {
                        Ok(Some((_, f))) => {
                            decode(&f).expect("weak reader delivered a torn frame");
                            delivered += 1;
                        }
                        Ok(None) => std::thread::yield_now(),
                        Err(ChannelError::ReaderBehind(_)) => lapped += 1,
                        Err(ChannelError::EndOfStream) => break,
                        Err(e) => panic!("weak reader: {e} (seed {seed})"),
                    }
                }
                drop(r);
                std::thread::yield_now();
            }
            (joins, delivered, lapped)
        })
    };
    let mut w = chan.new_strong_writer();
    let mut rng = seed;
    let mut buf = Vec::new();
    let mut seq = 0u64;
    while seq < max_frames && (cfg!(miri) || Instant::now() < deadline) {
        let len = min_len + (next(&mut rng) as usize) % (max_len - min_len);
        encode(0, seq, len, &mut buf);
        assert_eq!(w.blocking_write(&buf), Ok(buf.len()));
        seq += 1;
        written.store(seq, Ordering::Relaxed);
    }
    end_churn(w, &stop, &chan, strong_thread, seq, seed);
    let (joins, delivered, lapped) = churn.join().unwrap();
    eprintln!("{seq} frames; {joins} weak readers joined, {delivered} frames delivered to them, {lapped} laps");
    assert!(joins > 0, "no weak reader joined");
}

/// Grants filled in pieces of 1 to 31 bytes (the partial-word path of a grant's writer, with
/// plain copies while no weak reader exists, `RING-EXCL-W` and `RING-WHOLE`), reserved up to 9
/// bytes longer than they are filled (short commits), one in eleven aborted and one in eleven
/// leaked with `mem::forget`, while weak readers join at the oldest frame, at the tail or as
/// downgraded strong readers, and read frames, odd-sized byte runs and skips: the strong reader
/// gets every committed frame in order, no weak reader a torn one, and under Miri a plain copy
/// racing a weak reader's read is a reported data race.
#[test]
fn grants_in_odd_pieces_while_weak_readers_join_and_leave() {
    use bytecast::StartAt;
    let seed = seed();
    let max_frames: u64 = if cfg!(miri) { 150 } else { u64::MAX };
    let deadline = Instant::now() + budget();
    let chan = Channel::try_with_config(Config::new(512).backpressure(Backpressure::Park))
        .expect("channel");
    let read_limit = chan.max_frame_len();
    // Room for the 14 bytes `encode` adds and the 9 a grant may leave unfilled.
    let max_len = if cfg!(miri) { 200 } else { read_limit - 14 - 9 };
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let strong_thread = spawn_in_order_reader(&chan, seed);
    let churn = {
        let chan = chan.clone();
        let stop = stop.clone();
        let written = written.clone();
        std::thread::spawn(move || {
            let mut joins = 0u64;
            let mut bytes = vec![0u8; 512];
            while !stop.load(Ordering::Relaxed) {
                let mut r = match joins % 3 {
                    0 => chan
                        .try_new_weak_reader(StartAt::Oldest)
                        .expect("weak reader"),
                    1 => chan
                        .try_new_weak_reader(StartAt::Tail)
                        .expect("weak reader"),
                    _ => {
                        // A strong reader that reads a frame if one comes soon, then goes on
                        // as a weak one.
                        let mut s = chan.new_strong_reader();
                        for _ in 0..50 {
                            match s.try_read_frame(read_limit) {
                                Ok(Some((_, f))) => {
                                    decode(&f)
                                        .expect("strong reader, before its downgrade: torn frame");
                                    break;
                                }
                                Ok(None) => std::thread::yield_now(),
                                Err(_) => break,
                            }
                        }
                        s.downgrade()
                    }
                };
                joins += 1;
                let at = written.load(Ordering::Relaxed);
                for round in 0..6 {
                    if round == 2 {
                        // Let the writer lap this reader.
                        wait_until_written(&written, at + 8, &stop);
                    }
                    let got = if round % 2 == 0 {
                        r.try_read_frame(read_limit).map(|f| {
                            if let Some((_, f)) = f {
                                decode(&f).expect("weak reader delivered a torn frame");
                            }
                        })
                    } else {
                        // A byte read of an odd size: the bytes are not checked, the copy is.
                        r.try_read(&mut bytes[..1 + (round * 37) % 300]).map(|_| ())
                    };
                    match got {
                        Ok(()) | Err(ChannelError::ReaderBehind(_)) => {}
                        Err(ChannelError::EndOfStream) => break,
                        Err(e) => panic!("weak reader: {e} (seed {seed})"),
                    }
                    let _ = r.try_skip_frame();
                }
                drop(r);
                std::thread::yield_now();
            }
            joins
        })
    };
    let mut w = chan.new_strong_writer();
    let mut rng = seed;
    let mut buf = Vec::new();
    let (mut seq, mut grants) = (0u64, 0u64);
    while seq < max_frames && (cfg!(miri) || Instant::now() < deadline) {
        grants += 1;
        let len = (next(&mut rng) as usize) % max_len;
        encode(0, seq, len, &mut buf);
        let extra = (next(&mut rng) % 10) as usize;
        let mut g = loop {
            match w.try_reserve(buf.len() + extra) {
                Ok(Some(g)) => break g,
                Ok(None) => std::thread::yield_now(),
                Err(e) => panic!("writer: {e} (seed {seed})"),
            }
        };
        let mut at = 0;
        while at < buf.len() {
            let piece = match next(&mut rng) % 4 {
                0 => 1 + (next(&mut rng) % 7) as usize,
                1 => 8,
                2 => 9 + (next(&mut rng) % 23) as usize,
                _ => 3,
            }
            .min(buf.len() - at);
            assert_eq!(g.put(&buf[at..at + piece]), piece);
            at += piece;
        }
        match grants % 11 {
            3 => g.abort(),
            // Aborted by the writer's next reservation.
            7 => std::mem::forget(g),
            _ => {
                assert_eq!(g.commit(), buf.len());
                seq += 1;
                written.store(seq, Ordering::Relaxed);
            }
        }
    }
    end_churn(w, &stop, &chan, strong_thread, seq, seed);
    let joins = churn.join().unwrap();
    eprintln!("{seq} frames from {grants} grants; {joins} readers joined");
    assert!(joins > 0, "no weak reader joined");
}

/// Frames of 32 KiB up to a quarter of the ring start their payload on a 4 KiB boundary of the
/// ring (`frame::Placement::at`): the padding before them is never delivered, a lapped weak
/// reader's loss report counts payload only, and every byte arrives. Deterministic (no timing):
/// one thread writes, reads with a strong reader, and leaves a weak reader behind.
#[test]
fn large_frames_start_on_page_boundaries_and_padding_is_invisible() {
    const PAGE: usize = 4096;
    let chan = Channel::try_with_config(Config::new(256 << 10)).expect("channel");
    let mut strong = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let mut w = chan.new_strong_writer();
    let mut rng = seed();
    let (mut total_frames, mut total_bytes) = (0u64, 0u64);
    let mut big_offsets = Vec::new();
    // Under Miri, a few frames: enough to lap the weak reader.
    let frames = if cfg!(miri) { 6 } else { 200 };
    for seq in 0..frames {
        // Mostly large frames (32 KiB to 64 KiB = a quarter of the ring), some small ones that
        // leave large frames at every offset.
        let len = match next(&mut rng) % 4 {
            0 => 1 + (next(&mut rng) as usize) % 3000,
            _ => (32 << 10) + (next(&mut rng) as usize) % ((32 << 10) + 1),
        };
        let frame: Vec<u8> = (0..len).map(|i| (i as u32 ^ seq) as u8).collect();
        assert_eq!(w.try_write(&frame), Ok(Some(len)), "frame {seq}");
        total_frames += 1;
        total_bytes += len as u64;
        let got = strong
            .try_borrow_frame()
            .expect("strong read")
            .expect("a frame was written");
        assert_eq!(&got[..], &frame[..], "frame {seq}: content");
        if len >= 32 << 10 {
            big_offsets.push(got.as_ptr() as usize % PAGE);
        }
    }
    // Large frames sit at one page offset (the ring's own), except where the aligned place
    // would cross the end of the ring: then the frame goes where it is if it fits (any offset),
    // else at the start of the next lap (8 bytes past the ring's offset). In a ring of four
    // to eight such frames, that is one frame a lap.
    let aligned = big_offsets[0];
    let on = big_offsets.iter().filter(|&&o| o == aligned).count();
    if !cfg!(miri) {
        assert!(
            on * 10 >= big_offsets.len() * 7,
            "large payloads at page offsets {big_offsets:?}"
        );
    }
    // The weak reader was lapped many times over: it reports exactly the payload it lost, then
    // reads whole frames; padding counts for nothing.
    let (mut delivered_frames, mut delivered_bytes, mut lost) = (0u64, 0u64, 0u64);
    loop {
        match weak.try_read_frame(1 << 20) {
            Ok(Some((_, f))) => {
                delivered_frames += 1;
                delivered_bytes += f.len() as u64;
            }
            Ok(None) => break,
            Err(ChannelError::ReaderBehind(n)) => lost += n,
            Err(e) => panic!("weak reader: {e}"),
        }
    }
    // (Under Miri's few frames, whether they lap the reader depends on the random lengths.)
    assert!(lost > 0 || cfg!(miri), "the weak reader was lapped");
    assert_eq!(delivered_bytes + lost, total_bytes);
    assert_eq!(delivered_frames + weak.lost_frames(), total_frames);
    assert_eq!(weak.lost_bytes(), lost);
}
