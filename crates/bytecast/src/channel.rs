//! [`Channel`]: construction, handle creation, ending and introspection.

use crate::config::{max_frame_len, Backpressure, Config};
use crate::error::ChannelError;
use crate::reader::{StartAt, StrongReader, WeakReader};
use crate::shared::{ReaderStats, Shared};
use crate::sync::ApiArc as Arc;
use crate::writer::{StrongWriter, WeakWriter, Writer};
use alloc::vec::Vec;
use core::fmt;

/// In-memory, asynchronous, many-to-many byte channel with explicit backpressure.
///
/// Writers and readers share one ring buffer and keep their own monotonic cursors. Each write is
/// one frame, attributed to its writer; frames never interleave and every reader sees them in
/// reservation order. Strong readers gate writers; weak readers are told exactly what they lost.
///
/// `Channel` itself is a factory and a control: handles keep the shared state alive on their
/// own. Once the last `Arc<Channel>` is dropped, new writers come only from existing ones (a
/// clone or a conversion, counted before the old one goes); readers then reach end of stream
/// once every writer is gone and they have read everything.
///
/// # Examples
/// ```
/// use bytecast::Channel;
/// # futures::executor::block_on(async {
/// let chan = Channel::new(1024);
/// let mut w = chan.new_strong_writer();
/// let mut r = chan.new_strong_reader();
/// w.write(b"hello").await.unwrap();
/// let (writer, frame) = r.read_frame(64).await.unwrap();
/// assert_eq!((writer, &frame[..]), (w.id().unwrap(), &b"hello"[..]));
/// # });
/// ```
pub struct Channel {
    shared: crate::sync::Arc<Shared>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("capacity", &self.capacity())
            .field("backpressure", &self.backpressure())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A snapshot of a channel's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Ring size in bytes.
    pub capacity: usize,
    /// Bytes reserved and not yet released by every strong reader, headers and padding
    /// included (a frame of 32 KiB or more may follow up to 4088 bytes of padding that start its
    /// payload on a 4 KiB boundary of the ring). A strong reader releases what it read in
    /// batches: every `capacity / 16` bytes, and whenever it catches up with what is published.
    pub in_use: usize,
    /// Live strong writers.
    pub strong_writers: usize,
    /// Live weak writers.
    pub weak_writers: usize,
    /// Live strong readers.
    pub strong_readers: usize,
    /// Live weak readers.
    pub weak_readers: usize,
    /// Frames refused under [`Backpressure::Drop`].
    pub dropped_frames: u64,
    /// Data frames published so far.
    pub frames_published: u64,
    /// Payload bytes published so far.
    pub bytes_published: u64,
    /// Payload bytes weak readers lost to being lapped, summed over every reader the channel
    /// has had, those that left included: the sum of the losses they reported
    /// ([`ChannelError::ReaderBehind`]). [`readers`](Channel::readers) has each live reader's
    /// share.
    pub lost_bytes: u64,
    /// Frames weak readers lost to being lapped, summed as [`lost_bytes`](Self::lost_bytes).
    pub lost_frames: u64,
    /// Readers of either kind that left the channel (dropped or terminated).
    pub departed_readers: u64,
}

impl Channel {
    /// Creates a channel of at least `size` bytes with [`Backpressure::Park`].
    ///
    /// The ring is `size` rounded up to a power of two and to at least
    /// [`MIN_CAPACITY`](crate::MIN_CAPACITY) bytes; [`capacity`](Self::capacity) tells.
    ///
    /// # Panics
    /// If `size` is 0, above [`MAX_CAPACITY`](crate::MAX_CAPACITY), or cannot be allocated. Use
    /// [`try_new`](Self::try_new) to get an error instead.
    #[track_caller]
    pub fn new(size: usize) -> Arc<Self> {
        Self::with_parameters(size, Backpressure::Park)
    }

    /// Creates a channel with the given size and backpressure policy.
    ///
    /// # Panics
    /// As [`new`](Self::new).
    #[track_caller]
    pub fn with_parameters(size: usize, backpressure: Backpressure) -> Arc<Self> {
        match Self::try_new(size, backpressure) {
            Ok(c) => c,
            Err(e) => panic!("Channel::with_parameters: {e}"),
        }
    }

    /// Fallible [`with_parameters`](Self::with_parameters).
    ///
    /// # Errors
    /// [`ChannelError::InvalidCapacity`] for 0, a size above the maximum, or one that cannot be
    /// allocated.
    pub fn try_new(size: usize, backpressure: Backpressure) -> Result<Arc<Self>, ChannelError> {
        Self::try_with_config(Config::new(size).backpressure(backpressure))
    }

    /// Creates a channel whose ring holds `frames` frames of `len` payload bytes at once (see
    /// [`Config::for_frames`] for the promise), with the given backpressure policy.
    ///
    /// # Errors
    /// As [`Config::for_frames`] and [`try_with_config`](Self::try_with_config).
    ///
    /// # Examples
    /// ```
    /// use bytecast::{Backpressure, Channel};
    /// let chan = Channel::for_frames(100, 9, Backpressure::Drop)?;
    /// let mut w = chan.new_strong_writer();
    /// let _archive = chan.new_strong_reader(); // reads nothing: holds every frame
    /// for i in 0..100u8 {
    ///     assert_eq!(w.try_write(&[i; 9])?, Some(9));
    /// }
    /// # Ok::<(), bytecast::ChannelError>(())
    /// ```
    pub fn for_frames(
        frames: usize,
        len: usize,
        backpressure: Backpressure,
    ) -> Result<Arc<Self>, ChannelError> {
        Self::try_with_config(Config::for_frames(frames, len)?.backpressure(backpressure))
    }

    /// Creates a channel from a full [`Config`].
    ///
    /// # Errors
    /// As [`Config::ring_capacity`], and [`ChannelError::InvalidCapacity`] if the ring cannot
    /// be allocated.
    pub fn try_with_config(config: Config) -> Result<Arc<Self>, ChannelError> {
        let capacity = config.ring_capacity()?;
        let shared = Shared::new(
            capacity,
            config.backpressure,
            config.max_writers,
            config.max_readers,
        )
        .ok_or(ChannelError::InvalidCapacity {
            requested: config.capacity,
            max: crate::MAX_CAPACITY,
        })?;
        Ok(Arc::new(Self {
            shared: crate::sync::Arc::new(shared),
        }))
    }

    /// Ring size in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Longest frame a writer can write: the ring's capacity less the 8-byte record header. Any
    /// frame up to it travels whole, from any position in the ring.
    pub fn max_frame_len(&self) -> usize {
        max_frame_len(self.capacity())
    }

    /// The backpressure policy.
    pub fn backpressure(&self) -> Backpressure {
        self.shared.backpressure
    }

    /// Creates a writer: a strong one, as in selium-messaging.
    ///
    /// # Panics
    /// As [`new_strong_writer`](Self::new_strong_writer).
    #[track_caller]
    pub fn new_writer(&self) -> Writer {
        Writer::Strong(self.new_strong_writer())
    }

    /// Creates a strong writer, which holds a writer slot (and id) for its life.
    ///
    /// On a terminated channel the writer is terminated too: every operation on it fails with
    /// [`ChannelError::Terminated`].
    ///
    /// # Panics
    /// If every writer slot is taken; use
    /// [`try_new_strong_writer`](Self::try_new_strong_writer) for an error instead.
    #[track_caller]
    pub fn new_strong_writer(&self) -> StrongWriter {
        match self.try_new_strong_writer() {
            Ok(w) => w,
            Err(e) => panic!("Channel::new_strong_writer: {e}"),
        }
    }

    /// Fallible [`new_strong_writer`](Self::new_strong_writer).
    ///
    /// # Errors
    /// [`ChannelError::TooManyWriters`].
    pub fn try_new_strong_writer(&self) -> Result<StrongWriter, ChannelError> {
        StrongWriter::new(self.shared.clone())
    }

    /// Creates a weak writer, which takes a writer slot only while it writes a frame.
    pub fn new_weak_writer(&self) -> WeakWriter {
        WeakWriter::new(self.shared.clone())
    }

    /// Creates a strong reader starting at the oldest frame still guaranteed whole.
    ///
    /// On a terminated channel the reader is terminated too: every operation on it fails with
    /// [`ChannelError::Terminated`].
    ///
    /// # Panics
    /// If every reader slot is taken; see [`try_new_reader`](Self::try_new_reader).
    #[track_caller]
    pub fn new_strong_reader(&self) -> StrongReader {
        match StrongReader::new(self.shared.clone(), StartAt::Oldest) {
            Ok(r) => r,
            Err(e) => panic!("Channel::new_strong_reader: {e}"),
        }
    }

    /// Creates a weak reader starting at the oldest frame still whole.
    ///
    /// # Panics
    /// As [`new_strong_reader`](Self::new_strong_reader).
    #[track_caller]
    pub fn new_weak_reader(&self) -> WeakReader {
        match WeakReader::new(self.shared.clone(), StartAt::Oldest) {
            Ok(r) => r,
            Err(e) => panic!("Channel::new_weak_reader: {e}"),
        }
    }

    /// Fallible reader creation with a chosen start. On a terminated channel the reader is
    /// terminated too (every operation fails with [`ChannelError::Terminated`]).
    ///
    /// # Errors
    /// [`ChannelError::TooManyReaders`].
    pub fn try_new_reader(
        &self,
        strong: bool,
        start: StartAt,
    ) -> Result<crate::Reader, ChannelError> {
        Ok(if strong {
            StrongReader::new(self.shared.clone(), start)?.into()
        } else {
            WeakReader::new(self.shared.clone(), start)?.into()
        })
    }

    /// Fallible strong reader creation.
    ///
    /// # Errors
    /// As [`try_new_reader`](Self::try_new_reader).
    pub fn try_new_strong_reader(&self, start: StartAt) -> Result<StrongReader, ChannelError> {
        StrongReader::new(self.shared.clone(), start)
    }

    /// Fallible weak reader creation.
    ///
    /// # Errors
    /// As [`try_new_reader`](Self::try_new_reader).
    pub fn try_new_weak_reader(&self, start: StartAt) -> Result<WeakReader, ChannelError> {
        WeakReader::new(self.shared.clone(), start)
    }

    /// Terminates the channel: every current and future read and write fails with
    /// [`ChannelError::Terminated`] and every waiting task is woken.
    ///
    /// # Errors
    /// [`ChannelError::TerminateDraining`] if the channel was draining; it is terminated all
    /// the same, so no task stays stranded.
    pub fn terminate(&self) -> Result<(), ChannelError> {
        self.shared.terminate()
    }

    /// Starts draining: new frames are refused with [`ChannelError::Draining`], grants already
    /// held may still commit, and readers read everything published, then get end of stream.
    /// Draining twice is fine.
    ///
    /// # Errors
    /// [`ChannelError::DrainTerminated`] if the channel is terminated.
    pub fn drain(&self) -> Result<(), ChannelError> {
        self.shared.drain()
    }

    /// `true` once terminated.
    pub fn is_terminated(&self) -> bool {
        self.shared.is_terminated()
    }

    /// `true` while draining.
    pub fn is_draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// A snapshot of the channel's counters (cheap; safe to poll from a dashboard).
    pub fn stats(&self) -> Stats {
        let [strong_writers, weak_writers, strong_readers, weak_readers, dropped] =
            self.shared.counts();
        let published = self.shared.published.read();
        let [lost_bytes, lost_frames, departed_readers] = self.shared.reader_totals();
        Stats {
            capacity: self.capacity(),
            in_use: self.shared.in_use(),
            strong_writers,
            weak_writers,
            strong_readers,
            weak_readers,
            dropped_frames: dropped as u64,
            frames_published: published.frames,
            bytes_published: published.payload,
            lost_bytes,
            lost_frames,
            departed_readers,
        }
    }

    /// Per-reader statistics: lag, and lost bytes and frames for weak readers.
    pub fn readers(&self) -> Vec<ReaderStats> {
        self.shared.reader_stats()
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.shared.orphan();
    }
}
