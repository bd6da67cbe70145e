//! Channel parameters and their validation.

use crate::error::ChannelError;
use crate::frame::{Placement, HEADER};

/// What a writer does when the frame it writes does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backpressure {
    /// The writer waits (`Pending`) until strong readers release enough space.
    #[default]
    Park,
    /// The frame is refused whole ([`ChannelError::Full`]; `Ok(0)` in the `AsyncWrite`
    /// adapters) and the channel's dropped-frame counter goes up.
    Drop,
}

/// Smallest ring size: requests below it are rounded up to it.
pub const MIN_CAPACITY: usize = 64;

/// Largest ring size: 2^31 bytes on 64-bit targets (frame lengths are stored in 32 bits), 2^28
/// on 32-bit ones. Positions wrap every 2^32 bytes there, and a ring must stay below a sixteenth
/// of that, so that an active reader is never mistaken for a lapped one (`docs/design.md`, "Log
/// positions").
pub const MAX_CAPACITY: usize = {
    let by_positions = 1 << (crate::frame::POS_BITS - 4);
    if by_positions < 1 << 31 {
        by_positions
    } else {
        1 << 31
    }
};

/// Default limit on live writer slots.
pub(crate) const DEFAULT_MAX_WRITERS: usize = 64;
/// Default limit on live readers.
pub(crate) const DEFAULT_MAX_READERS: usize = 64;
/// Largest accepted handle limit (writer ids are `u16`, 0 is reserved for padding).
pub const MAX_HANDLES: usize = u16::MAX as usize;

/// Everything needed to build a channel. Start from [`Config::new`].
///
/// # Examples
/// ```
/// use bytecast::{Backpressure, Channel, Config};
/// let chan = Channel::try_with_config(
///     Config::new(4096).backpressure(Backpressure::Drop).max_writers(8),
/// )
/// .unwrap();
/// assert_eq!(chan.capacity(), 4096);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub(crate) capacity: usize,
    pub(crate) backpressure: Backpressure,
    pub(crate) max_writers: usize,
    pub(crate) max_readers: usize,
}

impl Config {
    /// A configuration for a ring of at least `capacity` bytes, with [`Backpressure::Park`].
    pub const fn new(capacity: usize) -> Self {
        Self {
            capacity,
            backpressure: Backpressure::Park,
            max_writers: DEFAULT_MAX_WRITERS,
            max_readers: DEFAULT_MAX_READERS,
        }
    }

    /// A configuration for a ring that holds `frames` frames of `len` payload bytes at once,
    /// with [`Backpressure::Park`]: the smallest power of two that holds them however they
    /// fall in the ring.
    ///
    /// Promise: from any moment at which nothing of the ring is in use (no reader holds
    /// anything back: there is no strong reader, or each has read everything published), a
    /// writer writes `frames` such frames without waiting under `Park` and without a refusal
    /// under `Drop`, wherever in the ring they start. It counts the record header and alignment
    /// ([`record_len`](crate::record_len)) and the page-alignment padding a large frame may
    /// take. The ring may hold more: its capacity is a power of two.
    ///
    /// # Errors
    /// [`ChannelError::InvalidCapacity`] if `frames` is 0 (`requested: 0`), or the frames need
    /// more than [`MAX_CAPACITY`] bytes (`requested`: the bytes they need, `usize::MAX` if
    /// that overflows).
    ///
    /// # Examples
    /// ```
    /// use bytecast::{Backpressure, Channel, Config};
    /// // 100 samples of 9 bytes: 24 bytes of ring each.
    /// let config = Config::for_frames(100, 9)?.backpressure(Backpressure::Drop);
    /// let chan = Channel::try_with_config(config)?;
    /// assert_eq!(chan.capacity(), 4096);
    /// # Ok::<(), bytecast::ChannelError>(())
    /// ```
    pub const fn for_frames(frames: usize, len: usize) -> Result<Self, ChannelError> {
        if frames == 0 {
            return Err(too_large(0));
        }
        if len > MAX_CAPACITY {
            return Err(too_large(crate::frame::record_len(len)));
        }
        let mut capacity = MIN_CAPACITY;
        loop {
            // The worst case of every frame: its largest placement in a ring of this size.
            // It only grows with the ring (a frame padded in a ring is padded in a larger one).
            let Some(need) = frames.checked_mul(Placement::largest(len, capacity)) else {
                return Err(too_large(usize::MAX));
            };
            if need <= capacity {
                return Ok(Self::new(capacity));
            }
            if need > MAX_CAPACITY {
                return Err(too_large(need));
            }
            capacity = need.next_power_of_two();
        }
    }

    /// Sets the backpressure policy.
    #[must_use]
    pub const fn backpressure(mut self, backpressure: Backpressure) -> Self {
        self.backpressure = backpressure;
        self
    }

    /// Sets how many writers may hold a slot at once (strong writers for their life, weak
    /// writers while writing a frame). Each slot costs one cache line.
    #[must_use]
    pub const fn max_writers(mut self, n: usize) -> Self {
        self.max_writers = n;
        self
    }

    /// Sets how many readers (strong and weak) may exist at once.
    #[must_use]
    pub const fn max_readers(mut self, n: usize) -> Self {
        self.max_readers = n;
        self
    }

    /// The ring size this configuration gives: `capacity` rounded up to a power of two and to at
    /// least [`MIN_CAPACITY`].
    ///
    /// # Errors
    /// [`ChannelError::InvalidCapacity`] for 0 or more than [`MAX_CAPACITY`];
    /// [`ChannelError::InvalidLimit`] for a handle limit of 0 or above [`MAX_HANDLES`].
    pub fn ring_capacity(&self) -> Result<usize, ChannelError> {
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return Err(ChannelError::InvalidCapacity {
                requested: self.capacity,
                max: MAX_CAPACITY,
            });
        }
        for n in [self.max_writers, self.max_readers] {
            if n == 0 || n > MAX_HANDLES {
                return Err(ChannelError::InvalidLimit {
                    requested: n,
                    max: MAX_HANDLES,
                });
            }
        }
        Ok(self.capacity.next_power_of_two().max(MIN_CAPACITY))
    }
}

/// The error of a ring request of `requested` bytes that no ring can serve.
const fn too_large(requested: usize) -> ChannelError {
    ChannelError::InvalidCapacity {
        requested,
        max: MAX_CAPACITY,
    }
}

/// Longest frame a ring of `capacity` bytes accepts: the capacity less the record header, so a
/// ring sized to its largest message carries it whole. Every record fits from any start (the
/// ring's spare tail takes what runs past the end; `frame::Placement::at`).
pub(crate) const fn max_frame_len(capacity: usize) -> usize {
    capacity - HEADER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_rounds_up_to_power_of_two_and_minimum() {
        assert_eq!(Config::new(1).ring_capacity(), Ok(MIN_CAPACITY));
        assert_eq!(Config::new(100).ring_capacity(), Ok(128));
        assert_eq!(Config::new(4096).ring_capacity(), Ok(4096));
        assert_eq!(Config::new(4097).ring_capacity(), Ok(8192));
    }

    #[test]
    fn zero_and_huge_capacity_are_errors() {
        assert_eq!(
            Config::new(0).ring_capacity(),
            Err(ChannelError::InvalidCapacity {
                requested: 0,
                max: MAX_CAPACITY
            })
        );
        assert!(Config::new(MAX_CAPACITY + 1).ring_capacity().is_err());
        assert!(Config::new(usize::MAX).ring_capacity().is_err());
    }

    #[test]
    fn handle_limits_are_checked() {
        assert!(Config::new(64).max_writers(0).ring_capacity().is_err());
        assert!(Config::new(64).max_readers(70_000).ring_capacity().is_err());
        assert!(Config::new(64)
            .max_writers(MAX_HANDLES)
            .ring_capacity()
            .is_ok());
    }

    #[test]
    fn for_frames_counts_headers_alignment_and_page_padding() {
        let cap = |n, len| Config::for_frames(n, len).map(|c| c.ring_capacity().unwrap());
        assert_eq!(cap(1, 0), Ok(MIN_CAPACITY));
        assert_eq!(cap(100, 9), Ok(4096)); // 2400 bytes
        assert_eq!(cap(2, 56), Ok(128)); // 2 × 64 > 64
        assert_eq!(cap(1, 56), Ok(64)); // the longest frame of a 64-byte ring
                                        // 32 KiB frames: 4 of them fill 128 KiB exactly, but in a ring where each is at most a
                                        // quarter they may each need 4088 bytes of padding.
        assert_eq!(cap(4, 32 * 1024), Ok(256 * 1024));
        assert_eq!(cap(0, 8), Err(too_large(0)));
        assert_eq!(cap(usize::MAX, 8), Err(too_large(usize::MAX)));
        assert_eq!(cap(1, usize::MAX), Err(too_large(usize::MAX)));
        assert_eq!(cap(2, MAX_CAPACITY / 2), Err(too_large(MAX_CAPACITY + 16)));
        assert_eq!(cap(1, MAX_CAPACITY - HEADER), Ok(MAX_CAPACITY));
    }

    #[test]
    fn max_frame_is_the_ring_less_a_header() {
        assert_eq!(max_frame_len(64), 56);
        assert_eq!(max_frame_len(1 << 20), (1 << 20) - 8);
    }
}
