//! Channel parameters and their validation.

use crate::error::ChannelError;
use crate::frame::HEADER;

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
    fn max_frame_is_the_ring_less_a_header() {
        assert_eq!(max_frame_len(64), 56);
        assert_eq!(max_frame_len(1 << 20), (1 << 20) - 8);
    }
}
