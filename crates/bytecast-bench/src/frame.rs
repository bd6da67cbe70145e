//! Self-checking frames: every implementation moves the same bytes, and every delivered frame is
//! checked, so a fast wrong answer is reported as wrong.
//!
//! A frame of `len` bytes (a multiple of 8, at least 24) is a fixed body pattern with these
//! 8-byte words stamped over it, little-endian:
//!
//! | offset | word |
//! |---|---|
//! | 0 | sequence number (per writer, from 0; [`END`] marks an end-of-stream frame) |
//! | 8 | `writer << 32 \| len` |
//! | 512, 1024, ... (below `len - 8`) | `mix(seq, offset)`: torn or stale copies of long frames show here |
//! | `len - 8` | `check(seq, writer, len)` |
//!
//! The writer stamps about `len / 512 + 3` words per frame and a reader checks the same words:
//! a cheap checksum that still catches lost, duplicated, reordered, torn and stale frames.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Sequence number of the end-of-stream frame of peers that have no close of their own.
pub(crate) const END: u64 = u64::MAX;

/// Distance between the stamped words inside a frame.
pub(crate) const STRIDE: usize = 512;

/// Smallest frame the stamps fit in.
pub(crate) const MIN_LEN: usize = 24;

fn mix(seq: u64, offset: usize) -> u64 {
    (seq ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ offset as u64
}

fn check(seq: u64, writer: u32, len: usize) -> u64 {
    mix(seq, len).rotate_left(17) ^ (u64::from(writer) << 40) ^ 0x5eed
}

fn word(frame: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&frame[at..at + 8]);
    u64::from_le_bytes(b)
}

fn put_word(frame: &mut [u8], at: usize, v: u64) {
    frame[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Size of the page that [`Buf`] places buffers in.
const PAGE: usize = 4096;

/// Where in a 4 KiB page every [`Buf`] of this process starts (see [`set_page_offset`]).
static PAGE_OFFSET: AtomicUsize = AtomicUsize::new(PAGE_OFFSETS[0]);

/// The page offsets the runs of a cell place their buffers at, one per pass (16-byte aligned,
/// as `malloc` returns, and spread over the page).
///
/// Why: how fast a large frame is copied into or out of a ring depends on where the source and
/// destination sit relative to each other within a 4 KiB page (measured on this machine:
/// `bytecast-async` 64 KiB 1 → 1 ran at 233 k frames/s with the writer's buffer at page offset
/// 0 and at 169 k at offset 192, the same code). Left to the allocator, that place depends on
/// everything the process allocated before, so one build of the benchmark was lucky for a row
/// and the next, with a struct 128 bytes larger, unlucky, run after run. Placing every buffer of
/// every implementation at a given offset, a different one in each pass, makes a cell's median a
/// median over placements (`docs/performance.md`, "Buffer placement").
pub(crate) const PAGE_OFFSETS: [usize; 5] = [16, 848, 1680, 2512, 3344];

/// Places the buffers this process makes from now on at `offset` within a page.
pub(crate) fn set_page_offset(offset: usize) {
    PAGE_OFFSET.store(offset % PAGE, Relaxed);
}

/// A frame buffer (a writer's staging frame or a reader's destination) whose first byte sits at
/// the current page offset ([`set_page_offset`]). It dereferences to its `len` bytes.
pub(crate) struct Buf {
    store: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buf {
    /// `len` zero bytes at the current page offset.
    pub(crate) fn zeroed(len: usize) -> Self {
        let store = vec![0u8; len + PAGE];
        let want = PAGE_OFFSET.load(Relaxed);
        let start = (PAGE + want - store.as_ptr() as usize % PAGE) % PAGE;
        Self { store, start, len }
    }
}

impl Clone for Buf {
    /// The same bytes in a new buffer, placed at the current page offset (a derived `clone`
    /// would copy `start` into a store that sits elsewhere).
    fn clone(&self) -> Self {
        let mut b = Self::zeroed(self.len);
        b.copy_from_slice(self);
        b
    }
}

impl Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.store[self.start..self.start + self.len]
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.store[self.start..self.start + self.len]
    }
}

/// A writer's buffer of `len` bytes holding the body pattern, ready for [`stamp`].
pub(crate) fn staging(len: usize) -> Buf {
    assert!(
        len >= MIN_LEN && len % 8 == 0,
        "frame length {len} must be a multiple of 8 and at least {MIN_LEN}"
    );
    let mut b = Buf::zeroed(len);
    for (i, x) in b.iter_mut().enumerate() {
        *x = (i * 7 + 13) as u8;
    }
    b
}

/// Stamps frame `seq` of `writer` over `frame` (a buffer made by [`staging`]).
pub(crate) fn stamp(frame: &mut [u8], writer: u32, seq: u64) {
    let len = frame.len();
    put_word(frame, 0, seq);
    put_word(frame, 8, (u64::from(writer) << 32) | len as u64);
    let mut at = STRIDE;
    while at + 8 < len - 8 {
        put_word(frame, at, mix(seq, at));
        at += STRIDE;
    }
    put_word(frame, len - 8, check(seq, writer, len));
}

/// Calls `put` with the pieces of stamped frame `seq`, in order, taking the body from `body`
/// (a [`staging`] buffer): what a zero-copy writer puts into a grant instead of stamping a
/// staging buffer and copying it.
pub(crate) fn pieces(body: &[u8], writer: u32, seq: u64, mut put: impl FnMut(&[u8])) {
    let len = body.len();
    put(&seq.to_le_bytes());
    put(&((u64::from(writer) << 32) | len as u64).to_le_bytes());
    let mut from = 16;
    let mut at = STRIDE;
    while at + 8 < len - 8 {
        put(&body[from..at]);
        put(&mix(seq, at).to_le_bytes());
        from = at + 8;
        at += STRIDE;
    }
    put(&body[from..len - 8]);
    put(&check(seq, writer, len).to_le_bytes());
}

/// What one reader saw, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Frames delivered and found intact.
    pub(crate) frames: u64,
    /// Frames skipped (sequence gaps): lossy readers only.
    pub(crate) gaps: u64,
    /// Loss the implementation reported (frames, or bytes divided by the frame length).
    pub(crate) reported_lost: u64,
    /// Next expected sequence number of each writer.
    pub(crate) next: Vec<u64>,
    /// The first problem found; a run with one is reported as wrong.
    pub(crate) error: Option<String>,
}

/// Checks the frames one reader receives.
#[derive(Debug)]
pub(crate) struct Verifier {
    len: usize,
    lossy: bool,
    tally: Tally,
}

/// What [`Verifier::frame`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A data frame.
    Data,
    /// An [`END`] frame.
    End,
    /// A broken frame (recorded in the tally).
    Bad,
}

impl Verifier {
    /// A verifier for frames of `len` bytes from `writers` writers; `lossy` readers may see
    /// gaps in a writer's sequence (counted), never reordering or duplicates.
    pub(crate) fn new(len: usize, writers: usize, lossy: bool) -> Self {
        Self {
            len,
            lossy,
            tally: Tally {
                next: vec![0; writers],
                ..Tally::default()
            },
        }
    }

    fn fail(&mut self, why: String) -> Seen {
        if self.tally.error.is_none() {
            self.tally.error = Some(why);
        }
        Seen::Bad
    }

    /// Checks one delivered frame.
    pub(crate) fn frame(&mut self, frame: &[u8]) -> Seen {
        let len = self.len;
        if frame.len() != len {
            return self.fail(format!("frame of {} bytes, expected {len}", frame.len()));
        }
        let seq = word(frame, 0);
        let w1 = word(frame, 8);
        let writer = (w1 >> 32) as u32;
        if w1 & 0xffff_ffff != len as u64 || writer as usize >= self.tally.next.len() {
            return self.fail(format!("bad frame header word {w1:#x}"));
        }
        if word(frame, len - 8) != check(seq, writer, len) {
            return self.fail(format!("bad check word in frame {seq} of writer {writer}"));
        }
        let mut at = STRIDE;
        while at + 8 < len - 8 {
            if word(frame, at) != mix(seq, at) {
                return self.fail(format!(
                    "torn frame {seq} of writer {writer} at offset {at}"
                ));
            }
            at += STRIDE;
        }
        if seq == END {
            return Seen::End;
        }
        let next = &mut self.tally.next[writer as usize];
        if seq == *next || (self.lossy && seq > *next) {
            self.tally.gaps += seq - *next;
            *next = seq + 1;
            self.tally.frames += 1;
            Seen::Data
        } else {
            let expected = *next;
            self.fail(format!(
                "writer {writer}: frame {seq} delivered where {expected} was due"
            ))
        }
    }

    /// Records a loss the implementation reported, in frames.
    pub(crate) fn reported_loss(&mut self, frames: u64) {
        self.tally.reported_lost += frames;
    }

    /// Records a loss the implementation reported in payload bytes.
    pub(crate) fn reported_loss_bytes(&mut self, bytes: u64) {
        if bytes % self.len as u64 != 0 {
            self.fail(format!(
                "reported loss of {bytes} bytes is not a whole number of {}-byte frames",
                self.len
            ));
        }
        self.tally.reported_lost += bytes / self.len as u64;
    }

    /// Records a failure of the implementation itself (an unexpected error).
    pub(crate) fn error(&mut self, why: impl Into<String>) {
        self.fail(why.into());
    }

    /// The tally, once the reader is done.
    pub(crate) fn finish(self) -> Tally {
        self.tally
    }
}

/// Checks frames that arrive as a byte stream, their boundaries lost (what a TCP reader, or
/// any pipe, gets): each complete frame goes to a [`Verifier`], and the beginning of a frame
/// split between two reads waits in `partial`.
#[derive(Debug)]
pub(crate) struct StreamVerifier {
    v: Verifier,
    partial: Vec<u8>,
}

impl StreamVerifier {
    /// A verifier for a stream of frames of `len` bytes from `writers` writers, none lost.
    pub(crate) fn new(len: usize, writers: usize) -> Self {
        Self {
            v: Verifier::new(len, writers, false),
            partial: Vec::with_capacity(len),
        }
    }

    /// Checks the frames `bytes` completes.
    pub(crate) fn bytes(&mut self, mut bytes: &[u8]) {
        let len = self.v.len;
        if !self.partial.is_empty() {
            let take = (len - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() < len {
                return;
            }
            self.v.frame(&self.partial);
            self.partial.clear();
        }
        let mut frames = bytes.chunks_exact(len);
        for f in &mut frames {
            self.v.frame(f);
        }
        self.partial.extend_from_slice(frames.remainder());
    }

    /// Records a failure of the implementation itself (an unexpected error).
    pub(crate) fn error(&mut self, why: impl Into<String>) {
        self.v.error(why);
    }

    /// The tally, once the stream has ended.
    pub(crate) fn finish(mut self) -> Tally {
        if !self.partial.is_empty() {
            let n = self.partial.len();
            self.v
                .error(format!("the stream ended {n} bytes into a frame"));
        }
        self.v.finish()
    }
}

/// The tally of a reader whose bytes were not kept (a copy into `tokio::io::sink()`): `bytes`
/// payload bytes from one writer, counted but not checked.
pub(crate) fn counted(len: usize, bytes: u64) -> Tally {
    let frames = bytes / len as u64;
    Tally {
        frames,
        next: vec![frames],
        error: (bytes % len as u64 != 0)
            .then(|| format!("{bytes} bytes are not a whole number of {len}-byte frames")),
        ..Tally::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, writer: u32, seq: u64) -> Vec<u8> {
        let mut f = staging(len);
        stamp(&mut f, writer, seq);
        f.to_vec()
    }

    #[test]
    fn buffers_start_at_the_page_offset_asked_for() {
        for offset in PAGE_OFFSETS {
            set_page_offset(offset);
            for len in [24, 64, 65536] {
                let s = staging(len);
                assert_eq!(s.as_ptr() as usize % PAGE, offset, "staging {len}");
                assert_eq!(s.len(), len);
                assert!(s.iter().enumerate().all(|(i, &b)| b == (i * 7 + 13) as u8));
                let c = s.clone();
                assert_eq!(c.as_ptr() as usize % PAGE, offset, "clone {len}");
                assert_eq!(&c[..], &s[..]);
                let z = Buf::zeroed(len);
                assert_eq!(z.as_ptr() as usize % PAGE, offset, "zeroed {len}");
                assert!(z.iter().all(|&b| b == 0));
            }
        }
        set_page_offset(PAGE_OFFSETS[0]);
    }

    #[test]
    fn stamped_frames_verify_in_order() {
        for len in [24, 64, 1024, 65536] {
            let mut v = Verifier::new(len, 2, false);
            for seq in 0..3 {
                assert_eq!(v.frame(&frame(len, 0, seq)), Seen::Data);
                assert_eq!(v.frame(&frame(len, 1, seq)), Seen::Data);
            }
            assert_eq!(v.frame(&frame(len, 0, END)), Seen::End);
            let t = v.finish();
            assert_eq!((t.frames, t.gaps, t.error), (6, 0, None));
        }
    }

    #[test]
    fn pieces_equal_a_stamped_frame() {
        for len in [24, 64, 520, 1024, 65536] {
            let body = staging(len);
            let mut built = Vec::new();
            pieces(&body, 3, 77, |p| built.extend_from_slice(p));
            assert_eq!(built, frame(len, 3, 77), "len {len}");
        }
    }

    #[test]
    fn gaps_duplicates_and_damage_are_caught() {
        let mut v = Verifier::new(64, 1, false);
        v.frame(&frame(64, 0, 0));
        assert_eq!(v.frame(&frame(64, 0, 2)), Seen::Bad);

        let mut lossy = Verifier::new(64, 1, true);
        lossy.frame(&frame(64, 0, 0));
        assert_eq!(lossy.frame(&frame(64, 0, 5)), Seen::Data);
        assert_eq!(lossy.frame(&frame(64, 0, 5)), Seen::Bad);
        assert_eq!(lossy.finish().gaps, 4);

        let mut torn = frame(2048, 0, 1);
        torn[1024..1032].copy_from_slice(&frame(2048, 0, 0)[1024..1032]);
        let mut v = Verifier::new(2048, 1, true);
        assert_eq!(v.frame(&torn), Seen::Bad);

        let mut v = Verifier::new(64, 1, false);
        assert_eq!(v.frame(&frame(64, 0, 0)[..56]), Seen::Bad);
        let mut flipped = frame(64, 0, 0);
        flipped[60] ^= 1;
        assert_eq!(v.frame(&flipped), Seen::Bad);
    }

    #[test]
    fn streams_are_checked_across_any_split() {
        let len = 64;
        let bytes: Vec<u8> = (0..10).flat_map(|seq| frame(len, 0, seq)).collect();
        for step in [1, 7, 63, 64, 65, 200, 640] {
            let mut v = StreamVerifier::new(len, 1);
            for piece in bytes.chunks(step) {
                v.bytes(piece);
            }
            let t = v.finish();
            assert_eq!((t.frames, t.error), (10, None), "step {step}");
        }
        let mut v = StreamVerifier::new(len, 1);
        v.bytes(&bytes[..100]);
        assert!(
            v.finish().error.is_some(),
            "a stream that ends inside a frame"
        );
        let mut damaged = bytes.clone();
        damaged[64 * 3 + 5] ^= 1;
        let mut v = StreamVerifier::new(len, 1);
        v.bytes(&damaged);
        assert!(v.finish().error.is_some());
        assert_eq!(counted(64, 640).frames, 10);
        assert!(counted(64, 641).error.is_some());
    }
}
