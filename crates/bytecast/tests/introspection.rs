//! Introspection: `stats()` reports capacity, handle counts, published totals and the bytes in
//! use, and keeps the losses of every weak reader and a count of the readers that left;
//! readers report their own lag and losses.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{Backpressure, Channel, ChannelError};

#[path = "support/harness.rs"]
mod harness;
use harness::handle_counts;
#[path = "support/payloads.rs"]
mod payloads;
use payloads::{payload, read_all_strong};

#[test]
fn stats_report_capacity_handle_counts_and_published_totals() {
    let chan = Channel::with_parameters(200, Backpressure::Drop);
    let s = chan.stats();
    assert_eq!(s.capacity, 256);
    assert_eq!(handle_counts(&s), (0, 0, 0, 0));
    let mut w = chan.new_strong_writer();
    let _w2 = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    let _weak = chan.new_weak_reader();
    let _weak2 = chan.new_weak_reader();
    let s = chan.stats();
    assert_eq!(handle_counts(&s), (2, 1, 1, 2));
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
    let lost = read_counting_losses(&mut weak);
    assert!(lost > 0);
    let k = chan.readers().into_iter().find(|s| !s.strong).unwrap();
    assert_eq!((k.lost_bytes, k.lost_frames), (lost, weak.lost_frames()));
    assert_eq!(k.lost_bytes, weak.lost_bytes());
    assert_eq!(k.lag, 0);
}

/// Reads frames until none is left and returns the payload bytes `weak` was told it lost.
fn read_counting_losses(weak: &mut bytecast::WeakReader) -> u64 {
    let mut lost = 0;
    loop {
        match weak.try_read_frame(64) {
            Err(ChannelError::ReaderBehind(n)) => lost += n,
            Ok(Some(_)) => {}
            Ok(None) => return lost,
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Laps a new weak reader of `chan` with frames of `w`, reads on until it caught up, and returns
/// it with the payload bytes it was told it lost.
fn lapped_weak_reader(
    chan: &std::sync::Arc<Channel>,
    w: &mut bytecast::StrongWriter,
) -> (bytecast::WeakReader, u64) {
    let mut weak = chan.new_weak_reader();
    for i in 0..12 {
        w.try_write(&payload(i, 8 + i)).unwrap().unwrap();
    }
    let lost = read_counting_losses(&mut weak);
    assert!(lost > 0 && weak.lost_frames() > 0);
    assert_eq!(weak.lost_bytes(), lost);
    (weak, lost)
}

/// `stats().lost_bytes`/`lost_frames` sum what every weak reader was told it lost, and keep a
/// reader's share after it left (`readers()` forgets it); `departed_readers` counts the
/// readers of either kind that left.
#[test]
fn stats_keep_the_losses_of_readers_that_left() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    let totals = |chan: &Channel| {
        let s = chan.stats();
        (s.lost_bytes, s.lost_frames, s.departed_readers)
    };
    assert_eq!(totals(&chan), (0, 0, 0));
    let (first, lost1) = lapped_weak_reader(&chan, &mut w);
    let frames1 = first.lost_frames();
    assert_eq!(totals(&chan), (lost1, frames1, 0));
    drop(first);
    assert!(chan.readers().is_empty());
    assert_eq!(
        totals(&chan),
        (lost1, frames1, 1),
        "kept after the reader left"
    );
    let (mut second, lost2) = lapped_weak_reader(&chan, &mut w);
    let frames2 = second.lost_frames();
    assert_eq!(totals(&chan), (lost1 + lost2, frames1 + frames2, 1));
    second.terminate();
    drop(chan.new_strong_reader());
    assert_eq!(
        totals(&chan),
        (lost1 + lost2, frames1 + frames2, 3),
        "a terminated reader and a strong one left too"
    );
}
