//! [futures-io](futures_io) bindings for [`bytecast`], the in-memory many-to-many byte channel:
//! the crate for smol, async-std and `futures::executor` users (for tokio, use
//! `bytecast-tokio`).
//!
//! Every handle of the core gets a newtype here that implements futures-io's traits:
//!
//! | handle | traits |
//! |---|---|
//! | [`StrongReader`] | [`AsyncRead`](futures_io::AsyncRead), [`AsyncBufRead`](futures_io::AsyncBufRead) (`fill_buf` borrows straight from the ring, no copy) |
//! | [`WeakReader`], [`Reader`] | [`AsyncRead`](futures_io::AsyncRead) |
//! | [`StrongWriter`], [`WeakWriter`], [`Writer`] | [`AsyncWrite`](futures_io::AsyncWrite) (one frame per `poll_write`) |
//! | [`FrameStream`] (from any reader's `into_stream`) | [`Stream`](futures_core::Stream) of `(writer id, bytes)` |
//!
//! Each newtype derefs to its core handle, so every core method (`read_frame_into`, `reserve`,
//! `lag`, `lost_bytes`, `terminate`, ...) is there too; `new`, `get_ref`, `get_mut` and
//! `into_inner` convert both ways.
//!
//! # Coming from selium-messaging
//!
//! The names are `selium_messaging`'s: [`Channel::new`] returns `Arc<Channel>`, the `new_*`
//! methods on it return these handles, and every reader has selium-messaging's `read_frame(max_len)`.
//! Errors map once, in [`bytecast::io`]:
//!
//! | situation | `io::ErrorKind` |
//! |---|---|
//! | channel or handle terminated | `ConnectionAborted` |
//! | a new frame while draining | `BrokenPipe` |
//! | a weak reader was lapped | `Other`, downcastable to [`ChannelError::ReaderBehind`] |
//! | a frame refused under [`Backpressure::Drop`] | not an error: `poll_write` gives `Ok(0)`, so `write_all` reports `WriteZero` |
//! | drained and caught up | `Ok(0)` from `poll_read` (`read_frame`: `UnexpectedEof`) |
//!
//! # Example
//! ```
//! use bytecast_futures::Channel;
//! use futures::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> std::io::Result<()> {
//! // Any executor: smol::block_on, async_std::task::block_on, futures::executor::block_on...
//! futures::executor::block_on(async {
//!     let chan = Channel::new(1024);
//!     let mut writer = chan.new_writer();
//!     let mut archive = chan.new_strong_reader();
//!     let mut dashboard = chan.new_weak_reader();
//!
//!     writer.write_all(b"hello").await?;
//!     writer.write_all(b"world").await?;
//!
//!     // Frames keep their writer's id...
//!     let (id, frame) = archive.read_frame(64).await?;
//!     assert_eq!((Some(id), &frame[..]), (writer.id(), &b"hello"[..]));
//!
//!     // ...and byte reads cross frame boundaries.
//!     chan.drain().map_err(std::io::Error::from)?;
//!     let mut all = Vec::new();
//!     dashboard.read_to_end(&mut all).await?; // ends once drained and caught up
//!     assert_eq!(all, b"helloworld");
//!
//!     // A new frame while draining is refused.
//!     let err = writer.write_all(b"late").await.unwrap_err();
//!     assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
//!     Ok(())
//! })
//! # }
//! ```
//!
//! The adapters hold no state, policy or buffering of their own: each trait method is one call
//! into the core's `poll_*` form.
#![forbid(unsafe_code)]

mod channel;
mod handles;
mod stream;

pub use bytecast;
pub use bytecast::{Backpressure, ChannelError, Config, ReaderStats, StartAt, Stats};
pub use channel::Channel;
pub use handles::{Reader, StrongReader, StrongWriter, WeakReader, WeakWriter, Writer};
pub use stream::FrameStream;
