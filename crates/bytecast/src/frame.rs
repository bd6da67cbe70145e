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
//! followed by the payload, zero-padded to a multiple of 8. A record never wraps around the end of
//! the ring: a writer whose record would cross the end reserves a padding record up to the end
//! and its frame at the start of the next lap, in one reservation.

/// Size of a record header in bytes.
pub(crate) const HEADER: usize = 8;
/// Record alignment in the log.
pub(crate) const ALIGN: usize = 8;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A committed frame: readers deliver it.
    Data = 1,
    /// A reservation dropped or aborted before commit: readers skip it.
    Aborted = 2,
    /// Filler up to the end of the ring, or after a frame committed shorter than reserved.
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

/// Rounds up to a multiple of [`ALIGN`].
pub(crate) const fn align_up(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// The layout of one reservation: optional padding to the end of the ring, then the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Bytes of padding before the frame (0 or up to the end of the ring).
    pub(crate) pad: usize,
    /// Footprint of the frame itself.
    pub(crate) frame: usize,
}

impl Placement {
    /// Where a frame of `len` payload bytes goes when the reservation starts at ring index `idx`
    /// of a ring of `capacity` bytes.
    pub(crate) fn at(idx: usize, len: usize, capacity: usize) -> Self {
        let frame = footprint(len);
        let pad = if idx + frame > capacity {
            capacity - idx
        } else {
            0
        };
        Self { pad, frame }
    }

    pub(crate) fn total(self) -> usize {
        self.pad + self.frame
    }
}

/// `a < b` for log positions, robust to wrap-around of the position counter (positions are
/// compared by their distance, which is always far below `usize::MAX / 2`).
#[inline]
pub(crate) fn pos_lt(a: usize, b: usize) -> bool {
    (b.wrapping_sub(a) as isize) > 0
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
    fn footprint_is_header_plus_aligned_payload() {
        assert_eq!(footprint(0), 8);
        assert_eq!(footprint(1), 16);
        assert_eq!(footprint(8), 16);
        assert_eq!(footprint(9), 24);
    }

    #[test]
    fn placement_pads_to_ring_end() {
        assert_eq!(Placement::at(0, 8, 64), Placement { pad: 0, frame: 16 });
        assert_eq!(Placement::at(48, 8, 64), Placement { pad: 0, frame: 16 });
        assert_eq!(Placement::at(56, 8, 64), Placement { pad: 8, frame: 16 });
        assert_eq!(Placement::at(40, 24, 64).total(), 24 + 32);
    }

    #[test]
    fn position_order_survives_wrap() {
        assert!(pos_lt(1, 2));
        assert!(!pos_lt(2, 2));
        assert!(pos_lt(usize::MAX - 7, 8));
        assert!(!pos_lt(8, usize::MAX - 7));
    }
}
