//! [`Io`]: a core handle seen through futures-io's traits.
//!
//! Invariants: every trait method is one call into the core's poll primitives
//! ([`bytecast::poll`]) (futures-io's executors have no cooperative budget); errors are
//! mapped once, by `From<ChannelError> for io::Error`; end of stream is `Ok(0)` for bytes and
//! no frame (`None`) for frames. `Io` derefs to its core handle for reading only (`id`, `lag`,
//! `lost_bytes`, ...): a method that takes the handle mutably is reached through
//! [`Io::get_mut`], so no method name means one thing with an `*Ext` trait imported and
//! another without it.

use crate::stream::{FrameSink, FrameStream, LossyStream};
use crate::Frame;
use bytecast::poll::{PollBufRead, PollFrames, PollRead, PollWrite};
use bytecast::ChannelError;
use bytes::Bytes;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A core handle (`T`: a reader or writer of [`bytecast`]) implementing futures-io's traits.
///
/// | `T` | traits |
/// |---|---|
/// | [`bytecast::StrongReader`] | [`AsyncRead`], [`AsyncBufRead`] (`fill_buf` lends the rest of one frame straight from the ring) |
/// | [`bytecast::WeakReader`], [`bytecast::Reader`] | [`AsyncRead`] |
/// | [`bytecast::StrongWriter`], [`bytecast::WeakWriter`], [`bytecast::Writer`] | [`AsyncWrite`] (one frame per `poll_write`; `poll_close` gives the writer up) |
///
/// This crate names each one after its core handle ([`StrongReader`](crate::StrongReader) is
/// `Io<bytecast::StrongReader>`, and so on).
#[derive(Debug, Clone)]
pub struct Io<T>(T);

impl<T> Io<T> {
    /// Wraps a core handle.
    pub fn new(inner: T) -> Self {
        Self(inner)
    }

    /// The core handle.
    pub fn get_ref(&self) -> &T {
        &self.0
    }

    /// The core handle, mutably: its own methods, with [`ChannelError`]s.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }

    /// Unwraps the core handle.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Io<T> {
    fn from(inner: T) -> Self {
        Self(inner)
    }
}

/// Read-only access to the core handle (`id`, `lag`, `lost_bytes`, `is_terminated`, ...).
impl<T> std::ops::Deref for Io<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: PollFrames> Io<T> {
    /// The next frame of at most `max_len` bytes (or the rest of the current one, after a byte
    /// read stopped inside it), with its writer's id; `None` once the channel is drained and
    /// everything is read.
    ///
    /// # Errors
    /// `ConnectionAborted` after terminate, `InvalidInput` for a frame longer than `max_len`
    /// (the reader does not move), and for a weak reader `Other` carrying
    /// [`ChannelError::ReaderBehind`] (then it goes on at the oldest frame still whole).
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is consumed unless the future completes.
    pub async fn read_frame(&mut self, max_len: usize) -> io::Result<Option<Frame>> {
        let core = &mut self.0;
        std::future::poll_fn(|cx| core.poll_read_frame(cx, max_len))
            .await
            .map_or_else(end_of_stream, |(writer, payload)| {
                Ok(Some(Frame {
                    writer,
                    payload: Bytes::from(payload),
                }))
            })
    }

    /// This reader's frames as a [`Stream`](futures_core::Stream); a loss is an error item
    /// (see [`FrameStream`]).
    pub fn into_stream(self) -> FrameStream<T> {
        FrameStream::new(self.0)
    }

    /// This reader's frames and losses as a [`Stream`](futures_core::Stream) of
    /// [`Delivery`](crate::Delivery) items, for lossy consumers (see [`LossyStream`]).
    pub fn into_lossy_stream(self) -> LossyStream<T> {
        LossyStream::new(self.0)
    }
}

/// `Ok(None)` for end of stream, the mapped error otherwise.
fn end_of_stream<T>(e: ChannelError) -> io::Result<Option<T>> {
    match e {
        ChannelError::EndOfStream => Ok(None),
        e => Err(e.into()),
    }
}

impl<T: PollWrite> Io<T> {
    /// This writer as a [`Sink`](futures_sink::Sink) of frames, one per item (see
    /// [`FrameSink`]).
    pub fn into_sink<B: AsRef<[u8]>>(self) -> FrameSink<T, B> {
        FrameSink::new(self.0)
    }
}

impl<T: PollRead + Unpin> AsyncRead for Io<T> {
    /// A pipe: as many published bytes as fit, across frames; `Ok(0)` at end of stream.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match ready!(self.get_mut().0.poll_read(cx, buf)) {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(ChannelError::EndOfStream) => Poll::Ready(Ok(0)),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

impl<T: PollBufRead + Unpin> AsyncBufRead for Io<T> {
    /// The unread rest of the current frame, straight from the ring (one frame at a time);
    /// empty at end of stream.
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        match ready!(self.get_mut().0.poll_fill_buf(cx)) {
            Ok(bytes) => Poll::Ready(Ok(bytes)),
            Err(ChannelError::EndOfStream) => Poll::Ready(Ok(&[])),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().0.consume(amt);
    }
}

impl<T: PollWrite + Unpin> AsyncWrite for Io<T> {
    /// One frame of up to `max_frame_len` bytes. A frame refused under
    /// [`Backpressure::Drop`](bytecast::Backpressure::Drop) is `Ok(0)`, so `write_all` reports
    /// `WriteZero`.
    ///
    /// A `Pending` write keeps the writer's place in line (frames of other writers leave room
    /// for it) until this writer is polled again, writes, shuts down or drops: a write cancelled
    /// by a timeout or `select!` and never retried holds smaller frames of other writers back
    /// until the readers have made room for it. Shut the writer down or drop it to give the
    /// place up (`docs/design.md`, "Known limits").
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().0.poll_write(cx, buf).map(|r| match r {
            Err(ChannelError::Full) => Ok(0),
            r => r.map_err(io::Error::from),
        })
    }

    /// Frames are published when written: nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Gives the writer up (`close` on the core handle): once every writer has, or the
    /// channel is drained, readers reach end of stream after the last frame. Later writes fail
    /// with `BrokenPipe`.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.close();
        Poll::Ready(Ok(()))
    }
}

impl Io<bytecast::StrongReader> {
    /// Turns this reader into a weak reader at the same position; it stops gating writers.
    pub fn downgrade(self) -> Io<bytecast::WeakReader> {
        Io(self.0.downgrade())
    }
}

impl Io<bytecast::Reader> {
    /// A strong reader becomes weak; a weak reader stays weak.
    pub fn downgrade(self) -> Io<bytecast::WeakReader> {
        Io(self.0.downgrade())
    }

    /// The strong reader, or `self` if it is weak (as in selium-messaging).
    ///
    /// # Errors
    /// `self`, if the reader is weak.
    #[allow(clippy::result_large_err)] // selium-messaging's signature: the handle comes back
    pub fn into_strong(self) -> Result<Io<bytecast::StrongReader>, Self> {
        match self.0 {
            bytecast::Reader::Strong(r) => Ok(Io(r)),
            weak => Err(Io(weak)),
        }
    }

    /// The weak reader, or `self` if it is strong (as in selium-messaging).
    ///
    /// # Errors
    /// `self`, if the reader is strong.
    #[allow(clippy::result_large_err)] // selium-messaging's signature: the handle comes back
    pub fn into_weak(self) -> Result<Io<bytecast::WeakReader>, Self> {
        match self.0 {
            bytecast::Reader::Weak(r) => Ok(Io(r)),
            strong => Err(Io(strong)),
        }
    }
}

impl Io<bytecast::Writer> {
    /// The writer in its weak form (selium-messaging's signature: it returns a `Writer`).
    pub fn downgrade(self) -> Self {
        Io(self.0.downgrade().into())
    }

    /// The strong writer, or `self` if it is weak (as in selium-messaging).
    ///
    /// # Errors
    /// `self`, if the writer is weak.
    #[allow(clippy::result_large_err)] // selium-messaging's signature: the handle comes back
    pub fn into_strong(self) -> Result<Io<bytecast::StrongWriter>, Self> {
        match self.0 {
            bytecast::Writer::Strong(w) => Ok(Io(w)),
            weak => Err(Io(weak)),
        }
    }

    /// The weak writer, downgrading a strong one (as in selium-messaging, this never fails; the
    /// `Result` is selium-messaging's signature).
    ///
    /// # Errors
    /// None.
    #[allow(clippy::result_large_err)] // selium-messaging's signature: the handle comes back
    pub fn into_weak(self) -> Result<Io<bytecast::WeakWriter>, Self> {
        Ok(Io(self.0.downgrade()))
    }
}

impl Io<bytecast::StrongWriter> {
    /// Turns this writer into a weak writer: its slot is freed now and taken again per frame.
    pub fn downgrade(self) -> Io<bytecast::WeakWriter> {
        Io(self.0.downgrade())
    }
}

impl Io<bytecast::WeakWriter> {
    /// Turns this writer into a strong writer holding a slot for its life.
    ///
    /// # Errors
    /// [`ChannelError::TooManyWriters`] if no slot is free (the weak writer is given back),
    /// [`ChannelError::Terminated`].
    #[allow(clippy::result_large_err)] // selium-messaging's signature: the handle comes back
    pub fn upgrade(self) -> Result<Io<bytecast::StrongWriter>, (Self, ChannelError)> {
        self.0.upgrade().map(Io).map_err(|(w, e)| (Io(w), e))
    }
}

impl From<Io<bytecast::StrongReader>> for Io<bytecast::Reader> {
    fn from(r: Io<bytecast::StrongReader>) -> Self {
        Io(r.0.into())
    }
}

impl From<Io<bytecast::WeakReader>> for Io<bytecast::Reader> {
    fn from(r: Io<bytecast::WeakReader>) -> Self {
        Io(r.0.into())
    }
}

impl From<Io<bytecast::StrongWriter>> for Io<bytecast::Writer> {
    fn from(w: Io<bytecast::StrongWriter>) -> Self {
        Io(w.0.into())
    }
}

impl From<Io<bytecast::WeakWriter>> for Io<bytecast::Writer> {
    fn from(w: Io<bytecast::WeakWriter>) -> Self {
        Io(w.0.into())
    }
}
