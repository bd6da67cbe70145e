//! Frame layout in the log: pure arithmetic, no memory access.
//!
//! Every record in the ring starts on an 8-byte boundary with an 8-byte header:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | payload length, `u32` little-endian |
//! | 4..6 | writer id, `u16` little-endian (0 for padding) |
//! | 6 | kind: [`Kind::Data`], [`Kind::Aborted`] or [`Kind::Padding`] |
//! | 7 | reserved, 0 |
//!
//! followed by the payload, zero-padded to a multiple of 8. A record is contiguous in memory: one
//! that starts near the end of the ring runs on into the ring's spare tail (`ring.rs`), so it
//! never wraps and never needs padding to the end, and any record of up to the ring's capacity
//! fits from any start.
//!
//! A large frame (a payload of [`PAGE_ALIGNED_MIN`] bytes up to a quarter of the ring) starts its
//! payload on a [`PAGE`] boundary of the ring where it fits before the end: the writer reserves a
//! padding record before it, in the same reservation (see [`Placement::at`] for why).

/// Size of a record header in bytes.
pub(crate) const HEADER: usize = 8;
/// Record alignment in the log.
pub(crate) const ALIGN: usize = 8;
/// The ring boundary a large frame's payload starts on.
pub(crate) const PAGE: usize = 4096;
/// The smallest payload placed on a [`PAGE`] boundary; the padding costs it at most
/// `PAGE - HEADER` bytes of ring space (12.5 %), 6 % on average.
pub(crate) const PAGE_ALIGNED_MIN: usize = 32 * 1024;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A committed frame: readers deliver it.
    Data = 1,
    /// A reservation dropped or aborted before commit: readers skip it.
    Aborted = 2,
    /// Filler before a page-aligned large frame, or after a frame committed shorter than
    /// reserved.
    Padding = 3,
}

/// A decoded record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) len: u32,
    pub(crate) writer: u16,
    pub(crate) kind: Kind,
}

impl Header {
    #[inline]
    pub(crate) fn encode(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.len.to_le_bytes());
        b[4..6].copy_from_slice(&self.writer.to_le_bytes());
        b[6] = self.kind as u8;
        b
    }

    /// Decodes a header; `None` for bytes that are not a header (possible only for a weak reader
    /// that raced a writer, which then discards what it read).
    #[inline]
    pub(crate) fn decode(b: [u8; 8]) -> Option<Self> {
        let kind = match b[6] {
            1 => Kind::Data,
            2 => Kind::Aborted,
            3 => Kind::Padding,
            _ => return None,
        };
        if b[7] != 0 {
            return None;
        }
        Some(Self {
            len: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            writer: u16::from_le_bytes([b[4], b[5]]),
            kind,
        })
    }

    /// Bytes this record occupies in the log.
    #[inline]
    pub(crate) fn footprint(self) -> usize {
        footprint(self.len as usize)
    }
}

/// Bytes a record with `len` payload bytes occupies in the log.
pub(crate) const fn footprint(len: usize) -> usize {
    HEADER + align_up(len)
}

/// Bytes of ring a frame of `payload_len` bytes takes: an 8-byte header, then the payload
/// rounded up to a multiple of 8 (a 9-byte frame takes 24). `usize::MAX` if that overflows.
///
/// A ring of `capacity` bytes holds `capacity / record_len(len)` such frames that no strong
/// reader has released, except a frame of 32 KiB up to a quarter of the ring, which may also
/// take up to 4088 bytes of padding that start its payload on a 4 KiB boundary of the ring.
/// [`Config::for_frames`](crate::Config::for_frames) sizes a ring with both counted.
///
/// ```
/// assert_eq!(bytecast::record_len(9), 24);
/// assert_eq!(bytecast::record_len(16), 24);
/// assert_eq!(bytecast::record_len(0), 8);
/// ```
pub const fn record_len(payload_len: usize) -> usize {
    match payload_len.checked_add(HEADER + ALIGN - 1) {
        Some(n) => n & !(ALIGN - 1),
        None => usize::MAX,
    }
}

/// Rounds up to a multiple of [`ALIGN`].
pub(crate) const fn align_up(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// The layout of one reservation: optional alignment padding, then the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Bytes of padding before the frame (0, or up to the next [`PAGE`] boundary).
    pub(crate) pad: usize,
    /// Footprint of the frame itself.
    pub(crate) frame: usize,
}

impl Placement {
    /// Where a frame of `len` payload bytes goes when the reservation starts at ring index `idx`
    /// of a ring of `capacity` bytes.
    ///
    /// A payload of [`PAGE_ALIGNED_MIN`] bytes up to `capacity / 4` starts on the next [`PAGE`]
    /// boundary if the frame then ends before the end of the ring; every other frame starts at
    /// `idx` (running on into the spare tail if it crosses the end).
    ///
    /// Why: copying a 64 KiB frame into a ring that another core reads ran 1.5 times as fast
    /// into page-aligned slots as into slots 8 bytes off (`docs/performance.md`, "Large
    /// frames"). Only large frames get it, so the padding costs at most 12.5 % of a frame's ring
    /// space; only up to a quarter of the ring, so a padded reservation stays below
    /// `capacity / 2`, and every reservation fits in an empty ring.
    pub(crate) fn at(idx: usize, len: usize, capacity: usize) -> Self {
        let frame = footprint(len);
        if Self::aligned(len, capacity) {
            let start = (idx + HEADER).next_multiple_of(PAGE) - HEADER;
            if start + frame <= capacity {
                return Self {
                    pad: start - idx,
                    frame,
                };
            }
        }
        Self { pad: 0, frame }
    }

    /// `true` if a payload of `len` bytes is placed on a page boundary where it fits.
    const fn aligned(len: usize, capacity: usize) -> bool {
        len >= PAGE_ALIGNED_MIN && len <= capacity / 4
    }

    /// The largest reservation a frame of `len` bytes can need, whatever its start: what a
    /// writer that waits for room asks the others to leave free.
    pub(crate) const fn largest(len: usize, capacity: usize) -> usize {
        let pad = if Self::aligned(len, capacity) {
            PAGE - HEADER
        } else {
            0
        };
        pad + footprint(len)
    }

    pub(crate) fn total(self) -> usize {
        self.pad + self.frame
    }
}

/// Bits of a log position: `usize::BITS`, or 22 when the crate is built with
/// `--cfg bytecast_narrow_positions` (`cargo xtask wrap`), so that every wrap of the position
/// space happens after 4 MiB of traffic and the tests reach each wrap path in seconds.
pub(crate) const POS_BITS: u32 = if cfg!(bytecast_narrow_positions) {
    22
} else {
    usize::BITS
};

/// Positions live in `[0, 2^POS_BITS)`: every sum and difference of positions is masked.
pub(crate) const POS_MASK: usize = usize::MAX >> (usize::BITS - POS_BITS);

/// Half the position space: [`pos_lt`] is exact for positions less than this far apart.
const POS_HALF: usize = 1 << (POS_BITS - 1);

/// A quarter of the position space: a weak reader whose published position is this far behind
/// `reserve` is lapped for certain and is told so by the next gate refresh
/// (`Shared::gate_limit_locked`), before distances to it stop being exact.
pub(crate) const POS_FAR: usize = 1 << (POS_BITS - 2);

/// The position `n` bytes after `p`.
#[inline]
pub(crate) fn pos_add(p: usize, n: usize) -> usize {
    p.wrapping_add(n) & POS_MASK
}

/// The distance from `b` forward to `a` (`a - b`), in `[0, 2^POS_BITS)`.
#[inline]
pub(crate) fn pos_sub(a: usize, b: usize) -> usize {
    a.wrapping_sub(b) & POS_MASK
}

/// `a < b` for log positions, robust to wrap-around of the position counter: exact while the
/// two are less than half the position space apart. Every pair the protocol compares is within
/// a few rings of each other (`reserve`, `published`, the gate, strong readers, history marks),
/// except an idle weak reader's position, which the gate refresh flags before it drifts that far
/// (`POS_FAR`).
#[inline]
pub(crate) fn pos_lt(a: usize, b: usize) -> bool {
    let d = pos_sub(b, a);
    d != 0 && d < POS_HALF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        for kind in [Kind::Data, Kind::Aborted, Kind::Padding] {
            let h = Header {
                len: 0xdead_beef,
                writer: 0xbeef,
                kind,
            };
            assert_eq!(Header::decode(h.encode()), Some(h));
        }
    }

    #[test]
    fn garbage_is_not_a_header() {
        assert_eq!(Header::decode([0; 8]), None);
        assert_eq!(Header::decode([0, 0, 0, 0, 0, 0, 9, 0]), None);
        assert_eq!(Header::decode([0, 0, 0, 0, 0, 0, 1, 1]), None);
    }

    #[test]
    fn record_len_is_the_footprint_and_saturates() {
        for len in [0, 1, 7, 8, 9, 4096, 32 * 1024 + 3, usize::MAX - 15] {
            assert_eq!(record_len(len), footprint(len), "len {len}");
        }
        assert_eq!(record_len(usize::MAX - 14), usize::MAX);
        assert_eq!(record_len(usize::MAX), usize::MAX);
    }

    #[test]
    fn footprint_is_header_plus_aligned_payload() {
        assert_eq!(footprint(0), 8);
        assert_eq!(footprint(1), 16);
        assert_eq!(footprint(8), 16);
        assert_eq!(footprint(9), 24);
    }

    #[test]
    fn placement_never_pads_to_the_ring_end() {
        assert_eq!(Placement::at(0, 8, 64), Placement { pad: 0, frame: 16 });
        assert_eq!(Placement::at(48, 8, 64), Placement { pad: 0, frame: 16 });
        // Crosses the end: runs on into the spare tail, no padding.
        assert_eq!(Placement::at(56, 8, 64), Placement { pad: 0, frame: 16 });
        assert_eq!(Placement::at(40, 24, 64).total(), 32);
        // The longest frame (capacity - 8) from any start.
        assert_eq!(Placement::at(56, 56, 64), Placement { pad: 0, frame: 64 });
    }

    #[test]
    fn large_payloads_start_on_a_page_boundary_where_they_fit() {
        let cap = 1 << 20;
        let big = PAGE_ALIGNED_MIN;
        // Payload at 4096: 4088 bytes of padding (a header and 4080 bytes) first.
        assert_eq!(
            Placement::at(0, big, cap),
            Placement {
                pad: PAGE - HEADER,
                frame: footprint(big)
            }
        );
        // Already aligned: no padding.
        assert_eq!(Placement::at(PAGE - HEADER, big, cap).pad, 0);
        // Mid-page: padding up to the next boundary.
        let p = Placement::at(PAGE + 64, 65536, cap);
        assert_eq!((PAGE + 64 + p.pad + HEADER) % PAGE, 0);
        assert_eq!(p.pad, PAGE - 64 - HEADER);
        // The aligned frame would cross the end but the frame fits where it is: no padding.
        let odd = big + 100;
        assert_eq!(Placement::at(cap - 36_000, odd, cap).pad, 0);
        // Neither fits before the end: the frame starts where it is, as any frame.
        assert_eq!(Placement::at(cap - 16, big, cap).pad, 0);
        // The aligned frame fits exactly before the end.
        let last = cap - footprint(big);
        assert_eq!((last + HEADER) % PAGE, 0);
        assert_eq!(Placement::at(last, big, cap).pad, 0);
        // Smaller frames, and frames over a quarter of the ring, are never padded mid-ring.
        assert_eq!(Placement::at(8, big - 1, cap).pad, 0);
        assert_eq!(Placement::at(8, cap / 4 + 8, cap).pad, 0);
        assert_eq!(Placement::at(8, big, 4 * big - 8).pad, 0);
    }

    #[test]
    fn every_reservation_fits_an_empty_ring() {
        // Every placement of every length the ring accepts, from every start, fits in the ring
        // (`max_frame_len`'s promise), starts its frame at or after `idx`, ends within the spare
        // tail, and is no larger than `Placement::largest`.
        for cap in [64usize, 1 << 12, 1 << 17, 1 << 18] {
            let max = cap - HEADER;
            for len in [0, 1, PAGE_ALIGNED_MIN, cap / 4, cap / 4 + 1, cap / 2, max] {
                if len > max {
                    continue;
                }
                for idx in (0..cap).step_by(8 * 97 % cap.max(8) + 8) {
                    let p = Placement::at(idx, len, cap);
                    assert!(p.total() <= cap, "cap {cap} len {len} idx {idx}: {p:?}");
                    assert!(p.total() <= Placement::largest(len, cap), "{p:?}");
                    let frame_idx = idx + p.pad;
                    assert!(frame_idx < cap, "the frame starts inside the ring");
                    assert!(frame_idx + p.frame <= 2 * cap - HEADER, "ends in the tail");
                    if p.pad > 0 {
                        assert!(frame_idx + p.frame <= cap, "aligned frames never cross");
                    }
                }
            }
        }
    }

    #[test]
    fn position_order_survives_wrap() {
        assert!(pos_lt(1, 2));
        assert!(!pos_lt(2, 2));
        assert!(pos_lt(POS_MASK - 7, 8));
        assert!(!pos_lt(8, POS_MASK - 7));
        assert_eq!(pos_add(POS_MASK - 7, 16), 8);
        assert_eq!(pos_sub(8, POS_MASK - 7), 16);
        // Exact up to half the space, then the order flips: why idle weak readers are flagged
        // at a quarter.
        assert!(pos_lt(0, POS_HALF - 8));
        assert!(!pos_lt(0, POS_HALF + 8));
    }
}
