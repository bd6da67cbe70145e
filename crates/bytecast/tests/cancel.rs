//! Cancellation: every future and poll path of the core can be dropped at every point where it
//! returned `Pending` (after one poll, after several, inside a `select`), and a write grant can be
//! dropped after a partial `put`, without corrupting the log, leaking a reservation, stalling
//! other handles or losing a wake-up.
//!
//! Each test drives the operation step by step with a counting waker, drops it after `k` polls
//! for every `k` up to a few, and then checks the channel's health:
//! - later frames flow, whole and in order, to every reader;
//! - no leaked reservation: once the scenario's handles are gone `stats().in_use` is 0 and a
//!   fresh writer fills the whole ring, which a fresh reader then reads back;
//! - no stalled handle and no lost wake-up: another handle parked on the same condition is woken
//!   when the condition becomes true, and completes.
//!
//! All single-threaded, driven by hand; nothing here can hang.

use bytecast::{
    Backpressure, Channel, ChannelError, Config, StartAt, StrongReader, StrongWriter, WeakReader,
    WeakWriter,
};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

#[path = "support/harness.rs"]
mod harness;
use harness::{counting_waker, handle_counts, Counter};
#[path = "support/payloads.rs"]
mod payloads;
use payloads::tag_bytes;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// How many polls (each returning `Pending`) before the drop (1 under Miri, which is slow).
const MAX_POLLS: usize = if cfg!(miri) { 1 } else { 3 };

/// Partial `put` lengths tried (every length, or a few under Miri).
const PUT_STEP: usize = if cfg!(miri) { 8 } else { 1 };

/// Polls `fut` `k` times with a counting waker; every poll must be `Pending`.
fn poll_pending_k<F: Future>(mut fut: Pin<&mut F>, k: usize) -> Arc<Counter>
where
    F::Output: std::fmt::Debug,
{
    let (c, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    for i in 0..k {
        match fut.as_mut().poll(&mut cx) {
            Poll::Pending => {}
            Poll::Ready(v) => panic!("poll {i} of {k} was expected to be Pending, got {v:?}"),
        }
    }
    c
}

/// Fills a Park channel with frames of `len` bytes until the next would wait; returns them.
fn fill(w: &mut StrongWriter, len: usize, tag: &mut u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let f = tag_bytes(*tag, len);
        match w.try_write(&f).expect("write") {
            Some(n) => {
                assert_eq!(n, len);
                out.push(f);
                *tag = tag.wrapping_add(1);
            }
            None => return out,
        }
    }
}

/// Reads every published frame of a strong reader.
fn drain_strong(r: &mut StrongReader) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((_, f)) = r.try_read_frame(1 << 16).expect("read") {
        out.push(f);
    }
    out
}

fn drain_weak(r: &mut WeakReader) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((_, f)) = r.try_read_frame(1 << 16).expect("read") {
        out.push(f);
    }
    out
}

/// With every handle of the scenario gone: nothing is in use, a fresh writer fills the whole
/// ring, a fresh reader reads it all back, and a parked writer is woken by its release.
fn assert_healthy(chan: &Arc<Channel>) {
    let s = chan.stats();
    assert_eq!(
        handle_counts(&s),
        (0, 0, 0, 0),
        "the scenario's handles are gone"
    );
    assert_eq!(s.in_use, 0, "a reservation leaked: {s:?}");
    let cap = chan.capacity();
    let mut w = chan.new_strong_writer();
    let mut r = chan
        .try_new_strong_reader(StartAt::Tail)
        .expect("a reader slot is free");
    let mut written = Vec::new();
    let mut tag = 200u8;
    let park = chan.backpressure() == Backpressure::Park;
    loop {
        let f = tag_bytes(tag, 8);
        match w.try_write(&f) {
            Ok(Some(8)) => written.push(f),
            Ok(None) if park => break,
            Err(ChannelError::Full) if !park => break,
            other => panic!("health write: {other:?}"),
        }
        tag = tag.wrapping_add(1);
        assert!(
            written.len() <= cap / 16,
            "more records than the ring holds"
        );
    }
    assert!(
        written.len() + 1 >= cap / 16,
        "only {} 16-byte records fit a {cap}-byte ring: space leaked",
        written.len()
    );
    if !park {
        assert_eq!(drain_strong(&mut r), written);
        return;
    }
    let (c, wk) = counting_waker();
    assert!(w
        .poll_write(&mut Context::from_waker(&wk), &tag_bytes(0, 8))
        .is_pending());
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, written[0]);
    assert!(c.count() > 0, "parked writer not woken by a release");
    assert_eq!(drain_strong(&mut r)[..], written[1..]);
}

// ---------------------------------------------------------------------------------------------
// Writers: reserve and write, dropped while waiting for space.

/// Scenario: a 64-byte Park ring held full by a strong reader; writer A's operation waits for
/// space and is dropped after `k` polls; writer B waits on the same condition with its own
/// waker. Then the reader reads: B must be woken and complete, A's dropped operation must have
/// written nothing, and A must still work.
fn writer_cancel_scenario(
    k: usize,
    weak_a: bool,
    op: impl Fn(&mut WriterAny, usize) -> Arc<Counter>,
) {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut filler = chan.new_strong_writer();
    let mut tag = 1u8;
    let mut expected = fill(&mut filler, 24, &mut tag);
    assert_eq!(expected.len(), 2);
    let mut a = if weak_a {
        WriterAny::Weak(chan.new_weak_writer())
    } else {
        WriterAny::Strong(chan.new_strong_writer())
    };
    let mut b = chan.new_strong_writer();
    let (cb, wb) = counting_waker();
    let b_frame = tag_bytes(99, 24);
    assert!(b
        .poll_write(&mut Context::from_waker(&wb), &b_frame)
        .is_pending());
    // A waits and is dropped after k polls.
    let _ca = op(&mut a, k);
    // B may have been woken by A's polls (a weak writer waiting for space wakes every waiting
    // writer, see wakeups.rs); woken, it is polled again, as an executor would, and waits on.
    if cb.count() > 0 {
        assert!(b
            .poll_write(&mut Context::from_waker(&wb), &b_frame)
            .is_pending());
    }
    let before = cb.count();
    // The reader frees one frame's space: B is woken and writes.
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, expected.remove(0));
    assert!(
        cb.count() > before,
        "B was not woken: a lost wake-up after A's cancel (k = {k}, weak A: {weak_a})"
    );
    assert_eq!(
        b.poll_write(&mut Context::from_waker(&wb), &b_frame),
        Poll::Ready(Ok(24))
    );
    expected.push(b_frame);
    // A's cancelled operation wrote nothing; A can write once there is room.
    assert_eq!(drain_strong(&mut r), expected);
    let a_frame = tag_bytes(77, 24);
    assert_eq!(a.try_write(&a_frame), Ok(Some(24)));
    assert_eq!(drain_strong(&mut r), vec![a_frame]);
    drop((a, b, filler, r));
    assert_healthy(&chan);
}

enum WriterAny {
    Strong(StrongWriter),
    Weak(WeakWriter),
}

impl WriterAny {
    fn try_write(&mut self, buf: &[u8]) -> Result<Option<usize>, ChannelError> {
        match self {
            Self::Strong(w) => w.try_write(buf),
            Self::Weak(w) => w.try_write(buf),
        }
    }
}

#[test]
fn reserve_future_dropped_at_each_pending_point_leaks_nothing() {
    for weak in [false, true] {
        for k in 1..=MAX_POLLS {
            writer_cancel_scenario(k, weak, |a, k| match a {
                WriterAny::Strong(w) => poll_pending_k(pin!(w.reserve(24)), k),
                WriterAny::Weak(w) => poll_pending_k(pin!(w.reserve(24)), k),
            });
        }
    }
}

#[test]
fn write_future_dropped_at_each_pending_point_writes_nothing() {
    for weak in [false, true] {
        for k in 1..=MAX_POLLS {
            writer_cancel_scenario(k, weak, |a, k| {
                let buf = tag_bytes(55, 24);
                match a {
                    WriterAny::Strong(w) => poll_pending_k(pin!(w.write(&buf)), k),
                    WriterAny::Weak(w) => poll_pending_k(pin!(w.write(&buf)), k),
                }
            });
        }
    }
}

#[test]
fn poll_write_and_poll_reserve_abandoned_after_pending_leak_nothing() {
    for weak in [false, true] {
        for k in 1..=MAX_POLLS {
            writer_cancel_scenario(k, weak, |a, k| {
                let (c, wk) = counting_waker();
                let mut cx = Context::from_waker(&wk);
                for _ in 0..k {
                    let p = match a {
                        WriterAny::Strong(w) => w.poll_write(&mut cx, &[5; 24]),
                        WriterAny::Weak(w) => w.poll_write(&mut cx, &[5; 24]),
                    };
                    assert!(p.is_pending());
                    let p = match a {
                        WriterAny::Strong(w) => w.poll_reserve(&mut cx, 24).is_pending(),
                        WriterAny::Weak(w) => w.poll_reserve(&mut cx, 24).is_pending(),
                    };
                    assert!(p);
                }
                c
            });
        }
    }
}

/// A weak writer waiting for a writer slot (not for space), dropped after `k` polls: the slot
/// is not leaked and another weak writer waiting for it is woken when it frees.
#[test]
fn weak_writer_waiting_for_a_slot_dropped_at_each_pending_point() {
    for k in 1..=MAX_POLLS {
        let chan = Channel::try_with_config(Config::new(256).max_writers(1)).unwrap();
        let mut r = chan.new_strong_reader();
        let holder = chan.new_strong_writer();
        let mut a = chan.new_weak_writer();
        let mut b = chan.new_weak_writer();
        let (cb, wb) = counting_waker();
        assert!(b
            .poll_write(&mut Context::from_waker(&wb), b"bbbb")
            .is_pending());
        {
            let fut = pin!(a.write(b"aaaa"));
            poll_pending_k(fut, k);
        }
        drop(holder);
        assert!(cb.count() > 0, "the slot waiter was not woken (k = {k})");
        assert_eq!(
            b.poll_write(&mut Context::from_waker(&wb), b"bbbb"),
            Poll::Ready(Ok(4))
        );
        assert_eq!(drain_strong(&mut r), vec![b"bbbb".to_vec()]);
        assert_eq!(a.try_write(b"aaaa"), Ok(Some(4)));
        assert_eq!(drain_strong(&mut r), vec![b"aaaa".to_vec()]);
        drop((a, b, r));
        assert_healthy(&chan);
    }
}

// ---------------------------------------------------------------------------------------------
// Grants dropped mid-way.

/// A grant dropped after a partial `put` (of every length up to the reservation) is an
/// aborted record: readers skip it, parked readers are woken past it, later frames flow.
#[test]
fn grant_dropped_after_a_partial_put_is_skipped_and_nothing_stalls() {
    for weak in [false, true] {
        for put in (0..=24usize).step_by(PUT_STEP) {
            let chan = Channel::new(64);
            let mut r = chan.new_strong_reader();
            let mut wr = chan.new_weak_reader();
            let (cr, wkr) = counting_waker();
            assert!(r
                .poll_read_frame(&mut Context::from_waker(&wkr), 64)
                .is_pending());
            let mut other = chan.new_strong_writer();
            {
                let mut a = if weak {
                    WriterAny::Weak(chan.new_weak_writer())
                } else {
                    WriterAny::Strong(chan.new_strong_writer())
                };
                let g = match &mut a {
                    WriterAny::Strong(w) => w.try_reserve(24),
                    WriterAny::Weak(w) => w.try_reserve(24),
                };
                let mut g = g.unwrap().expect("room");
                assert_eq!(g.put(&tag_bytes(1, put)), put);
                // Another writer commits behind the open grant: not readable yet.
                assert_eq!(other.try_write(b"behind"), Ok(Some(6)));
                assert_eq!(r.try_read_frame(64), Ok(None));
                drop(g);
            }
            assert!(
                cr.count() > 0,
                "the aborted grant did not wake the parked reader"
            );
            assert_eq!(
                r.poll_read_frame(&mut Context::from_waker(&wkr), 64),
                Poll::Ready(Ok((other.id().unwrap(), b"behind".to_vec())))
            );
            assert_eq!(drain_weak(&mut wr), vec![b"behind".to_vec()]);
            // The ring wraps over the aborted record many times.
            for t in 0..if cfg!(miri) { 4 } else { 20u8 } {
                let f = tag_bytes(t, 1 + (t as usize * 5) % 24);
                assert_eq!(other.try_write(&f).unwrap(), Some(f.len()));
                assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, f);
            }
            drop((r, wr, other));
            assert_healthy(&chan);
        }
    }
}

/// A `Reserve` future that completed (its grant handed out) and the grant dropped at once,
/// under both policies and both writer kinds.
#[test]
fn reserve_completed_then_grant_dropped_unfilled_is_aborted() {
    for bp in [Backpressure::Park, Backpressure::Drop] {
        let chan = Channel::with_parameters(64, bp);
        let mut r = chan.new_strong_reader();
        let mut s = chan.new_strong_writer();
        let mut w = chan.new_weak_writer();
        for _ in 0..10 {
            let g = futures::executor::block_on(s.reserve(24)).unwrap();
            drop(g);
            let g = futures::executor::block_on(w.reserve(24)).unwrap();
            drop(g);
            // The reader passes the aborted records (and releases their space).
            assert_eq!(r.try_read_frame(64), Ok(None));
        }
        assert_eq!(s.try_write(b"after"), Ok(Some(5)));
        assert_eq!(drain_strong(&mut r), vec![b"after".to_vec()]);
        drop((r, s, w));
        assert_healthy(&chan);
    }
}

// ---------------------------------------------------------------------------------------------
// Readers: every read path dropped while waiting for data.

/// Which read path a scenario cancels.
#[derive(Debug, Clone, Copy)]
enum ReadPath {
    Read,
    ReadFrame,
    ReadFrameInto,
    BorrowFrame,
    PollFillBuf,
}

const ALL_PATHS: [ReadPath; 5] = [
    ReadPath::Read,
    ReadPath::ReadFrame,
    ReadPath::ReadFrameInto,
    ReadPath::BorrowFrame,
    ReadPath::PollFillBuf,
];

/// Polls reader `r`'s `path` `k` times (all `Pending`), then drops it.
fn cancel_strong_read(r: &mut StrongReader, path: ReadPath, k: usize) {
    let mut buf = [0u8; 64];
    match path {
        ReadPath::Read => {
            poll_pending_k(pin!(r.read(&mut buf)), k);
        }
        ReadPath::ReadFrame => {
            poll_pending_k(pin!(r.read_frame(64)), k);
        }
        ReadPath::ReadFrameInto => {
            poll_pending_k(pin!(r.read_frame_into(&mut buf)), k);
        }
        ReadPath::BorrowFrame => {
            let fut = pin!(r.borrow_frame());
            let (_, wk) = counting_waker();
            let mut fut = fut;
            for _ in 0..k {
                assert!(fut
                    .as_mut()
                    .poll(&mut Context::from_waker(&wk))
                    .is_pending());
            }
        }
        ReadPath::PollFillBuf => {
            let (_, wk) = counting_waker();
            for _ in 0..k {
                assert!(r.poll_fill_buf(&mut Context::from_waker(&wk)).is_pending());
            }
        }
    }
}

fn cancel_weak_read(r: &mut WeakReader, path: ReadPath, k: usize) {
    let mut buf = [0u8; 64];
    match path {
        ReadPath::Read | ReadPath::PollFillBuf => {
            poll_pending_k(pin!(r.read(&mut buf)), k);
        }
        ReadPath::ReadFrame | ReadPath::BorrowFrame => {
            poll_pending_k(pin!(r.read_frame(64)), k);
        }
        ReadPath::ReadFrameInto => {
            poll_pending_k(pin!(r.read_frame_into(&mut buf)), k);
        }
    }
}

/// Scenario: strong reader A and weak reader C wait on an empty channel through `path` and are
/// dropped after `k` polls; strong reader B waits with its own waker. Then a writer commits:
/// B is woken; A and C (re-polled) get the frame whole; a writer blocked on A is not stalled.
#[test]
fn every_read_path_dropped_at_each_pending_point_loses_nothing() {
    for path in ALL_PATHS {
        for k in 1..=MAX_POLLS {
            let chan = Channel::new(64);
            let mut a = chan.new_strong_reader();
            let mut b = chan.new_strong_reader();
            let mut c = chan.new_weak_reader();
            let mut w = chan.new_strong_writer();
            let (cb, wb) = counting_waker();
            assert!(b
                .poll_read_frame(&mut Context::from_waker(&wb), 64)
                .is_pending());
            cancel_strong_read(&mut a, path, k);
            cancel_weak_read(&mut c, path, k);
            let f = tag_bytes(3, 20);
            assert_eq!(w.try_write(&f), Ok(Some(20)));
            assert!(cb.count() > 0, "{path:?}, k={k}: B not woken");
            assert_eq!(
                b.poll_read_frame(&mut Context::from_waker(&wb), 64),
                Poll::Ready(Ok((w.id().unwrap(), f.clone())))
            );
            assert_eq!(drain_strong(&mut a), vec![f.clone()], "{path:?}, k={k}");
            assert_eq!(drain_weak(&mut c), vec![f.clone()], "{path:?}, k={k}");
            // A, B and C are caught up; the writer fills the ring and is parked by them, then
            // woken by the last strong reader's release.
            let mut tag = 10;
            let filled = fill(&mut w, 24, &mut tag);
            let (cw, ww) = counting_waker();
            assert!(w
                .poll_write(&mut Context::from_waker(&ww), &[1; 24])
                .is_pending());
            assert_eq!(drain_strong(&mut a), filled);
            assert_eq!(drain_strong(&mut b), filled);
            assert!(cw.count() > 0, "{path:?}, k={k}: writer not woken");
            drop((a, b, c, w));
            assert_healthy(&chan);
        }
    }
}

/// The same paths dropped while the reader is inside a frame (after a partial byte read): the
/// reader's place in the frame is kept.
#[test]
fn read_paths_dropped_mid_frame_keep_the_readers_place() {
    for path in ALL_PATHS {
        let chan = Channel::new(128);
        let mut a = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let f = tag_bytes(9, 40);
        assert_eq!(w.try_write(&f), Ok(Some(40)));
        let mut head = [0u8; 10];
        assert_eq!(a.try_read(&mut head), Ok(Some(10)));
        // The rest is there: every path is Ready at once, so cancel after reading one more
        // byte, then wait on an empty channel and cancel that.
        let mut one = [0u8; 1];
        assert_eq!(a.try_read(&mut one), Ok(Some(1)));
        assert_eq!(
            a.try_read_frame(64).unwrap().unwrap().1,
            f[11..].to_vec(),
            "{path:?}"
        );
        cancel_strong_read(&mut a, path, 2);
        assert_eq!(w.try_write(&f), Ok(Some(40)));
        assert_eq!(drain_strong(&mut a), vec![f.clone()]);
        drop((a, w));
        assert_healthy(&chan);
    }
}

/// Zero-copy paths cancelled *after* they returned data: a `FrameRef` dropped releases the
/// frame; `poll_fill_buf` whose buffer is dropped without `consume` keeps the data; a partial
/// `consume` keeps the rest.
#[test]
fn zero_copy_reads_abandoned_after_ready_release_or_keep_exactly() {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let mut tag = 0;
    let filled = fill(&mut w, 24, &mut tag);
    let (cw, ww) = counting_waker();
    assert!(w
        .poll_write(&mut Context::from_waker(&ww), &[7; 24])
        .is_pending());
    let (_, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    // fill_buf, not consumed: nothing released, the same bytes next time.
    match r.poll_fill_buf(&mut cx) {
        Poll::Ready(Ok(b)) => assert_eq!(b, &filled[0][..]),
        other => panic!("{other:?}"),
    }
    assert_eq!(cw.count(), 0);
    match r.poll_fill_buf(&mut cx) {
        Poll::Ready(Ok(b)) => assert_eq!(b, &filled[0][..]),
        other => panic!("{other:?}"),
    }
    r.consume(5);
    match r.poll_fill_buf(&mut cx) {
        Poll::Ready(Ok(b)) => assert_eq!(b, &filled[0][5..]),
        other => panic!("{other:?}"),
    }
    // A borrowed frame (the rest of frame 0) dropped: released, the writer is woken.
    {
        let f = futures::executor::block_on(r.borrow_frame()).unwrap();
        assert_eq!(&*f, &filled[0][5..]);
    }
    assert!(
        cw.count() > 0,
        "dropping a FrameRef did not wake the parked writer"
    );
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), &[7; 24]),
        Poll::Ready(Ok(24))
    );
    assert_eq!(drain_strong(&mut r), vec![filled[1].clone(), vec![7; 24]]);
    drop((r, w));
    assert_healthy(&chan);
}

/// A weak reader's read dropped while a writer laps it: the next read reports the loss exactly
/// once and resumes at a whole frame.
#[test]
fn weak_read_dropped_while_lapped_reports_the_loss_once() {
    for path in ALL_PATHS {
        let chan = Channel::new(64);
        let mut c = chan.new_weak_reader();
        let mut w = chan.new_strong_writer();
        cancel_weak_read(&mut c, path, 2);
        let frames: Vec<Vec<u8>> = (0..6).map(|t| tag_bytes(t, 24)).collect();
        for f in &frames {
            assert_eq!(w.try_write(f), Ok(Some(24)));
        }
        let lost = c.lost_frames();
        match c.try_read_frame(64) {
            Err(ChannelError::ReaderBehind(n)) => assert_eq!(n % 24, 0),
            other => panic!("{path:?}: {other:?}"),
        }
        assert!(c.lost_frames() > lost);
        let rest = drain_weak(&mut c);
        assert_eq!(rest[..], frames[frames.len() - rest.len()..]);
        assert_eq!(rest.len() as u64 + c.lost_frames(), 6);
        drop((c, w));
        assert_healthy(&chan);
    }
}

// ---------------------------------------------------------------------------------------------
// select!: one branch completes, the other is dropped.

/// `select` over two reads: the losing read is dropped after it registered its waker; both
/// readers still get every frame, and a later wait of the loser is woken.
#[test]
fn read_losing_a_select_is_dropped_and_loses_nothing() {
    use futures::future::{select, Either};
    let chan = Channel::new(128);
    let mut a = chan.new_strong_reader();
    let mut b = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    for t in 0..if cfg!(miri) { 3 } else { 20u8 } {
        let (wk_c, wk) = counting_waker();
        let mut cx = Context::from_waker(&wk);
        let f = tag_bytes(t, 1 + t as usize);
        {
            let fa = pin!(a.read_frame(64));
            let fb = pin!(b.read_frame(64));
            let mut sel = select(fa, fb);
            assert!(Pin::new(&mut sel).poll(&mut cx).is_pending());
            assert_eq!(w.try_write(&f), Ok(Some(f.len())));
            assert!(wk_c.count() > 0, "select not woken");
            match Pin::new(&mut sel).poll(&mut cx) {
                Poll::Ready(Either::Left((Ok((_, got)), _)))
                | Poll::Ready(Either::Right((Ok((_, got)), _))) => assert_eq!(got, f),
                _ => panic!("the select did not complete with the frame"),
            }
            // The other branch is dropped here, having registered its waker.
        }
        // Whichever lost still has the frame (the winner's next read waits).
        let got: Vec<Vec<u8>> = [drain_strong(&mut a), drain_strong(&mut b)].concat();
        assert_eq!(got, vec![f]);
    }
    // A writer waiting on the loser is not stalled.
    let mut tag = 50;
    let filled = fill(&mut w, 24, &mut tag);
    let (cw, ww) = counting_waker();
    assert!(w
        .poll_write(&mut Context::from_waker(&ww), &[1; 24])
        .is_pending());
    assert_eq!(drain_strong(&mut a), filled);
    assert_eq!(drain_strong(&mut b), filled);
    assert!(cw.count() > 0);
    drop((a, b, w));
    assert_healthy(&chan);
}

/// `select` of a write and a read on the same channel: the write wins (room), the read is
/// dropped; then the write loses (full) and is dropped after registering: it wrote nothing.
#[test]
fn write_losing_a_select_is_dropped_and_writes_nothing() {
    use futures::future::select;
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut other = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let mut tag = 0;
    let filled = fill(&mut w, 24, &mut tag);
    assert_eq!(drain_strong(&mut other), filled);
    let (c, wk) = counting_waker();
    let mut cx = Context::from_waker(&wk);
    {
        let fw = pin!(w.write(&[9; 24]));
        let fr = pin!(other.read_frame(64));
        let mut sel = select(fw, fr);
        assert!(Pin::new(&mut sel).poll(&mut cx).is_pending());
        // `r` releases one frame: the write can go on, but the select is dropped unpolled.
        assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, filled[0]);
        assert!(c.count() > 0, "the write branch was not woken");
    }
    // Nothing of the dropped write reached the log.
    assert_eq!(drain_strong(&mut r), vec![filled[1].clone()]);
    assert_eq!(drain_strong(&mut other), Vec::<Vec<u8>>::new());
    assert_eq!(w.try_write(b"next"), Ok(Some(4)));
    assert_eq!(drain_strong(&mut r), vec![b"next".to_vec()]);
    assert_eq!(drain_strong(&mut other), vec![b"next".to_vec()]);
    drop((r, other, w));
    assert_healthy(&chan);
}

// ---------------------------------------------------------------------------------------------
// Handles dropped or terminated while their operation waits.

/// A handle dropped (not just its future) while parked: its wait does not linger. A strong
/// reader dropped while a writer waits on it wakes the writer; a writer dropped while parked
/// frees its slot.
#[test]
fn handles_dropped_while_parked_release_everything() {
    for k in 1..=MAX_POLLS {
        let chan = Channel::try_with_config(Config::new(64).max_writers(2)).unwrap();
        let mut r = chan.new_strong_reader();
        let mut slow = chan.new_strong_reader();
        let mut w = chan.new_strong_writer();
        let mut tag = 0;
        let filled = fill(&mut w, 24, &mut tag);
        assert_eq!(drain_strong(&mut r), filled);
        // Writer x parks on the slow reader, then is dropped with its future.
        {
            let mut x = chan.new_strong_writer();
            poll_pending_k(pin!(x.write(&[1; 24])), k);
        }
        let (cw, ww) = counting_waker();
        assert!(w
            .poll_write(&mut Context::from_waker(&ww), &[2; 24])
            .is_pending());
        // Slow reader parks on nothing... it has data; drop it instead: the writer wakes.
        assert_eq!(slow.try_read(&mut [0; 3]), Ok(Some(3)));
        drop(slow);
        assert!(
            cw.count() > 0,
            "dropping the gating strong reader did not wake the writer"
        );
        assert_eq!(
            w.poll_write(&mut Context::from_waker(&ww), &[2; 24]),
            Poll::Ready(Ok(24))
        );
        // Both writer slots are usable: x's slot was freed.
        let y = chan.try_new_strong_writer().expect("x's slot was freed");
        drop(y);
        assert_eq!(drain_strong(&mut r), vec![vec![2; 24]]);
        drop((r, w));
        assert_healthy(&chan);
    }
}

/// A reader whose read is parked is terminated (handle), and a writer whose write is parked is
/// terminated (handle): each gives back what it held, at once.
#[test]
fn handle_terminated_after_its_operation_was_dropped_gives_back_everything() {
    let chan = Channel::new(64);
    let mut r = chan.new_strong_reader();
    let mut gate = chan.new_strong_reader();
    let mut w = chan.new_strong_writer();
    let mut tag = 0;
    let filled = fill(&mut w, 24, &mut tag);
    assert_eq!(drain_strong(&mut r), filled);
    let mut x = chan.new_weak_writer();
    poll_pending_k(pin!(x.write(&[3; 24])), 2);
    x.terminate();
    assert_eq!(x.try_write(b"x"), Err(ChannelError::Terminated));
    let (cw, ww) = counting_waker();
    assert!(w
        .poll_write(&mut Context::from_waker(&ww), &[4; 24])
        .is_pending());
    poll_pending_k(pin!(r.read_frame(64)), 2);
    gate.terminate();
    assert!(
        cw.count() > 0,
        "terminating the gating reader did not wake the writer"
    );
    assert_eq!(
        w.poll_write(&mut Context::from_waker(&ww), &[4; 24]),
        Poll::Ready(Ok(24))
    );
    assert_eq!(drain_strong(&mut r), vec![vec![4; 24]]);
    drop((r, gate, w, x));
    assert_healthy(&chan);
}
