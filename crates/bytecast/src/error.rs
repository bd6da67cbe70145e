//! Errors: one enum for every way an operation on a channel or handle can fail.

use core::fmt;

/// Why an operation on a [`Channel`](crate::Channel) or one of its handles did not succeed.
///
/// selium-messaging's variants (`ReaderBehind`, `TerminateDraining`, `DrainTerminated`) keep their names;
/// `ReaderBehind` now carries the exact number of payload bytes lost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// A weak reader was lapped by writers: this many payload bytes of frames it had not read were
    /// overwritten. The reader has already moved on to the oldest frame still whole.
    ReaderBehind(u64),
    /// `terminate()` was called on a channel that is draining.
    TerminateDraining,
    /// `drain()` was called on a channel that is terminated.
    DrainTerminated,
    /// The channel, or this handle, was terminated.
    Terminated,
    /// This writer was closed ([`StrongWriter::close`](crate::StrongWriter::close)): it has left
    /// the channel and writes nothing more.
    Closed,
    /// The channel is draining: no new frame is accepted.
    Draining,
    /// The channel is drained and this reader has read everything: end of stream.
    EndOfStream,
    /// Under [`Backpressure::Drop`](crate::Backpressure::Drop), the frame did not fit and was
    /// refused whole; nothing of it was written.
    Full,
    /// A frame longer than [`Channel::max_frame_len`](crate::Channel::max_frame_len).
    FrameTooLarge {
        /// Requested frame length.
        len: usize,
        /// The channel's maximum frame length.
        max: usize,
    },
    /// The next frame does not fit the caller's buffer or limit; the reader did not move.
    FrameTooLong {
        /// Bytes of the frame still to be read.
        len: usize,
        /// The caller's limit.
        limit: usize,
    },
    /// All writer slots are taken.
    TooManyWriters {
        /// The channel's writer limit.
        max: usize,
    },
    /// All reader slots are taken.
    TooManyReaders {
        /// The channel's reader limit.
        max: usize,
    },
    /// The requested capacity is 0, larger than the maximum, or cannot be allocated.
    InvalidCapacity {
        /// The requested capacity.
        requested: usize,
        /// The largest capacity ([`MAX_CAPACITY`](crate::MAX_CAPACITY)).
        max: usize,
    },
    /// A handle limit of 0 or above the maximum.
    InvalidLimit {
        /// The requested limit.
        requested: usize,
        /// The largest limit ([`MAX_HANDLES`](crate::MAX_HANDLES)).
        max: usize,
    },
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReaderBehind(n) => write!(f, "reader was too slow: {n} payload bytes were lost"),
            Self::TerminateDraining => f.write_str("cannot terminate a draining channel"),
            Self::DrainTerminated => f.write_str("cannot drain a terminated channel"),
            Self::Terminated => f.write_str("channel terminated"),
            Self::Closed => f.write_str("writer closed: it writes no more frames"),
            Self::Draining => f.write_str("channel is draining: no new frames are accepted"),
            Self::EndOfStream => f.write_str("end of stream: channel drained"),
            Self::Full => f.write_str("channel full: frame dropped"),
            Self::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the maximum frame length {max}")
            }
            Self::FrameTooLong { len, limit } => {
                write!(f, "next frame has {len} bytes, more than the limit {limit}")
            }
            Self::TooManyWriters { max } => write!(f, "too many writers: the limit is {max}"),
            Self::TooManyReaders { max } => write!(f, "too many readers: the limit is {max}"),
            Self::InvalidCapacity { requested, max } => write!(
                f,
                "invalid channel capacity {requested}: must be between 1 and {max} bytes and allocatable"
            ),
            Self::InvalidLimit { requested, max } => {
                write!(f, "invalid handle limit {requested}: must be between 1 and {max}")
            }
        }
    }
}

impl core::error::Error for ChannelError {}
