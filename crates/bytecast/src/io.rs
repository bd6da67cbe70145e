//! The one mapping from [`ChannelError`] to [`std::io::Error`], used by every adapter (`std`
//! only). `docs/porting.md` has the same table.
//!
//! | `ChannelError` | `io::ErrorKind` |
//! |---|---|
//! | `Terminated` | `ConnectionAborted` |
//! | `Draining` (a new frame while draining) | `BrokenPipe` |
//! | `EndOfStream` (frame reads) | `UnexpectedEof` |
//! | `ReaderBehind(n)` | `Other`, downcastable to `ChannelError` |
//! | `FrameTooLarge`, `FrameTooLong` | `InvalidInput` |
//! | `Full` | not an error for `AsyncWrite`: `Ok(0)` (see `write_result`) |
//! | others | `Other` |

use crate::ChannelError;
use std::io;

impl From<ChannelError> for io::Error {
    fn from(e: ChannelError) -> Self {
        let kind = match e {
            ChannelError::Terminated => io::ErrorKind::ConnectionAborted,
            ChannelError::Draining | ChannelError::Closed => io::ErrorKind::BrokenPipe,
            ChannelError::EndOfStream => io::ErrorKind::UnexpectedEof,
            ChannelError::FrameTooLarge { .. } | ChannelError::FrameTooLong { .. } => {
                io::ErrorKind::InvalidInput
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// The `AsyncWrite` contract for a write result: a frame refused under `Drop` is `Ok(0)`, as in
/// selium-messaging (so `write_all` reports `WriteZero`); every other error maps through `From`.
///
/// # Errors
/// The mapped error.
#[inline]
pub fn write_result(r: Result<usize, ChannelError>) -> io::Result<usize> {
    match r {
        Ok(n) => Ok(n),
        Err(ChannelError::Full) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The `AsyncRead` contract for a read result: errors map through `From` (end of stream is
/// already `Ok(0)` from `poll_read`).
///
/// # Errors
/// The mapped error.
#[inline]
pub fn read_result(r: Result<usize, ChannelError>) -> io::Result<usize> {
    r.map_err(io::Error::from)
}
