//! Single-threaded poll interleavings of several handles, each operation driven through the
//! `poll_*` API with its own counting waker.
//!
//! Every writer and reader may have one operation in flight (a `poll_write`, `poll_reserve`,
//! `poll_read`, `poll_read_frame`, `poll_read_frame_into`, `poll_frame_ready` + borrow, or
//! `poll_fill_buf` + `consume`) that returned `Pending`; the input decides which handle acts next,
//! which operation is re-polled (spuriously or after a wake), which is dropped mid-way (a
//! cancelled future), and when grants, drain, terminate and handle drops happen.
//!
//! Checked after every step:
//! - **no lost wake-up**: every operation that returned `Pending` and was not woken since is
//!   polled again, and must still be `Pending` (if it could make progress, whatever made that
//!   possible had to wake it);
//! - frames are never torn: every frame carries its writer, sequence number and length and a
//!   pattern derived from them, re-assembled across byte reads, frame reads, borrows and
//!   `fill_buf`/`consume`; a strong reader sees every frame of a writer once it has seen one of
//!   them (consecutive sequence numbers), a weak reader sees them in order;
//! - only documented errors come back.
//!
//! At the end (**no hang, health**): every handle and operation is dropped, then a fresh strong
//! writer must fill the whole ring and a fresh strong reader read it all back (nothing leaked a
//! reservation or a slot); finally `terminate()` must wake every operation still parked.

use arbitrary::{Arbitrary, Unstructured};
use bytecast::{
    Backpressure, Channel, ChannelError, Config, StartAt, StrongReader, StrongWriter, WeakReader,
    WeakWriter, WriteGrant,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

// ---------------------------------------------------------------------------------------------
// Counting wakers.

/// Counts its wake-ups.
#[derive(Debug, Default)]
pub struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl Counter {
    /// Wake-ups so far.
    pub fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A counting waker and its counter.
pub fn counting_waker() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), Waker::from(c))
}

// ---------------------------------------------------------------------------------------------
// Self-describing frames.

/// Frame of `len >= 8` bytes: writer uid (u16), sequence number (u32), length (u16), then a
/// pattern derived from the three.
pub fn encode(uid: u16, seq: u32, len: usize) -> Vec<u8> {
    assert!((8..=u16::MAX as usize).contains(&len));
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&uid.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&(len as u16).to_le_bytes());
    v.extend((8..len).map(|i| pattern(uid, seq, i)));
    v
}

fn pattern(uid: u16, seq: u32, i: usize) -> u8 {
    (uid as usize)
        .wrapping_mul(7)
        .wrapping_add((seq as usize).wrapping_mul(13))
        .wrapping_add(i.wrapping_mul(3)) as u8
}

/// Decodes and verifies a whole frame: `(uid, seq)`.
fn verify(f: &[u8]) -> (u16, u32) {
    assert!(f.len() >= 8, "frame of {} bytes: torn or foreign", f.len());
    let uid = u16::from_le_bytes([f[0], f[1]]);
    let seq = u32::from_le_bytes([f[2], f[3], f[4], f[5]]);
    let len = u16::from_le_bytes([f[6], f[7]]) as usize;
    assert_eq!(len, f.len(), "frame length field disagrees: torn frame");
    for (i, &b) in f.iter().enumerate().skip(8) {
        assert_eq!(
            b,
            pattern(uid, seq, i),
            "torn frame: byte {i} of {uid}/{seq}"
        );
    }
    (uid, seq)
}

/// Re-assembles a reader's frames from whatever pieces its reads return (reads never cross a
/// frame boundary) and checks them.
#[derive(Debug, Default)]
struct Checker {
    strong: bool,
    cur: Vec<u8>,
    last: HashMap<u16, u32>,
    eof: bool,
    frames: u64,
}

impl Checker {
    fn new(strong: bool) -> Self {
        Self {
            strong,
            ..Self::default()
        }
    }

    /// Bytes of the current frame.
    fn feed(&mut self, bytes: &[u8]) {
        assert!(!self.eof, "data after end of stream");
        // A byte read is a pipe: it may end inside a frame or run on into the next ones, so
        // every whole frame collected so far is checked (a torn frame fails `verify`).
        self.cur.extend_from_slice(bytes);
        while self.cur.len() >= 8 {
            let len = u16::from_le_bytes([self.cur[6], self.cur[7]]) as usize;
            assert!(len >= 8, "a frame shorter than its own header: torn");
            if self.cur.len() < len {
                break;
            }
            let f: Vec<u8> = self.cur.drain(..len).collect();
            self.whole(&f);
        }
    }

    /// The rest of the current frame, as a frame read returns it.
    fn feed_rest(&mut self, bytes: &[u8]) {
        self.feed(bytes);
        assert!(
            self.cur.is_empty(),
            "a frame read returned less than the rest of the frame"
        );
    }

    fn whole(&mut self, f: &[u8]) {
        let (uid, seq) = verify(f);
        if let Some(&last) = self.last.get(&uid) {
            if self.strong {
                assert_eq!(
                    seq,
                    last + 1,
                    "strong reader lost or reordered a frame of {uid}"
                );
            } else {
                assert!(
                    seq > last,
                    "weak reader got a frame of {uid} twice or out of order"
                );
            }
        }
        self.last.insert(uid, seq);
        self.frames += 1;
    }

    /// The reader skipped `n` bytes: the rest of the current frame.
    fn skipped(&mut self, n: usize) {
        if self.cur.len() >= 8 {
            let len = u16::from_le_bytes([self.cur[6], self.cur[7]]) as usize;
            assert_eq!(
                self.cur.len() + n,
                len,
                "skip did not skip the rest of the frame"
            );
        }
        self.cur.clear();
        // The skipped frame's writer is unknown: gaps are fine from now on.
        self.last.clear();
    }

    /// A weak reader was lapped: what it had of the current frame is gone.
    fn lapped(&mut self) {
        assert!(!self.strong, "a strong reader was lapped");
        self.cur.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Steps.

/// What a writer starts.
#[derive(Debug, Clone, Copy)]
pub enum WOp {
    /// `poll_write` of a frame of `len` bytes.
    Write { len: usize },
    /// `poll_reserve(len)`, then put a frame of `put` bytes (0: nothing) and commit or abort.
    Reserve {
        len: usize,
        put: usize,
        commit: bool,
    },
}

/// What a reader starts.
#[derive(Debug, Clone, Copy)]
pub enum ROp {
    Read {
        n: usize,
    },
    ReadFrame {
        max: usize,
    },
    ReadFrameInto {
        max: usize,
    },
    /// `poll_frame_ready` + `try_borrow_frame` (strong readers; weak: `ReadFrame`).
    Borrow,
    /// `poll_fill_buf` + `consume(k % (len + 1))` (strong readers; weak: `Read`).
    FillBuf {
        consume: usize,
    },
    Skip,
}

/// One step of an interleaving.
#[derive(Debug, Clone)]
pub enum Step {
    NewWriter {
        strong: bool,
    },
    NewReader {
        strong: bool,
        tail: bool,
    },
    DropWriter(usize),
    DropReader(usize),
    TerminateWriter(usize),
    TerminateReader(usize),
    DowngradeWriter(usize),
    DowngradeReader(usize),
    StartW(usize, WOp),
    StartR(usize, ROp),
    /// Re-polls writer `i`'s operation, woken or not.
    PollW(usize),
    PollR(usize),
    /// Polls every operation that was woken (an executor's turn).
    PollWoken,
    /// Drops writer `i`'s operation (a cancelled future).
    CancelW(usize),
    CancelR(usize),
    /// Writer `w` holds a grant of `len` bytes while `inner` runs, then commits `put` bytes or
    /// aborts.
    Hold {
        w: usize,
        len: usize,
        put: usize,
        commit: bool,
        inner: Vec<Step>,
    },
    Drain,
    Terminate,
    DropChannel,
}

/// A case: channel parameters and steps.
#[derive(Debug, Clone)]
pub struct Case {
    pub capacity: usize,
    pub drop_mode: bool,
    pub max_writers: usize,
    pub steps: Vec<Step>,
}

fn small(u: &mut Unstructured<'_>) -> arbitrary::Result<usize> {
    Ok(u.arbitrary::<u8>()? as usize)
}

fn wop(u: &mut Unstructured<'_>) -> arbitrary::Result<WOp> {
    Ok(if u.arbitrary()? {
        WOp::Write { len: small(u)? }
    } else {
        WOp::Reserve {
            len: small(u)?,
            put: small(u)?,
            commit: u.ratio(3, 4)?,
        }
    })
}

fn rop(u: &mut Unstructured<'_>) -> arbitrary::Result<ROp> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => ROp::Read { n: small(u)? % 40 },
        1 => ROp::ReadFrame { max: small(u)? },
        2 => ROp::ReadFrameInto { max: small(u)? },
        3 => ROp::Borrow,
        4 => ROp::FillBuf { consume: small(u)? },
        _ => ROp::Skip,
    })
}

fn step(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Step> {
    Ok(match u.int_in_range(0..=19u8)? {
        0 => Step::NewWriter {
            strong: u.arbitrary()?,
        },
        1 => Step::NewReader {
            strong: u.arbitrary()?,
            tail: u.ratio(1, 4)?,
        },
        2 => Step::DropWriter(small(u)?),
        3 => Step::DropReader(small(u)?),
        4 => Step::TerminateWriter(small(u)?),
        5 => Step::TerminateReader(small(u)?),
        6 => Step::DowngradeWriter(small(u)?),
        7 => Step::DowngradeReader(small(u)?),
        8 | 9 => Step::StartW(small(u)?, wop(u)?),
        10 | 11 => Step::StartR(small(u)?, rop(u)?),
        12 => Step::PollW(small(u)?),
        13 => Step::PollR(small(u)?),
        14 | 15 => Step::PollWoken,
        16 => Step::CancelW(small(u)?),
        17 => Step::CancelR(small(u)?),
        18 if depth == 0 => {
            let (w, len, put) = (small(u)?, small(u)?, small(u)?);
            let commit = u.ratio(3, 4)?;
            let n = u.int_in_range(0..=8)?;
            let inner = (0..n)
                .map(|_| step(u, 1))
                .collect::<arbitrary::Result<_>>()?;
            Step::Hold {
                w,
                len,
                put,
                commit,
                inner,
            }
        }
        _ => match u.int_in_range(0..=9u8)? {
            0 => Step::Drain,
            1 => Step::Terminate,
            2 => Step::DropChannel,
            _ => Step::PollWoken,
        },
    })
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let capacity = 64 << u.int_in_range(0..=3)?;
        let drop_mode = u.ratio(1, 4)?;
        let max_writers = u.int_in_range(1..=4)?;
        let mut steps = Vec::new();
        while !u.is_empty() && steps.len() < 300 {
            steps.push(step(u, 0)?);
        }
        Ok(Self {
            capacity,
            drop_mode,
            max_writers,
            steps,
        })
    }
}

/// Finding R1 (`docs/reliability.md`): a weak writer waiting for space used to wake its own
/// waker in every `Pending` poll. Fixed in the core; kept as a switch (off) so that the harness
/// checks it like every other spurious wake-up.
pub const TOLERATE_WEAK_WRITER_SELF_WAKE: bool = false;

/// Polls in a row in which a writer may wake itself while returning `Pending`: a writer refused
/// only for the room of the admission priority's holder, while the holder's frame fits, yields
/// (wakes itself) instead of sleeping, and takes the priority over after the core's
/// `PRIORITY_PATIENCE` (64) such refusals, at most two per poll (`docs/design.md`, "Admission
/// priority"). More self-waking polls in a row than that is a busy loop.
const MAX_YIELDING_POLLS: u32 = 64;

// ---------------------------------------------------------------------------------------------
// Handles with their operation in flight.

enum W {
    Strong(StrongWriter),
    Weak(WeakWriter),
}

impl W {
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ChannelError>> {
        match self {
            Self::Strong(w) => w.poll_write(cx, buf),
            Self::Weak(w) => w.poll_write(cx, buf),
        }
    }
    fn poll_reserve(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<WriteGrant<'_>, ChannelError>> {
        match self {
            Self::Strong(w) => w.poll_reserve(cx, len),
            Self::Weak(w) => w.poll_reserve(cx, len),
        }
    }
    fn try_reserve(&mut self, len: usize) -> Result<Option<WriteGrant<'_>>, ChannelError> {
        match self {
            Self::Strong(w) => w.try_reserve(len),
            Self::Weak(w) => w.try_reserve(len),
        }
    }
    fn terminate(&mut self) {
        match self {
            Self::Strong(w) => w.terminate(),
            Self::Weak(w) => w.terminate(),
        }
    }
}

enum R {
    Strong(StrongReader),
    Weak(WeakReader),
}

/// An operation that returned `Pending`, with its waker and the wake count at that moment.
struct InFlight<Op> {
    op: Op,
    counter: Arc<Counter>,
    waker: Waker,
    seen: usize,
    /// Polls in a row that returned `Pending` with a wake of its own (writers yielding to the
    /// admission priority's holder).
    yields: u32,
}

impl<Op: Copy> InFlight<Op> {
    fn new(op: Op) -> Self {
        let (counter, waker) = counting_waker();
        Self {
            op,
            counter,
            waker,
            seen: 0,
            yields: 0,
        }
    }
    fn woken(&self) -> bool {
        self.counter.count() > self.seen
    }
}

struct WSlot {
    w: W,
    uid: u16,
    seq: u32,
    op: Option<InFlight<WOp>>,
}

struct RSlot {
    r: R,
    check: Checker,
    op: Option<InFlight<ROp>>,
}

/// Errors a write may legitimately end with.
fn write_error_ok(e: &ChannelError, drop_mode: bool) -> bool {
    match e {
        ChannelError::Full => drop_mode,
        ChannelError::Draining | ChannelError::Terminated => true,
        _ => false,
    }
}

struct Harness {
    chan: Option<Arc<Channel>>,
    drop_mode: bool,
    max_frame: usize,
    writers: Vec<WSlot>,
    readers: Vec<RSlot>,
    next_uid: u16,
    /// The steps run so far, for failure messages.
    trace: Vec<String>,
}

impl Harness {
    fn new(case: &Case) -> Self {
        let bp = if case.drop_mode {
            Backpressure::Drop
        } else {
            Backpressure::Park
        };
        let chan = Channel::try_with_config(
            Config::new(case.capacity)
                .backpressure(bp)
                .max_writers(case.max_writers)
                .max_readers(6),
        )
        .expect("valid configuration");
        Self {
            max_frame: chan.max_frame_len(),
            chan: Some(chan),
            drop_mode: case.drop_mode,
            writers: Vec::new(),
            readers: Vec::new(),
            next_uid: 1,
            trace: Vec::new(),
        }
    }

    /// Frame length for a requested `len`: between 8 and `max_frame`.
    fn flen(&self, len: usize) -> usize {
        8 + len % (self.max_frame - 7)
    }

    /// Polls writer `i`'s operation once. `true` if it completed.
    fn poll_writer(&mut self, i: usize) -> bool {
        let drop_mode = self.drop_mode;
        let max_frame = self.max_frame;
        let s = &mut self.writers[i];
        let Some(f) = &mut s.op else { return true };
        let mut cx = Context::from_waker(&f.waker);
        // A wake during the poll counts (the Future contract: the task is polled again).
        let before = f.counter.count();
        let weak = matches!(s.w, W::Weak(_));
        let done = match f.op {
            WOp::Write { len } => {
                let buf = encode(s.uid, s.seq, len);
                match s.w.poll_write(&mut cx, &buf) {
                    Poll::Pending => false,
                    Poll::Ready(Ok(n)) => {
                        assert_eq!(n, buf.len(), "a frame of at most max_frame_len was cut");
                        s.seq += 1;
                        true
                    }
                    Poll::Ready(Err(e)) => {
                        assert!(write_error_ok(&e, drop_mode), "poll_write: {e:?}");
                        true
                    }
                }
            }
            WOp::Reserve { len, put, commit } => match s.w.poll_reserve(&mut cx, len) {
                Poll::Pending => false,
                Poll::Ready(Ok(mut g)) => {
                    assert_eq!(g.capacity(), len);
                    let put = if put < 8 {
                        0
                    } else {
                        8 + put % (len.min(max_frame) - 7)
                    };
                    if put > 0 {
                        let buf = encode(s.uid, s.seq, put.min(len));
                        assert_eq!(g.put(&buf), buf.len());
                    }
                    if commit && put > 0 {
                        assert_eq!(g.commit(), put.min(len));
                        s.seq += 1;
                    } else if commit {
                        assert_eq!(g.commit(), 0, "an empty commit is an abort");
                    } else {
                        g.abort();
                    }
                    true
                }
                Poll::Ready(Err(e)) => {
                    assert!(write_error_ok(&e, drop_mode), "poll_reserve: {e:?}");
                    true
                }
            },
        };
        let mut self_wake = None;
        if done {
            s.op = None;
        } else {
            f.seen = before;
            if f.counter.count() > before && !(weak && TOLERATE_WEAK_WRITER_SELF_WAKE) {
                f.yields += 1;
                if f.yields > MAX_YIELDING_POLLS {
                    self_wake = Some(f.op);
                }
            } else {
                f.yields = 0;
            }
        }
        if let Some(op) = self_wake {
            panic!(
                "writer {i}'s {op:?} woke itself while returning Pending: a busy loop\n{}",
                self.ctx()
            );
        }
        done
    }

    /// Polls reader `i`'s operation once. `true` if it completed.
    fn poll_reader(&mut self, i: usize) -> bool {
        let s = &mut self.readers[i];
        let Some(f) = &mut s.op else { return true };
        let mut cx = Context::from_waker(&f.waker);
        let before = f.counter.count();
        let strong = matches!(s.r, R::Strong(_));
        let check = &mut s.check;
        // Weak readers have no borrow or fill_buf: they read a frame or bytes instead.
        let op = match (f.op, &s.r) {
            (ROp::Borrow, R::Weak(_)) => ROp::ReadFrame { max: usize::MAX },
            (ROp::FillBuf { consume }, R::Weak(_)) => ROp::Read { n: consume % 40 },
            (op, _) => op,
        };
        let res: Poll<Result<(), ChannelError>> = match (op, &mut s.r) {
            (ROp::Read { n }, r) => {
                let mut buf = vec![0u8; n];
                let p = match r {
                    R::Strong(r) => r.poll_read(&mut cx, &mut buf),
                    R::Weak(r) => r.poll_read(&mut cx, &mut buf),
                };
                p.map(|res| {
                    res.map(|k| {
                        assert!(k > 0 || n == 0, "a read into {n} bytes returned none");
                        check.feed(&buf[..k]);
                    })
                })
            }
            (ROp::ReadFrame { max }, r) => {
                let p = match r {
                    R::Strong(r) => r.poll_read_frame(&mut cx, max),
                    R::Weak(r) => r.poll_read_frame(&mut cx, max),
                };
                p.map(|res| res.map(|(_, v)| check.feed_rest(&v)))
            }
            (ROp::ReadFrameInto { max }, r) => {
                let mut buf = vec![0u8; max];
                let p = match r {
                    R::Strong(r) => r.poll_read_frame_into(&mut cx, &mut buf),
                    R::Weak(r) => r.poll_read_frame_into(&mut cx, &mut buf),
                };
                p.map(|res| res.map(|(_, k)| check.feed_rest(&buf[..k])))
            }
            (ROp::Borrow, R::Weak(_)) | (ROp::FillBuf { .. }, R::Weak(_)) => unreachable!(),
            (ROp::Borrow, R::Strong(r)) => r.poll_frame_ready(&mut cx).map(|res| {
                res.map(|()| {
                    let f = r
                        .try_borrow_frame()
                        .expect("a ready frame can be borrowed")
                        .expect("a ready frame is there");
                    check.feed_rest(f.bytes());
                })
            }),
            (ROp::FillBuf { consume }, R::Strong(r)) => match r.poll_fill_buf(&mut cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Ready(Ok([])) => {
                    check.eof = true;
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Ok(b)) => {
                    let k = consume % (b.len() + 1);
                    let got = b[..k].to_vec();
                    r.consume(k);
                    check.feed(&got);
                    Poll::Ready(Ok(()))
                }
            },
            (ROp::Skip, r) => {
                // `try_skip_frame` has no poll form: it completes at once.
                let res = match r {
                    R::Strong(r) => r.try_skip_frame(),
                    R::Weak(r) => r.try_skip_frame(),
                };
                Poll::Ready(match res {
                    Ok(Some(n)) => {
                        check.skipped(n);
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                })
            }
        };
        let done = match res {
            Poll::Pending => false,
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(e)) => {
                match e {
                    ChannelError::ReaderBehind(_) if !strong => check.lapped(),
                    ChannelError::FrameTooLong { len, limit } => assert!(len > limit),
                    ChannelError::EndOfStream => check.eof = true,
                    ChannelError::Terminated => {}
                    e => panic!("read: unexpected {e:?} (strong: {strong})"),
                }
                true
            }
        };
        let mut self_wake = None;
        if done {
            s.op = None;
        } else {
            f.seen = before;
            if f.counter.count() > before {
                self_wake = Some(f.op);
            }
        }
        if let Some(op) = self_wake {
            panic!(
                "reader {i}'s {op:?} woke itself while returning Pending: a busy loop\n{}",
                self.ctx()
            );
        }
        done
    }

    /// Every parked operation that was not woken must still be parked.
    fn check_no_lost_wakeup(&mut self, what: &str) {
        for i in 0..self.writers.len() {
            if self.writers[i].op.as_ref().is_some_and(|f| !f.woken()) {
                let op = self.writers[i].op.as_ref().map(|f| f.op);
                assert!(
                    !self.poll_writer(i),
                    "lost wake-up: writer {i}'s {op:?} was parked, not woken, and is now ready \
                     (after {what})\n{}",
                    self.ctx()
                );
            }
        }
        for i in 0..self.readers.len() {
            if self.readers[i].op.as_ref().is_some_and(|f| !f.woken()) {
                let op = self.readers[i].op.as_ref().map(|f| f.op);
                assert!(
                    !self.poll_reader(i),
                    "lost wake-up: reader {i}'s {op:?} was parked, not woken, and is now ready \
                     (after {what})\n{}",
                    self.ctx()
                );
            }
        }
    }

    fn poll_woken(&mut self) {
        for i in 0..self.writers.len() {
            if self.writers[i].op.as_ref().is_some_and(InFlight::woken) {
                self.poll_writer(i);
            }
        }
        for i in 0..self.readers.len() {
            if self.readers[i].op.as_ref().is_some_and(InFlight::woken) {
                self.poll_reader(i);
            }
        }
    }

    fn add_writer(&mut self, w: W) {
        let uid = self.next_uid;
        self.next_uid = self.next_uid.wrapping_add(1).max(1);
        self.writers.push(WSlot {
            w,
            uid,
            seq: 0,
            op: None,
        });
    }

    fn ctx(&self) -> String {
        let from = self.trace.len().saturating_sub(40);
        let stats = self.chan.as_ref().map(|c| c.stats());
        format!(
            "steps (last {}):\n  {}\nstats: {stats:?}",
            self.trace.len() - from,
            self.trace[from..].join("\n  ")
        )
    }

    fn run(&mut self, step: &Step) {
        let line = match step {
            Step::Hold {
                w,
                len,
                put,
                commit,
                inner,
            } => {
                format!(
                    "Hold {{ w: {w}, len: {len}, put: {put}, commit: {commit}, inner: {} }}",
                    inner.len()
                )
            }
            s => format!("{s:?}"),
        };
        self.trace.push(format!(
            "{line}  [writers {}, readers {}]",
            self.writers.len(),
            self.readers.len()
        ));
        let nw = self.writers.len();
        let nr = self.readers.len();
        match *step {
            Step::NewWriter { strong } => {
                let Some(chan) = &self.chan else { return };
                if strong {
                    match chan.try_new_strong_writer() {
                        Ok(w) => self.add_writer(W::Strong(w)),
                        Err(ChannelError::TooManyWriters { .. } | ChannelError::Terminated) => {}
                        Err(e) => panic!("new strong writer: {e:?}"),
                    }
                } else {
                    let w = chan.new_weak_writer();
                    self.add_writer(W::Weak(w));
                }
            }
            Step::NewReader { strong, tail } => {
                let Some(chan) = &self.chan else { return };
                let start = if tail { StartAt::Tail } else { StartAt::Oldest };
                let r = if strong {
                    chan.try_new_strong_reader(start).map(R::Strong)
                } else {
                    chan.try_new_weak_reader(start).map(R::Weak)
                };
                match r {
                    Ok(r) => self.readers.push(RSlot {
                        r,
                        check: Checker::new(strong),
                        op: None,
                    }),
                    Err(ChannelError::TooManyReaders { .. } | ChannelError::Terminated) => {}
                    Err(e) => panic!("new reader: {e:?}"),
                }
            }
            Step::DropWriter(i) if nw > 0 => {
                self.writers.remove(i % nw);
            }
            Step::DropReader(i) if nr > 0 => {
                self.readers.remove(i % nr);
            }
            Step::TerminateWriter(i) if nw > 0 => {
                // The operation's future would borrow the handle: it is dropped first.
                let s = &mut self.writers[i % nw];
                s.op = None;
                s.w.terminate();
            }
            Step::TerminateReader(i) if nr > 0 => {
                let s = &mut self.readers[i % nr];
                s.op = None;
                match &mut s.r {
                    R::Strong(r) => r.terminate(),
                    R::Weak(r) => r.terminate(),
                }
            }
            Step::DowngradeWriter(i) if nw > 0 => {
                let i = i % nw;
                let s = self.writers.remove(i);
                let w = match s.w {
                    W::Strong(w) => w.downgrade(),
                    W::Weak(w) => w,
                };
                self.writers.insert(
                    i,
                    WSlot {
                        w: W::Weak(w),
                        uid: s.uid,
                        seq: s.seq,
                        op: None,
                    },
                );
            }
            Step::DowngradeReader(i) if nr > 0 => {
                let i = i % nr;
                let s = self.readers.remove(i);
                let r = match s.r {
                    R::Strong(r) => r.downgrade(),
                    R::Weak(r) => r,
                };
                let mut check = s.check;
                check.strong = false;
                self.readers.insert(
                    i,
                    RSlot {
                        r: R::Weak(r),
                        check,
                        op: None,
                    },
                );
            }
            Step::StartW(i, op) if nw > 0 => {
                let i = i % nw;
                if self.writers[i].op.is_some() {
                    self.poll_writer(i);
                    return;
                }
                let op = match op {
                    WOp::Write { len } => WOp::Write {
                        len: self.flen(len),
                    },
                    WOp::Reserve { len, put, commit } => WOp::Reserve {
                        len: self.flen(len),
                        put,
                        commit,
                    },
                };
                self.writers[i].op = Some(InFlight::new(op));
                self.poll_writer(i);
            }
            Step::StartR(i, op) if nr > 0 => {
                let i = i % nr;
                if self.readers[i].op.is_some() {
                    self.poll_reader(i);
                    return;
                }
                self.readers[i].op = Some(InFlight::new(op));
                self.poll_reader(i);
            }
            Step::PollW(i) if nw > 0 => {
                self.poll_writer(i % nw);
            }
            Step::PollR(i) if nr > 0 => {
                self.poll_reader(i % nr);
            }
            Step::PollWoken => self.poll_woken(),
            Step::CancelW(i) if nw > 0 => self.writers[i % nw].op = None,
            Step::CancelR(i) if nr > 0 => self.readers[i % nr].op = None,
            Step::Hold {
                w,
                len,
                put,
                commit,
                ref inner,
            } if nw > 0 => {
                let i = w % nw;
                if self.writers[i].op.is_some() {
                    return;
                }
                let len = self.flen(len);
                let mut s = self.writers.remove(i);
                let frame = encode(s.uid, s.seq, 8 + put % (len - 7));
                match s.w.try_reserve(len) {
                    Ok(Some(mut g)) => {
                        // Part of the frame now, the rest after the inner steps.
                        let half = frame.len() / 2;
                        g.put(&frame[..half]);
                        for st in inner {
                            self.run(st);
                            self.check_no_lost_wakeup("a step while a grant is held");
                        }
                        if commit {
                            g.put(&frame[half..]);
                            assert_eq!(g.commit(), frame.len());
                            s.seq += 1;
                        } else {
                            drop(g);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => assert!(write_error_ok(&e, self.drop_mode), "try_reserve: {e:?}"),
                }
                self.writers.insert(i.min(self.writers.len()), s);
            }
            Step::Drain => {
                if let Some(chan) = &self.chan {
                    let r = chan.drain();
                    assert!(
                        matches!(r, Ok(()) | Err(ChannelError::DrainTerminated)),
                        "{r:?}"
                    );
                }
            }
            Step::Terminate => {
                if let Some(chan) = &self.chan {
                    let r = chan.terminate();
                    assert!(
                        matches!(r, Ok(()) | Err(ChannelError::TerminateDraining)),
                        "{r:?}"
                    );
                }
            }
            Step::DropChannel => self.chan = None,
            // An operation on a handle when there is none.
            _ => {}
        }
    }

    /// No hang, and the channel is healthy once every handle is gone.
    fn finish(mut self) {
        self.check_no_lost_wakeup("the last step");
        // Operations still parked: run them like an executor would until nothing is woken.
        for _ in 0..64 {
            self.poll_woken();
        }
        self.check_no_lost_wakeup("the executor's last turn");
        // Every handle goes (futures first, as their borrows require), in the input's order.
        for s in &mut self.writers {
            s.op = None;
        }
        for s in &mut self.readers {
            s.op = None;
        }
        self.writers.clear();
        let Some(chan) = self.chan.take() else {
            // Orphaned: with every writer gone too, each reader reads what is left and then
            // reaches the end of the stream, without ever having to wait.
            for (i, s) in self.readers.iter_mut().enumerate() {
                let mut buf = [0u8; 64];
                for _ in 0..100_000 {
                    let r = match &mut s.r {
                        R::Strong(r) => r.try_read(&mut buf),
                        R::Weak(r) => r.try_read(&mut buf),
                    };
                    match r {
                        // Terminated before the channel was dropped (the handle or the channel).
                        Err(ChannelError::EndOfStream | ChannelError::Terminated) => break,
                        Ok(Some(_)) | Err(ChannelError::ReaderBehind(_)) => {}
                        Ok(None) => panic!("reader {i} would wait on a channel that has ended"),
                        Err(e) => panic!("reader {i}: {e:?} on an orphaned channel"),
                    }
                }
            }
            return;
        };
        self.readers.clear();
        let stats = chan.stats();
        assert_eq!(
            (
                stats.strong_writers,
                stats.weak_writers,
                stats.strong_readers,
                stats.weak_readers
            ),
            (0, 0, 0, 0),
            "handle counts after every handle dropped"
        );
        if chan.is_terminated() || chan.is_draining() {
            return;
        }
        assert_eq!(
            stats.in_use, 0,
            "bytes in use with no handle left: a leaked reservation"
        );
        // A fresh writer fills the whole ring (no reservation or slot leaked) and a fresh reader
        // reads it back.
        let mut w = chan.try_new_strong_writer().expect("a writer slot is free");
        let mut r = chan
            .try_new_strong_reader(StartAt::Tail)
            .expect("a reader slot is free");
        let cap = chan.capacity();
        let mut n = 0u32;
        loop {
            match w.try_write(&encode(0, n, 8)) {
                Ok(Some(8)) => n += 1,
                Ok(None) | Err(ChannelError::Full) => break,
                other => panic!("health write: {other:?}"),
            }
            assert!(n as usize <= cap / 16, "more frames than the ring holds");
        }
        assert!(
            n as usize + 1 >= cap / 16,
            "only {n} 16-byte records fit a ring of {cap}"
        );
        let mut check = Checker::new(true);
        for _ in 0..n {
            let (_, f) = r.try_read_frame(64).expect("health read").expect("a frame");
            check.feed_rest(&f);
        }
        assert_eq!(r.try_read_frame(64), Ok(None));
        // The space is free again, and a parked writer is woken by the reader's release.
        let (c, wk) = counting_waker();
        let mut cx = Context::from_waker(&wk);
        let mut m = 0;
        while let Ok(Some(_)) = w.try_write(&encode(0, n + m, 8)) {
            m += 1;
            assert!(m as usize <= cap / 16, "more frames than the ring holds");
        }
        assert!(
            m >= n,
            "the ring's space was not all freed: {m} frames fit, then {n}"
        );
        if !self.drop_mode {
            assert!(w.poll_write(&mut cx, &encode(0, 2 * n, 8)).is_pending());
            // A strong reader releases in batches (capacity/16 bytes, or when it catches up):
            // read up to the end, which always releases.
            assert!(r.try_read_frame(64).expect("read").is_some());
            while r.try_read_frame(64).expect("read").is_some() {}
            assert!(
                c.count() > 0,
                "a parked writer was not woken by a strong reader's release"
            );
        }
        assert_eq!(chan.terminate(), Ok(()));
    }

    /// Terminate wakes every operation still parked.
    fn terminate_wakes_all(&mut self) {
        let Some(chan) = &self.chan else { return };
        let _ = chan.terminate();
        for i in 0..self.writers.len() {
            if let Some(f) = &self.writers[i].op {
                assert!(f.woken(), "terminate did not wake writer {i}'s {:?}", f.op);
                assert!(
                    self.poll_writer(i),
                    "a terminated writer's operation is ready"
                );
            }
        }
        for i in 0..self.readers.len() {
            if let Some(f) = &self.readers[i].op {
                assert!(f.woken(), "terminate did not wake reader {i}'s {:?}", f.op);
                assert!(
                    self.poll_reader(i),
                    "a terminated reader's operation is ready"
                );
            }
        }
    }
}

/// Runs one case: the steps, then either the health check or (if the input's first byte is
/// odd) terminate with parked operations.
pub fn run_case(case: &Case, terminate_at_end: bool) {
    let mut h = Harness::new(case);
    h.run(&Step::NewWriter { strong: true });
    h.run(&Step::NewReader {
        strong: true,
        tail: false,
    });
    for s in &case.steps {
        h.run(s);
        h.check_no_lost_wakeup("a step");
    }
    if terminate_at_end && h.chan.is_some() {
        h.check_no_lost_wakeup("the last step");
        h.terminate_wakes_all();
    } else {
        h.finish();
    }
}

/// Decodes `data` into a case and runs it (the `interleave` fuzz target).
pub fn run_bytes(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if let Ok(case) = Case::arbitrary(&mut Unstructured::new(rest)) {
        run_case(&case, first & 1 == 1);
    }
}
