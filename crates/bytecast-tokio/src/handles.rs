//! The handle newtypes and all their forwarding, in one place.
//!
//! Each trait method is one call into the core's `poll_*` form; errors go through
//! [`bytecast::io`]. Nothing here keeps state, retries, buffers or decides anything.

use crate::FrameStream;
use bytecast::ChannelError;
use std::io;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

/// The newtype, its conversions to and from the core handle, `Deref` and `DerefMut`.
macro_rules! handle {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A [`bytecast::", stringify!($name), "`] (", $what, ") implementing tokio's I/O traits.")]
        ///
        /// It derefs to the core handle, so every core method is available on it.
        #[derive(Debug)]
        pub struct $name(bytecast::$name);

        impl $name {
            /// Wraps a core handle.
            pub fn new(inner: bytecast::$name) -> Self {
                Self(inner)
            }

            /// The core handle.
            pub fn get_ref(&self) -> &bytecast::$name {
                &self.0
            }

            /// The core handle, mutably.
            pub fn get_mut(&mut self) -> &mut bytecast::$name {
                &mut self.0
            }

            /// Unwraps the core handle.
            pub fn into_inner(self) -> bytecast::$name {
                self.0
            }
        }

        impl Deref for $name {
            type Target = bytecast::$name;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl From<bytecast::$name> for $name {
            fn from(inner: bytecast::$name) -> Self {
                Self(inner)
            }
        }

        impl From<$name> for bytecast::$name {
            fn from(handle: $name) -> Self {
                handle.0
            }
        }
    };
}

/// A reader: `AsyncRead`, the seed's `read_frame`, and `into_stream`.
macro_rules! reader {
    ($name:ident, $what:literal) => {
        handle!($name, $what);

        impl $name {
            /// The seed's `read_frame(max_len)`: the next frame (or the rest of the current one,
            /// after a byte read stopped inside it) and its writer's id.
            ///
            /// # Errors
            /// The core's [`read_frame`](bytecast::StrongReader::read_frame) errors, mapped
            /// through `From<ChannelError> for io::Error`: `UnexpectedEof` once drained and
            /// caught up, `ConnectionAborted` after terminate, `InvalidInput` for a frame longer
            /// than `max_len` (the reader does not move), and for a weak reader `Other` carrying
            /// [`ChannelError::ReaderBehind`].
            ///
            /// # Cancel safety
            /// Cancel safe: nothing is consumed unless the future completes.
            pub async fn read_frame(&mut self, max_len: usize) -> io::Result<(u16, Vec<u8>)> {
                Ok(self.0.read_frame(max_len).await?)
            }

            /// A [`Stream`](futures_core::Stream) of this reader's frames (see [`FrameStream`]).
            pub fn into_stream(self) -> FrameStream {
                FrameStream::new(self.into())
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                this.0
                    .poll_read(cx, buf.initialize_unfilled())
                    .map(|r| bytecast::io::read_result(r).map(|n| buf.advance(n)))
            }
        }
    };
}

/// A writer: `AsyncWrite`, one frame per `poll_write`.
macro_rules! writer {
    ($name:ident, $what:literal) => {
        handle!($name, $what);

        impl AsyncWrite for $name {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut()
                    .0
                    .poll_write(cx, buf)
                    .map(bytecast::io::write_result)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    };
}

reader!(StrongReader, "lossless, gates writers");
reader!(WeakReader, "never gates writers, told exactly what it lost");
reader!(Reader, "either kind, as the seed's `Reader`");
writer!(StrongWriter, "holds a writer slot for its life");
writer!(WeakWriter, "takes a writer slot per frame");
writer!(Writer, "either kind, as the seed's `Writer`");

/// Zero copy: `fill_buf` lends the rest of the current frame straight from the ring.
impl AsyncBufRead for StrongReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().0.poll_fill_buf(cx).map_err(io::Error::from)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().0.consume(amt);
    }
}

// Conversions that consume a handle (they cannot go through `Deref`), with the seed's
// signatures.

impl StrongReader {
    /// Turns this reader into a weak reader at the same position; it stops gating writers.
    pub fn downgrade(self) -> WeakReader {
        WeakReader(self.0.downgrade())
    }
}

impl StrongWriter {
    /// Turns this writer into a weak writer: its slot is freed now and taken again per frame.
    pub fn downgrade(self) -> WeakWriter {
        WeakWriter(self.0.downgrade())
    }
}

impl WeakWriter {
    /// Turns this writer into a strong writer holding a slot for its life.
    ///
    /// # Errors
    /// [`ChannelError::TooManyWriters`] if no slot is free (the weak writer is given back),
    /// [`ChannelError::Terminated`].
    pub fn upgrade(self) -> Result<StrongWriter, (Self, ChannelError)> {
        self.0
            .upgrade()
            .map(StrongWriter)
            .map_err(|(w, e)| (Self(w), e))
    }
}

impl Reader {
    /// A strong reader becomes weak; a weak reader stays weak.
    pub fn downgrade(self) -> WeakReader {
        WeakReader(self.0.downgrade())
    }

    /// The strong reader, or `self` if it is weak (as in the seed).
    ///
    /// # Errors
    /// `self`, if the reader is weak.
    pub fn into_strong(self) -> Result<StrongReader, Self> {
        match self.0 {
            bytecast::Reader::Strong(r) => Ok(StrongReader(r)),
            weak => Err(Self(weak)),
        }
    }

    /// The weak reader, or `self` if it is strong (as in the seed).
    ///
    /// # Errors
    /// `self`, if the reader is strong.
    pub fn into_weak(self) -> Result<WeakReader, Self> {
        match self.0 {
            bytecast::Reader::Weak(r) => Ok(WeakReader(r)),
            strong => Err(Self(strong)),
        }
    }
}

impl Writer {
    /// The writer in its weak form (the seed's signature: it returns a `Writer`).
    pub fn downgrade(self) -> Writer {
        Writer(self.0.downgrade().into())
    }

    /// The strong writer, or `self` if it is weak (as in the seed).
    ///
    /// # Errors
    /// `self`, if the writer is weak.
    pub fn into_strong(self) -> Result<StrongWriter, Self> {
        match self.0 {
            bytecast::Writer::Strong(w) => Ok(StrongWriter(w)),
            weak => Err(Self(weak)),
        }
    }

    /// The weak writer, downgrading a strong one (as in the seed, this never fails; the
    /// `Result` is the seed's signature).
    ///
    /// # Errors
    /// None.
    pub fn into_weak(self) -> Result<WeakWriter, Self> {
        Ok(WeakWriter(self.0.downgrade()))
    }
}

impl From<StrongReader> for Reader {
    fn from(r: StrongReader) -> Self {
        Self(r.0.into())
    }
}

impl From<WeakReader> for Reader {
    fn from(r: WeakReader) -> Self {
        Self(r.0.into())
    }
}

impl From<StrongWriter> for Writer {
    fn from(w: StrongWriter) -> Self {
        Self(w.0.into())
    }
}

impl From<WeakWriter> for Writer {
    fn from(w: WeakWriter) -> Self {
        Self(w.0.into())
    }
}
