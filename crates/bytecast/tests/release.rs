//! A strong reader that has read everything published holds nothing back (SEMANTICS, "Safe
//! code cannot break the channel").
//!
//! Once a strong reader has read every published frame, even if it stopped right after the last
//! one without polling again, a frame of `max_frame_len()` bytes is accepted whole at once: under
//! `Backpressure::Drop` it is not refused, under `Backpressure::Park` it does not wait. This
//! holds at every ring offset and capacity, and a reader that waits on the writer of that frame
//! therefore never deadlocks with it.

#[path = "support/edges.rs"]
mod edges;
#[path = "support/harness.rs"]
mod harness;

use bytecast::{Backpressure, Channel};
use edges::{advance, reachable, read_some, tagged, Rng};
use harness::guarded;

/// Capacities checked, and rounds (ring offsets) per capacity.
/// Rings checked (the small ones only under Miri, which is slow).
const CAPACITIES: &[usize] = if cfg!(miri) {
    &[64, 256]
} else {
    &[64, 256, 4096, 65536]
};
const ROUNDS: usize = if cfg!(miri) { 4 } else { 100 };

fn caught_up_reader_admits_a_full_frame(bp: Backpressure, cap: usize) {
    let mut rng = Rng::new(cap as u64 + bp as u64);
    for round in 0..ROUNDS {
        // Where the reader has released everything: first just before the middle and the end
        // of the ring (where the frames it then reads straddle them), then anywhere.
        let released = match round {
            0 => cap / 2 - 8,
            1 => cap / 2 - 16,
            2 => cap - 16,
            3 => 0,
            _ => rng.below(cap / 8) * 8,
        };
        let chan = Channel::with_parameters(cap, bp);
        let max = chan.max_frame_len();
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        advance(&mut w, &mut r, reachable(released, cap), (cap / 4).max(16));
        // Frames of assorted small sizes, each read right after it is written: the reader
        // stops right after the last one, without polling again.
        for k in 0..1 + rng.below(3) {
            let len = 1 + rng.below((cap / 8).min(200));
            let f = tagged(k as u8, round as u32, len);
            assert_eq!(w.try_write(&f), Ok(Some(len)), "{bp:?} {cap}: small frame");
            let got = read_some(&mut r, 1, cap);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].1, f);
        }
        let big = tagged(0xB1, round as u32, max);
        let accepted = w.try_write(&big);
        assert_eq!(
            accepted,
            Ok(Some(max)),
            "{bp:?}, capacity {cap}, round {round} (released at {released}): a frame of \
             max_frame_len() = {max} bytes behind a reader that read everything ({:?})",
            chan.stats()
        );
        let got = read_some(&mut r, 1, cap);
        assert_eq!(
            got.len(),
            1,
            "{bp:?} {cap} round {round}: the big frame is readable"
        );
        assert!(got[0].1 == big, "{bp:?} {cap} round {round}: read whole");
    }
}

/// Under `Drop`, a full-size frame behind a caught-up reader is never refused.
#[test]
fn caught_up_reader_never_makes_drop_refuse_a_full_size_frame() {
    for &cap in CAPACITIES {
        caught_up_reader_admits_a_full_frame(Backpressure::Drop, cap);
    }
}

/// Under `Park`, a full-size frame behind a caught-up reader never waits.
#[test]
fn caught_up_reader_never_makes_park_wait_for_a_full_size_frame() {
    for &cap in CAPACITIES {
        caught_up_reader_admits_a_full_frame(Backpressure::Park, cap);
    }
}

/// The deadlock shape under `Park`: a reader task reads one frame, then waits for a signal the
/// writer task sends only after writing a `max_frame_len()` frame. On one thread, with the ring
/// positioned so that the one frame read straddles the middle of the ring, both complete.
#[test]
fn reader_waiting_on_the_writer_of_a_full_size_frame_does_not_deadlock() {
    guarded("reader waits on the writer", || {
        let caps: &[usize] = if cfg!(miri) { &[256] } else { &[256, 4096] };
        for &cap in caps {
            let chan = Channel::with_parameters(cap, Backpressure::Park);
            let max = chan.max_frame_len();
            let mut w = chan.new_strong_writer();
            let mut r = chan.new_strong_reader();
            // The reader releases everything up to just before the middle of the ring...
            advance(&mut w, &mut r, cap / 2 - 8, 64);
            // ...then reads one frame across it and stops right after it.
            let first = tagged(1, 0, 16);
            assert_eq!(w.try_write(&first), Ok(Some(16)));
            let big = tagged(2, 0, max);
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            let reader = async {
                let (_, f) = r.read_frame(cap).await.expect("first frame");
                assert_eq!(f, first);
                rx.await.expect("the writer signals");
                let (_, f) = r.read_frame(cap).await.expect("big frame");
                assert!(f == big, "the big frame whole");
            };
            let writer = async {
                assert_eq!(w.write(&big).await, Ok(max));
                tx.send(()).unwrap();
            };
            futures::executor::block_on(futures::future::join(reader, writer));
        }
    });
}

/// Records without data after the last frame (the padding of a grant committed shorter than
/// reserved, an aborted grant) do not count as unread: a reader that read every frame passes
/// them and releases, so a `max_frame_len()` frame fits (`Drop`: not refused; `Park`: no wait).
#[test]
fn reader_that_read_every_frame_lets_a_max_frame_in_after_a_short_commit() {
    let chan = Channel::with_parameters(4096, Backpressure::Drop);
    let max = chan.max_frame_len();
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let mut g = w.try_reserve(100).unwrap().unwrap();
    g.put(b"short");
    assert_eq!(g.commit(), 5);
    let (_, f) = r.try_read_frame(100).unwrap().unwrap();
    assert_eq!(f, b"short");
    // Every frame has been read.
    assert_eq!(
        w.try_write(&vec![9u8; max]),
        Ok(Some(max)),
        "the reader read every frame, yet a max_frame_len() frame does not fit"
    );
}

/// As above, with an aborted grant after the last frame, under `Park`.
#[test]
fn reader_that_read_every_frame_lets_a_max_frame_in_after_an_aborted_grant() {
    let chan = Channel::with_parameters(4096, Backpressure::Park);
    let max = chan.max_frame_len();
    let mut r = chan.new_strong_reader();
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_strong_writer();
    assert_eq!(a.try_write(b"data").unwrap(), Some(4));
    b.try_reserve(64).unwrap().unwrap().abort();
    let (_, f) = r.try_read_frame(100).unwrap().unwrap();
    assert_eq!(f, b"data");
    assert_eq!(
        a.try_write(&vec![9u8; max]),
        Ok(Some(max)),
        "the reader read every frame, yet a max_frame_len() frame must wait"
    );
}

// A frame that crosses the batch threshold (capacity / 16) and then records without data: the
// reader still passes them and releases.

fn channel_with(cap: usize, bp: Backpressure) -> std::sync::Arc<Channel> {
    Channel::try_with_config(bytecast::Config::new(cap).backpressure(bp)).unwrap()
}

#[test]
fn strong_reader_passes_padding_after_short_commit_even_on_batch_release_drop() {
    let c = channel_with(256, Backpressure::Drop);
    let mut r = c.new_strong_reader();
    let mut w = c.new_strong_writer();
    // A grant of 100 bytes committed with 8: a 16-byte data frame + a 96-byte padding record.
    let mut g = w.try_reserve(100).unwrap().unwrap();
    g.put(&[7; 8]);
    assert_eq!(g.commit(), 8);
    // The reader reads the only frame: it has read everything published.
    let (_, f) = r.try_read_frame(256).unwrap().unwrap();
    assert_eq!(f, vec![7; 8]);
    // A full-size frame must now be accepted (SEMANTICS: a strong reader that has read everything
    // published never keeps any frame out, under Park or Drop).
    let max = c.max_frame_len();
    let got = w.try_write(&vec![1; max]);
    assert_eq!(
        got,
        Ok(Some(max)),
        "full-size frame refused: the reader holds the padding"
    );
}

#[test]
fn strong_reader_passes_aborted_record_after_batch_release_park() {
    let c = channel_with(256, Backpressure::Park);
    let mut r = c.new_strong_reader();
    let mut w = c.new_strong_writer();
    let mut w2 = c.new_strong_writer();
    // A 16-byte data frame (footprint 24 >= 256 / 16) then an aborted grant.
    assert_eq!(w.try_write(&[3; 16]), Ok(Some(16)));
    drop(w2.try_reserve(40).unwrap().unwrap());
    let (_, f) = r.try_read_frame(256).unwrap().unwrap();
    assert_eq!(f, vec![3; 16]);
    let max = c.max_frame_len();
    let got = w.try_write(&vec![1; max]);
    assert_eq!(
        got,
        Ok(Some(max)),
        "full-size frame waits: the reader holds the aborted record"
    );
}

#[test]
fn strong_reader_borrow_frame_passes_padding_after_batch_release() {
    let c = channel_with(256, Backpressure::Drop);
    let mut r = c.new_strong_reader();
    let mut w = c.new_strong_writer();
    let mut g = w.try_reserve(100).unwrap().unwrap();
    g.put(&[7; 24]);
    g.commit();
    {
        let f = r.try_borrow_frame().unwrap().unwrap();
        assert_eq!(&*f, &[7; 24][..]);
    }
    let max = c.max_frame_len();
    assert_eq!(w.try_write(&vec![1; max]), Ok(Some(max)));
}

/// Frames, short commits (padding after the frame) and aborted records, read back with pipe
/// reads of random sizes whose last one ends exactly at the last frame's end: a pipe read
/// checks whether to release once, as it returns, and a full-size frame written right after is
/// accepted at once. Aborted records published after the last read are left out: the reader
/// passes them when it next reads (design.md, "Known limits").
fn pipe_reads_then_a_full_frame(bp: Backpressure, cap: usize) {
    let mut rng = Rng::new(cap as u64 * 31 + bp as u64);
    let chan = Channel::with_parameters(cap, bp);
    let max = chan.max_frame_len();
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    for round in 0..ROUNDS {
        let mut expect = Vec::new();
        for k in 0..1 + rng.below(5) {
            if rng.below(3) == 0 {
                if let Ok(Some(g)) = w.try_reserve(1 + rng.below(cap / 16)) {
                    g.abort();
                }
            }
            let len = 1 + rng.below((cap / 16).max(2));
            let f: Vec<u8> = (0..len).map(|i| (i ^ k ^ round) as u8).collect();
            let accepted = if rng.below(3) == 0 {
                match w.try_reserve(len + 8 + rng.below(32)) {
                    Ok(Some(mut g)) => {
                        assert_eq!(g.put(&f), len);
                        g.commit();
                        true
                    }
                    _ => false,
                }
            } else {
                matches!(w.try_write(&f), Ok(Some(_)))
            };
            if !accepted {
                break;
            }
            expect.extend_from_slice(&f);
        }
        let mut got = Vec::new();
        while got.len() < expect.len() {
            let left = expect.len() - got.len();
            let n = if rng.below(2) == 0 {
                left
            } else {
                1 + rng.below(left)
            };
            let mut buf = vec![0u8; n];
            assert_eq!(
                r.try_read(&mut buf),
                Ok(Some(n)),
                "a pipe read fills its buffer"
            );
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, expect);
        if expect.is_empty() {
            assert_eq!(r.try_read(&mut [0u8; 8]), Ok(None));
        }
        let big = vec![0xB1u8; max];
        assert_eq!(
            w.try_write(&big),
            Ok(Some(max)),
            "{bp:?} ring {cap} round {round}"
        );
        let mut buf = vec![0u8; max];
        assert_eq!(r.try_read(&mut buf), Ok(Some(max)));
        assert!(buf.iter().all(|&b| b == 0xB1));
    }
}

#[test]
fn a_pipe_read_that_ends_at_a_frame_end_holds_nothing_back() {
    guarded("pipe reads, then a full-size frame", || {
        for &cap in CAPACITIES {
            pipe_reads_then_a_full_frame(Backpressure::Drop, cap);
            pipe_reads_then_a_full_frame(Backpressure::Park, cap);
        }
    });
}
