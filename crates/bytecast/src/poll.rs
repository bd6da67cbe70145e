//! The poll primitives that adapter crates bind to their runtime's traits, and the values that
//! frame reads deliver.
//!
//! Each trait names one face of a handle: [`PollRead`] (byte reads, a pipe), [`PollBufRead`]
//! (bytes lent from the ring), [`PollFrames`] (frames, with a weak reader's losses as values)
//! and [`PollWrite`] (one frame per write). The core handles implement them by calling their
//! own inherent `poll_*` methods, so a trait call and an inherent call with the same name
//! always mean the same thing. An adapter (`bytecast-tokio`, `bytecast-futures`) writes one
//! generic newtype and implements its runtime's traits for `T: PollRead` and so on; the
//! backpressure, waiting and end-of-stream logic stay here, in one place.
//!
//! Every method reports what the core reports: [`ChannelError`], with end of stream as
//! [`ChannelError::EndOfStream`] from every read. An adapter maps that once to its own face
//! (`Ok(0)` bytes, no frame: `None`).

use crate::error::ChannelError;
use crate::reader::{Reader, StrongReader, WeakReader};
use crate::writer::{StrongWriter, WeakWriter, Writer};
use alloc::vec::Vec;
use core::task::{Context, Poll};

/// One frame: the writer that wrote it and its payload.
///
/// The core delivers payloads as `Vec<u8>`; adapters hand them on without a copy in the type
/// their ecosystem uses (`Frame<bytes::Bytes>` through [`Frame::map`] and `Bytes::from`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame<P = Vec<u8>> {
    /// The id of the writer that wrote the frame (see `StrongWriter::id`).
    pub writer: u16,
    /// The frame's bytes.
    pub payload: P,
}

impl<P> Frame<P> {
    /// The same frame with its payload turned into another type.
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Frame<Q> {
        Frame {
            writer: self.writer,
            payload: f(self.payload),
        }
    }
}

/// What a weak reader lost when writers lapped it: frames and payload bytes overwritten before
/// it read them. Exact, on every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loss {
    /// Frames lost whole or in part.
    pub frames: u64,
    /// Payload bytes lost (of a frame the reader had begun with a byte read, only the unread
    /// rest).
    pub bytes: u64,
}

/// The next thing a frame reader meets: a frame, or (weak readers only) the loss before the
/// frames that follow it. A lossy consumer writes both down in order and never joins data
/// from the two sides of a loss.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Delivery<P = Vec<u8>> {
    /// A whole frame (or the rest of one a byte read had begun).
    Frame(Frame<P>),
    /// Writers lapped the reader; it has moved on to the oldest frame still whole.
    Lost(Loss),
}

impl<P> Delivery<P> {
    /// The same delivery with a frame's payload turned into another type.
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Delivery<Q> {
        match self {
            Self::Frame(frame) => Delivery::Frame(frame.map(f)),
            Self::Lost(loss) => Delivery::Lost(loss),
        }
    }
}

/// Byte reads as from a pipe: see `StrongReader::try_read`.
pub trait PollRead {
    /// Fills `buf` with as many published payload bytes as fit, across frames.
    ///
    /// # Errors
    /// As `StrongReader::try_read`: [`ChannelError::EndOfStream`], [`ChannelError::Terminated`],
    /// [`ChannelError::ReaderBehind`] for weak readers.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ChannelError>>;
}

/// Bytes lent straight from the ring, one frame at a time: see `StrongReader::poll_fill_buf`.
pub trait PollBufRead: PollRead {
    /// The unread rest of the current frame.
    ///
    /// # Errors
    /// [`ChannelError::EndOfStream`], [`ChannelError::Terminated`].
    fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<Result<&[u8], ChannelError>>;

    /// Marks `n` bytes of what `poll_fill_buf` lent as read.
    fn consume(&mut self, n: usize);
}

/// Frame reads: message boundaries kept.
pub trait PollFrames {
    /// The next frame of at most `max_len` bytes, with its writer's id.
    ///
    /// # Errors
    /// As `StrongReader::try_read_frame_into`.
    fn poll_read_frame(
        &mut self,
        cx: &mut Context<'_>,
        max_len: usize,
    ) -> Poll<Result<(u16, Vec<u8>), ChannelError>>;

    /// The next frame of any length, or a weak reader's loss as a value.
    ///
    /// # Errors
    /// [`ChannelError::EndOfStream`], [`ChannelError::Terminated`]; never
    /// [`ChannelError::ReaderBehind`].
    fn poll_delivery(&mut self, cx: &mut Context<'_>) -> Poll<Result<Delivery, ChannelError>>;
}

/// Writes, one frame per call, and giving a writer up: see `StrongWriter::poll_write`.
pub trait PollWrite {
    /// Writes `buf` as one frame (at most `max_frame_len` bytes of it).
    ///
    /// # Errors
    /// As `StrongWriter::try_write`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8])
        -> Poll<Result<usize, ChannelError>>;

    /// Leaves the channel now, as dropping the writer would: see `StrongWriter::close`.
    fn close(&mut self);

    /// The longest frame one write makes (`Channel::max_frame_len`).
    fn max_frame_len(&self) -> usize;
}

macro_rules! poll_read {
    ($($ty:ty),*) => {$(
        impl PollRead for $ty {
            #[inline]
            fn poll_read(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<usize, ChannelError>> {
                <$ty>::poll_read(self, cx, buf)
            }
        }

        impl PollFrames for $ty {
            #[inline]
            fn poll_read_frame(
                &mut self,
                cx: &mut Context<'_>,
                max_len: usize,
            ) -> Poll<Result<(u16, Vec<u8>), ChannelError>> {
                <$ty>::poll_read_frame(self, cx, max_len)
            }

            #[inline]
            fn poll_delivery(
                &mut self,
                cx: &mut Context<'_>,
            ) -> Poll<Result<Delivery, ChannelError>> {
                <$ty>::poll_delivery(self, cx)
            }
        }
    )*};
}

macro_rules! poll_write {
    ($($ty:ty: $len:expr),*) => {$(
        impl PollWrite for $ty {
            #[inline]
            fn poll_write(
                &mut self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<Result<usize, ChannelError>> {
                <$ty>::poll_write(self, cx, buf)
            }

            #[inline]
            fn close(&mut self) {
                <$ty>::close(self);
            }

            #[inline]
            fn max_frame_len(&self) -> usize {
                $len(self)
            }
        }
    )*};
}

poll_read!(StrongReader, WeakReader, Reader);
poll_write!(
    StrongWriter: StrongWriter::max_frame_len,
    WeakWriter: WeakWriter::max_frame_len,
    Writer: |w: &Writer| match w {
        Writer::Strong(w) => w.max_frame_len(),
        Writer::Weak(w) => w.max_frame_len(),
    }
);

#[cfg(not(all(test, bytecast_loom)))]
impl PollBufRead for StrongReader {
    #[inline]
    fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<Result<&[u8], ChannelError>> {
        StrongReader::poll_fill_buf(self, cx)
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        StrongReader::consume(self, n);
    }
}
