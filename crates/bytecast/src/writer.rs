//! Writer handles: [`StrongWriter`] (holds a writer slot for its life), [`WeakWriter`] (takes one
//! per frame), the [`Writer`] enum over both, and the [`WriteGrant`] they hand out.
//!
//! A writer reserves, fills, then commits. Everything here is bookkeeping of the handle; the
//! protocol is in `shared.rs`.

use crate::error::ChannelError;
use crate::ring::WordWriter;
use crate::shared::{Claimed, NoRoom, Reservation, Shared, PRIORITY_PATIENCE};
use crate::sync::Arc;
use crate::Backpressure;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// State common to both writer kinds.
pub(crate) struct WriterCore {
    shared: Arc<Shared>,
    strong: bool,
    /// Strong: the slot held for life. Weak: the slot held for the frame being written (or
    /// while waiting for space), else `None`.
    slot: Option<usize>,
    /// Weak: the slot used last, tried first next time so the id usually stays the same.
    last_slot: Option<usize>,
    /// The handle has left the channel (terminated or closed): it holds nothing and is not
    /// counted.
    terminated: bool,
    /// It left by [`close`](StrongWriter::close): its calls fail with `Closed`, not
    /// `Terminated`.
    closed: bool,
    sleeping: bool,
    /// The slot whose `asleep` flag this writer set while sleeping (strong writers).
    sleep_slot: Option<usize>,
    /// Weak: the last attempt failed for want of a slot (not of space).
    waiting_for_slot: bool,
    /// The reservation of the grant this writer handed out, until the grant commits or aborts.
    /// A grant that was leaked (`mem::forget`) leaves it here, and the writer aborts it before
    /// its next reservation or when it leaves, so a forgotten grant behaves like a dropped one.
    open_grant: Option<Reservation>,
    /// This writer's claim on the channel's admission priority (`Shared::claim_priority`), or
    /// 0: it waited for space, and other writers leave room for its frame until it is admitted.
    claim: usize,
    /// Refusals in a row for the room the priority's holder needs while that holder could come
    /// (`NoRoom::Priority`); at `PRIORITY_PATIENCE` this writer takes the priority over.
    yields: u32,
    /// Tells this handle apart from others for the priority's turns.
    token: usize,
    /// It held the priority last and let other waiting writers claim it first, once.
    deferred: bool,
}

impl fmt::Debug for WriterCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("strong", &self.strong)
            .field("id", &self.slot.map(|s| s + 1))
            .field("terminated", &self.terminated)
            .field("closed", &self.closed)
            .finish()
    }
}

impl WriterCore {
    /// A writer of either kind with no slot yet; `terminated` ones hold nothing and are not
    /// counted.
    fn bare(shared: Arc<Shared>, strong: bool, terminated: bool) -> Self {
        let token = shared.writer_token();
        let mut w = Self {
            shared,
            strong,
            slot: None,
            last_slot: None,
            terminated,
            closed: false,
            sleeping: false,
            sleep_slot: None,
            waiting_for_slot: false,
            open_grant: None,
            claim: 0,
            yields: 0,
            token: 0,
            deferred: false,
        };
        w.token = token;
        w
    }

    /// A strong writer holding a slot for its life. On a terminated channel it is a terminated
    /// handle (every operation fails with `Terminated`), never an error: another task may
    /// terminate the channel at any moment, so no caller could rule that out.
    pub(crate) fn new_strong(shared: Arc<Shared>) -> Result<Self, ChannelError> {
        if shared.is_terminated() {
            return Ok(Self::bare(shared, true, true));
        }
        let slot = shared
            .claim_writer_slot(None)
            .ok_or(ChannelError::TooManyWriters {
                max: shared.writers.len(),
            })?;
        shared.add_writer(true);
        let mut w = Self::bare(shared, true, false);
        w.slot = Some(slot);
        w.last_slot = Some(slot);
        Ok(w)
    }

    /// A weak writer (counted at once; it takes a slot per frame). Terminated on a terminated
    /// channel, as in [`WriterCore::new_strong`].
    fn new_weak(shared: Arc<Shared>) -> Self {
        if shared.is_terminated() {
            return Self::bare(shared, false, true);
        }
        shared.add_writer(false);
        Self::bare(shared, false, false)
    }

    /// A handle of kind `strong` that has already left, as this one has: terminated, and closed
    /// if this one was. For conversions and clones of a handle that left.
    fn left_as(&self, strong: bool) -> Self {
        let mut w = Self::bare(self.shared.clone(), strong, true);
        w.closed = self.closed;
        w
    }

    /// The error of every call on a handle that has left the channel.
    #[cold]
    fn left_error(&self) -> ChannelError {
        // Termination wins: after `terminate()` every write fails with `Terminated`, whether or
        // not this handle was closed too.
        if self.closed && !self.shared.is_terminated() {
            ChannelError::Closed
        } else {
            ChannelError::Terminated
        }
    }

    /// The error of an empty write, if any: the handle left, or the channel is terminated.
    fn empty_write_error(&self) -> Option<ChannelError> {
        if self.terminated {
            Some(self.left_error())
        } else if self.shared.is_terminated() {
            Some(ChannelError::Terminated)
        } else {
            None
        }
    }

    /// Aborts the reservation of a grant that was leaked instead of committed or dropped.
    #[cold]
    fn abort_leaked_grant(&mut self) {
        if let Some(res) = self.open_grant.take() {
            self.finish(res, None);
        }
    }

    fn id(&self) -> Option<u16> {
        self.slot.or(self.last_slot).map(|s| (s + 1) as u16)
    }

    /// One attempt: `Ok(Some)` reserved, `Ok(None)` must wait (Park), `Err` refused.
    #[inline(always)]
    fn try_reserve(&mut self, len: usize) -> Result<Option<Reservation>, ChannelError> {
        self.try_reserve_from(len, None)
    }

    /// As `try_reserve`; `first`: the refusal of an attempt `try_write_now` just made in the
    /// same state, taken as this call's attempt instead of making another.
    #[inline(always)]
    fn try_reserve_from(
        &mut self,
        len: usize,
        mut first: Option<NoRoom>,
    ) -> Result<Option<Reservation>, ChannelError> {
        if self.open_grant.is_some() {
            self.abort_leaked_grant();
        }
        if self.terminated {
            return Err(self.left_error());
        }
        let max = self.shared.max_frame_len();
        if len > max {
            return self.refuse(ChannelError::FrameTooLarge { len, max });
        }
        if let Some(e) = self.shared.write_refusal() {
            // Before any slot or space check: a closed channel says so, never "full".
            return self.refuse(e);
        }
        let slot = match self.slot {
            Some(s) => s,
            None => match self.shared.claim_writer_slot(self.last_slot) {
                Some(s) => {
                    self.slot = Some(s);
                    self.last_slot = Some(s);
                    s
                }
                None => return self.no_room(NoRoom::NoSlot),
            },
        };
        if self.claim != 0 && !self.shared.holds_priority(self.claim) {
            // Taken over while this writer did not come: it asks again if it waits again.
            self.claim = 0;
        }
        loop {
            let attempt = match first.take() {
                Some(refused) => Err(refused),
                None => self.shared.try_reserve(slot, len, self.claim),
            };
            match attempt {
                Ok(res) => {
                    self.yields = 0;
                    self.deferred = false;
                    if self.claim != 0 {
                        self.give_up_priority();
                    }
                    return Ok(Some(res));
                }
                Err(NoRoom::Priority(seen)) => {
                    self.yields += 1;
                    if self.yields < PRIORITY_PATIENCE {
                        return self.no_room(NoRoom::Priority(seen));
                    }
                    // The holder had room for its frame through all these refusals and did
                    // not come: take its priority over and try again.
                    self.yields = 0;
                    self.shared.revoke_priority(seen);
                }
                Err(e) => return self.no_room(e),
            }
        }
    }

    /// Refuses the frame; a wait this writer was in (its admission priority and the slot a weak
    /// holder keeps) ends with it.
    #[cold]
    fn refuse(&mut self, e: ChannelError) -> Result<Option<Reservation>, ChannelError> {
        self.cancel_wait();
        Err(e)
    }

    fn no_room(&mut self, why: NoRoom) -> Result<Option<Reservation>, ChannelError> {
        let drop_mode = self.shared.backpressure == Backpressure::Drop;
        // A weak writer holds nothing while it is not writing a frame, waiting included.
        self.release_weak_slot();
        self.waiting_for_slot = why == NoRoom::NoSlot;
        match why {
            NoRoom::Closed(e) => {
                if self.claim != 0 {
                    self.give_up_priority();
                }
                Err(e)
            }
            NoRoom::Full | NoRoom::NoSlot | NoRoom::Priority(_) if drop_mode => {
                self.shared.count_dropped();
                Err(ChannelError::Full)
            }
            NoRoom::Full => {
                self.yields = 0;
                Ok(None)
            }
            // A holder that waits for a slot keeps its claim: writers that leave room for it
            // and find its frame would fit take it over after a bounded number of refusals.
            NoRoom::Priority(_) | NoRoom::NoSlot => Ok(None),
        }
    }

    /// A wait was given up (its future dropped before it completed): give back the admission
    /// priority, if this writer holds it, so other writers stop leaving room for it.
    fn cancel_wait(&mut self) {
        self.yields = 0;
        self.deferred = false;
        if self.claim != 0 {
            self.give_up_priority();
        }
        // No longer waiting: not a sleeper any more either.
        self.shared
            .wake_writer_done(self.sleep_slot, &mut self.sleeping);
    }

    /// Gives the admission priority back (admitted, refused, or gone) and wakes the writers
    /// that left room for this one.
    #[cold]
    fn give_up_priority(&mut self) {
        self.shared
            .release_priority(core::mem::take(&mut self.claim));
    }

    #[inline]
    fn release_weak_slot(&mut self) {
        if self.strong {
            return;
        }
        if let Some(s) = self.slot.take() {
            self.shared.release_writer_slot(s);
        }
    }

    #[inline(always)]
    fn poll_reserve(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<Reservation, ChannelError>> {
        self.poll_reserve_from(cx, len, None)
    }

    /// As `poll_reserve`; `first` as in `try_reserve_from`.
    #[inline(always)]
    fn poll_reserve_from(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        first: Option<NoRoom>,
    ) -> Poll<Result<Reservation, ChannelError>> {
        if let Some(r) = self.try_reserve_from(len, first).transpose() {
            self.shared
                .wake_writer_done(self.sleep_slot, &mut self.sleeping);
            return Poll::Ready(r);
        }
        self.poll_reserve_wait(cx, len)
    }

    /// `poll_reserve` when the first attempt must wait: register, announce the sleep, retry.
    #[cold]
    #[inline(never)]
    fn poll_reserve_wait(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<Reservation, ChannelError>> {
        // A writer that waits for space (not for a slot) asks for admission priority, so that
        // smaller frames arriving meanwhile cannot keep taking the room it needs. (`try_*`
        // calls, which never wait, do not ask.) A writer that held the priority last defers
        // once to other waiting writers, so that two writers of full-size frames take turns.
        if self.claim == 0 && !self.waiting_for_slot && self.yields == 0 {
            let defer = !self.deferred && self.shared.other_writers_wait(self.sleeping);
            match self.shared.claim_priority(len, self.token, defer) {
                Claimed::Yes(claim) => {
                    self.claim = claim;
                    self.deferred = false;
                }
                Claimed::Deferred => self.deferred = true,
                Claimed::No => {}
            }
        }
        // A strong writer waits on its slot's waker; a weak writer (which holds no slot while
        // waiting) on the shared waiter list. Both count as sleeping writers.
        match self.slot {
            Some(s) => self.shared.writers[s].waker.register(cx.waker()),
            None => self
                .shared
                .wait_without_slot(cx.waker(), self.waiting_for_slot),
        }
        if !self.sleeping {
            self.sleep_slot = self.slot;
        }
        self.shared
            .sleep_writer(self.sleep_slot, &mut self.sleeping);
        match self.try_reserve(len).transpose() {
            Some(r) => {
                self.shared
                    .wake_writer_done(self.sleep_slot, &mut self.sleeping);
                Poll::Ready(r)
            }
            None => {
                if self.yields > 0 {
                    // Refused only for the room of a priority holder that could come now: it
                    // was woken; yield to it (be polled again soon) rather than sleep, so that
                    // a holder that never comes is taken over (`Shared::revoke_priority`).
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }

    #[inline]
    fn grant(&mut self, res: Reservation) -> WriteGrant<'_> {
        let words = self.shared.word_writer(&res);
        self.open_grant = Some(res);
        WriteGrant {
            writer: self,
            res,
            words,
            written: 0,
            finished: false,
        }
    }

    /// Ends a reservation: commit with the writer id, or abort.
    #[inline(always)]
    fn finish(&mut self, res: Reservation, committed: Option<usize>) {
        self.open_grant = None;
        let slot = self.slot.expect("a reservation holds a slot");
        let id = self.id().expect("a reservation holds a slot");
        match committed {
            Some(n) if n > 0 => self.shared.finish(slot, res, Some(id), n),
            _ => self.shared.finish(slot, res, None, 0),
        }
        self.release_weak_slot();
    }

    #[inline(always)]
    fn write_now(&mut self, res: Reservation, buf: &[u8]) -> usize {
        // What a grant's `put` of `buf` and `commit` do, without the grant's bookkeeping.
        self.shared.write_payload(&res, buf);
        self.finish(res, Some(buf.len()));
        buf.len()
    }

    /// The write of a frame by a writer in no state but "holds a slot": no open grant, no
    /// admission priority, not asleep, not left. One reservation attempt; on success the
    /// frame is written and committed and its length returned. `Err` hands the frame to the
    /// general path with the attempt's refusal, if it made one (`None` when the writer is in
    /// some other state); the general path takes that refusal as its own first attempt, so a
    /// writer that must wait or refuse makes no extra attempt.
    ///
    /// This is the frame's hot path: the reservation stays in registers from the CAS to the
    /// commit. Through the general path it travels as a `Result<Option<Reservation>>` and back,
    /// which the compiler spilled and reloaded with wider loads than the stores before them;
    /// those store-forwarding stalls held about 30 % of `poll_write`'s samples at 64 bytes
    /// (`docs/design.md`, "Hot path: locks and allocation").
    #[inline(always)]
    fn try_write_now(&mut self, buf: &[u8]) -> Result<usize, Option<NoRoom>> {
        let Some(slot) = self.slot else {
            return Err(None);
        };
        if self.open_grant.is_some() || self.terminated || self.claim != 0 || self.sleeping {
            return Err(None);
        }
        let n = buf.len().min(self.shared.max_frame_len());
        if self.shared.write_refusal().is_some() {
            return Err(None);
        }
        match self.shared.try_reserve(slot, n, 0) {
            Ok(res) => {
                self.yields = 0;
                self.deferred = false;
                Ok(self.write_now(res, &buf[..n]))
            }
            Err(refused) => Err(Some(refused)),
        }
    }

    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ChannelError>> {
        if buf.is_empty() {
            return Poll::Ready(self.empty_write_error().map_or(Ok(0), Err));
        }
        let first = match self.try_write_now(buf) {
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(first) => first,
        };
        let n = buf.len().min(self.shared.max_frame_len());
        match self.poll_reserve_from(cx, n, first) {
            Poll::Ready(Ok(res)) => Poll::Ready(Ok(self.write_now(res, &buf[..n]))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn try_write(&mut self, buf: &[u8]) -> Result<Option<usize>, ChannelError> {
        if buf.is_empty() {
            return self.empty_write_error().map_or(Ok(Some(0)), Err);
        }
        let first = match self.try_write_now(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(first) => first,
        };
        let n = buf.len().min(self.shared.max_frame_len());
        Ok(self
            .try_reserve_from(n, first)?
            .map(|res| self.write_now(res, &buf[..n])))
    }

    fn terminate(&mut self) {
        if !self.terminated {
            self.terminated = true;
            self.leave();
        }
    }

    /// Leaves the channel as `Drop` does, and marks the handle closed. A handle that has
    /// already left stays as it is.
    fn close(&mut self) {
        if !self.terminated {
            self.closed = true;
            self.terminate();
        }
    }

    fn is_terminated(&self) -> bool {
        (self.terminated && !self.closed) || self.shared.is_terminated()
    }

    /// Aborts a leaked grant's frame, gives back the priority, the slot and the writer count
    /// (once).
    fn leave(&mut self) {
        self.abort_leaked_grant();
        if self.claim != 0 {
            self.give_up_priority();
        }
        self.shared
            .wake_writer_done(self.sleep_slot, &mut self.sleeping);
        if let Some(s) = self.slot.take() {
            self.shared.release_writer_slot(s);
        }
        self.shared.remove_writer(self.strong);
    }
}

impl Drop for WriterCore {
    fn drop(&mut self) {
        if !self.terminated {
            self.terminated = true;
            self.leave();
        }
    }
}

/// A reserved frame being filled: [`put`](WriteGrant::put) bytes, then
/// [`commit`](WriteGrant::commit). Dropping it (or [`abort`](WriteGrant::abort)) aborts the
/// frame: readers skip it and nothing of it is ever delivered.
///
/// The grant copies into the ring with word-sized atomic stores instead of lending a `&mut
/// [u8]`, because a weak reader may be reading the same bytes of an older lap at that moment
/// (see `docs/design.md`).
///
/// With `std` the grant is a [`std::io::Write`]: `write` is [`put`](WriteGrant::put), so a full
/// grant takes 0 bytes and `write_all` (or `write!`) past its capacity fails with
/// `ErrorKind::WriteZero`; `flush` does nothing (readers see the frame when it is committed).
///
/// ```
/// use std::io::Write;
/// # futures::executor::block_on(async {
/// let chan = bytecast::Channel::new(256);
/// let mut writer = chan.new_strong_writer();
/// let mut reader = chan.new_strong_reader();
/// let mut grant = writer.reserve(16).await.unwrap();
/// write!(grant, "{}-{}", 7, "up").unwrap();
/// grant.commit();
/// assert_eq!(reader.read_frame(64).await.unwrap().1, b"7-up");
/// # });
/// ```
#[must_use = "a grant that is dropped aborts its frame"]
pub struct WriteGrant<'a> {
    writer: &'a mut WriterCore,
    res: Reservation,
    words: WordWriter,
    written: usize,
    finished: bool,
}

impl fmt::Debug for WriteGrant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteGrant")
            .field("capacity", &self.res.len)
            .field("written", &self.written)
            .finish()
    }
}

impl WriteGrant<'_> {
    /// Bytes reserved.
    pub fn capacity(&self) -> usize {
        self.res.len
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.written
    }

    /// `true` if nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Bytes that can still be written.
    pub fn remaining(&self) -> usize {
        self.res.len - self.written
    }

    /// Appends bytes to the frame; returns how many fit (at most [`remaining`](Self::remaining)).
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.remaining());
        self.words.put(&self.writer.shared.ring, &bytes[..n]);
        self.written += n;
        n
    }

    /// Commits the frame with the bytes written so far (possibly fewer than reserved) and
    /// returns its length. Committing an empty grant aborts it (no empty frames) and returns 0.
    #[inline]
    pub fn commit(mut self) -> usize {
        self.finished = true;
        self.words.flush(&self.writer.shared.ring);
        let n = self.written;
        self.writer.finish(self.res, Some(n));
        n
    }

    /// Aborts the frame: readers skip it.
    pub fn abort(self) {
        // Drop does it.
    }
}

impl Drop for WriteGrant<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.finished {
            self.writer.finish(self.res, None);
        }
    }
}

/// `write` is [`WriteGrant::put`]: `Ok(0)` once the grant is full, so `write_all` reports
/// `WriteZero`. `flush` does nothing: readers see the frame when it is committed.
#[cfg(feature = "std")]
impl std::io::Write for WriteGrant<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(self.put(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Future of [`StrongWriter::reserve`] and friends.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Reserve<'a> {
    writer: Option<&'a mut WriterCore>,
    len: usize,
}

impl Drop for Reserve<'_> {
    fn drop(&mut self) {
        // Still waiting (not completed): the wait is given up.
        if let Some(w) = self.writer.take() {
            w.cancel_wait();
        }
    }
}

/// Gives up a copying write's wait when its future is dropped before it completes (completion
/// leaves nothing to give up).
struct WriteWait<'a>(&'a mut WriterCore);

impl Drop for WriteWait<'_> {
    fn drop(&mut self) {
        self.0.cancel_wait();
    }
}

impl WriteWait<'_> {
    async fn write(self, buf: &[u8]) -> Result<usize, ChannelError> {
        core::future::poll_fn(|cx| self.0.poll_write(cx, buf)).await
    }
}

impl<'a> Future for Reserve<'a> {
    type Output = Result<WriteGrant<'a>, ChannelError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let len = self.len;
        // The writer stays in the future while it polls: if the poll unwinds (a waker's `clone`
        // may panic), the future's `Drop` still gives the wait up.
        let w = self
            .writer
            .as_deref_mut()
            .expect("Reserve polled after completion");
        match w.poll_reserve(cx, len) {
            Poll::Ready(r) => {
                let w = self.writer.take().expect("the writer is still here");
                Poll::Ready(r.map(|res| w.grant(res)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

macro_rules! writer_api {
    ($ty:ident) => {
        impl $ty {
            /// Writer id carried by this writer's frames (for a weak writer: of its last frame,
            /// `None` before the first).
            pub fn id(&self) -> Option<u16> {
                self.core.id()
            }

            /// The channel's backpressure policy.
            pub fn backpressure(&self) -> Backpressure {
                self.core.shared.backpressure
            }

            /// Longest frame this writer can write.
            pub fn max_frame_len(&self) -> usize {
                self.core.shared.max_frame_len()
            }

            /// Tries to reserve a frame of `len` bytes without waiting. `Ok(None)` means it
            /// would have to wait (`Park` only).
            ///
            /// # Errors
            /// [`ChannelError::FrameTooLarge`], [`ChannelError::Full`] (`Drop`: the frame is
            /// refused and counted), [`ChannelError::Draining`], [`ChannelError::Terminated`].
            pub fn try_reserve(
                &mut self,
                len: usize,
            ) -> Result<Option<WriteGrant<'_>>, ChannelError> {
                Ok(self.core.try_reserve(len)?.map(|res| self.core.grant(res)))
            }

            /// Polls for a reservation of `len` bytes, registering the task's waker to be woken
            /// when space may have been freed.
            ///
            /// A writer that waits takes the channel's admission priority, so frames arriving
            /// meanwhile leave room for its frame. A caller that gets `Pending` and gives up
            /// should call this writer again or drop it: until then the writer keeps its place
            /// (`docs/design.md`, "Admission priority"). The same holds for
            /// [`poll_write`](Self::poll_write); the `async` forms give it back when dropped.
            ///
            /// # Errors
            /// As [`try_reserve`](Self::try_reserve).
            pub fn poll_reserve(
                &mut self,
                cx: &mut Context<'_>,
                len: usize,
            ) -> Poll<Result<WriteGrant<'_>, ChannelError>> {
                match self.core.poll_reserve(cx, len) {
                    Poll::Ready(Ok(res)) => Poll::Ready(Ok(self.core.grant(res))),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            }

            /// Reserves a frame of `len` bytes, waiting for space under `Park`.
            ///
            /// # Errors
            /// As [`try_reserve`](Self::try_reserve).
            ///
            /// # Cancel safety
            /// Cancel safe: a dropped `Reserve` future holds no space, and gives back the admission
            /// priority it may have taken while waiting (`docs/design.md`, "Admission priority").
            pub fn reserve(&mut self, len: usize) -> Reserve<'_> {
                Reserve {
                    writer: Some(&mut self.core),
                    len,
                }
            }

            /// Writes one frame of up to [`max_frame_len`](Self::max_frame_len) bytes of `buf`
            /// and returns how many it took; `Ok(0)` for an empty `buf` (no frame).
            ///
            /// # Errors
            /// As [`try_reserve`](Self::try_reserve).
            pub fn poll_write(
                &mut self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<Result<usize, ChannelError>> {
                self.core.poll_write(cx, buf)
            }

            /// [`poll_write`](Self::poll_write) without waiting: `Ok(None)` means it would
            /// wait.
            ///
            /// # Errors
            /// As [`try_reserve`](Self::try_reserve).
            pub fn try_write(&mut self, buf: &[u8]) -> Result<Option<usize>, ChannelError> {
                self.core.try_write(buf)
            }

            /// Writes one frame (see [`poll_write`](Self::poll_write)).
            ///
            /// # Errors
            /// As [`try_reserve`](Self::try_reserve).
            ///
            /// # Cancel safety
            /// Cancel safe: if the future is dropped before it completes, nothing was written, and
            /// the admission priority it may have taken while waiting is given back.
            pub async fn write(&mut self, buf: &[u8]) -> Result<usize, ChannelError> {
                WriteWait(&mut self.core).write(buf).await
            }

            /// Writes one frame, parking the thread while it waits.
            ///
            /// # Deadlock
            /// Never call it from inside an async task: it parks the whole thread, so if the
            /// task that would make room (a strong reader's) runs on the same thread, as every
            /// task of a current-thread runtime (e.g. tokio's) does, it never runs and this
            /// call never returns. In async code use [`write`](Self::write)`.await`; from a
            /// runtime's worker, move the call to a thread of its own (e.g. tokio's
            /// `spawn_blocking`). The crate cannot detect this (it knows no runtime): see the
            /// crate docs, "Blocking calls".
            ///
            /// # Errors
            /// As [`try_reserve`](Self::try_reserve).
            #[cfg(feature = "std")]
            pub fn blocking_write(&mut self, buf: &[u8]) -> Result<usize, ChannelError> {
                crate::blocking::block_on(self.write(buf))
            }

            /// Aborts this handle alone: it gives back its slot and every later call fails with
            /// [`ChannelError::Terminated`].
            pub fn terminate(&mut self) {
                self.core.terminate();
            }

            /// `true` once this handle (not by [`close`](Self::close)) or the channel is
            /// terminated.
            pub fn is_terminated(&self) -> bool {
                self.core.is_terminated()
            }

            /// Closes this writer: it leaves the channel now, exactly as if it were dropped.
            /// The frame of a grant that was leaked (`mem::forget`) is aborted, its writer slot
            /// (and id) is freed, and it no longer counts among the channel's writers; every
            /// later write or reserve on it fails with [`ChannelError::Closed`] (`BrokenPipe`
            /// through `bytecast::io`). Frames it committed stay readable.
            ///
            /// Readers reach end of stream when they have read everything and the channel is
            /// draining, or no [`Channel`](crate::Channel) is left and every writer is closed
            /// or dropped: closing counts as dropping there, nothing more. Closing a handle
            /// that already left (closed or terminated) does nothing.
            pub fn close(&mut self) {
                self.core.close();
            }

            /// `true` once [`close`](Self::close) released this writer.
            pub fn is_closed(&self) -> bool {
                self.core.closed
            }
        }
    };
}

/// A writer that holds a writer slot (and its id) for its whole life.
#[derive(Debug)]
pub struct StrongWriter {
    core: WriterCore,
}

/// A writer that holds nothing between frames: it takes a writer slot for each frame (preferring
/// the one it had before, so its id usually stays the same), so an idle weak writer costs
/// nothing and blocks nothing.
#[derive(Debug)]
pub struct WeakWriter {
    core: WriterCore,
}

writer_api!(StrongWriter);
writer_api!(WeakWriter);

impl StrongWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Result<Self, ChannelError> {
        Ok(Self {
            core: WriterCore::new_strong(shared)?,
        })
    }

    /// Turns this writer into a weak writer: its slot is freed now and taken again per frame.
    ///
    /// The weak writer is counted before the strong one leaves, so readers never see a moment
    /// with no writer (which, once every `Channel` is dropped, would be end of stream).
    pub fn downgrade(mut self) -> WeakWriter {
        let shared = self.core.shared.clone();
        let mut weak = WeakWriter {
            core: if self.core.terminated {
                self.core.left_as(false)
            } else {
                // A conversion keeps the handle alive whatever the channel's state.
                shared.add_writer(false);
                WriterCore::bare(shared, false, false)
            },
        };
        weak.core.last_slot = self.core.slot;
        self.core.terminate();
        weak
    }
}

impl WeakWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            core: WriterCore::new_weak(shared),
        }
    }

    /// Turns this writer into a strong writer holding a slot for its life.
    ///
    /// The strong writer is counted before the weak one leaves, so readers never see a moment
    /// with no writer.
    ///
    /// # Errors
    /// [`ChannelError::TooManyWriters`] if no slot is free (the weak writer is given back),
    /// [`ChannelError::Closed`] if this handle is closed, [`ChannelError::Terminated`] if it or
    /// the channel is terminated (if the channel is terminated during the call, the strong
    /// writer is a terminated handle).
    // The error hands the weak writer back, as selium-messaging's `upgrade` does; it is as large
    // as the handle.
    #[allow(clippy::result_large_err)]
    pub fn upgrade(self) -> Result<StrongWriter, (Self, ChannelError)> {
        if self.core.terminated {
            let e = self.core.left_error();
            return Err((self, e));
        }
        if self.core.shared.is_terminated() {
            return Err((self, ChannelError::Terminated));
        }
        // A grant of this writer that was forgotten holds its slot: abort it first, as dropping
        // this weak writer would.
        let mut this = self;
        this.core.abort_leaked_grant();
        this.core.cancel_wait();
        let this = this;
        match StrongWriter::new(this.core.shared.clone()) {
            // `this` drops after the strong writer is counted.
            Ok(s) => Ok(s),
            Err(e) => Err((this, e)),
        }
    }
}

/// A clone is a new weak writer on the same channel, counted among its writers as
/// [`Channel::new_weak_writer`](crate::Channel::new_weak_writer) would count it (it shares no
/// slot or id with this one: it takes its own per frame). A clone of a handle that left
/// (terminated or closed) has left the same way; on a terminated channel the clone is a
/// terminated handle.
impl Clone for WeakWriter {
    fn clone(&self) -> Self {
        Self {
            core: if self.core.terminated {
                self.core.left_as(false)
            } else {
                // This handle is counted, so the count never reads zero on the way: no end of
                // stream can be seen before the clone is counted.
                WriterCore::new_weak(self.core.shared.clone())
            },
        }
    }
}

/// Either kind of writer, as selium-messaging's `Writer`.
#[derive(Debug)]
pub enum Writer {
    /// A [`StrongWriter`].
    Strong(StrongWriter),
    /// A [`WeakWriter`].
    Weak(WeakWriter),
}

impl From<StrongWriter> for Writer {
    fn from(w: StrongWriter) -> Self {
        Self::Strong(w)
    }
}

impl From<WeakWriter> for Writer {
    fn from(w: WeakWriter) -> Self {
        Self::Weak(w)
    }
}

impl Writer {
    fn core(&mut self) -> &mut WriterCore {
        match self {
            Self::Strong(w) => &mut w.core,
            Self::Weak(w) => &mut w.core,
        }
    }

    /// Writer id (see [`StrongWriter::id`]).
    pub fn id(&self) -> Option<u16> {
        match self {
            Self::Strong(w) => w.id(),
            Self::Weak(w) => w.id(),
        }
    }

    /// See [`StrongWriter::poll_write`].
    ///
    /// # Errors
    /// As [`StrongWriter::try_reserve`].
    pub fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ChannelError>> {
        self.core().poll_write(cx, buf)
    }

    /// See [`StrongWriter::try_write`].
    ///
    /// # Errors
    /// As [`StrongWriter::try_reserve`].
    pub fn try_write(&mut self, buf: &[u8]) -> Result<Option<usize>, ChannelError> {
        self.core().try_write(buf)
    }

    /// See [`StrongWriter::write`].
    ///
    /// # Errors
    /// As [`StrongWriter::try_reserve`].
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize, ChannelError> {
        WriteWait(self.core()).write(buf).await
    }

    /// See [`StrongWriter::reserve`].
    pub fn reserve(&mut self, len: usize) -> Reserve<'_> {
        Reserve {
            writer: Some(self.core()),
            len,
        }
    }

    /// See [`StrongWriter::try_reserve`].
    ///
    /// # Errors
    /// As [`StrongWriter::try_reserve`].
    pub fn try_reserve(&mut self, len: usize) -> Result<Option<WriteGrant<'_>>, ChannelError> {
        let core = self.core();
        Ok(core.try_reserve(len)?.map(|res| core.grant(res)))
    }

    /// Aborts this handle alone (see [`StrongWriter::terminate`]).
    pub fn terminate(&mut self) {
        self.core().terminate();
    }

    /// Closes this writer as if it were dropped (see [`StrongWriter::close`]).
    pub fn close(&mut self) {
        self.core().close();
    }

    /// `true` once [`close`](Self::close) released this writer.
    pub fn is_closed(&self) -> bool {
        match self {
            Self::Strong(w) => w.is_closed(),
            Self::Weak(w) => w.is_closed(),
        }
    }

    /// A strong writer becomes weak; a weak writer stays weak.
    pub fn downgrade(self) -> WeakWriter {
        match self {
            Self::Strong(w) => w.downgrade(),
            Self::Weak(w) => w,
        }
    }
}
