//! Payload builders and readers shared by the feature suites and the selium-messaging
//! regressions (`#[path = "support/payloads.rs"] mod payloads;`): recognisable payloads,
//! self-checking frames, filling a `Park` ring, and reading every published frame.
#![allow(dead_code)]

use bytecast::{StrongReader, StrongWriter, WeakReader};

/// Distinct, recognisable payload for frame number `tag`.
pub(crate) fn payload(tag: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (tag.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8)
        .collect()
}

/// Fills a `Park` channel until the writer would have to wait; returns the frames written.
pub(crate) fn fill(w: &mut StrongWriter, len: usize) -> Vec<Vec<u8>> {
    let mut written = Vec::new();
    loop {
        let p = payload(written.len(), len);
        match w.try_write(&p).expect("fill") {
            Some(n) => {
                assert_eq!(n, len);
                written.push(p);
            }
            None => return written,
        }
        assert!(written.len() < 1_000_000, "fill never filled the ring");
    }
}

/// Every frame a strong reader can read without waiting, with its writer id.
pub(crate) fn read_all_strong(r: &mut StrongReader) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(f) = r.try_read_frame(usize::MAX).expect("read") {
        out.push(f);
    }
    out
}

/// Every frame a weak reader can read without waiting, with its writer id.
pub(crate) fn read_all_weak(r: &mut WeakReader) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(f) = r.try_read_frame(usize::MAX).expect("read") {
        out.push(f);
    }
    out
}

/// The payloads of every frame a strong reader can read without waiting.
pub(crate) fn payloads_of(r: &mut StrongReader) -> Vec<Vec<u8>> {
    read_all_strong(r).into_iter().map(|(_, f)| f).collect()
}

/// A self-checking frame: `[seq: u32 LE][tag][filler derived from seq and tag...]`, 5 to
/// `5 + spread - 1` bytes long.
pub(crate) fn checked_frame(tag: u8, seq: u32, spread: usize) -> Vec<u8> {
    let len = 5 + (seq as usize * 7 + tag as usize) % spread;
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&seq.to_le_bytes());
    f.push(tag);
    for i in 5..len {
        f.push((seq as usize * 13 + tag as usize * 29 + i) as u8);
    }
    f
}

/// Checks a frame built by [`checked_frame`]; returns `(tag, seq)`. Panics on a torn or
/// spliced frame.
pub(crate) fn check_frame(f: &[u8], spread: usize) -> (u8, u32) {
    assert!(f.len() >= 5, "short frame {f:?}");
    let seq = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
    let tag = f[4];
    assert_eq!(
        f,
        &checked_frame(tag, seq, spread)[..],
        "torn or spliced frame"
    );
    (tag, seq)
}

/// `len` bytes recognisable by `tag`.
pub(crate) fn tag_bytes(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| tag.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}
