//! Self-checking frames: every frame says who wrote it, its place in that writer's sequence and
//! its own length, and ends with a checksum of everything before it, so any reader can tell a
//! whole frame from a torn, misattributed, reordered or repeated one without trusting the
//! channel.
//!
//! Layout (little endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | writer index (the demo's, 0-based) |
//! | 4..12 | sequence number within that writer |
//! | 12..16 | payload length `n` |
//! | 16..16+n | payload |
//! | 16+n..20+n | CRC-32 of bytes 0..16+n |

use std::ops::RangeInclusive;

/// Header plus checksum: the shortest frame has this many bytes and an empty payload.
pub(crate) const OVERHEAD: usize = HEAD + CHECKSUM;
const HEAD: usize = 16;
const CHECKSUM: usize = 4;

/// What a reader learns from a whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) writer: u32,
    pub(crate) seq: u64,
}

/// SplitMix64: a tiny, well-known mixing function, so lengths and payloads are reproducible.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seed(writer: u32, seq: u64) -> u64 {
    mix(u64::from(writer) << 48 ^ seq)
}

/// The total length of frame `seq` of `writer`: spread evenly over `lens`, and the same on every
/// run.
pub(crate) fn frame_len(writer: u32, seq: u64, lens: &RangeInclusive<usize>) -> usize {
    let span = (lens.end() - lens.start()) as u64 + 1;
    lens.start() + (seed(writer, seq) % span) as usize
}

/// Writes frame `seq` of `writer`, `len` bytes long in all (`len >= OVERHEAD`), into `buf`.
pub(crate) fn encode(writer: u32, seq: u64, len: usize, buf: &mut Vec<u8>) {
    debug_assert!(len >= OVERHEAD);
    let payload = len - OVERHEAD;
    buf.clear();
    buf.extend_from_slice(&writer.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(
        &u32::try_from(payload)
            .expect("frame lengths are checked against the channel's limit")
            .to_le_bytes(),
    );
    let mut state = seed(writer, seq);
    let mut left = payload;
    while left > 0 {
        state = mix(state);
        let take = left.min(8);
        buf.extend_from_slice(&state.to_le_bytes()[..take]);
        left -= take;
    }
    let sum = crc32fast::hash(buf);
    buf.extend_from_slice(&sum.to_le_bytes());
}

/// Checks a frame as received; `None` if it is not exactly one whole frame.
pub(crate) fn check(frame: &[u8]) -> Option<Seen> {
    if frame.len() < OVERHEAD {
        return None;
    }
    let (body, sum) = frame.split_at(frame.len() - CHECKSUM);
    let writer = u32::from_le_bytes(body[0..4].try_into().ok()?);
    let seq = u64::from_le_bytes(body[4..12].try_into().ok()?);
    let payload = u32::from_le_bytes(body[12..16].try_into().ok()?) as usize;
    let whole = body.len() == HEAD + payload
        && crc32fast::hash(body) == u32::from_le_bytes(sum.try_into().ok()?);
    whole.then_some(Seen { writer, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lengths() {
        let lens = 20..=300;
        let mut buf = Vec::new();
        for writer in 0..3 {
            for seq in 0..500 {
                let len = frame_len(writer, seq, &lens);
                assert!(lens.contains(&len));
                encode(writer, seq, len, &mut buf);
                assert_eq!(buf.len(), len);
                assert_eq!(check(&buf), Some(Seen { writer, seq }));
            }
        }
    }

    #[test]
    fn damage_is_caught() {
        let mut buf = Vec::new();
        encode(1, 7, 100, &mut buf);
        // Every single-byte change, a cut at every length, and two frames glued together.
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert_eq!(check(&bad), None, "flipped byte {i}");
            assert_eq!(check(&buf[..i]), None, "cut at {i}");
        }
        let mut two = buf.clone();
        two.extend_from_slice(&buf);
        assert_eq!(check(&two), None);
    }
}
