//! [`Channel`]: the core's channel, handing out this crate's handles.

use crate::{Reader, StrongReader, StrongWriter, WeakReader, WeakWriter, Writer};
use bytecast::{Backpressure, ChannelError, Config, ReaderStats, StartAt, Stats};
use std::sync::Arc;

/// [`bytecast::Channel`] whose `new_*` methods return this crate's handles, which implement
/// futures-io's traits.
///
/// Built like selium-messaging's `Channel`: [`Channel::new`] and [`Channel::with_parameters`]
/// return an `Arc<Channel>`, and the handle constructors take `self: &Arc<Channel>`.
///
/// # Examples
/// ```
/// use bytecast_futures::{Backpressure, Channel};
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
    /// Creates a channel of at least `size` bytes with [`Backpressure::Park`] (see
    /// [`bytecast::Channel::new`]).
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

    /// Creates a channel from a full [`Config`].
    ///
    /// # Errors
    /// As [`bytecast::Channel::try_with_config`].
    pub fn try_with_config(config: Config) -> Result<Arc<Self>, ChannelError> {
        bytecast::Channel::try_with_config(config).map(Self::from_core)
    }

    /// Wraps a core channel.
    pub fn from_core(chan: Arc<bytecast::Channel>) -> Arc<Self> {
        Arc::new(Self(chan))
    }

    /// The core channel.
    pub fn get_ref(&self) -> &Arc<bytecast::Channel> {
        &self.0
    }

    /// Creates a writer: a strong one, as in the seed.
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

    /// Terminates the channel: every current and future read and write fails
    /// (`ConnectionAborted` through the I/O traits) and every waiting task is woken.
    ///
    /// # Errors
    /// [`ChannelError::TerminateDraining`] if the channel was draining; it is terminated all the
    /// same.
    pub fn terminate(&self) -> Result<(), ChannelError> {
        self.0.terminate()
    }

    /// Starts draining: new frames are refused (`BrokenPipe`), readers read everything published
    /// and then get end of stream (`Ok(0)`), so `futures::io::copy` and `read_to_end` finish.
    ///
    /// # Errors
    /// [`ChannelError::DrainTerminated`] if the channel is terminated.
    pub fn drain(&self) -> Result<(), ChannelError> {
        self.0.drain()
    }

    /// `true` once terminated.
    pub fn is_terminated(&self) -> bool {
        self.0.is_terminated()
    }

    /// `true` while draining.
    pub fn is_draining(&self) -> bool {
        self.0.is_draining()
    }

    /// Ring size in bytes.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Longest frame one write can make; a longer `poll_write` takes this many bytes.
    pub fn max_frame_len(&self) -> usize {
        self.0.max_frame_len()
    }

    /// The backpressure policy.
    pub fn backpressure(&self) -> Backpressure {
        self.0.backpressure()
    }

    /// A snapshot of the channel's counters.
    pub fn stats(&self) -> Stats {
        self.0.stats()
    }

    /// Per-reader statistics: lag, and lost bytes and frames for weak readers.
    pub fn readers(&self) -> Vec<ReaderStats> {
        self.0.readers()
    }
}
