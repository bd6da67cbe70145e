//! Positions wrap: "a reader idle across any amount of traffic is told exactly what it lost and
//! resumes at a whole frame, on every target".
//!
//! Log positions are `usize` and wrap every 4 GiB on 32-bit targets. `cargo xtask wrap` runs
//! this suite (and the others) with `--cfg bytecast_narrow_positions`, which narrows the core's
//! position space to 2^22 bytes, so the traffic below crosses the wrap several times and a weak
//! reader stays idle across more than half the position space. In an ordinary build the same
//! tests run through many laps of the ring without reaching the wrap.

use bytecast::{Backpressure, Channel, ChannelError, StartAt};

/// Traffic pushed past an idle reader: three times the narrowed position space.
const TRAFFIC: usize = if cfg!(miri) { 1 << 16 } else { 3 << 22 };

/// A frame that names its sequence number; its length follows from it.
fn frame(seq: u32) -> Vec<u8> {
    let len = 4 + (seq as usize * 37) % 180;
    let mut f = vec![seq as u8; len];
    f[..4].copy_from_slice(&seq.to_le_bytes());
    f
}

fn seq_of(f: &[u8]) -> u32 {
    u32::from_le_bytes(f[..4].try_into().unwrap())
}

/// Writes frames (never waiting: no strong reader) until `bytes` of payload went by; returns
/// the payload length of every frame written, by sequence number.
fn pump(w: &mut bytecast::StrongWriter, first: u32, bytes: usize, lens: &mut Vec<usize>) -> u32 {
    let mut seq = first;
    let mut sent = 0;
    while sent < bytes {
        let f = frame(seq);
        assert_eq!(w.try_write(&f), Ok(Some(f.len())), "frame {seq}");
        assert_eq!(lens.len(), seq as usize);
        lens.push(f.len());
        sent += f.len();
        seq += 1;
    }
    seq
}

/// After a loss report, reads everything left and checks that it is the exact suffix of what
/// was written, and that the reported loss is exactly the payload of the frames skipped.
fn check_resume(r: &mut bytecast::WeakReader, next_unread: u32, lost: u64, lens: &[usize]) -> u32 {
    let mut got = Vec::new();
    while let Some((_, f)) = r
        .try_read_frame(1024)
        .expect("no second loss while idle writers")
    {
        assert_eq!(f, frame(seq_of(&f)), "a torn or spliced frame");
        got.push(seq_of(&f));
    }
    let first = *got.first().expect("frames are still in the ring");
    assert!(
        first > next_unread,
        "a loss was reported, so frames were skipped"
    );
    let skipped: u64 = lens[next_unread as usize..first as usize]
        .iter()
        .map(|&l| l as u64)
        .sum();
    assert_eq!(
        lost, skipped,
        "the loss reported is exactly the payload skipped"
    );
    for (k, s) in got.iter().enumerate() {
        assert_eq!(
            *s,
            first + k as u32,
            "frames after the resume point in order"
        );
    }
    got.last().unwrap() + 1
}

#[test]
fn weak_reader_idle_across_the_position_space_is_told_its_exact_loss() {
    let caps: &[usize] = if cfg!(miri) {
        &[256, 4096]
    } else {
        &[256, 4096, 65536]
    };
    for &cap in caps {
        let chan = Channel::new(cap);
        let mut w = chan.new_strong_writer();
        let mut idle = chan.new_weak_reader();
        let mut lens = Vec::new();
        // The reader reads three frames, then stays idle while the traffic goes by.
        let mut next = 0;
        for _ in 0..3 {
            next = pump(&mut w, next, 1, &mut lens);
        }
        let mut read = 0u32;
        for _ in 0..3 {
            let (_, f) = idle.try_read_frame(1024).unwrap().unwrap();
            assert_eq!(seq_of(&f), read);
            read += 1;
        }
        next = pump(&mut w, next, TRAFFIC, &mut lens);
        let lost = match idle.try_read_frame(1024) {
            Err(ChannelError::ReaderBehind(n)) => n,
            other => panic!("cap {cap}: an idle weak reader must be told it was lapped: {other:?}"),
        };
        assert_eq!(idle.lost_bytes(), lost);
        let resumed = check_resume(&mut idle, read, lost, &lens);
        assert_eq!(
            resumed, next,
            "cap {cap}: the reader caught up with the writer"
        );
        let skipped_frames = lens.len() as u64 - 3 - idle_delivered(resumed, lost, &lens, read);
        assert_eq!(idle.lost_frames(), skipped_frames, "cap {cap}: lost frames");
        // And it goes on reading across further wraps while it keeps up.
        for _ in 0..4 {
            next = pump(&mut w, next, cap / 4, &mut lens);
            while let Some((_, f)) = idle.try_read_frame(1024).unwrap() {
                assert_eq!(f, frame(seq_of(&f)));
            }
        }
        assert_eq!(idle.lost_bytes(), lost, "no further loss while it keeps up");
    }
}

/// Frames delivered after the resume point, given where the loss ended.
fn idle_delivered(resumed: u32, lost: u64, lens: &[usize], read: u32) -> u64 {
    let mut skipped = 0u64;
    let mut k = read as usize;
    while skipped < lost {
        skipped += lens[k] as u64;
        k += 1;
    }
    u64::from(resumed) - k as u64
}

#[test]
fn weak_reader_mid_frame_when_idle_counts_the_rest_of_that_frame() {
    let chan = Channel::new(1024);
    let mut w = chan.new_strong_writer();
    let mut idle = chan.new_weak_reader();
    let mut lens = Vec::new();
    let next = pump(&mut w, 0, 1, &mut lens);
    // Two bytes into frame 0, then idle.
    let mut two = [0u8; 2];
    assert_eq!(idle.try_read(&mut two), Ok(Some(2)));
    let end = pump(&mut w, next, TRAFFIC, &mut lens);
    let lost = match idle.try_read_frame(1024) {
        Err(ChannelError::ReaderBehind(n)) => n,
        other => panic!("expected a loss report, got {other:?}"),
    };
    // The loss counts frame 0 less the two bytes already delivered.
    let resumed = check_resume(&mut idle, 0, lost + 2, &lens);
    assert_eq!(resumed, end);
}

#[test]
fn strong_reader_reads_every_frame_across_the_wrap() {
    for backpressure in [Backpressure::Park, Backpressure::Drop] {
        let chan = Channel::with_parameters(512, backpressure);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let mut weak = chan.new_weak_reader();
        let late = chan.try_new_weak_reader(StartAt::Tail).unwrap();
        drop(late);
        let (mut seq, mut expect, mut sent) = (0u32, 0u32, 0usize);
        while sent < TRAFFIC / 4 {
            let f = frame(seq);
            match w.try_write(&f) {
                Ok(Some(n)) => {
                    assert_eq!(n, f.len());
                    sent += n;
                    seq += 1;
                }
                Ok(None) | Err(ChannelError::Full) => {}
                Err(e) => panic!("{e}"),
            }
            while let Some((_, f)) = r.try_read_frame(1024).unwrap() {
                assert_eq!(seq_of(&f), expect, "every frame, in order");
                assert_eq!(f, frame(expect));
                expect += 1;
            }
            // The weak reader keeps up too, so it never loses anything.
            while let Some((_, f)) = weak.try_read_frame(1024).unwrap() {
                assert_eq!(f, frame(seq_of(&f)));
            }
        }
        assert_eq!(expect, seq);
        assert_eq!(weak.lost_bytes(), 0);
        assert!(r.lag() == 0 && chan.stats().in_use == 0);
        assert_eq!(chan.stats().frames_published, u64::from(seq));
    }
}

/// Weak readers left idle at every distance behind the writer, in steps of an eighth of the
/// narrowed position space up to one and a half spaces: whatever their stale position compares
/// as (behind, level with, or ahead of the writer, modulo the space), each is told it was
/// lapped, with its exact loss, and resumes at a whole frame.
#[test]
fn weak_readers_idle_at_every_distance_are_told_their_exact_loss() {
    let step = if cfg!(miri) { 1 << 12 } else { 1 << 19 };
    let chan = Channel::new(4096);
    let mut w = chan.new_strong_writer();
    let mut lens = Vec::new();
    let mut next = 0;
    let mut idle = Vec::new();
    for _ in 0..12 {
        // A reader joins at the tail, reads one frame, and goes idle.
        let mut r = chan.try_new_weak_reader(StartAt::Tail).unwrap();
        next = pump(&mut w, next, 1, &mut lens);
        let (_, f) = r.try_read_frame(1024).unwrap().unwrap();
        assert_eq!(seq_of(&f), next - 1);
        idle.push((r, next));
        next = pump(&mut w, next, step, &mut lens);
    }
    for (k, (mut r, unread)) in idle.into_iter().enumerate() {
        let lost = match r.try_read_frame(1024) {
            Err(ChannelError::ReaderBehind(n)) => n,
            other => panic!("reader {k}: must be told it was lapped, got {other:?}"),
        };
        assert_eq!(r.lost_bytes(), lost, "reader {k}");
        assert_eq!(
            check_resume(&mut r, unread, lost, &lens),
            next,
            "reader {k}"
        );
    }
}

/// A weak reader idle across more than half the position space reports a lag above zero (at
/// least a quarter of the space), never 0 as if caught up. Needs the narrowed position space
/// (`cargo xtask wrap`): 2.5 MiB of traffic against a 4 MiB space.
#[test]
#[cfg_attr(
    not(bytecast_narrow_positions),
    ignore = "needs RUSTFLAGS=\"--cfg bytecast_narrow_positions\""
)]
fn weak_reader_idle_past_half_the_position_space_reports_nonzero_lag() {
    let chan = Channel::with_parameters(4096, Backpressure::Park);
    let idle = chan.new_weak_reader();
    let mut w = chan.new_strong_writer();
    let frame = [7u8; 1000];
    // 2.5 MiB of traffic: past half of the narrowed 4 MiB position space.
    for _ in 0..(5 << 20) / 2 / 1000 {
        w.try_write(&frame).unwrap().unwrap();
    }
    let stats = chan.readers();
    let published = chan.stats().bytes_published;
    assert!(published > 2 << 20);
    assert!(
        idle.lag() > 0 && stats[0].lag > 0,
        "a reader that read nothing of {published} bytes reports lag {} (stats: {})",
        idle.lag(),
        stats[0].lag
    );
}
