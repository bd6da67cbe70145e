//! [`embedded-io-async`](embedded_io_async)'s `Read`, `Write` and `BufRead` for bytecast's
//! handles, through one newtype, [`Io`]; `no_std`, no logic of its own: each method is one call
//! into the core's `async` or `poll_*` form.
//!
//! | handle | traits |
//! |---|---|
//! | `StrongWriter`, `WeakWriter`, `Writer` | `Write` (each `write` is one frame of up to `max_frame_len` bytes; `flush` does nothing) |
//! | `StrongReader` | `Read`, `BufRead` (`fill_buf` lends the rest of the current frame, zero-copy) |
//! | `WeakReader`, `Reader` | `Read` |
//!
//! Reads cross frame boundaries (the core's byte reads) and return `Ok(0)` at end of stream.
//! Errors are [`IoError`], the core's [`ChannelError`] with an
//! [`embedded_io::ErrorKind`]:
//!
//! | `ChannelError` | `ErrorKind` |
//! |---|---|
//! | `Terminated` | `ConnectionAborted` |
//! | `Draining`, `Closed` | `BrokenPipe` |
//! | `Full` (a frame refused under `Backpressure::Drop`) | `WriteZero` |
//! | `FrameTooLarge`, `FrameTooLong` | `InvalidInput` |
//! | `ReaderBehind(n)` and the rest | `Other` ([`IoError::channel_error`] tells) |
//!
//! ```
//! use bytecast::Channel;
//! use bytecast_embedded_io::Io;
//! use embedded_io_async::{Read, Write};
//! # futures::executor::block_on(async {
//! let chan = Channel::new(256);
//! let mut w = Io(chan.new_strong_writer());
//! let mut r = Io(chan.new_strong_reader());
//! w.write_all(b"hello").await?;
//! let mut buf = [0u8; 5];
//! r.read_exact(&mut buf).await.map_err(|_| bytecast::ChannelError::EndOfStream)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), bytecast_embedded_io::IoError>(())
//! # }).unwrap();
//! ```

#![no_std]
#![forbid(unsafe_code)]

use bytecast::{ChannelError, Reader, StrongReader, StrongWriter, WeakReader, WeakWriter, Writer};
use core::task::{Context, Poll, Waker};
use embedded_io::ErrorKind;

/// A bytecast handle with embedded-io-async's traits.
#[derive(Debug)]
pub struct Io<H>(pub H);

impl<H> Io<H> {
    /// The handle.
    pub fn into_inner(self) -> H {
        self.0
    }
}

/// A [`ChannelError`] as an embedded-io error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError(pub ChannelError);

impl IoError {
    /// The channel's error.
    pub fn channel_error(&self) -> &ChannelError {
        &self.0
    }
}

impl From<ChannelError> for IoError {
    fn from(e: ChannelError) -> Self {
        Self(e)
    }
}

impl core::fmt::Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl core::error::Error for IoError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl embedded_io::Error for IoError {
    fn kind(&self) -> ErrorKind {
        match &self.0 {
            ChannelError::Terminated => ErrorKind::ConnectionAborted,
            ChannelError::Draining | ChannelError::Closed => ErrorKind::BrokenPipe,
            ChannelError::Full => ErrorKind::WriteZero,
            ChannelError::FrameTooLarge { .. } | ChannelError::FrameTooLong { .. } => {
                ErrorKind::InvalidInput
            }
            _ => ErrorKind::Other,
        }
    }
}

impl<H> embedded_io::ErrorType for Io<H> {
    type Error = IoError;
}

macro_rules! write_impl {
    ($($handle:ty),*) => {$(
        impl embedded_io_async::Write for Io<$handle> {
            async fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
                Ok(self.0.write(buf).await?)
            }

            async fn flush(&mut self) -> Result<(), IoError> {
                Ok(())
            }
        }
    )*};
}

write_impl!(StrongWriter, WeakWriter, Writer);

macro_rules! read_impl {
    ($($handle:ty),*) => {$(
        impl embedded_io_async::Read for Io<$handle> {
            async fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
                // End of stream is `Ok(0)` here, as `embedded-io` defines it.
                match self.0.read(buf).await {
                    Err(ChannelError::EndOfStream) => Ok(0),
                    r => Ok(r?),
                }
            }
        }
    )*};
}

read_impl!(StrongReader, WeakReader, Reader);

impl embedded_io_async::BufRead for Io<StrongReader> {
    async fn fill_buf(&mut self) -> Result<&[u8], IoError> {
        // Wait until the reader has bytes to lend (or end of stream, or an error) without
        // holding the borrow across polls; then take the lent bytes with one more poll, which
        // is ready at once.
        match core::future::poll_fn(|cx| self.0.poll_fill_buf(cx).map(|r| r.map(|_| ()))).await {
            // End of stream lends nothing, as `embedded-io` defines it.
            Err(ChannelError::EndOfStream) => return Ok(&[]),
            r => r?,
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.0.poll_fill_buf(&mut cx) {
            Poll::Ready(r) => Ok(r?),
            Poll::Pending => unreachable!("a strong reader with bytes ready lends them at once"),
        }
    }

    fn consume(&mut self, amt: usize) {
        self.0.consume(amt);
    }
}
