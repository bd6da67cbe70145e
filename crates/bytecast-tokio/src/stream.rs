//! [`FrameStream`]: a reader's frames as a [`Stream`], shaped like tokio-stream's
//! `BroadcastStream`.

use crate::Reader;
use bytecast::ChannelError;
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A reader's frames as a [`Stream`] of `(writer id, bytes)`, made by `into_stream` on any
/// reader.
///
/// | reader sees | stream yields |
/// |---|---|
/// | a frame | `Some(Ok((writer_id, bytes)))` |
/// | a weak reader was lapped | `Some(Err(ChannelError::ReaderBehind(lost_bytes)))`, then the stream goes on at the oldest frame still whole |
/// | drained (or every writer and the channel gone) and caught up | `None` |
/// | terminated | `Some(Err(ChannelError::Terminated))`, then `None` |
///
/// # Examples
/// ```
/// use bytecast_tokio::Channel;
/// use futures::StreamExt;
/// use tokio::io::AsyncWriteExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let chan = Channel::new(1024);
/// let mut writer = chan.new_strong_writer();
/// let frames = chan.new_strong_reader().into_stream();
/// writer.write_all(b"one").await?;
/// writer.write_all(b"two").await?;
/// chan.drain().map_err(std::io::Error::from)?;
///
/// let got: Vec<_> = frames.map(|f| f.unwrap().1).collect().await;
/// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct FrameStream {
    reader: Reader,
    /// `Terminated` was yielded: the stream is over.
    terminated: bool,
}

impl FrameStream {
    /// A stream of `reader`'s frames.
    pub fn new(reader: Reader) -> Self {
        Self {
            reader,
            terminated: false,
        }
    }

    /// The reader.
    pub fn get_ref(&self) -> &Reader {
        &self.reader
    }

    /// The reader, mutably.
    pub fn get_mut(&mut self) -> &mut Reader {
        &mut self.reader
    }

    /// Gives the reader back, at the position the stream reached.
    pub fn into_inner(self) -> Reader {
        self.reader
    }
}

impl Stream for FrameStream {
    type Item = Result<(u16, Vec<u8>), ChannelError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.terminated {
            return Poll::Ready(None);
        }
        // No limit: a frame is never longer than the channel's `max_frame_len`, and the `Vec`
        // is sized to the frame, not to the limit.
        this.reader
            .poll_read_frame(cx, usize::MAX)
            .map(|r| match r {
                Ok(frame) => Some(Ok(frame)),
                Err(ChannelError::EndOfStream) => None,
                Err(ChannelError::Terminated) => {
                    this.terminated = true;
                    Some(Err(ChannelError::Terminated))
                }
                Err(e) => Some(Err(e)),
            })
    }
}
