//! Code shared by the adapter crates (`bytecast-tokio`, `bytecast-futures`): the handle
//! newtypes, the `Channel` wrapper and the `FrameStream`, with their forwarding and docs, written
//! once.
//!
//! Not a public API: the macros are `#[doc(hidden)]` and may change in any release; each adapter
//! depends on the `bytecast` of the same version. An adapter invokes both macros and writes by
//! hand only its runtime's trait impls (`AsyncRead`, `AsyncBufRead`, `AsyncWrite`).
//!
//! Paths into the core are `$crate::...` and into the standard library `::std::...`; besides the
//! prelude, the only names taken from the call site are the adapter's own types (its handles and
//! `FrameStream`), for `FrameStream` `futures_core`'s `Stream` trait (every adapter depends on
//! `futures-core`), and the adapter's `budget` function (see [`__no_budget`]).
//! Doc links name their targets through `bytecast::` (a dependency of every adapter): rustdoc
//! resolves them where the macro is invoked.
#![cfg(feature = "std")]

use core::task::{Context, Poll};

/// The `budget` an adapter passes to [`__adapter_handles!`](crate::__adapter_handles) and
/// [`__adapter_frame_stream!`](crate::__adapter_frame_stream) when its runtime has no
/// cooperative budget (`bytecast-futures`): polls `op` as it is.
///
/// A `budget` function polls one channel operation for the task in `cx`, charging it to the
/// runtime's cooperative budget if the runtime has one (`bytecast-tokio` passes tokio's), and
/// may return `Pending` without polling `op` when the task has spent its budget, after arranging
/// for the task to be polled again. It never changes what `op` returns once it polls it.
#[doc(hidden)]
#[inline]
pub fn __no_budget<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    op(cx)
}

/// The six handle newtypes of an adapter, in the invoking module: `StrongReader`, `WeakReader`,
/// `Reader`, `StrongWriter`, `WeakWriter`, `Writer`, each wrapping the core handle of that name.
///
/// Each gets `new`, `get_ref`, `get_mut`, `into_inner`, `Deref`, `DerefMut` and `From` both
/// ways; readers get selium-messaging's `read_frame(max_len)` and `into_stream` (into `stream`, the
/// adapter's `FrameStream`, which has `new(Reader)`); and the kind conversions of selium-messaging
/// (`downgrade`, `upgrade`, `into_strong`, `into_weak`, `From` into `Reader` and `Writer`).
///
/// `traits` ends the first line of each newtype's docs: "implementing {traits}.". `budget` is
/// the path of the adapter's budget function (see [`__no_budget`](crate::__no_budget)), which
/// `read_frame` polls through.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_handles {
    (traits: $traits:literal, stream: $stream:ty, budget: $budget:path $(,)?) => {
        $crate::__adapter_handles!(
            @reader $traits, $stream, $budget, StrongReader, "lossless, gates writers"
        );
        $crate::__adapter_handles!(
            @reader $traits, $stream, $budget,
            WeakReader, "never gates writers, told exactly what it lost"
        );
        $crate::__adapter_handles!(
            @reader $traits, $stream, $budget, Reader, "either kind, as selium-messaging's `Reader`"
        );
        $crate::__adapter_handles!(
            @handle $traits, StrongWriter, "holds a writer slot for its life"
        );
        $crate::__adapter_handles!(@handle $traits, WeakWriter, "takes a writer slot per frame");
        $crate::__adapter_handles!(@handle $traits, Writer, "either kind, as selium-messaging's `Writer`");

        // Conversions that consume a handle (they cannot go through `Deref`), with selium-messaging's
        // signatures.

        impl StrongReader {
            /// Turns this reader into a weak reader at the same position; it stops gating
            /// writers.
            pub fn downgrade(self) -> WeakReader {
                WeakReader(self.0.downgrade())
            }
        }

        impl StrongWriter {
            /// Turns this writer into a weak writer: its slot is freed now and taken again per
            /// frame.
            pub fn downgrade(self) -> WeakWriter {
                WeakWriter(self.0.downgrade())
            }
        }

        impl WeakWriter {
            /// Turns this writer into a strong writer holding a slot for its life.
            ///
            /// # Errors
            /// [`ChannelError::TooManyWriters`](bytecast::ChannelError::TooManyWriters) if no
            /// slot is free (the weak writer is given back),
            /// [`ChannelError::Terminated`](bytecast::ChannelError::Terminated).
            pub fn upgrade(
                self,
            ) -> ::core::result::Result<StrongWriter, (Self, $crate::ChannelError)> {
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

            /// The strong reader, or `self` if it is weak (as in selium-messaging).
            ///
            /// # Errors
            /// `self`, if the reader is weak.
            pub fn into_strong(self) -> ::core::result::Result<StrongReader, Self> {
                match self.0 {
                    $crate::Reader::Strong(r) => Ok(StrongReader(r)),
                    weak => Err(Self(weak)),
                }
            }

            /// The weak reader, or `self` if it is strong (as in selium-messaging).
            ///
            /// # Errors
            /// `self`, if the reader is strong.
            pub fn into_weak(self) -> ::core::result::Result<WeakReader, Self> {
                match self.0 {
                    $crate::Reader::Weak(r) => Ok(WeakReader(r)),
                    strong => Err(Self(strong)),
                }
            }
        }

        impl Writer {
            /// The writer in its weak form (selium-messaging's signature: it returns a `Writer`).
            pub fn downgrade(self) -> Writer {
                Writer(self.0.downgrade().into())
            }

            /// The strong writer, or `self` if it is weak (as in selium-messaging).
            ///
            /// # Errors
            /// `self`, if the writer is weak.
            pub fn into_strong(self) -> ::core::result::Result<StrongWriter, Self> {
                match self.0 {
                    $crate::Writer::Strong(w) => Ok(StrongWriter(w)),
                    weak => Err(Self(weak)),
                }
            }

            /// The weak writer, downgrading a strong one (as in selium-messaging, this never fails; the
            /// `Result` is selium-messaging's signature).
            ///
            /// # Errors
            /// None.
            pub fn into_weak(self) -> ::core::result::Result<WeakWriter, Self> {
                Ok(WeakWriter(self.0.downgrade()))
            }
        }

        impl ::core::convert::From<StrongReader> for Reader {
            fn from(r: StrongReader) -> Self {
                Self(r.0.into())
            }
        }

        impl ::core::convert::From<WeakReader> for Reader {
            fn from(r: WeakReader) -> Self {
                Self(r.0.into())
            }
        }

        impl ::core::convert::From<StrongWriter> for Writer {
            fn from(w: StrongWriter) -> Self {
                Self(w.0.into())
            }
        }

        impl ::core::convert::From<WeakWriter> for Writer {
            fn from(w: WeakWriter) -> Self {
                Self(w.0.into())
            }
        }
    };

    // A reader: the newtype, selium-messaging's `read_frame`, and `into_stream`.
    (@reader $traits:literal, $stream:ty, $budget:path, $name:ident, $what:literal) => {
        $crate::__adapter_handles!(@handle $traits, $name, $what);

        impl $name {
            /// selium-messaging's `read_frame(max_len)`: the next frame (or the rest of the current one,
            /// after a byte read stopped inside it) and its writer's id.
            ///
            /// # Errors
            /// The core's [`read_frame`](bytecast::StrongReader::read_frame) errors, mapped
            /// through `From<ChannelError> for io::Error`: `UnexpectedEof` once drained and
            /// caught up, `ConnectionAborted` after terminate, `InvalidInput` for a frame longer
            /// than `max_len` (the reader does not move), and for a weak reader `Other` carrying
            /// [`ChannelError::ReaderBehind`](bytecast::ChannelError::ReaderBehind).
            ///
            /// # Cancel safety
            /// Cancel safe: nothing is consumed unless the future completes.
            pub async fn read_frame(
                &mut self,
                max_len: usize,
            ) -> ::std::io::Result<(u16, ::std::vec::Vec<u8>)> {
                let core = &mut self.0;
                Ok(::core::future::poll_fn(|cx| {
                    $budget(cx, |cx| core.poll_read_frame(cx, max_len))
                })
                .await?)
            }

            /// A [`Stream`](futures_core::Stream) of this reader's frames (see [`FrameStream`]).
            pub fn into_stream(self) -> $stream {
                <$stream>::new(self.into())
            }
        }
    };

    // The newtype, its conversions to and from the core handle, `Deref` and `DerefMut`.
    (@handle $traits:literal, $name:ident, $what:literal) => {
        #[doc = concat!(
            "A [`bytecast::", stringify!($name), "`] (", $what, ") implementing ", $traits, "."
        )]
        ///
        /// It derefs to the core handle, so every core method is available on it.
        #[derive(Debug)]
        pub struct $name($crate::$name);

        impl $name {
            /// Wraps a core handle.
            pub fn new(inner: $crate::$name) -> Self {
                Self(inner)
            }

            /// The core handle.
            pub fn get_ref(&self) -> &$crate::$name {
                &self.0
            }

            /// The core handle, mutably.
            pub fn get_mut(&mut self) -> &mut $crate::$name {
                &mut self.0
            }

            /// Unwraps the core handle.
            pub fn into_inner(self) -> $crate::$name {
                self.0
            }
        }

        impl ::core::ops::Deref for $name {
            type Target = $crate::$name;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl ::core::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl ::core::convert::From<$crate::$name> for $name {
            fn from(inner: $crate::$name) -> Self {
                Self(inner)
            }
        }

        impl ::core::convert::From<$name> for $crate::$name {
            fn from(handle: $name) -> Self {
                handle.0
            }
        }
    };
}

/// An adapter's `Channel`, in the invoking module: [`Channel`](crate::Channel) in an `Arc`,
/// with every constructor and query forwarded and the `new_*` methods returning the adapter's
/// handles (made by [`__adapter_handles!`](crate::__adapter_handles)). The six handle names
/// (`StrongReader`, `WeakReader`, `Reader`, `StrongWriter`, `WeakWriter`, `Writer`) are resolved
/// at the call site, so the invoking module must have them in scope.
///
/// `krate` is the adapter's name in paths (for the doc example), `traits` ends the first
/// paragraph ("which implement {traits}."), `copy` is the runtime's copy function named in
/// `drain`'s docs.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_channel {
    (krate: $krate:literal, traits: $traits:literal, copy: $copy:literal $(,)?) => {
        #[doc = concat!(
            "[`bytecast::Channel`] whose `new_*` methods return this crate's handles, which \
             implement ",
            $traits,
            "."
        )]
        ///
        /// Built like selium-messaging's `Channel`: [`Channel::new`] and
        /// [`Channel::with_parameters`] return an `Arc<Channel>`, and the handle constructors
        /// take `self: &Arc<Channel>`.
        ///
        /// # Examples
        /// ```
        #[doc = concat!("use ", $krate, "::{Backpressure, Channel};")]
        ///
        /// let chan = Channel::with_parameters(4096, Backpressure::Drop);
        /// let _writer = chan.new_weak_writer();
        /// let _reader = chan.new_strong_reader();
        /// assert_eq!(chan.capacity(), 4096);
        /// assert_eq!(chan.stats().strong_readers, 1);
        /// ```
        #[derive(Debug)]
        pub struct Channel(::std::sync::Arc<$crate::Channel>);

        impl Channel {
            /// Creates a channel of at least `size` bytes with
            /// [`Backpressure::Park`](bytecast::Backpressure::Park) (see
            /// [`bytecast::Channel::new`]).
            ///
            /// # Panics
            /// If `size` is 0, above [`bytecast::MAX_CAPACITY`], or cannot be allocated; use
            /// [`try_new`](Self::try_new) for an error instead.
            #[track_caller]
            pub fn new(size: usize) -> ::std::sync::Arc<Self> {
                Self::from_core($crate::Channel::new(size))
            }

            /// Creates a channel with the given size and backpressure policy.
            ///
            /// # Panics
            /// As [`new`](Self::new).
            #[track_caller]
            pub fn with_parameters(
                size: usize,
                backpressure: $crate::Backpressure,
            ) -> ::std::sync::Arc<Self> {
                Self::from_core($crate::Channel::with_parameters(size, backpressure))
            }

            /// Fallible [`with_parameters`](Self::with_parameters).
            ///
            /// # Errors
            /// [`ChannelError::InvalidCapacity`](bytecast::ChannelError::InvalidCapacity).
            pub fn try_new(
                size: usize,
                backpressure: $crate::Backpressure,
            ) -> ::core::result::Result<::std::sync::Arc<Self>, $crate::ChannelError> {
                $crate::Channel::try_new(size, backpressure).map(Self::from_core)
            }

            /// Creates a channel from a full [`Config`](bytecast::Config).
            ///
            /// # Errors
            /// As [`bytecast::Channel::try_with_config`].
            pub fn try_with_config(
                config: $crate::Config,
            ) -> ::core::result::Result<::std::sync::Arc<Self>, $crate::ChannelError> {
                $crate::Channel::try_with_config(config).map(Self::from_core)
            }

            /// Wraps a core channel.
            pub fn from_core(chan: ::std::sync::Arc<$crate::Channel>) -> ::std::sync::Arc<Self> {
                ::std::sync::Arc::new(Self(chan))
            }

            /// The core channel.
            pub fn get_ref(&self) -> &::std::sync::Arc<$crate::Channel> {
                &self.0
            }

            /// Creates a writer: a strong one, as in selium-messaging.
            ///
            /// # Panics
            /// As [`bytecast::Channel::new_writer`].
            #[track_caller]
            pub fn new_writer(self: &::std::sync::Arc<Self>) -> Writer {
                Writer::new(self.0.new_writer())
            }

            /// Creates a strong writer, which holds a writer slot (and id) for its life.
            ///
            /// # Panics
            /// As [`bytecast::Channel::new_strong_writer`].
            #[track_caller]
            pub fn new_strong_writer(self: &::std::sync::Arc<Self>) -> StrongWriter {
                StrongWriter::new(self.0.new_strong_writer())
            }

            /// Fallible [`new_strong_writer`](Self::new_strong_writer).
            ///
            /// # Errors
            /// [`ChannelError::TooManyWriters`](bytecast::ChannelError::TooManyWriters),
            /// [`ChannelError::Terminated`](bytecast::ChannelError::Terminated).
            pub fn try_new_strong_writer(
                self: &::std::sync::Arc<Self>,
            ) -> ::core::result::Result<StrongWriter, $crate::ChannelError> {
                self.0.try_new_strong_writer().map(StrongWriter::new)
            }

            /// Creates a weak writer, which takes a writer slot only while it writes a frame.
            pub fn new_weak_writer(self: &::std::sync::Arc<Self>) -> WeakWriter {
                WeakWriter::new(self.0.new_weak_writer())
            }

            /// Creates a strong reader starting at the oldest frame still guaranteed whole.
            ///
            /// # Panics
            /// As [`bytecast::Channel::new_strong_reader`].
            #[track_caller]
            pub fn new_strong_reader(self: &::std::sync::Arc<Self>) -> StrongReader {
                StrongReader::new(self.0.new_strong_reader())
            }

            /// Creates a weak reader starting at the oldest frame still whole.
            ///
            /// # Panics
            /// As [`bytecast::Channel::new_weak_reader`].
            #[track_caller]
            pub fn new_weak_reader(self: &::std::sync::Arc<Self>) -> WeakReader {
                WeakReader::new(self.0.new_weak_reader())
            }

            /// Fallible reader creation with a chosen start.
            ///
            /// # Errors
            /// [`ChannelError::TooManyReaders`](bytecast::ChannelError::TooManyReaders),
            /// [`ChannelError::Terminated`](bytecast::ChannelError::Terminated).
            pub fn try_new_reader(
                self: &::std::sync::Arc<Self>,
                strong: bool,
                start: $crate::StartAt,
            ) -> ::core::result::Result<Reader, $crate::ChannelError> {
                self.0.try_new_reader(strong, start).map(Reader::new)
            }

            /// Fallible strong reader creation with a chosen start.
            ///
            /// # Errors
            /// As [`try_new_reader`](Self::try_new_reader).
            pub fn try_new_strong_reader(
                self: &::std::sync::Arc<Self>,
                start: $crate::StartAt,
            ) -> ::core::result::Result<StrongReader, $crate::ChannelError> {
                self.0
                    .try_new_strong_reader(start)
                    .map(StrongReader::new)
            }

            /// Fallible weak reader creation with a chosen start.
            ///
            /// # Errors
            /// As [`try_new_reader`](Self::try_new_reader).
            pub fn try_new_weak_reader(
                self: &::std::sync::Arc<Self>,
                start: $crate::StartAt,
            ) -> ::core::result::Result<WeakReader, $crate::ChannelError> {
                self.0.try_new_weak_reader(start).map(WeakReader::new)
            }

            /// Terminates the channel: every current and future read and write fails
            /// (`ConnectionAborted` through the I/O traits) and every waiting task is woken.
            ///
            /// # Errors
            /// [`ChannelError::TerminateDraining`](bytecast::ChannelError::TerminateDraining) if
            /// the channel was draining; it is terminated all the same.
            pub fn terminate(&self) -> ::core::result::Result<(), $crate::ChannelError> {
                self.0.terminate()
            }

            /// Starts draining: new frames are refused (`BrokenPipe`), readers read everything
            #[doc = concat!(
                "published and then get end of stream (`Ok(0)`), so `",
                $copy,
                "` and `read_to_end` finish."
            )]
            ///
            /// # Errors
            /// [`ChannelError::DrainTerminated`](bytecast::ChannelError::DrainTerminated) if the
            /// channel is terminated.
            pub fn drain(&self) -> ::core::result::Result<(), $crate::ChannelError> {
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
            pub fn backpressure(&self) -> $crate::Backpressure {
                self.0.backpressure()
            }

            /// A snapshot of the channel's counters.
            pub fn stats(&self) -> $crate::Stats {
                self.0.stats()
            }

            /// Per-reader statistics: lag, and lost bytes and frames for weak readers.
            pub fn readers(&self) -> ::std::vec::Vec<$crate::ReaderStats> {
                self.0.readers()
            }
        }
    };
}

/// The adapter's `FrameStream`: a reader's frames as a `futures_core::Stream`, in the invoking
/// module, which must have `Reader` (the adapter's) and `Stream` (`futures_core::Stream`) in
/// scope. `budget` is the path of the adapter's budget function (see
/// [`__no_budget`](crate::__no_budget)), which each frame is polled through. `example` is the doc
/// example, in the adapter's own runtime.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_frame_stream {
    (budget: $budget:path, example: { $(#[$example:meta])* } $(,)?) => {
        /// A reader's frames as a [`Stream`] of `(writer id, bytes)`, made by `into_stream` on
        /// any reader.
        ///
        /// | reader sees | stream yields |
        /// |---|---|
        /// | a frame | `Some(Ok((writer_id, bytes)))` |
        /// | a weak reader was lapped | `Some(Err(ChannelError::ReaderBehind(lost_bytes)))`, then the stream goes on at the oldest frame still whole |
        /// | drained (or every writer and the channel gone) and caught up | `None` |
        /// | terminated | `Some(Err(ChannelError::Terminated))`, then `None` |
        ///
        /// # Examples
        $(#[$example])*
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
            type Item = ::std::result::Result<(u16, ::std::vec::Vec<u8>), $crate::ChannelError>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::option::Option<Self::Item>> {
                let this = self.get_mut();
                if this.terminated {
                    return ::std::task::Poll::Ready(None);
                }
                // No limit: a frame is never longer than the channel's `max_frame_len`, and
                // the `Vec` is sized to the frame, not to the limit.
                let reader = &mut this.reader;
                $budget(cx, |cx| reader.poll_read_frame(cx, usize::MAX))
                    .map(|r| match r {
                        Ok(frame) => Some(Ok(frame)),
                        Err($crate::ChannelError::EndOfStream) => None,
                        Err($crate::ChannelError::Terminated) => {
                            this.terminated = true;
                            Some(Err($crate::ChannelError::Terminated))
                        }
                        Err(e) => Some(Err(e)),
                    })
            }
        }
    };
}
