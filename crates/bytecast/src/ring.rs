//! The ring: the channel's single allocation and every raw byte copy into or out of it.
//!
//! The ring is a boxed slice of word-sized atomics. Writers store whole words with `Relaxed`
//! atomic stores, and weak readers load whole words with `Relaxed` atomic loads, so a weak reader
//! racing a writer that is overwriting the same bytes is never a data race in the Rust memory
//! model; it only copies bytes that it later discards (see `docs/design.md`, "Weak readers").
//! Strong readers are gated: no writer touches bytes a strong reader has not released, so their
//! copies and the zero-copy [`crate::FrameRef`] read the memory as plain bytes.
//!
//! This module never decides policy; callers pass ring byte indices (already masked).
//!
//! # Invariants
//! - `RING-ALIGN`: every index passed to a word operation is a multiple of [`WORD`]; frames start
//!   on 8-byte boundaries and `WORD` divides 8.
//! - `RING-WHOLE`: every write into the ring covers whole words, atomic or plain: a payload's
//!   last partial word is zero-padded, and a grant's pieces are collected into whole words. A
//!   word is then never written in part by a plain copy and in part by an atomic store, which
//!   Miri's weak-memory model rejects (the nightly that `cargo xtask miri` runs aborts on an
//!   atomic store to a word that a plain copy last wrote only in part).
//! - `RING-EXCL`: the bytes `[idx, idx + len)` passed to [`Ring::bytes`] or
//!   [`Ring::copy_out_exclusive`] are not written by anyone while the returned borrow or the copy
//!   lives: they lie in a committed, published frame that a strong reader has not released, and
//!   writers never reserve past the slowest strong reader plus the capacity.
//! - `RING-EXCL-W`: the bytes `[idx, idx + len)` passed to [`Ring::copy_in_exclusive`] are read
//!   and written by no other thread until the writer publishes them: they lie in the writer's own
//!   reservation (unpublished, so no strong reader reads them), and no weak reader was registered
//!   when the writer checked after its reservation (`Shared::try_reserve`, "exclusive copies"
//!   in `docs/design.md`), so no weak reader's position can alias them in an older lap.

use crate::sync::AtomicUsize;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::Relaxed;

/// Bytes per ring word.
pub(crate) const WORD: usize = core::mem::size_of::<usize>();

/// The largest single `memcpy` the ring makes: plain copies of longer payloads go in pieces.
///
/// Why: on x86-64, glibc's `memcpy` switches to `rep movsb` at a few KiB (between 2 and 4 KiB
/// here), and on the AMD EPYC this was measured on, `rep movsb` runs at about 60 % of its speed
/// when source and destination differ modulo 16. That is the common case: a payload starts
/// 8 bytes into its record, and buffers from the allocator are 16-byte aligned. Below the
/// threshold glibc copies with vector loops, which do not care. Measured: 64 KiB copied into a
/// 1 MiB ring and out again, 8 bytes off, 252 k frames/s in one
/// `memcpy` each way, 400 k in 2 KiB pieces (399 k aligned either way); `bytecast-async` 64 KiB
/// 1 → 1, 193 k → 228 k frames/s. Elsewhere the pieces cost one loop iteration per 2 KiB.
/// Payloads of 32 KiB or more now mostly start on a page boundary (`frame::Placement::at`), so
/// they agree with such buffers modulo 16; for them one `memcpy` and the pieces measured the same
/// (`docs/design.md`, "Exclusive copies"), and the pieces stay for every length.
const COPY_PIECE: usize = 2048;

/// The shared byte ring.
pub(crate) struct Ring {
    /// `(2 * capacity - 8) / WORD` words (the ring and its spare tail); governed by `RING-ALIGN`
    /// and `RING-EXCL`.
    words: Box<[AtomicUsize]>,
}

impl core::fmt::Debug for Ring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("bytes", &self.len_bytes())
            .finish()
    }
}

impl Ring {
    /// Allocates a zeroed ring of `capacity` bytes (a power of two, multiple of 8) plus its
    /// spare tail of `capacity - 8` bytes, or `None` if the allocator refuses.
    ///
    /// The tail: a record starts at a ring index below `capacity` and is at most `capacity`
    /// bytes long, so it ends before `2 * capacity - 8`. One that crosses the end of the ring
    /// runs on into the tail instead of wrapping, so every record is contiguous and a frame of
    /// up to `capacity - 8` bytes fits from any start. The ring bytes that the crossing record's
    /// log positions would have mapped to (`[0, end - capacity)`) are left unused in that lap;
    /// the next record starts right after them.
    pub(crate) fn try_new(capacity: usize) -> Option<Self> {
        debug_assert!(capacity.is_power_of_two() && capacity >= 8);
        let n = (2 * capacity - crate::frame::HEADER) / WORD;
        let mut words = Vec::new();
        words.try_reserve_exact(n).ok()?;
        words.extend((0..n).map(|_| AtomicUsize::new(0)));
        Some(Self {
            words: words.into_boxed_slice(),
        })
    }

    /// Bytes allocated: the ring and its spare tail.
    pub(crate) fn len_bytes(&self) -> usize {
        self.words.len() * WORD
    }

    #[inline]
    fn word(&self, idx: usize) -> &AtomicUsize {
        debug_assert_eq!(idx % WORD, 0, "RING-ALIGN");
        &self.words[idx / WORD]
    }

    /// Stores one word at byte index `idx`.
    #[inline]
    pub(crate) fn store_word(&self, idx: usize, bytes: [u8; WORD]) {
        // ORDERING: Relaxed; the bytes are published by the writer's commit (slot store, SeqCst)
        // and the publisher's Release store of `published`; weak readers that race this store
        // validate with the fence-based seqlock in `Shared::intact_since`.
        self.word(idx).store(usize::from_ne_bytes(bytes), Relaxed);
    }

    /// Loads one word at byte index `idx`.
    #[inline]
    pub(crate) fn load_word(&self, idx: usize) -> [u8; WORD] {
        // ORDERING: Relaxed; callers order it: after an Acquire of `published` (readers, the
        // publisher after its SeqCst slot scan), or before an Acquire fence and a re-check of the
        // reservation cursor (weak readers).
        self.word(idx).load(Relaxed).to_ne_bytes()
    }

    /// Stores `src` (a whole number of words) from byte index `idx`: the bulk of a payload, one
    /// bounds check for the whole run.
    #[inline]
    pub(crate) fn store_words(&self, idx: usize, src: &[u8]) {
        debug_assert_eq!(idx % WORD, 0, "RING-ALIGN");
        debug_assert_eq!(src.len() % WORD, 0);
        let words = &self.words[idx / WORD..][..src.len() / WORD];
        for (word, chunk) in words.iter().zip(src.chunks_exact(WORD)) {
            let mut w = [0u8; WORD];
            w.copy_from_slice(chunk);
            // ORDERING: Relaxed; as in `store_word`.
            word.store(usize::from_ne_bytes(w), Relaxed);
        }
    }

    /// Writes a whole payload `src` from byte index `idx`: its whole words, then its last
    /// partial word zero-padded (`RING-WHOLE`); with atomic stores, or with plain copies when
    /// `exclusive` (`RING-EXCL-W`). The copying writes' path, which needs no [`WordWriter`].
    #[inline(always)]
    pub(crate) fn store_payload(&self, idx: usize, src: &[u8], exclusive: bool) {
        let whole = src.len() - src.len() % WORD;
        if exclusive {
            self.copy_in_exclusive(idx, &src[..whole]);
        } else {
            self.store_words(idx, &src[..whole]);
        }
        let rest = &src[whole..];
        if !rest.is_empty() {
            let mut w = [0u8; WORD];
            w[..rest.len()].copy_from_slice(rest);
            if exclusive {
                self.copy_in_piece(idx + whole, &w);
            } else {
                self.store_word(idx + whole, w);
            }
        }
    }

    /// Writes 8 bytes at `idx` (a frame header).
    #[inline]
    pub(crate) fn store_u64(&self, idx: usize, value: [u8; 8]) {
        for (i, chunk) in value.chunks_exact(WORD).enumerate() {
            let mut w = [0u8; WORD];
            w.copy_from_slice(chunk);
            self.store_word(idx + i * WORD, w);
        }
    }

    /// Reads 8 bytes at `idx` (a frame header) with atomic loads.
    #[inline]
    pub(crate) fn load_u64(&self, idx: usize) -> [u8; 8] {
        let mut out = [0u8; 8];
        for (i, chunk) in out.chunks_exact_mut(WORD).enumerate() {
            chunk.copy_from_slice(&self.load_word(idx + i * WORD));
        }
        out
    }

    /// Copies `src` (a whole number of words) into the ring from byte index `idx` (a word
    /// boundary, `RING-WHOLE`) with a plain `memcpy` (in pieces of [`COPY_PIECE`] bytes when
    /// longer): the fast path of frames written while no weak reader exists (`RING-EXCL-W`).
    #[inline(always)]
    pub(crate) fn copy_in_exclusive(&self, idx: usize, src: &[u8]) {
        debug_assert_eq!(idx % WORD, 0, "RING-WHOLE");
        debug_assert_eq!(src.len() % WORD, 0, "RING-WHOLE");
        if src.len() <= COPY_PIECE {
            self.copy_in_piece(idx, src);
        } else {
            self.copy_in_pieces(idx, src);
        }
    }

    /// [`Ring::copy_in_exclusive`] of a payload longer than one piece (out of line).
    #[inline(never)]
    fn copy_in_pieces(&self, idx: usize, src: &[u8]) {
        for (i, piece) in src.chunks(COPY_PIECE).enumerate() {
            self.copy_in_piece(idx + i * COPY_PIECE, piece);
        }
    }

    /// One `memcpy` of `src` into the ring from byte index `idx` (`RING-EXCL-W`).
    #[inline(always)]
    fn copy_in_piece(&self, idx: usize, src: &[u8]) {
        #[cfg(all(test, bytecast_loom))]
        {
            let _ = (idx, src);
            unreachable!("loom models never make exclusive reservations (`Shared::try_reserve`)");
        }
        #[cfg(not(all(test, bytecast_loom)))]
        {
            assert!(
                idx <= self.len_bytes() && src.len() <= self.len_bytes() - idx,
                "ring range out of bounds"
            );
            let base = self
                .words
                .as_ptr()
                .cast::<u8>()
                .cast_mut()
                .wrapping_add(idx);
            // SAFETY: RING-EXCL-W: the range is inside the allocation (asserted above) and no
            // other thread reads or writes it until the writer publishes it (which orders this
            // copy before any read through `published`'s Release/Acquire pair). Writing through
            // a pointer derived from `&[AtomicUsize]` is allowed: `AtomicUsize` is an
            // `UnsafeCell<usize>` with the layout of `usize`, and any bytes are a valid `usize`.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), base, src.len()) }
        }
    }

    /// Copies `dst.len()` bytes starting at byte index `idx` with atomic word loads. Safe to call
    /// while writers overwrite the range: the result may then be garbage, which the caller
    /// discards after validation.
    pub(crate) fn copy_out_racy(&self, idx: usize, dst: &mut [u8]) {
        let mut at = idx;
        let mut out = dst;
        while !out.is_empty() {
            let base = at - at % WORD;
            let skip = at - base;
            let word = self.load_word(base);
            let take = (WORD - skip).min(out.len());
            out[..take].copy_from_slice(&word[skip..skip + take]);
            out = &mut out[take..];
            at = base + WORD;
        }
    }

    /// Copies `dst.len()` bytes starting at `idx` from a range no one writes (`RING-EXCL`).
    pub(crate) fn copy_out_exclusive(&self, idx: usize, dst: &mut [u8]) {
        #[cfg(all(test, bytecast_loom))]
        self.copy_out_racy(idx, dst);
        #[cfg(not(all(test, bytecast_loom)))]
        {
            let src = self.bytes(idx, dst.len());
            if src.len() <= COPY_PIECE {
                dst.copy_from_slice(src);
            } else {
                for (to, piece) in dst.chunks_mut(COPY_PIECE).zip(src.chunks(COPY_PIECE)) {
                    to.copy_from_slice(piece);
                }
            }
        }
    }

    /// Borrows `len` bytes starting at `idx` as plain bytes (`RING-EXCL` must hold for as long
    /// as the borrow lives: the caller is a strong reader that has not released the frame).
    #[cfg(not(all(test, bytecast_loom)))]
    pub(crate) fn bytes(&self, idx: usize, len: usize) -> &[u8] {
        assert!(
            idx <= self.len_bytes() && len <= self.len_bytes() - idx,
            "ring range out of bounds"
        );
        let base = self.words.as_ptr().cast::<u8>().wrapping_add(idx);
        // SAFETY: RING-EXCL: the range is inside the allocation (asserted above) and lies in a
        // published frame that a strong reader holds, so no thread writes it while the borrow
        // lives; `AtomicUsize` has the same layout as `usize`, all bit patterns are valid bytes,
        // and concurrent atomic *loads* by weak readers are reads, which do not race.
        unsafe { core::slice::from_raw_parts(base, len) }
    }
}

/// Appends payload bytes into a reserved range word by word, keeping a partial word until it is
/// full, so every write into the ring is a whole aligned word (`RING-ALIGN`, `RING-WHOLE`): with
/// atomic stores, or for an exclusive reservation (`RING-EXCL-W`) with plain copies.
#[derive(Debug)]
pub(crate) struct WordWriter {
    /// Next ring byte index to write a whole word at.
    idx: usize,
    /// `RING-EXCL-W` holds for the whole reservation: copy with `memcpy`.
    exclusive: bool,
    /// Bytes collected for the next word.
    partial: [u8; WORD],
    /// How many bytes of `partial` are filled.
    filled: usize,
}

impl WordWriter {
    pub(crate) fn new(idx: usize, exclusive: bool) -> Self {
        debug_assert_eq!(idx % WORD, 0, "RING-ALIGN");
        Self {
            idx,
            exclusive,
            partial: [0; WORD],
            filled: 0,
        }
    }

    /// Appends `src` (the caller keeps within the reserved range). Whole words at a word
    /// boundary (a frame put in one piece of a multiple of 8 bytes, the common case) are
    /// written inline; other pieces go through the partial word, out of line.
    #[inline(always)]
    pub(crate) fn put(&mut self, ring: &Ring, src: &[u8]) {
        if self.filled == 0 && src.len() % WORD == 0 {
            self.write_whole(ring, src);
        } else {
            self.put_words(ring, src);
        }
    }

    /// Writes `src`, a whole number of words, at `idx` (a word boundary), and moves past it.
    #[inline(always)]
    fn write_whole(&mut self, ring: &Ring, src: &[u8]) {
        if self.exclusive {
            ring.copy_in_exclusive(self.idx, src);
        } else {
            ring.store_words(self.idx, src);
        }
        self.idx += src.len();
    }

    /// `put` of a piece that does not start or end on a word boundary.
    #[inline(never)]
    fn put_words(&mut self, ring: &Ring, mut src: &[u8]) {
        if self.filled > 0 {
            let take = (WORD - self.filled).min(src.len());
            self.partial[self.filled..self.filled + take].copy_from_slice(&src[..take]);
            self.filled += take;
            src = &src[take..];
            if self.filled == WORD {
                let word = self.partial;
                self.write_whole(ring, &word);
                self.filled = 0;
            }
        }
        let whole = src.len() - src.len() % WORD;
        self.write_whole(ring, &src[..whole]);
        let rest = &src[whole..];
        if !rest.is_empty() {
            self.partial = [0; WORD];
            self.partial[..rest.len()].copy_from_slice(rest);
            self.filled = rest.len();
        }
    }

    /// Writes the last partial word, zero-padded.
    #[inline]
    pub(crate) fn flush(&mut self, ring: &Ring) {
        if self.filled > 0 {
            self.partial[self.filled..].fill(0);
            let word = self.partial;
            self.write_whole(ring, &word);
            self.filled = 0;
        }
    }
}

#[cfg(all(test, not(bytecast_loom)))]
mod tests {
    use super::*;
    use alloc::vec;

    /// Plain copies of payloads longer than [`COPY_PIECE`] go in pieces: every byte lands at its
    /// place, at every word offset, the last partial word zero-padded (`RING-WHOLE`), with the
    /// bytes around the range untouched.
    #[test]
    fn plain_copies_in_pieces_keep_every_byte() {
        for (idx, len) in [
            (8, 3 * COPY_PIECE + 5),
            (0, COPY_PIECE),
            (16, COPY_PIECE + 1),
            (24, 7),
            (32, 16),
            (0, 0),
        ] {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + idx + 1) as u8).collect();
            let padded = len.div_ceil(WORD) * WORD;
            // A fresh ring per case, filled with plain copies only.
            let ring = Ring::try_new(4 * COPY_PIECE).expect("ring");
            ring.copy_in_exclusive(0, &[0xEE; 4 * COPY_PIECE]);
            ring.store_payload(idx, &src, true);
            let mut back = vec![0u8; len];
            ring.copy_out_exclusive(idx, &mut back);
            assert_eq!(back, src, "idx {idx} len {len}");
            let all = ring.bytes(0, 4 * COPY_PIECE);
            assert!(all[..idx].iter().all(|&b| b == 0xEE), "before the range");
            assert!(
                all[idx + len..idx + padded].iter().all(|&b| b == 0),
                "padding of the last word"
            );
            assert!(
                all[idx + padded..].iter().all(|&b| b == 0xEE),
                "after the range"
            );
        }
    }

    /// A grant's puts land as one contiguous payload, whatever mix of whole-word puts at a word
    /// boundary (the inlined path) and other puts (the partial-word path) fills it, with the
    /// last word zero-padded: with atomic stores (a weak reader may exist) and with plain copies
    /// (an exclusive reservation).
    #[test]
    fn word_puts_of_any_split_keep_every_byte() {
        let splits: [&[usize]; 6] = [
            &[64],
            &[8, 16, 8],
            &[3, 5, 8, 16],
            &[8, 3, 13, 8],
            &[1, 7, 7, 1, 8],
            &[16, 5],
        ];
        for exclusive in [false, true] {
            for split in splits {
                let len: usize = split.iter().sum();
                let src: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
                let ring = Ring::try_new(256).expect("ring");
                // Filled the way the puts write: atomic stores, or plain copies.
                if exclusive {
                    ring.copy_in_exclusive(0, &[0xEE; 256]);
                } else {
                    for i in (0..256).step_by(WORD) {
                        ring.store_word(i, [0xEE; WORD]);
                    }
                }
                let mut w = WordWriter::new(16, exclusive);
                let mut at = 0;
                for &n in split {
                    w.put(&ring, &src[at..at + n]);
                    at += n;
                }
                w.flush(&ring);
                let padded = len.div_ceil(WORD) * WORD;
                let mut back = vec![0u8; 256];
                if exclusive {
                    ring.copy_out_exclusive(0, &mut back);
                } else {
                    ring.copy_out_racy(0, &mut back);
                }
                let case = alloc::format!("split {split:?}, exclusive {exclusive}");
                assert_eq!(&back[16..16 + len], &src[..], "{case}");
                assert!(
                    back[16 + len..16 + padded].iter().all(|&b| b == 0),
                    "padding, {case}"
                );
                assert!(
                    back[..16].iter().all(|&b| b == 0xEE),
                    "before the payload, {case}"
                );
                assert!(
                    back[16 + padded..].iter().all(|&b| b == 0xEE),
                    "after it, {case}"
                );
            }
        }
    }
}
