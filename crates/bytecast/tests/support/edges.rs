//! Helpers shared by the edge-case suites (`leak_safety`, `races`, `release`, `fairness`,
//! `frame_size`, `panicking_wakers`), used via `#[path = "support/edges.rs"] mod edges;`:
//! record footprints, checkable payloads, reading every published frame of any reader,
//! forgetting a boxed future without a leak report from Miri, moving a ring's write position
//! with small frames, and a small deterministic pseudo-random generator.
#![allow(dead_code)]

use bytecast::{ChannelError, Reader, StrongReader, StrongWriter, WeakReader};
use std::pin::Pin;
use std::sync::atomic::AtomicPtr;
use std::sync::Mutex;
use std::task::Context;

/// Size of a record header in the log.
pub(crate) const HEADER: usize = 8;

/// Log bytes one frame of `len` payload bytes takes: a header and the payload rounded up to 8.
pub(crate) fn footprint(len: usize) -> usize {
    HEADER + len.next_multiple_of(8)
}

/// A frame as a reader delivers it: writer id and payload.
pub(crate) type Frame = (u16, Vec<u8>);

/// A context whose waker does nothing (for polling futures by hand).
pub(crate) fn noop_cx() -> Context<'static> {
    Context::from_waker(futures::task::noop_waker_ref())
}

/// `len` bytes that tell `tag` and `seq` apart: `seq` in the first four bytes (as far as they
/// fit), then a pattern of both.
pub(crate) fn tagged(tag: u8, seq: u32, len: usize) -> Vec<u8> {
    let head = seq.to_le_bytes();
    (0..len)
        .map(|i| match head.get(i) {
            Some(&b) if len >= 8 => b,
            _ => tag
                .wrapping_mul(31)
                .wrapping_add(seq as u8)
                .wrapping_add(i as u8),
        })
        .collect()
}

/// Bytes that no committed frame carries: a forgotten or aborted frame is filled with them, so
/// a reader that delivers any of them delivered something nobody committed.
pub(crate) fn poison(len: usize) -> Vec<u8> {
    vec![0xEE; len]
}

/// Anything that reads whole frames without waiting.
pub(crate) trait FrameSource {
    /// The next frame, `Ok(None)` if none is published.
    fn next_frame(&mut self, max_len: usize) -> Result<Option<Frame>, ChannelError>;
}

impl FrameSource for StrongReader {
    fn next_frame(&mut self, max_len: usize) -> Result<Option<Frame>, ChannelError> {
        self.try_read_frame(max_len)
    }
}

impl FrameSource for WeakReader {
    fn next_frame(&mut self, max_len: usize) -> Result<Option<Frame>, ChannelError> {
        self.try_read_frame(max_len)
    }
}

impl FrameSource for Reader {
    fn next_frame(&mut self, max_len: usize) -> Result<Option<Frame>, ChannelError> {
        match self {
            Reader::Strong(r) => r.try_read_frame(max_len),
            Reader::Weak(r) => r.try_read_frame(max_len),
        }
    }
}

/// Reads every published frame (until the reader finds nothing), failing on any error.
pub(crate) fn read_all(r: &mut impl FrameSource, max_len: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(f) = r.next_frame(max_len).expect("read a frame") {
        out.push(f);
    }
    out
}

/// Reads at most `n` frames (stops early if none is published).
pub(crate) fn read_some(r: &mut impl FrameSource, n: usize, max_len: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    while out.len() < n {
        match r.next_frame(max_len).expect("read a frame") {
            Some(f) => out.push(f),
            None => break,
        }
    }
    out
}

/// Compares what a reader delivered with what was committed, with a short report on mismatch.
#[track_caller]
pub(crate) fn assert_frames(what: &str, got: &[Frame], expected: &[Frame]) {
    let first_diff = got
        .iter()
        .zip(expected)
        .position(|(g, e)| g != e)
        .or((got.len() != expected.len()).then(|| got.len().min(expected.len())));
    if let Some(i) = first_diff {
        panic!(
            "{what}: delivered {} frames, committed {}; first difference at frame {i}: got {:?}, committed {:?}",
            got.len(),
            expected.len(),
            got.get(i).map(brief),
            expected.get(i).map(brief),
        );
    }
}

fn brief(f: &Frame) -> String {
    format!(
        "(writer {}, {} bytes, {:02x?}..)",
        f.0,
        f.1.len(),
        &f.1[..f.1.len().min(8)]
    )
}

/// Futures forgotten on purpose. `mem::forget` of a boxed future leaks its box, which Miri
/// reports; kept reachable from this static, the box is not reported (and never dropped).
static FORGOTTEN: Mutex<Vec<AtomicPtr<()>>> = Mutex::new(Vec::new());

/// Forgets a pinned, boxed future: its destructor never runs, exactly as with `mem::forget`.
pub(crate) fn forget_boxed<F: ?Sized>(fut: Pin<Box<F>>) {
    let leaked: &mut Pin<Box<F>> = Box::leak(Box::new(fut));
    let ptr = (leaked as *mut Pin<Box<F>>).cast::<()>();
    FORGOTTEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(AtomicPtr::new(ptr));
}

/// Writes and reads back frames whose footprints add up to `bytes` (0, or a multiple of 8 of
/// at least 16), so that the ring's write position moves on by `bytes` log bytes (plus any wrap
/// padding the channel adds). Frames carry at most `max_len` (at least 16) payload bytes. The
/// reader reads until it finds nothing, so it holds nothing back afterwards.
pub(crate) fn advance(w: &mut StrongWriter, r: &mut StrongReader, bytes: usize, max_len: usize) {
    assert!(
        bytes % 8 == 0 && bytes != 8 && max_len >= 16,
        "advance({bytes}, {max_len})"
    );
    let max_fp = footprint(max_len);
    let mut left = bytes;
    while left > 0 {
        // Footprints are 16 or more: never leave 8 behind.
        let mut fp = left.min(max_fp);
        if left - fp == 8 {
            fp -= 8;
        }
        let len = fp - HEADER;
        let frame = tagged(0xAD, left as u32, len);
        assert_eq!(
            w.try_write(&frame).expect("advance: write"),
            Some(len),
            "advance: a small frame is accepted whole in an empty ring"
        );
        assert_eq!(read_all(r, len).len(), 1, "advance: read back");
        left -= fp;
    }
}

/// A ring offset to [`advance`] by: `offset`, or one lap more for 8 (no record is 8 bytes).
pub(crate) fn reachable(offset: usize, capacity: usize) -> usize {
    if offset == 8 {
        offset + capacity
    } else {
        offset
    }
}

/// xorshift64*: deterministic, small, good enough to pick sizes and actions.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(stream: u64) -> Self {
        Self(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
