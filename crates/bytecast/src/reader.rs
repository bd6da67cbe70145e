//! Reader handles: [`StrongReader`] (gates writers, lossless), [`WeakReader`] (never gates,
//! told exactly what it lost), the [`Reader`] enum over both, and the zero-copy [`FrameRef`].
//!
//! Each reader keeps its own cursor: the position of the frame it is in, the cumulative counts
//! at that position, and how many bytes of that frame it already delivered (byte-stream reads
//! may stop inside a frame; a frame read then returns the rest of that frame).

use crate::error::ChannelError;
use crate::frame::{pos_add, pos_lt, pos_sub, Header, Kind, HEADER};
use crate::poll::{Delivery, Frame, Loss};
use crate::shared::{Mark, Shared};
use crate::sync::{spin_hint, Arc};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::task::{Context, Poll};

/// How many times a reader that found nothing, while a frame is reserved at its position, spins
/// (a `spin_loop` hint and one load of the published end each, about a microsecond in all) before
/// it parks. Bounded, so an async task never holds its executor thread longer than that; none
/// under loom, to keep the models small.
const SPIN_BEFORE_PARK: usize = if cfg!(all(test, bytecast_loom)) {
    0
} else {
    64
};

/// `slot` of a reader created on a terminated channel (it holds none).
const NO_SLOT: usize = usize::MAX;

/// Where a new reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// The oldest frame the channel still guarantees whole (selium-messaging's behaviour): the gate,
    /// i.e. the slowest strong reader, or with none, the oldest frame writers may not yet
    /// overwrite.
    #[default]
    Oldest,
    /// Only frames published from now on.
    Tail,
}

/// A data frame at the reader's position.
#[derive(Debug, Clone, Copy)]
struct Head {
    writer: u16,
    len: usize,
    footprint: usize,
}

pub(crate) struct ReaderCore {
    shared: Arc<Shared>,
    slot: usize,
    strong: bool,
    mark: Mark,
    /// Bytes of the current frame already delivered.
    offset: usize,
    lost_bytes: u64,
    lost_frames: u64,
    terminated: bool,
    sleeping: bool,
    /// The published end as last loaded (never past the real one).
    known_end: usize,
    /// Log bytes read since the position was last published to the reader's slot.
    unreleased: usize,
    /// A loss met by a pipe read after it had delivered bytes: reported by the next call.
    pending_loss: Option<u64>,
    /// Frames lost in the most recent loss (the one reported last, or held in `pending_loss`).
    last_loss_frames: u64,
}

impl fmt::Debug for ReaderCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("strong", &self.strong)
            .field("position", &self.mark.pos)
            .field("offset", &self.offset)
            .field("terminated", &self.terminated)
            .finish()
    }
}

impl ReaderCore {
    pub(crate) fn new(
        shared: Arc<Shared>,
        strong: bool,
        start: StartAt,
    ) -> Result<Self, ChannelError> {
        let (slot, mark) = match shared.join_reader(strong, start == StartAt::Tail) {
            Ok(joined) => joined,
            // On a terminated channel: a terminated handle, never an error (another task may
            // terminate the channel at any moment, so no caller could rule that out). It holds
            // no slot: every operation checks `terminated` before touching one.
            Err(ChannelError::Terminated) => (NO_SLOT, Mark::default()),
            Err(e) => return Err(e),
        };
        Ok(Self {
            shared,
            slot,
            strong,
            mark,
            offset: 0,
            lost_bytes: 0,
            lost_frames: 0,
            terminated: slot == NO_SLOT,
            sleeping: false,
            known_end: mark.pos,
            unreleased: 0,
            pending_loss: None,
            last_loss_frames: 0,
        })
    }

    /// The next data frame at the reader's position, skipping aborted and padding records.
    /// `Ok(None)`: nothing published yet.
    #[inline(always)]
    fn head(&mut self) -> Result<Option<Head>, ChannelError> {
        loop {
            if self.terminated || self.shared.is_terminated() {
                return Err(ChannelError::Terminated);
            }
            if let Some(bytes) = self.pending_loss.take() {
                return Err(ChannelError::ReaderBehind(bytes));
            }
            // A weak reader idle across a quarter of the position space or more: its position
            // no longer compares with the channel's, and it is lapped for certain.
            if !self.strong && self.shared.flagged_far(self.slot) {
                match self.lapped() {
                    Some(loss) => return Err(loss),
                    None => continue,
                }
            }
            // `published` is shared and hot: reload it only once the reader has reached the
            // end it last saw.
            if !pos_lt(self.mark.pos, self.known_end) {
                self.known_end = self.shared.published.pos();
            }
            let end = self.known_end;
            if self.mark.pos == end {
                // Caught up with everything published: give back what was read (see
                // `advance`), so a reader that stops here holds nothing writers wait for.
                if self.unreleased > 0 {
                    self.release();
                }
                return if self.shared.ended(end) {
                    Err(ChannelError::EndOfStream)
                } else {
                    Ok(None)
                };
            }
            let raw = self.shared.ring.load_u64(self.shared.index(self.mark.pos));
            // A weak reader validates the header it just read before trusting it.
            if !self.strong && !self.shared.intact_since(self.mark.pos) {
                match self.lapped() {
                    Some(loss) => return Err(loss),
                    None => continue, // only padding or aborted records were overwritten
                }
            }
            let header = Header::decode(raw);
            let h = header.expect("a published record has a valid header");
            match h.kind {
                Kind::Data => {
                    return Ok(Some(Head {
                        writer: h.writer,
                        len: h.len as usize,
                        footprint: h.footprint(),
                    }))
                }
                Kind::Aborted | Kind::Padding => self.advance(h.footprint(), None),
            }
        }
    }

    /// Moves past the current record (`data_len`: payload of a data frame, counted), and
    /// releases as a read that ends here must (`settle`, `release_by_size`).
    #[inline]
    fn advance(&mut self, footprint: usize, data_len: Option<usize>) {
        self.step(footprint, data_len);
        if data_len.is_some() && self.settle() {
            return;
        }
        self.release_by_size();
    }

    /// Moves past the current record and counts it, releasing nothing.
    #[inline(always)]
    fn step(&mut self, footprint: usize, data_len: Option<usize>) {
        self.mark.pos = pos_add(self.mark.pos, footprint);
        if let Some(len) = data_len {
            self.mark.frames = self.mark.frames.wrapping_add(1);
            self.mark.payload = self.mark.payload.wrapping_add(len as u64);
        }
        self.offset = 0;
        self.unreleased += footprint;
    }

    /// Releases in batches: once a sixteenth of the ring has been read. A read also releases as
    /// it returns after a data frame when it has read everything published (`settle`), and
    /// whenever it finds nothing more to read (`head`) (`docs/design.md`, "Releases").
    #[inline(always)]
    fn release_by_size(&mut self) {
        if self.unreleased >= self.shared.capacity() / 16 {
            self.release();
        }
    }

    /// As a read returns after a data frame: a strong reader that has read everything
    /// published releases (`release_if_read_everything`). A pipe read steps over many frames
    /// and settles once, as it returns. `true` if it released.
    #[inline]
    fn settle(&mut self) -> bool {
        self.strong && self.release_if_read_everything()
    }

    /// After a data frame: a strong reader that has read every data frame published releases,
    /// so it holds nothing back (a frame of up to `max_frame_len()` may need every byte of the
    /// ring, and the reader may not poll again until that frame is written). Records that
    /// carry no data (the padding after a short commit, an aborted grant) are passed on the
    /// way: they hold nothing to read. A reader with a data frame ahead stops at its header (one
    /// load of a line its next read needs anyway); one at the end it knew reloads `published`.
    /// `true` if it released.
    #[inline]
    fn release_if_read_everything(&mut self) -> bool {
        loop {
            if !pos_lt(self.mark.pos, self.known_end) {
                self.known_end = self.shared.published.pos();
                if self.mark.pos == self.known_end {
                    self.release();
                    return true;
                }
            }
            // Below `published`: finished and, for a strong reader, never overwritten.
            let raw = self.shared.ring.load_u64(self.shared.index(self.mark.pos));
            match Header::decode(raw) {
                Some(h) if h.kind != Kind::Data => {
                    self.mark.pos = pos_add(self.mark.pos, h.footprint());
                    self.unreleased += h.footprint();
                }
                _ => return false,
            }
        }
    }

    /// Publishes the reader's position: a strong reader's to the writers (and wakes those that
    /// wait for room), a weak reader's for statistics.
    fn release(&mut self) {
        self.unreleased = 0;
        if self.strong {
            self.shared.release_to(self.slot, self.mark);
        } else {
            self.shared.note_position(self.slot, self.mark);
        }
    }

    /// A weak reader was lapped: jump to the oldest intact frame boundary with known counts
    /// and report the loss (exact: both marks carry `u64` counts).
    /// `None` if nothing readable was lost (only padding or aborted records were passed).
    fn lapped(&mut self) -> Option<ChannelError> {
        let resume = self.shared.resume_mark();
        let frames = resume.frames.wrapping_sub(self.mark.frames);
        let bytes = resume
            .payload
            .wrapping_sub(self.mark.payload)
            .wrapping_sub(self.offset as u64);
        self.mark = resume;
        self.offset = 0;
        // The resume mark is at or below `published`: re-read the end from there.
        self.known_end = self.shared.published.pos();
        self.lost_bytes += bytes;
        self.lost_frames += frames;
        self.last_loss_frames = frames;
        self.release();
        if frames == 0 {
            return None;
        }
        self.shared
            .note_loss(self.slot, self.lost_bytes, self.lost_frames);
        Some(ChannelError::ReaderBehind(bytes))
    }

    /// Copies `dst.len()` bytes of the current frame from `self.offset`; for a weak reader,
    /// validates the copy afterwards.
    #[inline]
    fn copy(&mut self, dst: &mut [u8]) -> Result<(), ChannelError> {
        let idx = self.shared.index(self.mark.pos) + HEADER + self.offset;
        if self.strong {
            self.shared.ring.copy_out_exclusive(idx, dst);
            Ok(())
        } else {
            self.shared.ring.copy_out_racy(idx, dst);
            if self.shared.intact_since(self.mark.pos) {
                Ok(())
            } else {
                // The frame being copied is among the lost, so a loss is always reported.
                Err(self.lapped().unwrap_or(ChannelError::ReaderBehind(0)))
            }
        }
    }

    #[inline]
    fn consumed(&mut self, head: Head, n: usize) {
        self.offset += n;
        if self.offset == head.len {
            self.advance(head.footprint, Some(head.len));
        }
    }

    /// A pipe read: fills `buf` with published payload bytes across frame boundaries, and stops
    /// early only where nothing more is published, at end of stream or termination (reported by
    /// the next call), or at a weak reader's loss (held in `pending_loss` and reported by the next call, so the bytes
    /// before the loss are delivered and never joined silently with those after it).
    #[inline]
    fn try_read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ChannelError> {
        if buf.is_empty() {
            return if self.terminated || self.shared.is_terminated() {
                Err(ChannelError::Terminated)
            } else {
                Ok(Some(0))
            };
        }
        let mut filled = 0;
        loop {
            let head = match self.head() {
                Ok(Some(h)) => h,
                Ok(None) if filled == 0 => return Ok(None),
                Ok(None) => return Ok(Some(filled)),
                Err(e) if filled == 0 => return Err(e),
                // End of stream is a state: the next call reports it.
                Err(ChannelError::EndOfStream) => return Ok(Some(filled)),
                Err(e) => return Ok(Some(self.hold_error(e, filled))),
            };
            let n = (buf.len() - filled).min(head.len - self.offset);
            if let Err(e) = self.copy(&mut buf[filled..filled + n]) {
                return if filled == 0 {
                    Err(e)
                } else {
                    Ok(Some(self.hold_error(e, filled)))
                };
            }
            self.offset += n;
            filled += n;
            if self.offset == head.len {
                // The release check of a read's end waits for the end of this one.
                self.step(head.footprint, Some(head.len));
                self.release_by_size();
            }
            if filled == buf.len() {
                if self.offset == 0 {
                    self.settle();
                }
                return Ok(Some(filled));
            }
        }
    }

    /// After a pipe read delivered `filled` bytes and then met `e`: a loss is held for the next
    /// call; termination needs no holding (it is a state every later call sees).
    #[cold]
    fn hold_error(&mut self, e: ChannelError, filled: usize) -> usize {
        if let ChannelError::ReaderBehind(bytes) = e {
            self.pending_loss = Some(bytes);
        }
        filled
    }

    fn try_read_frame_into(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(u16, usize)>, ChannelError> {
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let rest = head.len - self.offset;
        if rest > buf.len() {
            return Err(ChannelError::FrameTooLong {
                len: rest,
                limit: buf.len(),
            });
        }
        self.copy(&mut buf[..rest])?;
        self.consumed(head, rest);
        Ok(Some((head.writer, rest)))
    }

    fn try_read_frame(&mut self, max_len: usize) -> Result<Option<(u16, Vec<u8>)>, ChannelError> {
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let rest = head.len - self.offset;
        if rest > max_len {
            return Err(ChannelError::FrameTooLong {
                len: rest,
                limit: max_len,
            });
        }
        let mut v = vec![0; rest];
        self.copy(&mut v)?;
        self.consumed(head, rest);
        Ok(Some((head.writer, v)))
    }

    fn try_skip_frame(&mut self) -> Result<Option<usize>, ChannelError> {
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let rest = head.len - self.offset;
        self.consumed(head, rest);
        Ok(Some(rest))
    }

    /// The next frame, or the loss before it, as one value (see [`crate::poll::PollFrames`]).
    fn try_delivery(&mut self) -> Result<Option<Delivery>, ChannelError> {
        match self.try_read_frame(usize::MAX) {
            Ok(Some((writer, payload))) => Ok(Some(Delivery::Frame(Frame { writer, payload }))),
            Ok(None) => Ok(None),
            Err(ChannelError::ReaderBehind(bytes)) => Ok(Some(Delivery::Lost(Loss {
                frames: self.last_loss_frames,
                bytes,
            }))),
            Err(e) => Err(e),
        }
    }

    /// Runs `op`; if it would wait, registers the waker, announces the sleep and runs it again.
    #[inline(always)]
    fn poll_op<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&mut Self) -> Result<Option<T>, ChannelError>,
    ) -> Poll<Result<T, ChannelError>> {
        if let Some(r) = op(self).transpose() {
            self.shared.wake_reader_done(self.slot, &mut self.sleeping);
            return Poll::Ready(r);
        }
        self.poll_op_wait(cx, op)
    }

    /// `poll_op` when the first attempt found nothing: spin briefly, then park.
    #[inline(never)]
    fn poll_op_wait<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&mut Self) -> Result<Option<T>, ChannelError>,
    ) -> Poll<Result<T, ChannelError>> {
        // A writer in the middle of a frame at our position is often a few hundred nanoseconds
        // from publishing it: wait that long (`spin_for_progress` decides whether to) before
        // paying for a park (waker registration, a SeqCst fence, and the writer's wake-up
        // through the executor, usually a futex syscall on each side).
        if self.spin_for_progress() {
            if let Some(r) = op(self).transpose() {
                self.shared.wake_reader_done(self.slot, &mut self.sleeping);
                return Poll::Ready(r);
            }
        }
        self.shared.readers[self.slot].waker.register(cx.waker());
        self.shared.sleep_reader(self.slot, &mut self.sleeping);
        match op(self).transpose() {
            Some(r) => {
                self.shared.wake_reader_done(self.slot, &mut self.sleeping);
                Poll::Ready(r)
            }
            None => Poll::Pending,
        }
    }

    /// Spins up to [`SPIN_BEFORE_PARK`] times for a publication past the reader's position (or
    /// the end of the channel); `true` if one came.
    fn spin_for_progress(&self) -> bool {
        // Spin only while a writer is filling a frame that will be published at the reader's
        // position. Otherwise no publication is on its way, and the spin would only hold a worker
        // that the writer's task may need (on an executor, the two often share one) or keep
        // loading `published` while the writer stores it (`docs/design.md`, "Wake-ups").
        if SPIN_BEFORE_PARK == 0 || !self.shared.in_flight_past(self.mark.pos) {
            return false;
        }
        for _ in 0..SPIN_BEFORE_PARK {
            spin_hint();
            if self.shared.published.pos() != self.mark.pos || self.shared.is_terminated() {
                return true;
            }
        }
        false
    }

    fn lag(&self) -> u64 {
        if !self.terminated && !self.strong && self.shared.flagged_far(self.slot) {
            // Lapped by more than a quarter of the position space: distances no longer
            // compare; it is at least that far behind.
            return crate::frame::POS_FAR as u64;
        }
        let published = self.shared.published.pos();
        if pos_lt(self.mark.pos, published) {
            pos_sub(published, self.mark.pos) as u64
        } else {
            0
        }
    }

    fn terminate(&mut self) {
        if !self.terminated {
            self.terminated = true;
            self.shared.wake_reader_done(self.slot, &mut self.sleeping);
            self.shared.leave_reader(self.slot);
        }
    }
}

impl Drop for ReaderCore {
    fn drop(&mut self) {
        self.terminate();
    }
}

macro_rules! reader_api {
    ($ty:ident) => {
        impl $ty {
            /// Reads as from a pipe: fills `buf` with as many published payload bytes as fit,
            /// across frame boundaries, without waiting. Returns `Ok(Some(n))` with `n > 0`
            /// bytes (`Ok(Some(0))` only for an empty `buf`), or `Ok(None)` if nothing is
            /// published yet. It stops before `buf` is full only where nothing more is
            /// published, at end of stream, or at a weak reader's loss, which the next call
            /// reports: bytes from both sides of a loss never arrive in one read. Frame
            /// boundaries are not kept; use the frame reads to keep them.
            ///
            /// # Errors
            /// [`ChannelError::EndOfStream`] once the channel is drained and every byte read, as
            /// from every core read; [`ChannelError::Terminated`]; for weak readers
            /// [`ChannelError::ReaderBehind`] (the loss; the reader has moved on to the oldest
            /// whole frame).
            pub fn try_read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ChannelError> {
                self.core.try_read(buf)
            }

            /// Polls [`try_read`](Self::try_read).
            ///
            /// # Errors
            /// As [`try_read`](Self::try_read).
            pub fn poll_read(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<usize, ChannelError>> {
                self.core.poll_op(cx, |c| c.try_read(buf))
            }

            /// Reads payload bytes as from a pipe (see [`try_read`](Self::try_read)), waiting
            /// until at least one byte is published.
            ///
            /// # Errors
            /// As [`try_read`](Self::try_read).
            ///
            /// # Cancel safety
            /// Cancel safe: nothing is consumed unless the future completes.
            pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChannelError> {
                core::future::poll_fn(|cx| self.poll_read(cx, buf)).await
            }

            /// Reads the next frame (or the rest of the current one, after a byte read stopped
            /// inside it) into `buf`, returning the writer id and its length.
            ///
            /// # Errors
            /// [`ChannelError::FrameTooLong`] if it does not fit `buf` (the reader does not
            /// move; retry with a larger buffer or [`skip_frame`](Self::try_skip_frame));
            /// [`ChannelError::EndOfStream`]; [`ChannelError::Terminated`]; for weak readers
            /// [`ChannelError::ReaderBehind`].
            pub fn try_read_frame_into(
                &mut self,
                buf: &mut [u8],
            ) -> Result<Option<(u16, usize)>, ChannelError> {
                self.core.try_read_frame_into(buf)
            }

            /// Polls [`try_read_frame_into`](Self::try_read_frame_into).
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            pub fn poll_read_frame_into(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<(u16, usize), ChannelError>> {
                self.core.poll_op(cx, |c| c.try_read_frame_into(buf))
            }

            /// Reads the next frame into `buf` (see
            /// [`try_read_frame_into`](Self::try_read_frame_into)).
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            ///
            /// # Cancel safety
            /// Cancel safe.
            pub async fn read_frame_into(
                &mut self,
                buf: &mut [u8],
            ) -> Result<(u16, usize), ChannelError> {
                core::future::poll_fn(|cx| self.poll_read_frame_into(cx, buf)).await
            }

            /// Reads the next frame of at most `max_len` bytes into a new `Vec`, with its writer
            /// id, without waiting.
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            pub fn try_read_frame(
                &mut self,
                max_len: usize,
            ) -> Result<Option<(u16, Vec<u8>)>, ChannelError> {
                self.core.try_read_frame(max_len)
            }

            /// Polls [`try_read_frame`](Self::try_read_frame).
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            pub fn poll_read_frame(
                &mut self,
                cx: &mut Context<'_>,
                max_len: usize,
            ) -> Poll<Result<(u16, Vec<u8>), ChannelError>> {
                self.core.poll_op(cx, |c| c.try_read_frame(max_len))
            }

            /// selium-messaging's `read_frame(max_len)`: the next frame and its writer id.
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            ///
            /// # Cancel safety
            /// Cancel safe.
            pub async fn read_frame(
                &mut self,
                max_len: usize,
            ) -> Result<(u16, Vec<u8>), ChannelError> {
                core::future::poll_fn(|cx| self.poll_read_frame(cx, max_len)).await
            }

            /// Reads the next frame, parking the thread while it waits.
            ///
            /// # Deadlock
            /// Never call it from inside an async task: it parks the whole thread, so if the
            /// writer's task runs on the same thread, as every task of a current-thread runtime
            /// (e.g. tokio's) does, it never runs and this call never returns. In async code
            /// use [`read_frame`](Self::read_frame)`.await`; see the crate docs, "Blocking
            /// calls" (the crate cannot detect this).
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            #[cfg(feature = "std")]
            pub fn blocking_read_frame(
                &mut self,
                max_len: usize,
            ) -> Result<(u16, Vec<u8>), ChannelError> {
                crate::blocking::block_on(self.read_frame(max_len))
            }

            /// Reads payload bytes as from a pipe, parking the thread while it waits.
            ///
            /// # Deadlock
            /// As [`blocking_read_frame`](Self::blocking_read_frame): never from inside an
            /// async task; use [`read`](Self::read)`.await` there.
            ///
            /// # Errors
            /// As [`try_read`](Self::try_read).
            #[cfg(feature = "std")]
            pub fn blocking_read(&mut self, buf: &mut [u8]) -> Result<usize, ChannelError> {
                crate::blocking::block_on(self.read(buf))
            }

            /// Polls for the next frame of any length, or for a weak reader the loss before it,
            /// as one value: a lossy consumer handles both in order (see
            /// [`Delivery`](crate::poll::Delivery)).
            ///
            /// # Errors
            /// [`ChannelError::EndOfStream`], [`ChannelError::Terminated`].
            pub fn poll_delivery(
                &mut self,
                cx: &mut Context<'_>,
            ) -> Poll<Result<Delivery, ChannelError>> {
                self.core.poll_op(cx, |c| c.try_delivery())
            }

            /// Waits for the next frame or loss (see [`poll_delivery`](Self::poll_delivery)).
            ///
            /// # Errors
            /// As [`poll_delivery`](Self::poll_delivery).
            ///
            /// # Cancel safety
            /// Cancel safe.
            pub async fn delivery(&mut self) -> Result<Delivery, ChannelError> {
                core::future::poll_fn(|cx| self.poll_delivery(cx)).await
            }

            /// Skips the next frame (or the rest of the current one) without copying it;
            /// returns the bytes skipped. Use it for a frame too long for the caller.
            ///
            /// # Errors
            /// As [`try_read_frame_into`](Self::try_read_frame_into).
            pub fn try_skip_frame(&mut self) -> Result<Option<usize>, ChannelError> {
                self.core.try_skip_frame()
            }

            /// Bytes of the log published but not yet read by this reader.
            pub fn lag(&self) -> u64 {
                self.core.lag()
            }

            /// Aborts this handle alone: a strong reader stops gating writers at once; every
            /// later call fails with [`ChannelError::Terminated`].
            pub fn terminate(&mut self) {
                self.core.terminate();
            }

            /// `true` once this handle or the channel is terminated.
            pub fn is_terminated(&self) -> bool {
                self.core.terminated || self.core.shared.is_terminated()
            }
        }
    };
}

/// A reader that writers never overrun: it sees every frame, and the channel runs at the pace
/// of the slowest strong reader.
#[derive(Debug)]
pub struct StrongReader {
    core: ReaderCore,
}

/// A reader that never holds writers back. When writers lap it, its next read fails with
/// [`ChannelError::ReaderBehind`] carrying the exact payload bytes lost, and it resumes at the
/// oldest frame still intact. It never delivers a torn frame.
#[derive(Debug)]
pub struct WeakReader {
    core: ReaderCore,
}

reader_api!(StrongReader);
reader_api!(WeakReader);

impl StrongReader {
    pub(crate) fn new(shared: Arc<Shared>, start: StartAt) -> Result<Self, ChannelError> {
        Ok(Self {
            core: ReaderCore::new(shared, true, start)?,
        })
    }

    /// Turns this reader into a weak reader at the same position; it stops gating writers.
    pub fn downgrade(mut self) -> WeakReader {
        if !self.core.terminated {
            self.core.shared.downgrade_reader(self.core.slot);
            self.core.strong = false;
        }
        WeakReader { core: self.core }
    }

    /// Waits for the next frame (or the rest of the current one) and lends it without copying.
    /// The frame is released, and writers may reuse its space, when the [`FrameRef`] drops.
    ///
    /// # Errors
    /// [`ChannelError::EndOfStream`], [`ChannelError::Terminated`].
    pub fn poll_frame_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        self.core.poll_op(cx, |c| Ok(c.head()?.map(|_| ())))
    }

    /// Lends the next frame without copying, or `Ok(None)` if none is published yet.
    ///
    /// # Errors
    /// [`ChannelError::EndOfStream`], [`ChannelError::Terminated`].
    #[cfg(not(all(test, bytecast_loom)))]
    pub fn try_borrow_frame(&mut self) -> Result<Option<FrameRef<'_>>, ChannelError> {
        let Some(head) = self.core.head()? else {
            return Ok(None);
        };
        Ok(Some(FrameRef {
            reader: &mut self.core,
            head,
        }))
    }

    /// `AsyncBufRead::poll_fill_buf` for a strong reader: the unread rest of the current frame,
    /// borrowed straight from the ring (no copy). It lends one frame at a time (records
    /// have headers between them), so it never spans two frames; [`poll_read`](Self::poll_read)
    /// is the way to take many frames' bytes in one call. Pair it with
    /// [`consume`](Self::consume).
    ///
    /// # Errors
    /// [`ChannelError::EndOfStream`], [`ChannelError::Terminated`].
    #[cfg(not(all(test, bytecast_loom)))]
    pub fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<Result<&[u8], ChannelError>> {
        match self.poll_frame_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => Poll::Ready(self.fill_buf_now()),
        }
    }

    #[cfg(not(all(test, bytecast_loom)))]
    fn fill_buf_now(&mut self) -> Result<&[u8], ChannelError> {
        let c = &mut self.core;
        let head = c
            .head()?
            .expect("a frame was ready and only this reader moves its cursor");
        let idx = c.shared.index(c.mark.pos) + HEADER + c.offset;
        Ok(c.shared.ring.bytes(idx, head.len - c.offset))
    }

    /// `AsyncBufRead::consume`: marks `n` bytes of what [`poll_fill_buf`](Self::poll_fill_buf)
    /// returned as read; at the end of a frame the frame is released to writers.
    ///
    /// Once the reader or the channel is terminated, `consume` does nothing (the next
    /// `poll_fill_buf` reports the termination), even if the termination races this call.
    ///
    /// # Panics
    /// If `n` is more than the bytes `poll_fill_buf` returned, or there was no such buffer.
    pub fn consume(&mut self, n: usize) {
        let c = &mut self.core;
        if n == 0 {
            return;
        }
        let head = match c.head() {
            Ok(Some(head)) => head,
            // Terminated (possibly just now, by another task): nothing to consume.
            Err(ChannelError::Terminated) => return,
            Ok(None) | Err(_) => panic!("consume({n}) without a frame from poll_fill_buf"),
        };
        assert!(
            n <= head.len - c.offset,
            "consume({n}) past the end of the buffer"
        );
        c.consumed(head, n);
    }

    /// Waits for and lends the next frame (see [`try_borrow_frame`](Self::try_borrow_frame)).
    ///
    /// # Errors
    /// As [`try_borrow_frame`](Self::try_borrow_frame).
    ///
    /// # Panics
    /// Never in practice: only this reader moves its cursor, so a frame found ready is still
    /// there when it is borrowed (an internal invariant, checked).
    ///
    /// # Cancel safety
    /// Cancel safe.
    #[cfg(not(all(test, bytecast_loom)))]
    pub async fn borrow_frame(&mut self) -> Result<FrameRef<'_>, ChannelError> {
        core::future::poll_fn(|cx| self.poll_frame_ready(cx)).await?;
        Ok(self
            .try_borrow_frame()?
            .expect("a frame was ready and only this reader moves its cursor"))
    }
}

impl WeakReader {
    pub(crate) fn new(shared: Arc<Shared>, start: StartAt) -> Result<Self, ChannelError> {
        Ok(Self {
            core: ReaderCore::new(shared, false, start)?,
        })
    }

    /// Payload bytes lost to being lapped, in total.
    pub fn lost_bytes(&self) -> u64 {
        self.core.lost_bytes
    }

    /// Frames lost to being lapped, in total (a frame partly read by byte reads and then
    /// overwritten counts as lost).
    pub fn lost_frames(&self) -> u64 {
        self.core.lost_frames
    }
}

/// A strong reader's frame, borrowed straight from the ring. Released when dropped.
#[cfg(not(all(test, bytecast_loom)))]
pub struct FrameRef<'a> {
    reader: &'a mut ReaderCore,
    head: Head,
}

#[cfg(not(all(test, bytecast_loom)))]
impl FrameRef<'_> {
    /// Id of the writer of this frame.
    pub fn writer(&self) -> u16 {
        self.head.writer
    }

    /// The frame's bytes (the rest of it, if byte reads consumed its start).
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        let r = &*self.reader;
        let idx = r.shared.index(r.mark.pos) + HEADER + r.offset;
        r.shared.ring.bytes(idx, self.head.len - r.offset)
    }
}

#[cfg(not(all(test, bytecast_loom)))]
impl core::ops::Deref for FrameRef<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

#[cfg(not(all(test, bytecast_loom)))]
impl fmt::Debug for FrameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameRef")
            .field("writer", &self.head.writer)
            .field("len", &self.bytes().len())
            .finish()
    }
}

#[cfg(not(all(test, bytecast_loom)))]
impl Drop for FrameRef<'_> {
    #[inline]
    fn drop(&mut self) {
        let rest = self.head.len - self.reader.offset;
        self.reader.consumed(self.head, rest);
    }
}

/// Either kind of reader, as selium-messaging's `Reader`.
#[derive(Debug)]
pub enum Reader {
    /// A [`StrongReader`].
    Strong(StrongReader),
    /// A [`WeakReader`].
    Weak(WeakReader),
}

impl From<StrongReader> for Reader {
    fn from(r: StrongReader) -> Self {
        Self::Strong(r)
    }
}

impl From<WeakReader> for Reader {
    fn from(r: WeakReader) -> Self {
        Self::Weak(r)
    }
}

impl Reader {
    fn core(&mut self) -> &mut ReaderCore {
        match self {
            Self::Strong(r) => &mut r.core,
            Self::Weak(r) => &mut r.core,
        }
    }

    /// See [`StrongReader::poll_read`].
    ///
    /// # Errors
    /// As [`StrongReader::try_read`].
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ChannelError>> {
        self.core().poll_op(cx, |c| c.try_read(buf))
    }

    /// See [`StrongReader::read`].
    ///
    /// # Errors
    /// As [`StrongReader::try_read`].
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChannelError> {
        let core = self.core();
        core::future::poll_fn(|cx| core.poll_op(cx, |c| c.try_read(buf))).await
    }

    /// See [`StrongReader::poll_read_frame`].
    ///
    /// # Errors
    /// As [`StrongReader::try_read_frame_into`].
    pub fn poll_read_frame(
        &mut self,
        cx: &mut Context<'_>,
        max_len: usize,
    ) -> Poll<Result<(u16, Vec<u8>), ChannelError>> {
        self.core().poll_op(cx, |c| c.try_read_frame(max_len))
    }

    /// See [`StrongReader::read_frame`].
    ///
    /// # Errors
    /// As [`StrongReader::try_read_frame_into`].
    pub async fn read_frame(&mut self, max_len: usize) -> Result<(u16, Vec<u8>), ChannelError> {
        let core = self.core();
        core::future::poll_fn(|cx| core.poll_op(cx, |c| c.try_read_frame(max_len))).await
    }

    /// See [`StrongReader::poll_delivery`].
    ///
    /// # Errors
    /// As [`StrongReader::poll_delivery`].
    pub fn poll_delivery(&mut self, cx: &mut Context<'_>) -> Poll<Result<Delivery, ChannelError>> {
        self.core().poll_op(cx, |c| c.try_delivery())
    }

    /// See [`StrongReader::try_skip_frame`].
    ///
    /// # Errors
    /// As [`StrongReader::try_read_frame_into`].
    pub fn try_skip_frame(&mut self) -> Result<Option<usize>, ChannelError> {
        self.core().try_skip_frame()
    }

    /// Aborts this handle alone.
    pub fn terminate(&mut self) {
        self.core().terminate();
    }

    /// A strong reader becomes weak; a weak reader stays weak.
    pub fn downgrade(self) -> WeakReader {
        match self {
            Self::Strong(r) => r.downgrade(),
            Self::Weak(r) => r,
        }
    }
}
