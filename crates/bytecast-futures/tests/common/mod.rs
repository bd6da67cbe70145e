//! The behaviour suite, written once and run on smol (`tests/smol.rs`), async-std
//! (`tests/async_std.rs`) and `futures::executor` (`tests/futures_executor.rs`). Each case is an
//! `async fn`, generic over how the executor spawns a task, that panics on failure; nothing here
//! measures time. `suite!` turns the list of cases into `#[test]`s for one executor, each run
//! under a 20 s watchdog so that a lost wake-up fails instead of hanging.

use bytecast_futures::{
    Backpressure, Channel, ChannelError, FrameStream, Reader, StrongReader, StrongWriter,
    WeakReader, WeakWriter, Writer,
};
use futures::future::{select, Either};
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use futures::task::{waker, ArcWake};
use futures::StreamExt;
use std::collections::HashMap;
use std::future::Future;
use std::io::{self, ErrorKind};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The executor.

/// How an executor spawns a task: the task's output comes back through the returned future.
pub(crate) trait Spawn {
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> std::pin::Pin<Box<dyn Future<Output = T> + Send>>;
}

/// Runs `case` on its own thread and fails if it has not finished in 20 s.
pub(crate) fn guard(case: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        case();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the case hung for 20 s"),
    }
}

/// One `#[test]` per case, on the executor given by its `Spawn` type and its `block_on`.
macro_rules! suite {
    ($spawn:ty, $block_on:path) => {
        suite!(@cases $spawn, $block_on;
            round_trip,
            many_writers_frames_whole_ordered_attributed,
            fan_out_to_several_strong_readers,
            weak_reader_loss_and_resume,
            drop_mode_write_all_gives_write_zero,
            terminate_wakes_parked_reader_and_writer,
            drain_ends_copy_and_read_to_end,
            write_while_draining_is_broken_pipe,
            dropped_pending_read_or_write_leaves_channel_healthy,
            selium_names_and_conversions,
        );
    };
    (@cases $spawn:ty, $block_on:path; $($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                common::guard(|| $block_on(common::$case::<$spawn>()));
            }
        )*
    };
}

/// Yields to the executor once.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Runs `fut` against a future that is ready at its second poll, and drops `fut` (it must lose).
async fn lose_a_select<F: Future>(fut: F) {
    match select(pin!(fut), pin!(yield_now())).await {
        Either::Left(_) => panic!("the future should have been pending"),
        // `fut` itself is dropped when this function returns, still pending.
        Either::Right(((), _pending)) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A self-checking frame: writer index, sequence number, then filler derived from both; its
/// length depends on both too.
fn payload(writer: u8, seq: u32) -> Vec<u8> {
    let len = 5 + (seq as usize * 7 + writer as usize * 3) % 50;
    let mut v = vec![writer];
    v.extend(seq.to_le_bytes());
    v.extend((5..len).map(|i| (i as u8) ^ writer ^ (seq as u8)));
    v
}

/// Checks a frame made by [`payload`] and returns its writer index and sequence number.
fn check(frame: &[u8]) -> (u8, u32) {
    assert!(frame.len() >= 5, "short frame: {frame:?}");
    let writer = frame[0];
    let seq = u32::from_le_bytes(frame[1..5].try_into().unwrap());
    assert_eq!(frame, payload(writer, seq), "torn or corrupted frame");
    (writer, seq)
}

/// The `ChannelError` inside an `io::Error` of kind `Other`.
fn channel_error(e: &io::Error) -> ChannelError {
    assert_eq!(e.kind(), ErrorKind::Other, "{e}");
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ChannelError>())
        .cloned()
        .expect("an Other error carries a ChannelError")
}

fn kind<T: std::fmt::Debug>(r: io::Result<T>) -> ErrorKind {
    r.expect_err("an error").kind()
}

/// Reads frames until end of stream.
async fn frames_until_eof(reader: &mut StrongReader) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        match reader.read_frame(usize::MAX).await {
            Ok(f) => out.push(f),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return out,
            Err(e) => panic!("read_frame: {e}"),
        }
    }
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, SeqCst);
    }
}

impl Flag {
    fn take(&self) -> bool {
        self.0.swap(false, SeqCst)
    }
}

/// Polls `fut` once with a waker that sets `flag`.
fn poll_once<F: Future + Unpin>(fut: &mut F, flag: &Arc<Flag>) -> Poll<F::Output> {
    let w = waker(flag.clone());
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(&w))
}

// ---------------------------------------------------------------------------------------------
// Cases.

/// Bytes written come back in order through `AsyncRead`, frames through `read_frame` with their
/// writer's id, and `fill_buf` lends a frame without copying it.
pub(crate) async fn round_trip<S: Spawn>() {
    let chan = Channel::new(1024);
    let mut writer = chan.new_writer();
    let mut bytes = chan.new_strong_reader();
    let mut frames = chan.new_weak_reader();
    let mut zero_copy = chan.new_strong_reader();

    writer.write_all(b"hello ").await.unwrap();
    writer.write_all(b"world").await.unwrap();
    writer.flush().await.unwrap();

    let mut buf = [0u8; 11];
    bytes.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello world");

    let id = writer.id().unwrap();
    assert_eq!(
        frames.read_frame(64).await.unwrap(),
        (id, b"hello ".to_vec())
    );
    assert_eq!(
        frames.read_frame(64).await.unwrap(),
        (id, b"world".to_vec())
    );

    assert_eq!(zero_copy.fill_buf().await.unwrap(), b"hello ");
    zero_copy.consume(2);
    assert_eq!(zero_copy.fill_buf().await.unwrap(), b"llo ");
    zero_copy.consume(4);
    // A frame read after a partial byte read returns the rest of that frame.
    let mut two = [0u8; 2];
    zero_copy.read_exact(&mut two).await.unwrap();
    assert_eq!(
        zero_copy.read_frame(64).await.unwrap(),
        (id, b"rld".to_vec())
    );

    // A frame longer than the limit is an error that leaves the reader where it was.
    writer.write_all(b"0123456789").await.unwrap();
    assert_eq!(kind(bytes.read_frame(4).await), ErrorKind::InvalidInput);
    assert_eq!(bytes.read_frame(10).await.unwrap().1, b"0123456789");

    writer.close().await.unwrap();
}

/// Several strong and weak writers on a small ring: every frame arrives whole, each writer's
/// frames in order, each attributed to its writer.
pub(crate) async fn many_writers_frames_whole_ordered_attributed<S: Spawn>() {
    const WRITERS: u8 = 6;
    const FRAMES: u32 = 300;
    let chan = Channel::new(256);
    let mut reader = chan.new_strong_reader();
    let collect = S::spawn(async move { frames_until_eof(&mut reader).await });

    // Every writer exists before any writes: a strong writer's id is its own from the start.
    let writers: Vec<Writer> = (0..WRITERS)
        .map(|w| {
            if w % 2 == 0 {
                chan.new_strong_writer().into()
            } else {
                chan.new_weak_writer().into()
            }
        })
        .collect();
    let mut tasks = Vec::new();
    for (w, mut writer) in (0..WRITERS).zip(writers) {
        tasks.push(S::spawn(async move {
            for seq in 0..FRAMES {
                writer.write_all(&payload(w, seq)).await.unwrap();
            }
            // Handed back alive: a strong writer's id is free for others once it is dropped.
            (w, writer)
        }));
    }
    let mut strong_ids = HashMap::new();
    let mut alive = Vec::new();
    for t in tasks {
        let (w, writer) = t.await;
        if matches!(*writer, bytecast::Writer::Strong(_)) {
            strong_ids.insert(w, writer.id().unwrap());
        }
        alive.push(writer);
    }
    chan.drain().unwrap();
    drop(alive);
    let frames = collect.await;

    assert_eq!(frames.len(), WRITERS as usize * FRAMES as usize);
    let mut next = [0u32; WRITERS as usize];
    for (id, frame) in &frames {
        let (w, seq) = check(frame);
        assert_eq!(seq, next[w as usize], "writer {w}'s frames out of order");
        next[w as usize] += 1;
        match strong_ids.get(&w) {
            Some(strong_id) => assert_eq!(id, strong_id, "frame attributed to the wrong writer"),
            None => assert!(
                !strong_ids.values().any(|s| s == id),
                "a weak writer's frame carries a live strong writer's id"
            ),
        }
    }
}

/// Every strong reader gets every frame, in order.
pub(crate) async fn fan_out_to_several_strong_readers<S: Spawn>() {
    const FRAMES: u32 = 500;
    let chan = Channel::new(512);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let stream = chan.new_strong_reader().into_stream();
            S::spawn(stream.map(|f| f.unwrap().1).collect::<Vec<_>>())
        })
        .collect();
    let mut writer = chan.new_strong_writer();
    for seq in 0..FRAMES {
        writer.write_all(&payload(0, seq)).await.unwrap();
    }
    chan.drain().unwrap();
    for r in readers {
        let got = r.await;
        assert_eq!(got.len(), FRAMES as usize);
        for (seq, frame) in got.iter().enumerate() {
            assert_eq!(check(frame), (0, seq as u32));
        }
    }
}

/// A lapped weak reader gets `Other` carrying `ReaderBehind(n)` with the exact bytes lost, then
/// resumes; as a stream the loss is an item and the stream goes on.
pub(crate) async fn weak_reader_loss_and_resume<S: Spawn>() {
    const FRAMES: u32 = 40;
    for as_stream in [false, true] {
        let chan = Channel::new(128);
        let mut reader = chan.new_weak_reader();
        let mut writer = chan.new_strong_writer();
        let mut total = 0u64;
        for seq in 0..FRAMES {
            let p = payload(1, seq);
            total += p.len() as u64;
            writer.write_all(&p).await.unwrap();
        }
        chan.drain().unwrap();

        let (lost, received) = if as_stream {
            let mut stream = reader.into_stream();
            let lost = match stream.next().await {
                Some(Err(ChannelError::ReaderBehind(n))) => n,
                other => panic!("expected ReaderBehind, got {other:?}"),
            };
            let mut received = 0u64;
            let mut last = None;
            while let Some(item) = stream.next().await {
                let (_, frame) = item.unwrap();
                let (_, seq) = check(&frame);
                assert!(last < Some(seq));
                last = Some(seq);
                received += frame.len() as u64;
            }
            assert_eq!(last, Some(FRAMES - 1));
            let reader = stream.into_inner().into_weak().unwrap();
            assert_eq!(reader.lost_bytes(), lost);
            (lost, received)
        } else {
            let mut buf = [0u8; 64];
            let err = reader.read(&mut buf).await.unwrap_err();
            let ChannelError::ReaderBehind(lost) = channel_error(&err) else {
                panic!("expected ReaderBehind, got {err}");
            };
            assert_eq!(reader.lost_bytes(), lost);
            assert!(reader.lost_frames() > 0);
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).await.unwrap();
            (lost, rest.len() as u64)
        };
        assert!(lost > 0);
        assert_eq!(lost + received, total, "loss must be exact");
    }
}

/// Under `Drop`, a frame that does not fit is refused whole: `poll_write` gives `Ok(0)`, so
/// `write_all` reports `WriteZero`; readers never see it, and writing works again once read.
pub(crate) async fn drop_mode_write_all_gives_write_zero<S: Spawn>() {
    let chan = Channel::with_parameters(256, Backpressure::Drop);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_weak_writer();
    let mut accepted = 0u32;
    let err = loop {
        match writer.write_all(&payload(2, accepted)).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100, "a 256-byte ring never refused a frame");
    };
    assert_eq!(err.kind(), ErrorKind::WriteZero);
    assert_eq!(chan.stats().dropped_frames, 1);
    for seq in 0..accepted {
        let (_, frame) = reader.read_frame(64).await.unwrap();
        assert_eq!(check(&frame), (2, seq));
    }
    writer.write_all(b"again").await.unwrap();
    assert_eq!(reader.read_frame(64).await.unwrap().1, b"again");
}

/// `terminate()` wakes a parked reader and a parked writer; both fail with `ConnectionAborted`.
pub(crate) async fn terminate_wakes_parked_reader_and_writer<S: Spawn>() {
    // Deterministic: each future is parked with a flag waker before the terminate.
    let chan = Channel::new(64);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_strong_writer();
    while writer.try_write(&[7; 24]).unwrap().is_some() {}
    let mut other = chan.new_weak_reader();
    while other.try_read(&mut [0; 64]).unwrap().is_some_and(|n| n > 0) {}
    let (rflag, wflag) = (Arc::new(Flag::default()), Arc::new(Flag::default()));
    {
        let mut buf = [0u8; 8];
        let mut read = pin!(other.read(&mut buf));
        let mut write = pin!(writer.write_all(b"parked"));
        assert!(poll_once(&mut read, &rflag).is_pending());
        assert!(poll_once(&mut write, &wflag).is_pending());
        chan.terminate().unwrap();
        assert!(rflag.take(), "terminate did not wake the parked reader");
        assert!(wflag.take(), "terminate did not wake the parked writer");
        let Poll::Ready(r) = poll_once(&mut read, &rflag) else {
            panic!("read still pending")
        };
        assert_eq!(kind(r), ErrorKind::ConnectionAborted);
        let Poll::Ready(w) = poll_once(&mut write, &wflag) else {
            panic!("write still pending")
        };
        assert_eq!(kind(w), ErrorKind::ConnectionAborted);
    }
    assert_eq!(
        kind(reader.read_frame(64).await),
        ErrorKind::ConnectionAborted
    );
    let mut stream = reader.into_stream();
    assert_eq!(stream.next().await, Some(Err(ChannelError::Terminated)));
    assert_eq!(stream.next().await, None);

    // Through the executor: tasks parked on their own, woken by the terminate.
    let chan = Channel::new(64);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_strong_writer();
    let mut idle = chan.new_weak_reader();
    while writer.try_write(&[7; 24]).unwrap().is_some() {}
    while idle.try_read(&mut [0; 64]).unwrap().is_some_and(|n| n > 0) {}
    let read = S::spawn(async move { idle.read(&mut [0; 8]).await });
    let write = S::spawn(async move { writer.write_all(b"parked").await });
    for _ in 0..10 {
        yield_now().await;
    }
    chan.terminate().unwrap();
    assert_eq!(kind(read.await), ErrorKind::ConnectionAborted);
    assert_eq!(kind(write.await), ErrorKind::ConnectionAborted);
    assert_eq!(
        kind(reader.read(&mut [0; 8]).await),
        ErrorKind::ConnectionAborted
    );
}

/// After `drain()`, readers finish what is in the ring and then see end of stream, so
/// `futures::io::copy`, `copy_buf` and `read_to_end` return.
pub(crate) async fn drain_ends_copy_and_read_to_end<S: Spawn>() {
    let data: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();

    // A small ring: the copies run while the writer parks.
    let chan = Channel::new(256);
    let mut copier = chan.new_strong_reader();
    let mut buf_copier = chan.new_strong_reader();
    let copy = S::spawn(async move {
        let mut out = Vec::new();
        let n = futures::io::copy(&mut copier, &mut out).await.unwrap();
        assert_eq!(n as usize, out.len());
        out
    });
    let copy_buf = S::spawn(async move {
        let mut out = Vec::new();
        futures::io::copy_buf(&mut buf_copier, &mut out)
            .await
            .unwrap();
        out
    });
    let mut writer = chan.new_strong_writer();
    for chunk in data.chunks(100) {
        writer.write_all(chunk).await.unwrap();
    }
    chan.drain().unwrap();
    assert_eq!(copy.await, data);
    assert_eq!(copy_buf.await, data);

    // A ring that holds it all: weak and strong readers read to the end after the drain.
    let chan = Channel::new(16 * 1024);
    let mut weak = chan.new_weak_reader();
    let mut strong: Reader = chan.new_strong_reader().into();
    let mut writer = chan.new_weak_writer();
    writer.write_all(&data).await.unwrap();
    chan.drain().unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    weak.read_to_end(&mut a).await.unwrap();
    strong.read_to_end(&mut b).await.unwrap();
    assert_eq!((a == data, b == data), (true, true));
    // End of stream stays end of stream.
    assert_eq!(weak.read(&mut [0; 8]).await.unwrap(), 0);
    assert_eq!(kind(weak.read_frame(8).await), ErrorKind::UnexpectedEof);
}

/// A new frame while draining is refused with `BrokenPipe`, whatever the writer kind.
pub(crate) async fn write_while_draining_is_broken_pipe<S: Spawn>() {
    let chan = Channel::new(256);
    let mut strong = chan.new_strong_writer();
    let mut weak = chan.new_weak_writer();
    let mut either = chan.new_writer();
    let mut reader = chan.new_strong_reader();
    strong.write_all(b"before").await.unwrap();
    chan.drain().unwrap();
    assert_eq!(kind(strong.write_all(b"x").await), ErrorKind::BrokenPipe);
    assert_eq!(kind(weak.write_all(b"x").await), ErrorKind::BrokenPipe);
    assert_eq!(kind(either.write_all(b"x").await), ErrorKind::BrokenPipe);
    assert_eq!(reader.read_frame(64).await.unwrap().1, b"before");
    assert_eq!(kind(reader.read_frame(64).await), ErrorKind::UnexpectedEof);
    // Terminating a draining channel still terminates it (and says it was draining).
    assert_eq!(chan.terminate(), Err(ChannelError::TerminateDraining));
    assert_eq!(
        kind(strong.write_all(b"x").await),
        ErrorKind::ConnectionAborted
    );
}

/// A read or a write that loses a `select` and is dropped leaves the channel
/// healthy: nothing was consumed, nothing was written, and both sides go on.
pub(crate) async fn dropped_pending_read_or_write_leaves_channel_healthy<S: Spawn>() {
    let chan = Channel::new(128);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_strong_writer();

    // A pending read dropped.
    lose_a_select(reader.read_frame(64)).await;
    lose_a_select(reader.read(&mut [0; 8])).await;
    writer.write_all(b"first").await.unwrap();
    assert_eq!(reader.read_frame(64).await.unwrap().1, b"first");

    // A pending write dropped: the ring has no room for its frame, the write parks, and loses.
    let mut accepted = 0u32;
    while writer.try_write(&payload(3, accepted)).unwrap().is_some() {
        accepted += 1;
    }
    lose_a_select(writer.write_all(&[7u8; 100])).await;
    for seq in 0..accepted {
        assert_eq!(check(&reader.read_frame(64).await.unwrap().1), (3, seq));
    }
    writer.write_all(b"after").await.unwrap();
    assert_eq!(reader.read_frame(64).await.unwrap().1, b"after");
    chan.drain().unwrap();
    assert_eq!(kind(reader.read_frame(64).await), ErrorKind::UnexpectedEof);
    assert_eq!(chan.stats().strong_writers, 1);
}

/// selium-messaging's names, signatures and conversions; every handle is `Unpin + Send`.
pub(crate) async fn selium_names_and_conversions<S: Spawn>() {
    fn unpin_send<T: Unpin + Send + 'static>() {}
    unpin_send::<StrongReader>();
    unpin_send::<WeakReader>();
    unpin_send::<Reader>();
    unpin_send::<StrongWriter>();
    unpin_send::<WeakWriter>();
    unpin_send::<Writer>();
    unpin_send::<FrameStream>();
    unpin_send::<Arc<Channel>>();

    let chan: Arc<Channel> = Channel::with_parameters(128, Backpressure::Park);
    let writer: Writer = chan.new_writer();
    let weak: Writer = writer.downgrade();
    let mut weak: WeakWriter = weak.into_weak().unwrap();
    let strong: StrongWriter = match chan.new_writer().into_strong() {
        Ok(s) => s,
        Err(_) => panic!("new_writer is strong"),
    };
    let _: WeakWriter = strong.downgrade();
    let reader: Reader = chan.new_strong_reader().into();
    let reader: StrongReader = reader.into_strong().unwrap();
    let mut reader: WeakReader = reader.downgrade();
    let core: bytecast::WeakReader = reader.into_inner();
    reader = WeakReader::new(core);
    weak.write_all(b"seed").await.unwrap();
    assert_eq!(reader.read_frame(16).await.unwrap().1, b"seed");
    let _strong: StrongWriter = weak.upgrade().unwrap();
    assert_eq!(chan.stats().weak_readers, 1);
    assert!(chan.max_frame_len() < chan.capacity());
}
