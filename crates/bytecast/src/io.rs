//! The one mapping from [`ChannelError`] to [`std::io::Error`], used by every adapter (`std`
//! only). `docs/porting.md` has the same table. The adapters' I/O traits report end of stream
//! as no data (`Ok(0)`, no frame), never as `EndOfStream`, and a frame refused under
//! [`Backpressure::Drop`](crate::Backpressure::Drop) as `Ok(0)` from `poll_write`, so
//! `write_all` reports `WriteZero`.
//!
//! | `ChannelError` | `io::ErrorKind` |
//! |---|---|
//! | `Terminated` | `ConnectionAborted` |
//! | `Draining` (a new frame while draining), `Closed` (a write after `close`) | `BrokenPipe` |
//! | `EndOfStream` | `UnexpectedEof` (the I/O traits give `Ok(0)` or `None` instead) |
//! | `ReaderBehind(n)` | `Other`, downcastable to `ChannelError` |
//! | `FrameTooLarge`, `FrameTooLong` | `InvalidInput` |
//! | `Full` | `Other` (`poll_write` gives `Ok(0)` instead) |
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
