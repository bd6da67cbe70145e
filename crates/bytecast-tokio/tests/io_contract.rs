//! The adapter's I/O contract under misuse and races: end of stream on every face, the sink's
//! edges, the streams, shutdown and cancellation, weak-writer clones.

use bytecast_tokio::{Backpressure, Channel, Delivery};
use futures::{SinkExt, StreamExt};
use std::io::ErrorKind;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(5);

/// A reader parked in `poll_read` wakes when the last writer shuts down and the channel is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_read_wakes_on_last_shutdown() {
    for _ in 0..100 {
        let chan = Channel::new(256);
        let mut w = chan.new_weak_writer();
        let mut w2 = w.clone();
        let mut r = chan.new_strong_reader();
        drop(chan);
        let reader = tokio::spawn(async move {
            let mut v = Vec::new();
            r.read_to_end(&mut v).await.map(|_| v)
        });
        tokio::task::yield_now().await;
        w.write_all(b"abc").await.unwrap();
        w.shutdown().await.unwrap();
        w2.write_all(b"def").await.unwrap();
        w2.shutdown().await.unwrap();
        let v = timeout(T, reader)
            .await
            .expect("reader hung")
            .unwrap()
            .unwrap();
        assert_eq!(v, b"abcdef");
        // Writes after shutdown: BrokenPipe.
        assert_eq!(
            w.write(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        assert!(w.is_closed());
    }
}

/// Sink: oversize item, close twice, send after close, drop under Drop.
#[tokio::test]
async fn sink_contract() {
    let chan = Channel::with_parameters(64, Backpressure::Drop);
    let mut frames = chan.new_strong_reader().into_stream();
    let mut sink = chan.new_strong_writer().into_sink::<Vec<u8>>();
    let e = sink.send(vec![0; 57]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // The sink goes on after an oversize item.
    sink.send(vec![1; 56]).await.unwrap();
    // Ring full: under Drop, dropped and counted, no error.
    sink.send(vec![2; 8]).await.unwrap();
    assert_eq!(chan.stats().dropped_frames, 1);
    sink.close().await.unwrap();
    sink.close().await.unwrap();
    let e = sink.send(vec![3]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    drop(sink);
    let f = frames.next().await.unwrap().unwrap();
    assert_eq!(&f.payload[..], &[1; 56][..]);
    // Channel still alive: no EOS.
    assert!(timeout(Duration::from_millis(50), frames.next())
        .await
        .is_err());
    drop(chan);
    assert!(timeout(T, frames.next()).await.unwrap().is_none());
    assert!(frames.next().await.is_none());
}

/// End of stream per face after drain: Ok(0), empty fill_buf, read_frame None, stream None.
#[tokio::test]
async fn end_of_stream_faces() {
    let chan = Channel::new(256);
    let mut w = chan.new_writer();
    let mut a = chan.new_strong_reader();
    let mut b = chan.new_strong_reader();
    let mut c = chan.new_weak_reader();
    let mut d = chan
        .try_new_reader(false, bytecast_tokio::StartAt::Oldest)
        .unwrap();
    w.write_all(b"one\ntwo").await.unwrap();
    w.write_all(b"\nthree").await.unwrap();
    chan.drain().unwrap();
    let mut line = String::new();
    assert_eq!(a.read_line(&mut line).await.unwrap(), 4);
    line.clear();
    assert_eq!(a.read_line(&mut line).await.unwrap(), 4, "{line:?}");
    line.clear();
    assert_eq!(a.read_line(&mut line).await.unwrap(), 5);
    assert_eq!(a.read_line(&mut line).await.unwrap(), 0);
    assert!(a.fill_buf().await.unwrap().is_empty());
    let mut v = Vec::new();
    assert_eq!(b.read_to_end(&mut v).await.unwrap(), 13);
    assert_eq!(
        c.read_frame(64).await.unwrap().unwrap().payload,
        &b"one\ntwo"[..]
    );
    assert_eq!(
        c.read_frame(64).await.unwrap().unwrap().payload,
        &b"\nthree"[..]
    );
    assert!(c.read_frame(64).await.unwrap().is_none());
    assert!(c.read_frame(64).await.unwrap().is_none());
    let mut s = Vec::new();
    tokio::io::copy(&mut d, &mut s).await.unwrap();
    assert_eq!(s, b"one\ntwo\nthree");
}

/// A weak reader's byte read stops at a loss; a LossyStream then starts with that loss, and
/// `Loss.frames` equals the reader's `lost_frames`.
#[tokio::test]
async fn held_loss_reaches_lossy_stream() {
    let chan = Channel::with_parameters(64, Backpressure::Drop);
    let mut w = chan.new_weak_writer();
    let mut r = chan.new_weak_reader();
    for i in 0..3u8 {
        w.get_mut().try_write(&[i; 8]).unwrap();
    }
    let mut buf = [0u8; 4];
    assert_eq!(r.read(&mut buf).await.unwrap(), 4);
    for i in 3..20u8 {
        w.get_mut().try_write(&[i; 8]).unwrap();
    }
    chan.drain().unwrap();
    let mut ls = r.into_lossy_stream();
    let Delivery::Lost(loss) = ls.next().await.unwrap().unwrap() else {
        panic!("first item is not the loss")
    };
    let mut frames = 0;
    let mut bytes = 0;
    while let Some(item) = ls.next().await {
        match item.unwrap() {
            Delivery::Frame(f) => {
                frames += 1;
                bytes += f.payload.len() as u64;
            }
            Delivery::Lost(l) => panic!("second loss {l:?}"),
        }
    }
    let reader = ls.into_inner();
    assert_eq!(loss.frames, reader.lost_frames());
    assert_eq!(loss.bytes, reader.lost_bytes());
    assert_eq!(4 + loss.bytes + bytes, 20 * 8);
    assert_eq!(frames + loss.frames, 20);
}

/// A forgotten core Reserve future (holding the admission priority) must not stall others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_reserve_future_does_not_stall_others() {
    let chan = Channel::new(64);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_weak_writer();
    let mut r = chan.new_strong_reader();
    a.write_all(&[1; 40]).await.unwrap();
    {
        let mut fut = Box::pin(a.get_mut().reserve(56));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        std::mem::forget(fut);
    }
    let mut buf = [0u8; 64];
    assert_eq!(r.read(&mut buf).await.unwrap(), 40);
    for _ in 0..20 {
        timeout(T, b.write_all(&[3; 8]))
            .await
            .expect("b stalled")
            .unwrap();
        assert_eq!(r.read(&mut buf).await.unwrap(), 8);
    }
    // a can still write.
    timeout(T, a.write_all(&[4; 56]))
        .await
        .expect("a stalled")
        .unwrap();
    assert_eq!(r.read(&mut buf).await.unwrap(), 56);
}

/// Shutdown through `Writer` / `Io<WeakWriter>` clone: the clone of a shut-down weak writer is
/// closed; stats count it out.
#[tokio::test]
async fn weak_writer_clone_counts() {
    let chan = Channel::new(64);
    let mut w = chan.new_weak_writer();
    let c1 = w.clone();
    assert_eq!(chan.stats().weak_writers, 2);
    w.shutdown().await.unwrap();
    assert_eq!(chan.stats().weak_writers, 1);
    let c2 = w.clone();
    assert!(c2.is_closed());
    assert_eq!(chan.stats().weak_writers, 1);
    drop(c1);
    drop(c2);
    assert_eq!(chan.stats().weak_writers, 0);
}

use std::future::Future;

/// The core's `write` future gives the admission priority back when a timeout drops it: a
/// later writer whose frame fits is not held back by the cancelled one. (An adapter's
/// `poll_write` has no drop point; docs/design.md, "Known limits".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_core_write_gives_its_priority_back() {
    let chan = Channel::new(256);
    let mut a = chan.new_strong_writer();
    let mut b = chan.new_strong_writer();
    let _slow_archive = chan.new_strong_reader();
    let mut live = chan.new_strong_reader();
    a.write_all(&[1; 120]).await.unwrap();
    let mut buf = [0u8; 256];
    assert_eq!(live.read(&mut buf).await.unwrap(), 120);
    assert!(
        timeout(Duration::from_millis(30), a.get_mut().write(&[2; 200]))
            .await
            .is_err()
    );
    timeout(Duration::from_secs(2), b.write_all(&[3; 8]))
        .await
        .expect("b parked")
        .unwrap();
    assert_eq!(live.read(&mut buf).await.unwrap(), 8);
}

/// Under Park no sink item is ever dropped: 4 sinks (strong and weak writers), 2000 items each,
/// through a small ring; the reader sees every item exactly once, then end of stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn park_sinks_drop_nothing() {
    let chan = Channel::new(128);
    let mut frames = chan.new_strong_reader().into_stream();
    let mut tasks = Vec::new();
    for k in 0..4u8 {
        let w: bytecast_tokio::Writer = if k % 2 == 0 {
            chan.new_strong_writer().into()
        } else {
            chan.new_weak_writer().into()
        };
        let mut sink = w.into_sink::<Vec<u8>>();
        tasks.push(tokio::spawn(async move {
            for i in 0..2000u32 {
                let len = 5 + (i as usize % 100);
                let mut v = vec![k; len];
                v[1..5].copy_from_slice(&i.to_le_bytes());
                sink.feed(v).await.unwrap();
                if i % 7 == 0 {
                    sink.flush().await.unwrap();
                }
            }
            sink.close().await.unwrap();
        }));
    }
    drop(chan);
    let mut next = [0u32; 4];
    let got = timeout(Duration::from_secs(20), async {
        let mut n = 0;
        while let Some(f) = frames.next().await {
            let f = f.unwrap();
            let k = f.payload[0] as usize;
            let i = u32::from_le_bytes(f.payload[1..5].try_into().unwrap());
            assert_eq!(i, next[k], "writer {k}");
            assert_eq!(f.payload.len(), 5 + (i as usize % 100));
            next[k] += 1;
            n += 1;
        }
        n
    })
    .await
    .expect("hung");
    assert_eq!(got, 8000);
    for t in tasks {
        t.await.unwrap();
    }
}

/// An item whose `AsRef` grows after `start_send`'s length check (legal safe code).
struct Sneaky(std::cell::Cell<usize>, Vec<u8>);
impl AsRef<[u8]> for Sneaky {
    fn as_ref(&self) -> &[u8] {
        let n = self.0.get();
        self.0.set(n + 1);
        if n == 0 {
            &self.1[..10]
        } else {
            &self.1[..]
        }
    }
}

/// A sink item that is longer than `max_frame_len` when it is written is refused whole, never
/// cut short, even if it was short enough at `start_send`.
#[tokio::test]
async fn a_sink_item_grown_past_the_frame_limit_is_refused_not_cut() {
    let chan = Channel::new(64);
    let mut sink = chan.new_strong_writer().into_sink::<Sneaky>();
    let err = sink
        .send(Sneaky(std::cell::Cell::new(0), vec![7; 100]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        chan.stats().frames_published,
        0,
        "nothing of it was written"
    );
}

/// An empty sink item writes nothing (an empty write makes no frame), as documented.
#[tokio::test]
async fn an_empty_sink_item_writes_nothing() {
    let chan = Channel::new(64);
    let mut frames = chan.new_strong_reader().into_stream();
    let mut sink = chan.new_strong_writer().into_sink::<Vec<u8>>();
    sink.send(Vec::new()).await.unwrap();
    sink.send(b"x".to_vec()).await.unwrap();
    sink.close().await.unwrap();
    drop(chan);
    assert_eq!(&frames.next().await.unwrap().unwrap().payload[..], b"x");
    assert!(frames.next().await.is_none());
}

/// After `terminate()` every write fails with `ConnectionAborted`, a writer shut down after the
/// termination included.
#[tokio::test]
async fn write_after_terminate_then_shutdown_is_connection_aborted() {
    let chan = Channel::new(64);
    let mut w = chan.new_strong_writer();
    chan.terminate().unwrap();
    w.shutdown().await.unwrap();
    let e = w.write(b"x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted, "{e}");
}
