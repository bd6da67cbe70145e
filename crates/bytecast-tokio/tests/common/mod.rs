//! The behaviour suite, written once and run by `tests/tokio.rs` on the current-thread and the
//! multi-thread runtime. Each case is an `async fn` that panics on failure; nothing here
//! measures time.

use bytecast_tokio::{
    Backpressure, Channel, ChannelError, Delivery, Frame, FrameStream, LossyStream, Reader,
    StrongReader, StrongWriter, WeakReader, WeakWriter, Writer,
};
use bytes::Bytes;
use futures::stream::{FusedStream, StreamExt};
use futures::task::{waker, ArcWake};
use std::collections::HashMap;
use std::future::Future;
use std::io::{self, ErrorKind};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

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
            Ok(Some(f)) => out.push((f.writer, f.payload.to_vec())),
            Ok(None) => return out,
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
pub(crate) async fn round_trip() {
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
        Some(Frame {
            writer: id,
            payload: Bytes::from_static(b"hello ")
        })
    );
    assert_eq!(
        frames.read_frame(64).await.unwrap(),
        Some(Frame {
            writer: id,
            payload: Bytes::from_static(b"world")
        })
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
        Some(Frame {
            writer: id,
            payload: Bytes::from_static(b"rld")
        })
    );

    // A frame longer than the limit is an error that leaves the reader where it was.
    writer.write_all(b"0123456789").await.unwrap();
    assert_eq!(kind(bytes.read_frame(4).await), ErrorKind::InvalidInput);
    assert_eq!(
        &bytes.read_frame(10).await.unwrap().unwrap().payload[..],
        b"0123456789"
    );

    writer.shutdown().await.unwrap();
}

/// Several strong and weak writers on a small ring: every frame arrives whole, each writer's
/// frames in order, each attributed to its writer.
pub(crate) async fn many_writers_frames_whole_ordered_attributed() {
    const WRITERS: u8 = 6;
    const FRAMES: u32 = 300;
    let chan = Channel::new(256);
    let mut reader = chan.new_strong_reader();
    let collect = tokio::spawn(async move { frames_until_eof(&mut reader).await });

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
        tasks.push(tokio::spawn(async move {
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
        let (w, writer) = t.await.unwrap();
        if matches!(*writer, bytecast::Writer::Strong(_)) {
            strong_ids.insert(w, writer.id().unwrap());
        }
        alive.push(writer);
    }
    chan.drain().unwrap();
    drop(alive);
    let frames = collect.await.unwrap();

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
pub(crate) async fn fan_out_to_several_strong_readers() {
    const FRAMES: u32 = 500;
    let chan = Channel::new(512);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let stream = chan.new_strong_reader().into_stream();
            tokio::spawn(
                stream
                    .map(|f| f.unwrap().payload.to_vec())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut writer = chan.new_strong_writer();
    for seq in 0..FRAMES {
        writer.write_all(&payload(0, seq)).await.unwrap();
    }
    chan.drain().unwrap();
    for r in readers {
        let got = r.await.unwrap();
        assert_eq!(got.len(), FRAMES as usize);
        for (seq, frame) in got.iter().enumerate() {
            assert_eq!(check(frame), (0, seq as u32));
        }
    }
}

/// A lapped weak reader gets `Other` carrying `ReaderBehind(n)` with the exact bytes lost, then
/// resumes; as a stream the loss is an item and the stream goes on.
pub(crate) async fn weak_reader_loss_and_resume() {
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
                Some(Err(e)) => match channel_error(&e) {
                    ChannelError::ReaderBehind(n) => n,
                    other => panic!("expected ReaderBehind, got {other:?}"),
                },
                other => panic!("expected ReaderBehind, got {other:?}"),
            };
            let mut received = 0u64;
            let mut last = None;
            while let Some(item) = stream.next().await {
                let frame = item.unwrap().payload;
                let (_, seq) = check(&frame);
                assert!(last < Some(seq));
                last = Some(seq);
                received += frame.len() as u64;
            }
            assert_eq!(last, Some(FRAMES - 1));
            let reader = stream.into_inner();
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
pub(crate) async fn drop_mode_write_all_gives_write_zero() {
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
        let frame = reader.read_frame(64).await.unwrap().unwrap().payload;
        assert_eq!(check(&frame), (2, seq));
    }
    writer.write_all(b"again").await.unwrap();
    assert_eq!(
        &reader.read_frame(64).await.unwrap().unwrap().payload[..],
        b"again"
    );
}

/// `terminate()` wakes a parked reader and a parked writer; both fail with `ConnectionAborted`.
pub(crate) async fn terminate_wakes_parked_reader_and_writer() {
    // Deterministic: each future is parked with a flag waker before the terminate.
    let chan = Channel::new(64);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_strong_writer();
    while writer.get_mut().try_write(&[7; 24]).unwrap().is_some() {}
    let mut other = chan.new_weak_reader();
    while other
        .get_mut()
        .try_read(&mut [0; 64])
        .unwrap()
        .is_some_and(|n| n > 0)
    {}
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
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionAborted);
    assert!(stream.next().await.is_none());
    assert!(stream.is_terminated());

    // Through the executor: tasks parked on their own, woken by the terminate.
    let chan = Channel::new(64);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_strong_writer();
    let mut idle = chan.new_weak_reader();
    while writer.get_mut().try_write(&[7; 24]).unwrap().is_some() {}
    while idle
        .get_mut()
        .try_read(&mut [0; 64])
        .unwrap()
        .is_some_and(|n| n > 0)
    {}
    let read = tokio::spawn(async move { idle.read(&mut [0; 8]).await });
    let write = tokio::spawn(async move { writer.write_all(b"parked").await });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    chan.terminate().unwrap();
    assert_eq!(kind(read.await.unwrap()), ErrorKind::ConnectionAborted);
    assert_eq!(kind(write.await.unwrap()), ErrorKind::ConnectionAborted);
    assert_eq!(
        kind(reader.read(&mut [0; 8]).await),
        ErrorKind::ConnectionAborted
    );
}

/// After `drain()`, readers finish what is in the ring and then see end of stream, so
/// `tokio::io::copy`, `copy_buf` and `read_to_end` return.
pub(crate) async fn drain_ends_copy_and_read_to_end() {
    let data: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();

    // A small ring: the copies run while the writer parks.
    let chan = Channel::new(256);
    let mut copier = chan.new_strong_reader();
    let mut buf_copier = chan.new_strong_reader();
    let copy = tokio::spawn(async move {
        let mut out = Vec::new();
        let n = tokio::io::copy(&mut copier, &mut out).await.unwrap();
        assert_eq!(n as usize, out.len());
        out
    });
    let copy_buf = tokio::spawn(async move {
        let mut out = Vec::new();
        tokio::io::copy_buf(&mut buf_copier, &mut out)
            .await
            .unwrap();
        out
    });
    let mut writer = chan.new_strong_writer();
    for chunk in data.chunks(100) {
        writer.write_all(chunk).await.unwrap();
    }
    chan.drain().unwrap();
    assert_eq!(copy.await.unwrap(), data);
    assert_eq!(copy_buf.await.unwrap(), data);

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
    assert!(weak.read_frame(8).await.unwrap().is_none(), "end of stream");
}

/// A new frame while draining is refused with `BrokenPipe`, whatever the writer kind.
pub(crate) async fn write_while_draining_is_broken_pipe() {
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
    assert_eq!(
        &reader.read_frame(64).await.unwrap().unwrap().payload[..],
        b"before"
    );
    assert!(
        reader.read_frame(64).await.unwrap().is_none(),
        "end of stream"
    );
    // Terminating a draining channel still terminates it (and says it was draining).
    assert_eq!(chan.terminate(), Err(ChannelError::TerminateDraining));
    assert_eq!(
        kind(strong.write_all(b"x").await),
        ErrorKind::ConnectionAborted
    );
}

/// A read or a write that loses a `select!` (or a timeout) and is dropped leaves the channel
/// healthy: nothing was consumed, nothing was written, and both sides go on.
pub(crate) async fn dropped_pending_read_or_write_leaves_channel_healthy() {
    let chan = Channel::new(128);
    let mut reader = chan.new_strong_reader();
    let mut writer = chan.new_strong_writer();

    // A pending read dropped.
    tokio::select! {
        biased;
        r = reader.read_frame(64) => panic!("nothing was written: {r:?}"),
        () = tokio::task::yield_now() => {}
    }
    let timed_out = tokio::time::timeout(
        std::time::Duration::from_millis(1),
        reader.read(&mut [0; 8]),
    )
    .await;
    assert!(timed_out.is_err());
    writer.write_all(b"first").await.unwrap();
    assert_eq!(
        &reader.read_frame(64).await.unwrap().unwrap().payload[..],
        b"first"
    );

    // A pending write dropped: the ring has no room for its frame, the write parks, and loses.
    let mut accepted = 0u32;
    while writer
        .get_mut()
        .try_write(&payload(3, accepted))
        .unwrap()
        .is_some()
    {
        accepted += 1;
    }
    tokio::select! {
        biased;
        r = writer.write_all(&[7u8; 100]) => panic!("the ring is full: {r:?}"),
        () = tokio::task::yield_now() => {}
    }
    for seq in 0..accepted {
        assert_eq!(
            check(&reader.read_frame(64).await.unwrap().unwrap().payload),
            (3, seq)
        );
    }
    writer.write_all(b"after").await.unwrap();
    assert_eq!(
        &reader.read_frame(64).await.unwrap().unwrap().payload[..],
        b"after"
    );
    chan.drain().unwrap();
    assert!(
        reader.read_frame(64).await.unwrap().is_none(),
        "end of stream"
    );
    assert_eq!(chan.stats().strong_writers, 1);
}

/// selium-messaging's names, signatures and conversions; every handle is `Unpin + Send`.
pub(crate) async fn selium_names_and_conversions() {
    fn unpin_send<T: Unpin + Send + 'static>() {}
    unpin_send::<StrongReader>();
    unpin_send::<WeakReader>();
    unpin_send::<Reader>();
    unpin_send::<StrongWriter>();
    unpin_send::<WeakWriter>();
    unpin_send::<Writer>();
    unpin_send::<FrameStream<bytecast::Reader>>();
    unpin_send::<LossyStream<bytecast::WeakReader>>();
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
    assert_eq!(
        &reader.read_frame(16).await.unwrap().unwrap().payload[..],
        b"seed"
    );
    let _strong: StrongWriter = weak.upgrade().unwrap();
    assert_eq!(chan.stats().weak_readers, 1);
    assert!(chan.max_frame_len() < chan.capacity());
}

// ---------------------------------------------------------------------------------------------
// The I/O face: pipe reads, end of stream, lossy frames, sink, shutdown, clones.

/// One `read` takes every published frame that fits the buffer, as a pipe does.
pub(crate) async fn byte_reads_are_a_pipe() {
    let chan = Channel::new(1024);
    let mut writer = chan.new_strong_writer();
    let mut reader = chan.new_strong_reader();
    for i in 0..50u8 {
        writer.write_all(&[i; 3]).await.unwrap();
    }
    let mut buf = [0u8; 400];
    assert_eq!(
        reader.read(&mut buf).await.unwrap(),
        150,
        "50 frames in one read"
    );
    assert!(buf[..150]
        .chunks(3)
        .enumerate()
        .all(|(i, c)| c == [i as u8; 3]));
    // A buffer smaller than a frame stops inside it; the next read goes on from there.
    writer.write_all(b"abcdef").await.unwrap();
    writer.write_all(b"gh").await.unwrap();
    assert_eq!(reader.read(&mut buf[..4]).await.unwrap(), 4);
    assert_eq!(reader.read(&mut buf).await.unwrap(), 4);
    assert_eq!(&buf[..4], b"efgh");
}

/// Drained and caught up: no data on every face of the crate, never an error.
pub(crate) async fn end_of_stream_is_no_data_on_every_face() {
    let chan = Channel::new(256);
    let mut writer = chan.new_strong_writer();
    let mut bytes = chan.new_strong_reader();
    let mut lent = chan.new_strong_reader();
    let mut frames = chan.new_weak_reader();
    let mut stream = chan.new_strong_reader().into_stream();
    let mut lossy = chan.new_weak_reader().into_lossy_stream();
    writer.write_all(b"last").await.unwrap();
    chan.drain().unwrap();

    let mut all = Vec::new();
    assert_eq!(bytes.read_to_end(&mut all).await.unwrap(), 4);
    assert_eq!(bytes.read(&mut [0; 8]).await.unwrap(), 0);
    assert_eq!(lent.fill_buf().await.unwrap(), b"last");
    lent.consume(4);
    assert!(lent.fill_buf().await.unwrap().is_empty());
    assert_eq!(
        &frames.read_frame(64).await.unwrap().unwrap().payload[..],
        b"last"
    );
    assert!(frames.read_frame(64).await.unwrap().is_none());
    assert_eq!(&stream.next().await.unwrap().unwrap().payload[..], b"last");
    assert!(stream.next().await.is_none() && stream.is_terminated());
    assert!(lossy.next().await.unwrap().is_ok());
    assert!(lossy.next().await.is_none() && lossy.is_terminated());
    // The core handle underneath reports it as `EndOfStream`.
    assert_eq!(
        bytes.get_mut().try_read(&mut [0; 8]),
        Err(ChannelError::EndOfStream)
    );
}

/// A lapped weak reader's lossy stream gives the loss as one item, then whole frames: text
/// lines are never joined across the loss.
pub(crate) async fn lossy_stream_gives_the_loss_as_an_item() {
    let chan = Channel::new(256);
    let mut tail = chan.new_weak_reader().into_lossy_stream();
    let mut writer = chan.new_weak_writer();
    for i in 0..100u32 {
        writer
            .write_all(format!("line {i:03}\n").as_bytes())
            .await
            .unwrap();
    }
    chan.drain().unwrap();
    let mut seen = Vec::new();
    let mut lost_frames = 0;
    while let Some(item) = tail.next().await {
        match item.unwrap() {
            Delivery::Frame(f) => {
                assert_eq!(f.payload.len(), 9, "a whole line: {:?}", f.payload);
                seen.push(String::from_utf8(f.payload.to_vec()).unwrap());
            }
            Delivery::Lost(loss) => {
                assert!(seen.is_empty(), "the loss comes before the frames after it");
                assert_eq!(loss.bytes, loss.frames * 9, "exact: whole lines of 9 bytes");
                lost_frames += loss.frames;
            }
        }
    }
    assert!(lost_frames > 0, "a 256-byte ring cannot hold 100 lines");
    assert_eq!(lost_frames as usize + seen.len(), 100);
    assert_eq!(seen.last().map(String::as_str), Some("line 099\n"));
    assert_eq!(chan.stats().lost_frames, lost_frames);
}

/// A writer as a `Sink`: one frame per item; too long an item is refused before anything is
/// written; under `Drop` a frame that does not fit is dropped and counted; closing the sink
/// gives the writer up.
pub(crate) async fn sink_writes_one_frame_per_item() {
    use futures::SinkExt;
    let chan = Channel::with_parameters(128, Backpressure::Drop);
    let mut reader = chan.new_strong_reader();
    let writer = chan.new_strong_writer();
    let id = writer.id().unwrap();
    let mut sink = writer.into_sink();
    sink.send(&b"one"[..]).await.unwrap();
    sink.send(&b"two"[..]).await.unwrap();
    let err = sink.send(&[0u8; 121][..]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    for _ in 0..20 {
        sink.send(&[7u8; 24][..]).await.unwrap();
    }
    assert!(
        chan.stats().dropped_frames > 0,
        "the full ring dropped frames"
    );
    let first = reader.read_frame(64).await.unwrap().unwrap();
    assert_eq!((first.writer, &first.payload[..]), (id, &b"one"[..]));
    SinkExt::<&[u8]>::close(&mut sink).await.unwrap();
    assert!(sink.get_ref().is_closed());
}

/// Shutting a writer down gives it up: later writes fail with `BrokenPipe`, and once the channel
/// and every writer are gone, readers reach end of stream after the last frame.
pub(crate) async fn shutdown_gives_the_writer_up() {
    let chan = Channel::new(256);
    let mut reader = chan.new_strong_reader();
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_weak_writer();
    a.write_all(b"from a").await.unwrap();
    b.write_all(b"from b").await.unwrap();
    drop(chan);
    shutdown(&mut a).await;
    assert_eq!(kind(a.write_all(b"late").await), ErrorKind::BrokenPipe);
    assert!(a.is_closed() && !b.is_closed());
    shutdown(&mut b).await;
    let mut all = Vec::new();
    reader.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"from afrom b");
}

/// A weak writer's clone is another weak writer on the same channel.
pub(crate) async fn weak_writer_clones_write_too() {
    let chan = Channel::new(256);
    let mut reader = chan.new_strong_reader();
    let mut a = chan.new_weak_writer();
    let mut b = a.clone();
    a.write_all(b"a").await.unwrap();
    b.write_all(b"b").await.unwrap();
    assert_eq!(chan.stats().weak_writers, 2);
    drop((a, b));
    chan.drain().unwrap();
    let mut all = Vec::new();
    reader.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"ab");
}

async fn shutdown<W: AsyncWriteExt + Unpin>(w: &mut W) {
    w.shutdown().await.unwrap();
}
