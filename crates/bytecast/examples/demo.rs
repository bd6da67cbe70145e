//! The demo: several writers produce self-checking frames into one `Park` channel; a strong
//! "archiver" must lose nothing; a slow weak "dashboard" falls behind and reports exactly what it
//! lost; beside it a `Drop` channel under overload counts refused frames; a drain lets every
//! reader finish. Plain threads and the blocking API; prints a summary and a verdict.
//!
//! `cargo run -p bytecast --example demo --release -- [writers] [frames-per-writer]`

use bytecast::{Backpressure, Channel, ChannelError};
use std::time::{Duration, Instant};

/// A frame: writer index (u32), sequence (u64), payload length (u32), payload, FNV-1a checksum.
fn make_frame(writer: u32, seq: u64, buf: &mut Vec<u8>) {
    let len = 16 + (seq as usize * 7 + writer as usize * 13) % 200;
    buf.clear();
    buf.extend_from_slice(&writer.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    buf.extend((0..len).map(|i| (i as u64 ^ seq ^ writer as u64) as u8));
    let sum = fnv(buf);
    buf.extend_from_slice(&sum.to_le_bytes());
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Checks a frame; returns (writer, seq) if it is whole.
fn check_frame(f: &[u8]) -> Option<(u32, u64)> {
    if f.len() < 24 {
        return None;
    }
    let (body, sum) = f.split_at(f.len() - 8);
    let writer = u32::from_le_bytes(body[0..4].try_into().ok()?);
    let seq = u64::from_le_bytes(body[4..12].try_into().ok()?);
    let len = u32::from_le_bytes(body[12..16].try_into().ok()?) as usize;
    (body.len() == 16 + len && fnv(body) == u64::from_le_bytes(sum.try_into().ok()?))
        .then_some((writer, seq))
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let writers = args.first().copied().unwrap_or(4);
    let per_writer = args.get(1).copied().unwrap_or(200_000) as u64;
    let start = Instant::now();

    let park = Channel::with_parameters(1 << 16, Backpressure::Park);
    let mut archiver = park.new_strong_reader();
    let mut dashboard = park.new_weak_reader();
    let drop_chan = Channel::with_parameters(1 << 12, Backpressure::Drop);
    let mut drop_reader = drop_chan.new_strong_reader();

    let producers: Vec<_> = (0..writers as u32)
        .map(|i| {
            let mut w = park.new_strong_writer();
            let mut overload = drop_chan.new_weak_writer();
            std::thread::spawn(move || {
                let (mut buf, mut bytes, mut refused) = (Vec::new(), 0u64, 0u64);
                for seq in 0..per_writer {
                    make_frame(i, seq, &mut buf);
                    bytes += w.blocking_write(&buf).expect("park channel accepts") as u64;
                    match overload.try_write(&buf) {
                        Err(ChannelError::Full) => refused += 1,
                        r => {
                            r.expect("drop channel write");
                        }
                    }
                }
                (bytes, refused)
            })
        })
        .collect();

    let archive = std::thread::spawn(move || {
        let mut next = vec![0u64; writers];
        let (mut frames, mut bad) = (0u64, 0u64);
        loop {
            match archiver.blocking_read_frame(1 << 15) {
                Ok((_, f)) => match check_frame(&f) {
                    Some((w, s)) if next[w as usize] == s => {
                        next[w as usize] += 1;
                        frames += 1;
                    }
                    _ => bad += 1,
                },
                Err(ChannelError::EndOfStream) => break (frames, bad),
                Err(e) => panic!("archiver: {e}"),
            }
        }
    });

    let dash = std::thread::spawn(move || {
        let (mut frames, mut torn, mut lost_events) = (0u64, 0u64, 0u64);
        loop {
            match dashboard.blocking_read_frame(1 << 15) {
                Ok((_, f)) => {
                    if check_frame(&f).is_some() {
                        frames += 1;
                    } else {
                        torn += 1;
                    }
                    if frames % 64 == 0 {
                        std::thread::sleep(Duration::from_micros(200)); // a slow dashboard
                    }
                }
                Err(ChannelError::ReaderBehind(_)) => lost_events += 1,
                Err(ChannelError::EndOfStream) => {
                    break (
                        frames,
                        torn,
                        lost_events,
                        dashboard.lost_frames(),
                        dashboard.lost_bytes(),
                    )
                }
                Err(e) => panic!("dashboard: {e}"),
            }
        }
    });

    let mut produced = 0u64;
    let mut refused = 0u64;
    for p in producers {
        let (b, r) = p.join().expect("writer thread");
        produced += b;
        refused += r;
    }
    park.drain().expect("drain");
    drop_chan.drain().expect("drain");
    let mut drop_frames = 0u64;
    while drop_reader.try_read_frame(1 << 15).ok().flatten().is_some() {
        drop_frames += 1;
    }
    let (archived, bad) = archive.join().expect("archiver");
    let (shown, torn, behind, lost_frames, lost_bytes) = dash.join().expect("dashboard");
    let secs = start.elapsed().as_secs_f64();
    let total = writers as u64 * per_writer;

    println!(
        "bytecast demo: {writers} writers x {per_writer} frames, Park ring 64 KiB, Drop ring 4 KiB"
    );
    println!("| reader | frames | lost frames | lost bytes | bad |");
    println!("|---|---|---|---|---|");
    println!("| archiver (strong) | {archived} | 0 | 0 | {bad} |");
    println!("| dashboard (weak) | {shown} | {lost_frames} | {lost_bytes} | {torn} (in {behind} loss reports) |");
    println!(
        "Drop channel: {drop_frames} frames left for its reader at the drain, {refused} refused; \
         dropped counter {}",
        drop_chan.stats().dropped_frames
    );
    println!(
        "{produced} payload bytes in {secs:.2} s: {:.1} MB/s, {:.2} M frames/s",
        produced as f64 / secs / 1e6,
        total as f64 / secs / 1e6
    );
    let ok = archived == total && bad == 0 && torn == 0 && shown + lost_frames == total;
    println!(
        "verdict: {}",
        if ok {
            "OK: the archiver lost nothing, no torn frame anywhere, the dashboard's losses add up"
        } else {
            "FAILED"
        }
    );
    if !ok {
        std::process::exit(1);
    }
}
