//! [`Channel`]: the core's channel, handing out this crate's handles.
//!
//! Invariants: it holds the core channel and nothing else; every method is the core's, with
//! each handle wrapped in [`Io`](crate::Io) on the way out.

use crate::{Reader, StrongReader, StrongWriter, WeakReader, WeakWriter, Writer};
use bytecast::{Backpressure, ChannelError, Config, StartAt};
use std::sync::Arc;

/// [`bytecast::Channel`] whose `new_*` methods return this crate's handles, which implement
/// tokio's I/O traits. It derefs to the core channel for everything else (`terminate`,
/// `drain`, `stats`, `readers`, `capacity`, ...).
///
/// Built like selium-messaging's `Channel`: [`Channel::new`] and [`Channel::with_parameters`]
/// return an `Arc<Channel>`, and the handle constructors take `self: &Arc<Channel>`.
///
/// # Examples
/// ```
/// use bytecast_tokio::{Backpressure, Channel};
///
/// let chan = Channel::with_parameters(4096, Backpressure::Drop);
/// let _writer = chan.new_weak_writer();
/// let _reader = chan.new_strong_reader();
/// assert_eq!(chan.capacity(), 4096);
/// assert_eq!(chan.stats().strong_readers, 1);
/// ```
#[derive(Debug)]
pub struct Channel(Arc<bytecast::Channel>);

impl Channel {
    /// Creates a channel of at least `size` bytes with [`Backpressure::Park`].
    ///
    /// # Panics
    /// If `size` is 0, above [`bytecast::MAX_CAPACITY`], or cannot be allocated; use
    /// [`try_new`](Self::try_new) for an error instead.
    #[track_caller]
    pub fn new(size: usize) -> Arc<Self> {
        Self::from_core(bytecast::Channel::new(size))
    }

    /// Creates a channel with the given size and backpressure policy.
    ///
    /// # Panics
    /// As [`new`](Self::new).
    #[track_caller]
    pub fn with_parameters(size: usize, backpressure: Backpressure) -> Arc<Self> {
        Self::from_core(bytecast::Channel::with_parameters(size, backpressure))
    }

    /// Fallible [`with_parameters`](Self::with_parameters).
    ///
    /// # Errors
    /// [`ChannelError::InvalidCapacity`].
    pub fn try_new(size: usize, backpressure: Backpressure) -> Result<Arc<Self>, ChannelError> {
        bytecast::Channel::try_new(size, backpressure).map(Self::from_core)
    }

    /// Creates a channel from a full [`Config`] (for example [`Config::for_frames`]).
    ///
    /// # Errors
    /// As [`bytecast::Channel::try_with_config`].
    pub fn try_with_config(config: Config) -> Result<Arc<Self>, ChannelError> {
        bytecast::Channel::try_with_config(config).map(Self::from_core)
    }

    /// Creates a channel that holds `frames` frames of `len` bytes at once (see
    /// [`bytecast::Channel::for_frames`]).
    ///
    /// # Errors
    /// [`ChannelError::InvalidCapacity`] if that takes more than [`bytecast::MAX_CAPACITY`]
    /// bytes, or `frames` is 0.
    pub fn for_frames(
        frames: usize,
        len: usize,
        backpressure: Backpressure,
    ) -> Result<Arc<Self>, ChannelError> {
        bytecast::Channel::for_frames(frames, len, backpressure).map(Self::from_core)
    }

    /// Wraps a core channel.
    pub fn from_core(chan: Arc<bytecast::Channel>) -> Arc<Self> {
        Arc::new(Self(chan))
    }

    /// The core channel.
    pub fn get_ref(&self) -> &Arc<bytecast::Channel> {
        &self.0
    }

    /// Creates a writer: a strong one, as selium-messaging's `new_writer` does.
    ///
    /// # Panics
    /// As [`bytecast::Channel::new_writer`].
    #[track_caller]
    pub fn new_writer(self: &Arc<Self>) -> Writer {
        Writer::new(self.0.new_writer())
    }

    /// Creates a strong writer, which holds a writer slot (and id) for its life.
    ///
    /// # Panics
    /// As [`bytecast::Channel::new_strong_writer`].
    #[track_caller]
    pub fn new_strong_writer(self: &Arc<Self>) -> StrongWriter {
        StrongWriter::new(self.0.new_strong_writer())
    }

    /// Fallible [`new_strong_writer`](Self::new_strong_writer).
    ///
    /// # Errors
    /// [`ChannelError::TooManyWriters`], [`ChannelError::Terminated`].
    pub fn try_new_strong_writer(self: &Arc<Self>) -> Result<StrongWriter, ChannelError> {
        self.0.try_new_strong_writer().map(StrongWriter::new)
    }

    /// Creates a weak writer, which takes a writer slot only while it writes a frame.
    pub fn new_weak_writer(self: &Arc<Self>) -> WeakWriter {
        WeakWriter::new(self.0.new_weak_writer())
    }

    /// Creates a strong reader starting at the oldest frame still guaranteed whole.
    ///
    /// # Panics
    /// As [`bytecast::Channel::new_strong_reader`].
    #[track_caller]
    pub fn new_strong_reader(self: &Arc<Self>) -> StrongReader {
        StrongReader::new(self.0.new_strong_reader())
    }

    /// Creates a weak reader starting at the oldest frame still whole.
    ///
    /// # Panics
    /// As [`bytecast::Channel::new_weak_reader`].
    #[track_caller]
    pub fn new_weak_reader(self: &Arc<Self>) -> WeakReader {
        WeakReader::new(self.0.new_weak_reader())
    }

    /// Fallible reader creation with a chosen start.
    ///
    /// # Errors
    /// [`ChannelError::TooManyReaders`], [`ChannelError::Terminated`].
    pub fn try_new_reader(
        self: &Arc<Self>,
        strong: bool,
        start: StartAt,
    ) -> Result<Reader, ChannelError> {
        self.0.try_new_reader(strong, start).map(Reader::new)
    }

    /// Fallible strong reader creation with a chosen start.
    ///
    /// # Errors
    /// As [`try_new_reader`](Self::try_new_reader).
    pub fn try_new_strong_reader(
        self: &Arc<Self>,
        start: StartAt,
    ) -> Result<StrongReader, ChannelError> {
        self.0.try_new_strong_reader(start).map(StrongReader::new)
    }

    /// Fallible weak reader creation with a chosen start.
    ///
    /// # Errors
    /// As [`try_new_reader`](Self::try_new_reader).
    pub fn try_new_weak_reader(
        self: &Arc<Self>,
        start: StartAt,
    ) -> Result<WeakReader, ChannelError> {
        self.0.try_new_weak_reader(start).map(WeakReader::new)
    }
}

/// The core channel's own methods: `terminate`, `drain`, `stats`, `readers`, `capacity`,
/// `max_frame_len`, `backpressure`, `is_terminated`, `is_draining`.
impl std::ops::Deref for Channel {
    type Target = bytecast::Channel;
    fn deref(&self) -> &bytecast::Channel {
        &self.0
    }
}
