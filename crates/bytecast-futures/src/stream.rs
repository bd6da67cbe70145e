//! [`FrameStream`] and [`LossyStream`]: a reader's frames as a
//! [`Stream`](futures_core::Stream), and [`FrameSink`]: a writer as a
//! [`Sink`](futures_sink::Sink) of frames.
//!
//! Invariants: each poll is one call into the core's poll primitives; a stream yields `None` once, at end of stream or after
//! reporting termination, and is fused from then on; a sink holds at most one frame, the one
//! `start_send` gave it, until the ring takes it.

use crate::{Delivery, Frame};
use bytecast::poll::{PollFrames, PollWrite};
use bytecast::ChannelError;
use bytes::Bytes;
use futures_core::stream::{FusedStream, Stream};
use futures_sink::Sink;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A reader's frames as a [`Stream`], made by `into_stream` on any reader.
///
/// | reader sees | stream yields |
/// |---|---|
/// | a frame | `Some(Ok(Frame { writer, payload }))` |
/// | a weak reader was lapped | `Some(Err(e))` (`Other`, downcastable to [`ChannelError::ReaderBehind`]), then the stream goes on at the oldest frame still whole |
/// | drained and caught up | `None` |
/// | terminated | `Some(Err(e))` (`ConnectionAborted`), then `None` |
///
/// A lossy consumer that wants the loss as a value, not an error, uses [`LossyStream`].
///
/// # Examples
/// ```
/// use bytecast_futures::Channel;
/// use futures::StreamExt;
/// use futures::AsyncWriteExt;
///
/// # futures::executor::block_on(async {
/// let chan = Channel::new(1024);
/// let mut writer = chan.new_strong_writer();
/// let frames = chan.new_strong_reader().into_stream();
/// writer.write_all(b"one").await?;
/// writer.write_all(b"two").await?;
/// chan.drain().map_err(std::io::Error::from)?;
///
/// let got: Vec<_> = frames.map(|f| f.unwrap().payload).collect().await;
/// assert_eq!(got, [&b"one"[..], &b"two"[..]]);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct FrameStream<R> {
    reader: R,
    done: bool,
}

impl<R> FrameStream<R> {
    /// A stream of `reader`'s frames.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            done: false,
        }
    }

    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// Gives the reader back, at the position the stream reached.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: PollFrames + Unpin> Stream for FrameStream<R> {
    type Item = io::Result<Frame>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // No limit: the `Vec` is sized to the frame, never longer than `max_frame_len`.
        let polled = ready!(this.reader.poll_read_frame(cx, usize::MAX));
        Poll::Ready(match polled {
            Ok((writer, payload)) => Some(Ok(Frame {
                writer,
                payload: Bytes::from(payload),
            })),
            Err(e) => this.end_or_error(e),
        })
    }
}

impl<R: PollFrames + Unpin> FusedStream for FrameStream<R> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// A reader's frames and losses as a [`Stream`] of [`Delivery`] items, made by
/// `into_lossy_stream` on any reader: the first-class path for a weak reader's consumer, which
/// must never join bytes from both sides of a loss.
///
/// | reader sees | stream yields |
/// |---|---|
/// | a frame | `Some(Ok(Delivery::Frame(Frame { writer, payload })))` |
/// | a weak reader was lapped | `Some(Ok(Delivery::Lost(Loss { frames, bytes })))`, then the frames from the oldest one still whole |
/// | drained and caught up | `None` |
/// | terminated | `Some(Err(e))` (`ConnectionAborted`), then `None` |
///
/// # Examples
/// ```
/// use bytecast_futures::{Channel, Delivery};
/// use futures::StreamExt;
///
/// # futures::executor::block_on(async {
/// let chan = Channel::new(64);
/// let mut tail = chan.new_weak_reader().into_lossy_stream();
/// let mut writer = chan.new_weak_writer();
/// for i in 0..20u8 {
///     writer.get_mut().try_write(&[i; 8]).unwrap(); // laps the tail
/// }
/// chan.drain().map_err(std::io::Error::from)?;
/// let mut log = Vec::new();
/// while let Some(item) = tail.next().await {
///     match item? {
///         Delivery::Frame(f) => log.push(format!("frame {}", f.payload[0])),
///         Delivery::Lost(l) => log.push(format!("lost {} frames", l.frames)),
///     }
/// }
/// assert!(log[0].starts_with("lost"));
/// assert_eq!(log.last().unwrap(), "frame 19");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct LossyStream<R> {
    reader: R,
    done: bool,
}

impl<R> LossyStream<R> {
    /// A stream of `reader`'s frames and losses.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            done: false,
        }
    }

    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// Gives the reader back, at the position the stream reached.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: PollFrames + Unpin> Stream for LossyStream<R> {
    type Item = io::Result<Delivery>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        Poll::Ready(match ready!(this.reader.poll_delivery(cx)) {
            Ok(delivery) => Some(Ok(delivery.map(Bytes::from))),
            Err(e) => end_or_error(&mut this.done, e),
        })
    }
}

impl<R: PollFrames + Unpin> FusedStream for LossyStream<R> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<R> FrameStream<R> {
    fn end_or_error<T>(&mut self, e: ChannelError) -> Option<io::Result<T>> {
        end_or_error(&mut self.done, e)
    }
}

/// End of stream ends a stream; termination is yielded once and then ends it; any other error
/// (a loss) is yielded and the stream goes on.
fn end_or_error<T>(done: &mut bool, e: ChannelError) -> Option<io::Result<T>> {
    match e {
        ChannelError::EndOfStream => {
            *done = true;
            None
        }
        ChannelError::Terminated => {
            *done = true;
            Some(Err(e.into()))
        }
        e => Some(Err(e.into())),
    }
}

/// A writer as a [`Sink`] of frames, made by `into_sink` on any writer: each item is one
/// frame.
///
/// `start_send` keeps the item; `poll_ready`, `poll_flush` and `poll_close` write it, waiting
/// for room under [`Backpressure::Park`](bytecast::Backpressure::Park). Under
/// [`Backpressure::Drop`](bytecast::Backpressure::Drop) a frame that does not fit is refused
/// whole and counted in [`Stats::dropped_frames`](bytecast::Stats::dropped_frames), and the
/// sink goes on: dropping is the policy the channel was built with, not an error. `poll_close`
/// gives the writer up, as `AsyncWrite::poll_close` does.
///
/// An empty item writes nothing (an empty write makes no frame) and is not counted.
///
/// # Errors
/// `InvalidInput` for an item longer than the channel's `max_frame_len` (nothing written),
/// `BrokenPipe` while draining or after close, `ConnectionAborted` after terminate.
///
/// # Panics
/// `start_send` without `poll_ready` having returned `Ready(Ok(()))` since the last item (the
/// `Sink` contract).
///
/// # Examples
/// ```
/// use bytecast_futures::Channel;
/// use futures::{SinkExt, StreamExt};
///
/// # futures::executor::block_on(async {
/// let chan = Channel::new(1024);
/// let frames = chan.new_strong_reader().into_stream();
/// let mut sink = chan.new_strong_writer().into_sink();
/// sink.send(&b"one"[..]).await?;
/// sink.send(&b"two"[..]).await?;
/// drop(chan);
/// sink.close().await?; // the channel and its last writer are gone: end of stream
/// let got: Vec<_> = frames.map(|f| f.unwrap().payload).collect().await;
/// assert_eq!(got, [&b"one"[..], &b"two"[..]]);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "sinks do nothing unless polled"]
pub struct FrameSink<W, B> {
    writer: W,
    pending: Option<B>,
}

impl<W, B> FrameSink<W, B> {
    /// A sink writing each item as one frame through `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            pending: None,
        }
    }

    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// Gives the writer back; an item not yet written is dropped.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl<W: PollWrite + Unpin, B: AsRef<[u8]> + Unpin> FrameSink<W, B> {
    /// Writes the pending item, if any.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(item) = &self.pending else {
            return Poll::Ready(Ok(()));
        };
        // Checked again here: an item's `as_ref` may have grown since `start_send`, and
        // `poll_write` would cut it to `max_frame_len`.
        let (len, max) = (item.as_ref().len(), self.writer.max_frame_len());
        if len > max {
            self.pending = None;
            return Poll::Ready(Err(ChannelError::FrameTooLarge { len, max }.into()));
        }
        let written = ready!(self.writer.poll_write(cx, item.as_ref()));
        self.pending = None;
        match written {
            Ok(_) | Err(ChannelError::Full) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

impl<W: PollWrite + Unpin, B: AsRef<[u8]> + Unpin> Sink<B> for FrameSink<W, B> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: B) -> io::Result<()> {
        let this = self.get_mut();
        let (len, max) = (item.as_ref().len(), this.writer.max_frame_len());
        if len > max {
            return Err(ChannelError::FrameTooLarge { len, max }.into());
        }
        assert!(
            this.pending.is_none(),
            "start_send without poll_ready returning Ready(Ok(()))"
        );
        this.pending = Some(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = ready!(this.poll_pending(cx));
        this.writer.close();
        Poll::Ready(flushed)
    }
}
