//! Frame size: any frame whose record (8-byte header + payload) fits the ring travels whole
//! (SEMANTICS, "Frames and writers", "Frame size").
//!
//! `max_frame_len()` is the capacity less the record header, whatever the capacity. A write or
//! a grant of any length up to it is one frame, delivered whole to strong and weak readers,
//! from every ring offset (the ring's wrap included), under `Park` and `Drop`. A program that
//! sizes its ring to its largest message, as one ported from selium-messaging does, never sees
//! that message split: `Channel::new(64)` carries a 40-byte write as one frame.

#[path = "support/edges.rs"]
mod edges;
#[path = "support/harness.rs"]
mod harness;

use bytecast::{Backpressure, Channel, StartAt};
use edges::{advance, noop_cx, reachable, read_all, tagged, Rng, HEADER};
use harness::guarded;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

/// `max_frame_len()` is `capacity() - 8` for every capacity, 1000 rounding up to 1024.
#[test]
fn max_frame_len_is_the_capacity_less_the_header() {
    assert_eq!(Channel::new(64).max_frame_len(), 56);
    for (asked, cap) in [
        (64, 64),
        (128, 128),
        (1000, 1024),
        (4096, 4096),
        (65536, 65536),
        (1 << 20, 1 << 20),
    ] {
        if cap > bytecast::MAX_CAPACITY {
            continue; // with the position space narrowed (`cargo xtask wrap`)
        }
        for bp in [Backpressure::Park, Backpressure::Drop] {
            let chan = Channel::with_parameters(asked, bp);
            assert_eq!(chan.capacity(), cap);
            assert_eq!(chan.max_frame_len(), cap - HEADER, "capacity {cap}");
            assert_eq!(chan.new_weak_writer().max_frame_len(), cap - HEADER);
        }
    }
}

/// The selium-messaging example: a 40-byte write into `Channel::new(64)` is one frame of 40
/// bytes, for strong and weak readers.
#[test]
fn forty_bytes_into_a_64_byte_channel_is_one_frame() {
    for bp in [Backpressure::Park, Backpressure::Drop] {
        let chan = Channel::with_parameters(64, bp);
        let mut w = chan.new_strong_writer();
        let mut r = chan.new_strong_reader();
        let mut weak = chan.new_weak_reader();
        let msg = tagged(40, 0, 40);
        let mut fut = pin!(w.write(&msg));
        assert_eq!(
            fut.as_mut().poll(&mut noop_cx()),
            Poll::Ready(Ok(40)),
            "{bp:?}"
        );
        let got = read_all(&mut r, 64);
        assert_eq!(got.len(), 1, "{bp:?}: one frame, not {got:?}");
        assert_eq!(got[0].1, msg);
        let got = read_all(&mut weak, 64);
        assert_eq!(got.len(), 1, "{bp:?}: weak reader");
        assert_eq!(got[0].1, msg);
    }
}

/// How the frame is written.
#[derive(Debug, Clone, Copy)]
enum How {
    TryWrite,
    WriteFuture,
    Grant,
}

/// From the ring offset reached by advancing `offset` bytes, frames of each length in `lens`
/// are written (as `how` says) and read back whole by a strong and a weak reader.
fn whole_from_offset(bp: Backpressure, cap: usize, offset: usize, lens: &[usize], how: How) {
    let chan = Channel::with_parameters(cap, bp);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    advance(&mut w, &mut r, reachable(offset, cap), cap / 4);
    let mut weak = chan.try_new_weak_reader(StartAt::Tail).unwrap();
    for (i, &len) in lens.iter().enumerate() {
        let what = format!("{bp:?}, capacity {cap}, offset {offset}, {len} bytes by {how:?}");
        let msg = tagged(i as u8, offset as u32, len);
        let took = match how {
            How::TryWrite => w.try_write(&msg).unwrap_or_else(|e| panic!("{what}: {e}")),
            How::WriteFuture => match pin!(w.write(&msg)).poll(&mut noop_cx()) {
                Poll::Ready(r) => Some(r.unwrap_or_else(|e| panic!("{what}: {e}"))),
                Poll::Pending => None,
            },
            How::Grant => {
                let mut g = w
                    .try_reserve(len)
                    .unwrap_or_else(|e| panic!("{what}: {e}"))
                    .unwrap_or_else(|| panic!("{what}: no room in an empty ring"));
                assert_eq!(g.put(&msg), len, "{what}");
                Some(g.commit())
            }
        };
        assert_eq!(took, Some(len), "{what}: taken whole at once");
        for (kind, got) in [
            ("strong", read_all(&mut r, cap)),
            ("weak", read_all(&mut weak, cap)),
        ] {
            assert_eq!(got.len(), 1, "{what}: one frame for the {kind} reader");
            assert!(got[0].1 == msg, "{what}: the {kind} reader gets it whole");
        }
    }
}

/// Lengths checked at each offset: small, around half the ring, and up to the maximum.
fn lengths(cap: usize) -> Vec<usize> {
    let max = cap - HEADER;
    vec![1, cap / 2 - HEADER, cap / 2 + 1, max - 8, max]
}

/// Capacities 64 and 128, every multiple of 8 in the ring as the offset: `try_write`, the
/// `write` future and a grant each carry up to `capacity - 8` bytes as one frame.
#[test]
fn every_offset_of_small_rings_carries_full_size_frames_whole() {
    guarded("small rings", || {
        // Under Miri (slow): one mode, the smallest ring, every third offset.
        let bps: &[Backpressure] = if cfg!(miri) {
            &[Backpressure::Park]
        } else {
            &[Backpressure::Park, Backpressure::Drop]
        };
        let caps: &[usize] = if cfg!(miri) { &[64] } else { &[64, 128] };
        for &bp in bps {
            for &cap in caps {
                let step = if cfg!(miri) { 24 } else { 8 };
                for offset in (0..cap).step_by(step) {
                    for how in [How::TryWrite, How::WriteFuture, How::Grant] {
                        whole_from_offset(bp, cap, offset, &lengths(cap), how);
                    }
                }
            }
        }
    });
}

/// Larger capacities, offsets sampled around the middle and the end of the ring and at random.
#[test]
fn sampled_offsets_of_larger_rings_carry_full_size_frames_whole() {
    guarded("larger rings", || {
        let caps: &[usize] = if cfg!(miri) {
            &[256]
        } else {
            &[1024, 4096, 65536]
        };
        for &cap in caps {
            let mut rng = Rng::new(cap as u64);
            let mut offsets = if cfg!(miri) {
                vec![0, cap / 2, cap - 8]
            } else {
                vec![0, 16, cap / 2 - 8, cap / 2, cap / 2 + 8, cap - 16, cap - 8]
            };
            offsets.extend((0..if cfg!(miri) { 0 } else { 8 }).map(|_| rng.below(cap / 8) * 8));
            for bp in [Backpressure::Park, Backpressure::Drop] {
                for &offset in &offsets {
                    whole_from_offset(bp, cap, offset, &lengths(cap), How::TryWrite);
                    whole_from_offset(bp, cap, offset, &[cap - HEADER], How::Grant);
                }
            }
        }
    });
}
