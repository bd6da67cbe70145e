//! No panic from a race between legal calls, and end of stream only when it is true (SEMANTICS,
//! "Safe code cannot break the channel").
//!
//! - Every constructor on a terminated channel returns a handle (the fallible ones `Ok`) whose
//!   every operation fails with `ChannelError::Terminated`; its conversions and its drop are
//!   fine, and `Channel::stats` counts no such handle.
//! - `consume` after `terminate` (of the channel or of the handle) does nothing, never panics.
//! - `terminate` or `drain` at any moment, while other threads create handles and call every
//!   operation and conversion: no panic anywhere.
//! - Converting a writer between strong and weak, with the `Channel` dropped, never looks like
//!   "every writer is gone" to a reader; dropping that writer does.
//! - Writers (and weak writers' clones) that close on other threads, with the `Channel`
//!   dropped, end the stream only when the last one closed, after every frame; closing while
//!   the channel is terminated or drained leaves no writer counted.
//!
//! Threaded tests run under the watchdog; rounds are scaled down under Miri.

#[path = "support/edges.rs"]
mod edges;
#[path = "support/harness.rs"]
mod harness;

use bytecast::{
    Backpressure, Channel, ChannelError, Reader, StartAt, StrongReader, StrongWriter, WeakReader,
    WeakWriter, Writer,
};
use edges::{noop_cx, Rng};
use futures::executor::block_on;
use harness::{guarded, handle_counts};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;

const T: ChannelError = ChannelError::Terminated;

/// Asserts that an expression is `Err(Terminated)` (or `Ready(Err(Terminated))`).
macro_rules! terminated {
    ($e:expr) => {{
        let r = $e;
        assert!(
            matches!(r, Err(ChannelError::Terminated)),
            "{}: {:?}, expected Err(Terminated)",
            stringify!($e),
            r.map(|_| ())
        );
    }};
    (poll $e:expr) => {{
        match $e {
            Poll::Ready(Err(ChannelError::Terminated)) => {}
            Poll::Ready(r) => panic!(
                "{}: Ready({:?}), expected Ready(Err(Terminated))",
                stringify!($e),
                r.map(|_| ())
            ),
            Poll::Pending => panic!(
                "{}: Pending, expected Ready(Err(Terminated))",
                stringify!($e)
            ),
        }
    }};
}

macro_rules! writer_ops_terminated {
    ($w:expr) => {{
        let w = $w;
        terminated!(w.try_write(b"x"));
        terminated!(w.try_write(b""));
        terminated!(w.try_reserve(8));
        terminated!(poll w.poll_write(&mut noop_cx(), b"x"));
        terminated!(poll w.poll_reserve(&mut noop_cx(), 8));
        terminated!(block_on(w.write(b"x")));
        terminated!(block_on(w.reserve(8)));
        assert!(w.is_terminated());
        let _ = (w.id(), w.max_frame_len(), w.backpressure());
    }};
}

macro_rules! reader_ops_terminated {
    ($r:expr) => {{
        let r = $r;
        let mut buf = [0u8; 64];
        terminated!(r.try_read(&mut buf));
        terminated!(r.try_read_frame(64));
        terminated!(r.try_read_frame_into(&mut buf));
        terminated!(r.try_skip_frame());
        terminated!(poll r.poll_read(&mut noop_cx(), &mut buf));
        terminated!(poll r.poll_read_frame(&mut noop_cx(), 64));
        terminated!(poll r.poll_read_frame_into(&mut noop_cx(), &mut buf));
        terminated!(block_on(r.read(&mut buf)));
        terminated!(block_on(r.read_frame(64)));
        assert!(r.is_terminated());
        let _ = r.lag();
    }};
}

fn strong_writer_terminated(mut w: StrongWriter) -> WeakWriter {
    writer_ops_terminated!(&mut w);
    let mut weak = w.downgrade();
    writer_ops_terminated!(&mut weak);
    match weak.upgrade() {
        Ok(mut s) => {
            writer_ops_terminated!(&mut s);
            s.downgrade()
        }
        Err((mut weak, e)) => {
            assert_eq!(e, T);
            writer_ops_terminated!(&mut weak);
            weak
        }
    }
}

fn writer_terminated(mut w: Writer) -> WeakWriter {
    let mut buf_cx = noop_cx();
    terminated!(w.try_write(b"x"));
    terminated!(w.try_reserve(8));
    terminated!(poll w.poll_write(&mut buf_cx, b"x"));
    terminated!(block_on(w.write(b"x")));
    terminated!(block_on(w.reserve(8)));
    let mut weak = w.downgrade();
    writer_ops_terminated!(&mut weak);
    weak
}

fn strong_reader_terminated(mut r: StrongReader) -> WeakReader {
    reader_ops_terminated!(&mut r);
    terminated!(poll r.poll_frame_ready(&mut noop_cx()));
    terminated!(poll r.poll_fill_buf(&mut noop_cx()));
    terminated!(r.try_borrow_frame());
    terminated!(block_on(r.borrow_frame()));
    let mut weak = r.downgrade();
    reader_ops_terminated!(&mut weak);
    weak
}

fn reader_enum_terminated(mut r: Reader) -> WeakReader {
    let mut buf = [0u8; 64];
    terminated!(poll r.poll_read(&mut noop_cx(), &mut buf));
    terminated!(poll r.poll_read_frame(&mut noop_cx(), 64));
    terminated!(block_on(r.read(&mut buf)));
    terminated!(block_on(r.read_frame(64)));
    terminated!(r.try_skip_frame());
    let mut weak = r.downgrade();
    reader_ops_terminated!(&mut weak);
    weak
}

/// Every constructor on a terminated channel gives a handle (the fallible ones `Ok`), every
/// operation of it fails with `Terminated`, conversions and drops do not panic, and the
/// channel's statistics count none of these handles.
#[test]
fn every_handle_created_on_a_terminated_channel_fails_with_terminated() {
    for bp in [Backpressure::Park, Backpressure::Drop] {
        let chan = Channel::with_parameters(256, bp);
        chan.terminate().unwrap();
        type Check<'a> = (&'a str, Box<dyn Fn() -> Box<dyn Any> + 'a>);
        let checks: Vec<Check<'_>> = vec![
            (
                "new_writer",
                Box::new(|| Box::new(writer_terminated(chan.new_writer()))),
            ),
            (
                "new_strong_writer",
                Box::new(|| Box::new(strong_writer_terminated(chan.new_strong_writer()))),
            ),
            (
                "try_new_strong_writer",
                Box::new(|| {
                    let w = chan
                        .try_new_strong_writer()
                        .expect("Ok on a terminated channel");
                    Box::new(strong_writer_terminated(w))
                }),
            ),
            (
                "new_weak_writer",
                Box::new(|| {
                    let mut w = chan.new_weak_writer();
                    writer_ops_terminated!(&mut w);
                    let w = match w.upgrade() {
                        Ok(s) => s.downgrade(),
                        Err((w, e)) => {
                            assert_eq!(e, T);
                            w
                        }
                    };
                    Box::new(w)
                }),
            ),
            (
                "new_strong_reader",
                Box::new(|| Box::new(strong_reader_terminated(chan.new_strong_reader()))),
            ),
            (
                "new_weak_reader",
                Box::new(|| {
                    let mut r = chan.new_weak_reader();
                    reader_ops_terminated!(&mut r);
                    Box::new(r)
                }),
            ),
        ];
        let mut more: Vec<Check<'_>> = Vec::new();
        let chan = &chan;
        for start in [StartAt::Oldest, StartAt::Tail] {
            more.push((
                "try_new_strong_reader",
                Box::new(move || {
                    let r = chan.try_new_strong_reader(start).expect("Ok");
                    Box::new(strong_reader_terminated(r))
                }),
            ));
            more.push((
                "try_new_weak_reader",
                Box::new(move || {
                    let mut r = chan.try_new_weak_reader(start).expect("Ok");
                    reader_ops_terminated!(&mut r);
                    Box::new(r)
                }),
            ));
            for strong in [true, false] {
                more.push((
                    "try_new_reader",
                    Box::new(move || {
                        let r = chan.try_new_reader(strong, start).expect("Ok");
                        Box::new(reader_enum_terminated(r))
                    }),
                ));
            }
        }
        let mut held = Vec::new();
        let mut failed = Vec::new();
        for (name, check) in checks.iter().chain(&more) {
            match catch_unwind(AssertUnwindSafe(check)) {
                Ok(h) => held.push(h),
                Err(p) => failed.push(format!("{name}: {}", panic_text(&*p))),
            }
        }
        assert!(failed.is_empty(), "{bp:?}: panicked: {failed:#?}");
        let s = chan.stats();
        assert_eq!(
            handle_counts(&s),
            (0, 0, 0, 0),
            "{bp:?}: handles of a terminated channel are not counted: {s:?}"
        );
        assert!(chan.readers().is_empty(), "{bp:?}");
        drop(held);
        let s = chan.stats();
        assert_eq!((s.strong_writers, s.weak_writers), (0, 0), "{s:?}");
    }
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// A channel with one frame published (its writer gone) and a strong reader to which
/// `poll_fill_buf` lent it; returns the channel, the reader and the length lent.
fn lent_frame() -> (Arc<Channel>, StrongReader, usize) {
    let chan = Channel::new(256);
    let mut r = chan.new_strong_reader();
    chan.new_strong_writer().try_write(b"lent frame").unwrap();
    let n = match r.poll_fill_buf(&mut noop_cx()) {
        Poll::Ready(Ok(buf)) => buf.len(),
        other => panic!("a frame is lent: {:?}", other.map(|r| r.map(<[u8]>::len))),
    };
    assert_eq!(n, 10);
    (chan, r, n)
}

/// `consume` after `poll_fill_buf` lent a frame and the channel (or the reader alone) was then
/// terminated does nothing; the next `poll_fill_buf` reports the termination. After `drain`,
/// `consume` goes on as usual.
///
/// Passes on the current code single-threaded (the race is covered below); it guards the
/// promise for `consume` while the fix reworks the readers.
#[test]
fn consume_after_terminate_does_not_panic() {
    for how in 0..3 {
        let (chan, mut r, n) = lent_frame();
        match how {
            0 => chan.terminate().unwrap(),
            1 => r.terminate(),
            _ => chan.drain().unwrap(),
        }
        r.consume(n);
        if how < 2 {
            terminated!(poll r.poll_fill_buf(&mut noop_cx()));
        } else {
            assert_eq!(r.try_read_frame(64), Err(ChannelError::EndOfStream));
        }
    }
}

/// `consume` racing `terminate` on another thread never panics.
#[test]
fn consume_racing_terminate_does_not_panic() {
    guarded("consume vs terminate", || {
        for _ in 0..if cfg!(miri) { 4 } else { 2000 } {
            let (chan, mut r, n) = lent_frame();
            let go = Arc::new(Barrier::new(2));
            let t = {
                let (chan, go) = (chan.clone(), go.clone());
                thread::spawn(move || {
                    go.wait();
                    chan.terminate().unwrap();
                })
            };
            go.wait();
            r.consume(n);
            t.join().unwrap();
        }
    });
}

/// One round of every operation and conversion a handle has, results ignored (errors are
/// fine, panics are not).
fn exercise(chan: &Arc<Channel>, rng: &mut Rng) {
    let mut buf = [0u8; 64];
    let mut cx = noop_cx();
    match rng.below(6) {
        0 => {
            if let Ok(mut w) = chan.try_new_strong_writer() {
                let _ = w.try_write(b"frame");
                if let Ok(Some(mut g)) = w.try_reserve(8) {
                    g.put(b"grant");
                    g.commit();
                }
                let _ = w.poll_write(&mut cx, b"x");
                let weak = w.downgrade();
                if let Ok(s) = weak.upgrade() {
                    drop(s);
                }
            }
        }
        1 => {
            let mut w = chan.new_weak_writer();
            let _ = w.try_write(b"weak frame");
            let _ = w.poll_write(&mut cx, b"y");
            let mut clone = w.clone();
            let _ = clone.try_write(b"clone");
            clone.close();
            let _ = clone.clone().try_write(b"closed");
            if let Ok(s) = w.upgrade() {
                let _ = Writer::from(s).downgrade();
            }
        }
        2 => {
            let mut w = chan.new_writer();
            let _ = w.try_write(b"writer");
            if let Ok(Some(g)) = w.try_reserve(8) {
                std::mem::forget(g);
            }
            w.close();
            let _ = w.try_write(b"closed");
            let _ = w.downgrade();
        }
        3 => {
            let mut r = chan.new_strong_reader();
            let _ = r.try_read(&mut buf);
            let _ = r.try_read_frame(64);
            let _ = r.try_skip_frame();
            if let Poll::Ready(Ok(b)) = r.poll_fill_buf(&mut cx) {
                let n = b.len();
                r.consume(n);
            }
            if let Ok(Some(f)) = r.try_borrow_frame() {
                let _ = f.len();
            }
            let _ = r.downgrade().try_read_frame_into(&mut buf);
        }
        4 => {
            let mut r = chan.new_weak_reader();
            let _ = r.try_read(&mut buf);
            let _ = r.try_read_frame(64);
            let _ = r.poll_read_frame(&mut cx, 64);
        }
        _ => {
            for strong in [true, false] {
                for start in [StartAt::Oldest, StartAt::Tail] {
                    if let Ok(mut r) = chan.try_new_reader(strong, start) {
                        let _ = r.poll_read(&mut cx, &mut buf);
                        let _ = r.try_skip_frame();
                        let _ = r.downgrade();
                    }
                }
            }
            let _ = chan
                .try_new_strong_reader(StartAt::Tail)
                .map(|r| r.downgrade());
            let _ = chan.try_new_weak_reader(StartAt::Oldest);
        }
    }
}

/// `terminate` or `drain` at a random moment while two threads create handles and call every
/// operation and conversion in a loop (and go on for a while after the ending): no panic on
/// any thread.
#[test]
fn terminate_or_drain_racing_every_operation_never_panics() {
    guarded("terminate/drain vs everything", || {
        let rounds = if cfg!(miri) { 2 } else { 40 };
        for round in 0..rounds {
            let chan = Channel::with_parameters(
                256,
                if round % 4 < 2 {
                    Backpressure::Park
                } else {
                    Backpressure::Drop
                },
            );
            let ended = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..2u64)
                .map(|k| {
                    let (chan, ended) = (chan.clone(), ended.clone());
                    thread::spawn(move || {
                        let mut rng = Rng::new(round * 2 + k + 1);
                        let mut after = 0;
                        while after < if cfg!(miri) { 3 } else { 50 } {
                            if ended.load(SeqCst) {
                                after += 1;
                            }
                            exercise(&chan, &mut rng);
                        }
                    })
                })
                .collect();
            let mut rng = Rng::new(1000 + round);
            for _ in 0..rng.below(if cfg!(miri) { 3 } else { 200 }) {
                thread::yield_now();
            }
            let _ = if round % 2 == 0 {
                chan.terminate()
            } else {
                chan.drain()
            };
            ended.store(true, SeqCst);
            let results: Vec<_> = workers.into_iter().map(|t| t.join()).collect();
            let panics: Vec<_> = results
                .iter()
                .filter_map(|r| r.as_ref().err().map(|p| panic_text(&**p)))
                .collect();
            assert!(
                panics.is_empty(),
                "round {round}: a thread panicked: {panics:?}"
            );
        }
    });
}

/// With the `Channel` dropped, a writer converted strong → weak → strong thousands of times
/// (through `StrongWriter::downgrade`, `WeakWriter::upgrade` and `Writer::downgrade`) never
/// makes a reader on another thread see end of stream, while it writes a frame now and then;
/// once the writer is dropped, the reader reaches end of stream having read every frame.
#[test]
fn converting_a_writer_never_looks_like_end_of_stream() {
    guarded("false end of stream", || {
        for _ in 0..if cfg!(miri) { 1 } else { 8 } {
            let conversions = if cfg!(miri) { 20 } else { 500_000 };
            let chan = Channel::new(1024);
            let mut r = chan.new_strong_reader();
            let mut w = chan.new_strong_writer();
            drop(chan);
            let dropping = Arc::new(AtomicBool::new(false));
            let reader = {
                let dropping = dropping.clone();
                thread::spawn(move || {
                    let (mut frames, mut buf) = (0usize, [0u8; 64]);
                    for i in 0usize.. {
                        let eos = if i % 2 == 0 {
                            match r.try_read_frame(64) {
                                Ok(Some(_)) => {
                                    frames += 1;
                                    false
                                }
                                Ok(None) => false,
                                Err(ChannelError::EndOfStream) => true,
                                Err(e) => panic!("read_frame: {e}"),
                            }
                        } else {
                            match r.try_read(&mut buf) {
                                Err(ChannelError::EndOfStream) => true,
                                Ok(Some(n)) => {
                                    // Frames are 8 bytes and the buffer holds whole ones.
                                    frames += n / 8;
                                    false
                                }
                                Ok(None) => false,
                                Err(e) => panic!("read: {e}"),
                            }
                        };
                        if eos {
                            assert!(
                                dropping.load(SeqCst),
                                "end of stream after {frames} frames while the writer lives"
                            );
                            return frames;
                        }
                    }
                    unreachable!()
                })
            };
            let mut written = 0;
            for i in 0..conversions {
                let weak = if i % 2 == 0 {
                    w.downgrade()
                } else {
                    Writer::from(w).downgrade()
                };
                w = weak.upgrade().map_err(|(_, e)| e).expect("upgrade");
                if i % 64 == 0 {
                    assert_eq!(w.blocking_write(b"8 bytes!"), Ok(8));
                    written += 1;
                }
            }
            dropping.store(true, SeqCst);
            drop(w);
            let read = reader.join().expect("reader thread");
            assert_eq!(read, written, "every frame before the end");
        }
    });
}

/// Writers of both kinds and weak writers' clones write frames on their own threads and then
/// close, with the `Channel` dropped: a reader on another thread reaches end of stream only
/// after the last one closed, having read every frame. Then writers that close while the
/// channel is terminated or drained at a random moment: no panic, and no writer stays counted.
#[test]
fn closing_writers_end_the_stream_only_after_the_last_one() {
    guarded("close vs end of stream", || {
        let rounds = if cfg!(miri) { 1 } else { 20 };
        let frames = if cfg!(miri) { 5 } else { 200 };
        for round in 0..rounds {
            let chan = Channel::new(512);
            let mut r = chan.new_strong_reader();
            let weak = chan.new_weak_writer();
            let writers: Vec<Writer> = vec![
                chan.new_strong_writer().into(),
                weak.clone().into(),
                weak.into(),
                chan.new_writer(),
            ];
            let count = writers.len();
            drop(chan);
            let open = Arc::new(std::sync::atomic::AtomicUsize::new(count));
            let threads: Vec<_> = writers
                .into_iter()
                .map(|mut w| {
                    let open = open.clone();
                    thread::spawn(move || {
                        for i in 0..frames {
                            assert_eq!(block_on(w.write(&[i as u8; 8])), Ok(8));
                        }
                        open.fetch_sub(1, SeqCst);
                        w.close();
                        assert_eq!(w.try_write(b"late"), Err(ChannelError::Closed));
                    })
                })
                .collect();
            let mut read = 0;
            loop {
                match r.blocking_read_frame(64) {
                    Ok(_) => read += 1,
                    Err(ChannelError::EndOfStream) => break,
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
            assert_eq!(
                open.load(SeqCst),
                0,
                "round {round}: end of stream while a writer lives"
            );
            assert_eq!(
                read,
                count * frames,
                "round {round}: every frame before the end"
            );
            for t in threads {
                t.join().expect("writer thread");
            }
        }
        for round in 0..rounds as u64 {
            let chan = Channel::with_parameters(256, Backpressure::Drop);
            let threads: Vec<_> = (0..3)
                .map(|k| {
                    let chan = chan.clone();
                    thread::spawn(move || {
                        let mut rng = Rng::new(round * 3 + k + 1);
                        for _ in 0..if cfg!(miri) { 3 } else { 100 } {
                            let mut w = if rng.below(2) == 0 {
                                Writer::from(chan.new_weak_writer().clone())
                            } else {
                                chan.new_writer()
                            };
                            let _ = w.try_write(b"frame");
                            if rng.below(3) == 0 {
                                if let Ok(Some(g)) = w.try_reserve(8) {
                                    std::mem::forget(g);
                                }
                            }
                            w.close();
                            // A writer created on the terminated channel was terminated
                            // from the start: closing it changes nothing.
                            assert!(matches!(
                                w.try_write(b"x"),
                                Err(ChannelError::Closed | ChannelError::Terminated)
                            ));
                        }
                    })
                })
                .collect();
            for _ in 0..Rng::new(500 + round).below(if cfg!(miri) { 3 } else { 200 }) {
                thread::yield_now();
            }
            let _ = if round % 2 == 0 {
                chan.terminate()
            } else {
                chan.drain()
            };
            for t in threads {
                t.join().expect("writer thread");
            }
            assert_eq!(handle_counts(&chan.stats()), (0, 0, 0, 0));
        }
    });
}
