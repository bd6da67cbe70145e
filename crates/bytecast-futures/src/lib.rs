//! [futures-io](futures_io) bindings for [`bytecast`], the in-memory many-to-many byte channel:
//! the crate for smol, async-std and `futures::executor` users (for tokio, use
//! `bytecast-tokio`).
//!
//! Each core handle is wrapped in one generic newtype, [`Io<T>`](Io), that implements futures-io's
//! traits through the core's poll primitives ([`bytecast::poll`]); this crate names each
//! wrapped handle after the core's:
//!
//! | handle | traits |
//! |---|---|
//! | [`StrongReader`] | [`AsyncRead`](futures_io::AsyncRead) (a pipe: many frames per read), [`AsyncBufRead`](futures_io::AsyncBufRead) (`fill_buf` lends the rest of one frame straight from the ring) |
//! | [`WeakReader`], [`Reader`] | [`AsyncRead`](futures_io::AsyncRead) |
//! | [`StrongWriter`], [`WeakWriter`], [`Writer`] | [`AsyncWrite`](futures_io::AsyncWrite) (one frame per `poll_write`; `poll_close` gives the writer up) |
//! | [`FrameStream`] (a reader's `into_stream`) | [`Stream`](futures_core::Stream) + [`FusedStream`](futures_core::FusedStream) of [`Frame`]s; a loss is an error item |
//! | [`LossyStream`] (a reader's `into_lossy_stream`) | [`Stream`](futures_core::Stream) + [`FusedStream`](futures_core::FusedStream) of [`Delivery`] items: frames, and losses as values |
//! | [`FrameSink`] (a writer's `into_sink`) | [`Sink`](futures_sink::Sink) of frames |
//!
//! A [`Frame`] has named fields: `writer` and a [`Bytes`](bytes::Bytes) `payload` (the core's
//! `Vec` handed on, not copied). [`WeakWriter`] is `Clone`: a clone is another weak writer.
//!
//! # One face, one error type, one end of stream
//!
//! Everything this crate gives out reports `std::io::Error` (mapped once, in
//! [`bytecast::io`]), and end of stream is the absence of data, never an error:
//!
//! | call | end of stream | a weak reader was lapped |
//! |---|---|---|
//! | `AsyncRead` (`read`, `read_to_end`, `futures::io::copy`) | `Ok(0)` | `Err`, kind `Other`, downcastable to [`ChannelError::ReaderBehind`] |
//! | `AsyncBufRead::fill_buf` | an empty slice | (strong readers only) |
//! | [`Io::read_frame`] | `Ok(None)` | as `AsyncRead` |
//! | [`FrameStream`] | `None` | an `Err` item, then the stream goes on |
//! | [`LossyStream`] | `None` | a [`Delivery::Lost`](bytecast::Delivery::Lost) item |
//!
//! The core handle's own methods (through [`Io::get_mut`]) report [`ChannelError`], with
//! `ChannelError::EndOfStream` for end of stream. `Io` derefs to the core handle for reading
//! only (`id`, `lag`, `lost_bytes`, ...), so a method name such as `read` or `write` means
//! futures' method with `AsyncReadExt`/`AsyncWriteExt` in scope and does not compile without
//! it: never the core's method by accident.
//!
//! ```compile_fail
//! # async fn f() {
//! let chan = bytecast_futures::Channel::new(64);
//! let mut reader = chan.new_strong_reader();
//! // No `futures::AsyncReadExt` in scope: `read` does not resolve to the core's method.
//! let n: usize = reader.read(&mut [0u8; 8]).await.unwrap();
//! # }
//! ```
//!
//! ```
//! use futures::AsyncReadExt;
//! # async fn f() -> std::io::Result<()> {
//! let chan = bytecast_futures::Channel::new(64);
//! let mut reader = chan.new_strong_reader();
//! let n: usize = reader.read(&mut [0u8; 8]).await?; // the trait's method, `io::Result`
//! let core: Result<usize, bytecast_futures::ChannelError> = reader.get_mut().read(&mut [0u8; 8]).await;
//! # Ok(())
//! # }
//! ```
//!
//! | other situation | `io::ErrorKind` |
//! |---|---|
//! | channel or handle terminated | `ConnectionAborted` |
//! | a new frame while draining, or after `close` | `BrokenPipe` |
//! | a frame refused under [`Backpressure::Drop`] | not an error: `poll_write` gives `Ok(0)`, so `write_all` reports `WriteZero` |
//!
//! # Coming from selium-messaging
//!
//! The names are `selium_messaging`'s: [`Channel::new`] returns `Arc<Channel>` and its `new_*`
//! methods return these handles, every reader has `read_frame(max_len)`, and the kind
//! conversions (`downgrade`, `upgrade`, `From` into `Reader` and `Writer`) are on the handles.
//! `docs/porting.md` lists what a selium-messaging user notices.
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
//!     let frame = archive.read_frame(64).await?.expect("a frame");
//!     assert_eq!((Some(frame.writer), &frame.payload[..]), (writer.id(), &b"hello"[..]));
//!
//!     // ...and byte reads are a pipe: they cross frame boundaries.
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
//! The adapter holds no policy of its own: each trait method is one call into the core's poll
//! primitives; only [`FrameSink`] keeps state, the one item `start_send` gave it.
#![forbid(unsafe_code)]

mod channel;
mod handles;
mod stream;

pub use bytecast;
pub use bytecast::{Backpressure, ChannelError, Config, Loss, ReaderStats, StartAt, Stats};
pub use channel::Channel;
pub use handles::Io;
pub use stream::{FrameSink, FrameStream, LossyStream};

/// A frame with its payload as [`Bytes`](bytes::Bytes).
pub type Frame = bytecast::Frame<bytes::Bytes>;
/// A frame or a loss, with payloads as [`Bytes`](bytes::Bytes).
pub type Delivery = bytecast::Delivery<bytes::Bytes>;

/// A [`bytecast::StrongReader`] (lossless, gates writers) implementing futures-io's traits.
pub type StrongReader = Io<bytecast::StrongReader>;
/// A [`bytecast::WeakReader`] (never gates writers, told exactly what it lost) implementing
/// futures-io's traits.
pub type WeakReader = Io<bytecast::WeakReader>;
/// A [`bytecast::Reader`] (either kind, as selium-messaging's `Reader`) implementing futures-io's
/// traits.
pub type Reader = Io<bytecast::Reader>;
/// A [`bytecast::StrongWriter`] (holds a writer slot for its life) implementing futures-io's
/// traits.
pub type StrongWriter = Io<bytecast::StrongWriter>;
/// A [`bytecast::WeakWriter`] (takes a writer slot per frame) implementing futures-io's traits.
pub type WeakWriter = Io<bytecast::WeakWriter>;
/// A [`bytecast::Writer`] (either kind, as selium-messaging's `Writer`) implementing futures-io's
/// traits.
pub type Writer = Io<bytecast::Writer>;
