//! Randomised soak: round after round, a channel with a random configuration (capacity 64 B to
//! 64 KiB, `Park` or `Drop`, handle limits) and a random cast: strong and weak writers that drop
//! their handle and take a new one (or convert) as they go, strong and weak readers that join
//! late (at the oldest frame or at the tail) or leave early, aborted grants and grants committed
//! short, and an ending by `drain()` or by `terminate()`.
//!
//! Every frame delivered is checked: it names its stream (writer thread), sequence number and
//! length, and the rest of its bytes follow from those, so a torn, spliced or misattributed
//! frame fails. Strong readers must see each stream's frames consecutively, and one that lived
//! through a drained round must see every frame accepted; weak readers must see each stream in
//! order, and one that lived through a drained round must account for every frame as delivered
//! or lost. A hang fails the watchdog.
//!
//! `BYTECAST_SOAK_SECONDS` (default 1; a few rounds under Miri) sets the duration,
//! `BYTECAST_SOAK_FRAMES` (optional) ends the run earlier, after the round in which that many
//! frames have been checked, and `BYTECAST_SEED` sets the random seed (printed on failure). Prints the
//! totals every 60 s and at the end: rounds, frames checked (and per second), frames written,
//! dropped, aborted and lost.

use bytecast::{Backpressure, Channel, ChannelError, Config, StartAt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

fn seed() -> u64 {
    std::env::var("BYTECAST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x50a6)
}

fn budget() -> Duration {
    let secs = std::env::var("BYTECAST_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

fn frame_target() -> u64 {
    std::env::var("BYTECAST_SOAK_FRAMES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

/// xorshift64*.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// stream u16 | seq u32 | len u16 | pattern
fn encode(stream: u16, seq: u32, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend((8..len).map(|i| pattern(stream, seq, i)));
}

fn pattern(stream: u16, seq: u32, i: usize) -> u8 {
    (stream as u32)
        .wrapping_mul(0x9e37)
        .wrapping_add(seq.wrapping_mul(0x85eb))
        .wrapping_add((i as u32).wrapping_mul(0xc2b3))
        .rotate_right(11) as u8
}

fn verify(f: &[u8]) -> (u16, u32) {
    assert!(f.len() >= 8, "torn frame: {} bytes", f.len());
    let stream = u16::from_le_bytes([f[0], f[1]]);
    let seq = u32::from_le_bytes([f[2], f[3], f[4], f[5]]);
    let len = u16::from_le_bytes([f[6], f[7]]) as usize;
    assert_eq!(len, f.len(), "torn frame: length field");
    assert!(
        f[8..]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(stream, seq, i + 8)),
        "torn frame: bytes of stream {stream} seq {seq}"
    );
    (stream, seq)
}

#[derive(Default)]
struct Totals {
    rounds: AtomicU64,
    checked: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    aborted: AtomicU64,
    lost: AtomicU64,
    terminated_rounds: AtomicU64,
}

/// What a reader thread reports.
struct ReaderReport {
    /// Lived from before the first write to the end of a drained round.
    whole_round: bool,
    strong: bool,
    delivered: u64,
    lost: u64,
    /// Last sequence number seen per stream (`u32::MAX`: none).
    last: Vec<u32>,
}

const MAX_STREAMS: usize = 4;

/// What one read returned.
enum Got {
    Frame(Vec<u8>),
    Bytes,
    End,
}

fn reader_thread(
    chan: &Arc<Channel>,
    strong: bool,
    start: StartAt,
    leave_after: Option<u64>,
    whole_round: bool,
    seed: u64,
) -> Option<thread::JoinHandle<ReaderReport>> {
    let reader = chan.try_new_reader(strong, start).ok()?;
    Some(thread::spawn(move || {
        let mut r = reader;
        let mut last = vec![u32::MAX; MAX_STREAMS];
        let mut delivered = 0u64;
        let mut lost = 0u64;
        let mut rng = Rng::new(seed);
        let mut buf = vec![0u8; 4096];
        let mut cur: Vec<u8> = Vec::new();
        let check = |f: &[u8], last: &mut Vec<u32>| {
            let (s, q) = verify(f);
            let prev = last[s as usize];
            if prev != u32::MAX {
                if strong {
                    assert_eq!(
                        q,
                        prev + 1,
                        "strong reader: stream {s} lost or reordered a frame"
                    );
                } else {
                    assert!(q > prev, "weak reader: stream {s} out of order");
                }
            }
            last[s as usize] = q;
        };
        loop {
            if leave_after.is_some_and(|n| delivered >= n) {
                break;
            }
            // Frame reads mostly, byte reads (re-assembled) sometimes.
            let res = if cur.is_empty() && !rng.chance(4) {
                match &mut r {
                    bytecast::Reader::Strong(r) => r.blocking_read_frame(4096),
                    bytecast::Reader::Weak(r) => r.blocking_read_frame(4096),
                }
                .map(|(_, f)| Got::Frame(f))
            } else {
                let n = 1 + rng.below(64) as usize;
                match &mut r {
                    bytecast::Reader::Strong(r) => r.blocking_read(&mut buf[..n]),
                    bytecast::Reader::Weak(r) => r.blocking_read(&mut buf[..n]),
                }
                .map(|k| {
                    cur.extend_from_slice(&buf[..k]);
                    if k == 0 {
                        Got::End
                    } else {
                        Got::Bytes
                    }
                })
            };
            match res {
                Ok(Got::Frame(f)) => {
                    assert!(cur.is_empty());
                    check(&f, &mut last);
                    delivered += 1;
                }
                Ok(Got::Bytes) => {
                    // A byte read is a pipe: it may end inside a frame or run on into the
                    // next ones. Every whole frame collected so far is checked.
                    while cur.len() >= 8 {
                        let len = u16::from_le_bytes([cur[6], cur[7]]) as usize;
                        if cur.len() < len {
                            break;
                        }
                        let f: Vec<u8> = cur.drain(..len).collect();
                        check(&f, &mut last);
                        delivered += 1;
                    }
                }
                Err(ChannelError::ReaderBehind(_)) => {
                    assert!(!strong, "a strong reader was lapped");
                    cur.clear();
                }
                Ok(Got::End) | Err(ChannelError::EndOfStream) => {
                    assert!(cur.is_empty(), "end of stream inside a frame");
                    break;
                }
                Err(ChannelError::Terminated) => break,
                Err(e) => panic!("reader: {e}"),
            }
        }
        if let bytecast::Reader::Weak(w) = &r {
            lost = w.lost_frames();
        }
        ReaderReport {
            whole_round: whole_round && leave_after.is_none(),
            strong,
            delivered,
            lost,
            last,
        }
    }))
}

/// One round (its writers stop at `deadline`), checked.
fn round(rng: &mut Rng, totals: &Totals, deadline: Instant) {
    let capacity = 64usize << rng.below(11);
    let drop_mode = rng.chance(3);
    let streams = 1 + rng.below(MAX_STREAMS as u64) as usize;
    let max_writers = if rng.chance(4) {
        1
    } else {
        1 + rng.below(4) as usize
    };
    let chan = Channel::try_with_config(
        Config::new(capacity)
            .backpressure(if drop_mode {
                Backpressure::Drop
            } else {
                Backpressure::Park
            })
            .max_writers(max_writers)
            .max_readers(8),
    )
    .expect("channel");
    let max_len = chan.max_frame_len().min(600);
    let frames_per_stream = if cfg!(miri) {
        10
    } else {
        2_000 + rng.below(30_000)
    };
    let terminate = rng.chance(6);

    // Readers present from the start.
    let mut readers = Vec::new();
    for k in 0..1 + rng.below(3) {
        let strong = k == 0 || rng.chance(2);
        let leave = rng.chance(5).then(|| rng.below(frames_per_stream));
        readers.extend(reader_thread(
            &chan,
            strong,
            StartAt::Oldest,
            leave,
            true,
            rng.next(),
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..streams)
        .map(|s| {
            let chan = chan.clone();
            let mut rng = Rng::new(rng.next());
            let stop = stop.clone();
            thread::spawn(move || {
                let (mut accepted, mut dropped, mut aborted) = (0u32, 0u64, 0u64);
                let mut strong = rng.chance(2);
                let mut buf = Vec::new();
                'handles: loop {
                    // A writer joins (a strong one may find every slot taken: it waits a bit).
                    let mut w: bytecast::Writer = if strong {
                        match chan.try_new_strong_writer() {
                            Ok(w) => w.into(),
                            Err(ChannelError::TooManyWriters { .. }) => {
                                thread::yield_now();
                                strong = rng.chance(2);
                                continue;
                            }
                            Err(ChannelError::Terminated) => break,
                            Err(e) => panic!("{e}"),
                        }
                    } else {
                        chan.new_weak_writer().into()
                    };
                    loop {
                        if accepted as u64 >= frames_per_stream
                            || stop.load(Relaxed)
                            || (accepted % 256 == 0 && Instant::now() >= deadline)
                        {
                            break 'handles;
                        }
                        if rng.chance(50) {
                            // Leave: drop the handle (or downgrade it) and join again.
                            if rng.chance(2) {
                                w = w.downgrade().into();
                            } else {
                                strong = rng.chance(2);
                                continue 'handles;
                            }
                        }
                        // Mostly short frames (many frames per second), some up to the limit.
                        let cap_len = if rng.chance(8) {
                            max_len
                        } else {
                            max_len.min(64)
                        };
                        let len = 8 + rng.below((cap_len - 7) as u64) as usize;
                        encode(s as u16, accepted, len, &mut buf);
                        let res = if rng.chance(8) {
                            // A grant: aborted after a partial put, or committed short.
                            let reserve = len + rng.below((max_len - len + 1) as u64) as usize;
                            let g = futures::executor::block_on(w.reserve(reserve));
                            match g {
                                Ok(mut g) => {
                                    if rng.chance(2) {
                                        g.put(&buf[..rng.below(len as u64) as usize]);
                                        g.abort();
                                        aborted += 1;
                                        continue;
                                    }
                                    g.put(&buf);
                                    Ok(g.commit())
                                }
                                Err(e) => Err(e),
                            }
                        } else {
                            futures::executor::block_on(w.write(&buf))
                        };
                        match res {
                            Ok(n) => {
                                assert_eq!(n, len);
                                accepted += 1;
                            }
                            Err(ChannelError::Full) => {
                                // Refused whole under Drop: let the readers catch up.
                                dropped += 1;
                                thread::yield_now();
                            }
                            Err(ChannelError::Terminated | ChannelError::Draining) => {
                                break 'handles
                            }
                            Err(e) => panic!("writer: {e}"),
                        }
                    }
                }
                (accepted, dropped, aborted)
            })
        })
        .collect();
    // Readers joining late, at the oldest frame or at the tail.
    for _ in 0..rng.below(3) {
        thread::yield_now();
        let strong = rng.chance(2);
        let start = if rng.chance(2) {
            StartAt::Oldest
        } else {
            StartAt::Tail
        };
        let leave = rng.chance(3).then(|| rng.below(frames_per_stream));
        readers.extend(reader_thread(
            &chan,
            strong,
            start,
            leave,
            false,
            rng.next(),
        ));
    }
    if terminate {
        thread::sleep(Duration::from_micros(rng.below(2000)));
        stop.store(true, Relaxed);
        chan.terminate().expect("terminate");
    }
    let accepted: Vec<(u32, u64, u64)> = writers.into_iter().map(|t| t.join().unwrap()).collect();
    if !terminate {
        chan.drain().expect("drain");
    }
    let total: u64 = accepted.iter().map(|a| a.0 as u64).sum();
    for t in readers {
        let rep = t.join().unwrap();
        totals.checked.fetch_add(rep.delivered, Relaxed);
        totals.lost.fetch_add(rep.lost, Relaxed);
        if rep.whole_round && !terminate {
            if rep.strong {
                assert_eq!(rep.delivered, total, "a strong reader missed frames");
                for (s, a) in accepted.iter().enumerate() {
                    let expect = if a.0 == 0 { u32::MAX } else { a.0 - 1 };
                    assert_eq!(rep.last[s], expect, "stream {s}: last frame");
                }
            } else {
                assert_eq!(
                    rep.delivered + rep.lost,
                    total,
                    "a weak reader's frames and losses do not add up"
                );
            }
        }
    }
    totals.rounds.fetch_add(1, Relaxed);
    totals.written.fetch_add(total, Relaxed);
    totals
        .dropped
        .fetch_add(accepted.iter().map(|a| a.1).sum(), Relaxed);
    totals
        .aborted
        .fetch_add(accepted.iter().map(|a| a.2).sum(), Relaxed);
    if terminate {
        totals.terminated_rounds.fetch_add(1, Relaxed);
    }
}

#[test]
fn soak_random_casts_every_frame_checked() {
    let seed = seed();
    let budget = budget();
    let target = frame_target();
    let totals = Arc::new(Totals::default());
    let (tx, rx) = mpsc::channel();
    let t2 = totals.clone();
    let worker = thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let start = Instant::now();
        let rounds = if cfg!(miri) { 2 } else { u64::MAX };
        let mut n = 0;
        while n < rounds && start.elapsed() < budget && t2.checked.load(Relaxed) < target {
            round(&mut rng, &t2, start + budget);
            n += 1;
        }
        let _ = tx.send(start.elapsed());
    });
    // A round is short; a hang is a failure (with the random seed to replay it).
    let started = Instant::now();
    let limit = budget + Duration::from_secs(if cfg!(miri) { 600 } else { 60 });
    let tick = Duration::from_secs(60);
    let elapsed = loop {
        let left = limit.saturating_sub(started.elapsed());
        match rx.recv_timeout(left.min(tick)) {
            Ok(e) => {
                worker.join().unwrap();
                break e;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
                Err(p) => {
                    eprintln!("soak failed with BYTECAST_SEED={seed}");
                    std::panic::resume_unwind(p)
                }
                Ok(()) => unreachable!(),
            },
            Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() < limit => {
                report(seed, started.elapsed(), &totals, "so far");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("soak hung (BYTECAST_SEED={seed}): lost wake-up or deadlock")
            }
        }
    };
    report(seed, elapsed, &totals, "done");
    assert!(totals.checked.load(Relaxed) > 0, "no frame checked");
}

fn report(seed: u64, elapsed: Duration, totals: &Totals, when: &str) {
    let g = |a: &AtomicU64| a.load(Relaxed);
    let checked = g(&totals.checked);
    println!(
        "soak ({when}): seed {seed}, {:.1} s, {} rounds ({} ended by terminate), {checked} frames \
         checked ({:.0}/s), {} frames accepted, {} refused (Drop), {} grants aborted, {} frames \
         lost by weak readers",
        elapsed.as_secs_f64(),
        g(&totals.rounds),
        g(&totals.terminated_rounds),
        checked as f64 / elapsed.as_secs_f64(),
        g(&totals.written),
        g(&totals.dropped),
        g(&totals.aborted),
        g(&totals.lost),
    );
}
