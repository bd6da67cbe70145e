//! tokio's cooperative budget (`src/coop.rs`): a task whose channel operations never have to
//! wait still lets the other tasks of its worker run.
//!
//! Each case runs on a current-thread runtime, where a spawned task runs only while the test's
//! task is suspended. The test's task makes `OPS` operations that are all ready at once (frames
//! already written, or room in a ring nobody gates) with no other `.await` that could suspend
//! it, and records after which operation a spawned task had run. Without the budget the spawned
//! task runs only after the loop; with it, after the budget's quota (128 in tokio 1.x; the
//! cases only require "before the loop ended"). Inside `coop::unconstrained` nothing is charged
//! and the loop runs to its end first, which shows that the cases measure the budget and
//! nothing else.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use bytecast_tokio::{Backpressure, Channel, StrongReader};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::task::{coop, JoinHandle};

const OPS: usize = 1_000;

/// A task that only records that it ran.
struct Other {
    ran: Arc<AtomicBool>,
    task: JoinHandle<()>,
    /// The first operation after which `ran` was seen set; `OPS` while it was not.
    first: usize,
}

impl Other {
    fn spawn() -> Self {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let task = tokio::spawn(async move { flag.store(true, Relaxed) });
        Self {
            ran,
            task,
            first: OPS,
        }
    }

    /// Call after operation `i`.
    fn check(&mut self, i: usize) {
        if self.first == OPS && self.ran.load(Relaxed) {
            self.first = i;
        }
    }

    /// The first operation after which the other task had run (`OPS`: not during the loop).
    async fn first(self) -> usize {
        self.task.await.expect("the other task");
        self.first
    }

    /// Asserts that the other task ran before the loop of `ops` ended.
    async fn ran_during(self, ops: &str) {
        let first = self.first().await;
        assert!(first < OPS, "the other task waited for all {OPS} {ops}");
    }
}

/// A channel holding `OPS` one-byte frames, written inside `unconstrained` so that filling it
/// spends none of the test task's budget. Readers made afterwards start at the oldest frame.
async fn channel_with_frames() -> Arc<Channel> {
    let chan = Channel::new(64 * 1024);
    let mut w = chan.new_strong_writer();
    coop::unconstrained(async {
        for i in 0..OPS {
            w.write_all(&[i as u8]).await.expect("write");
        }
    })
    .await;
    chan
}

/// Reads the `OPS` one-byte frames of [`channel_with_frames`] with `AsyncRead`, checking each
/// and telling `other` after each.
async fn read_each_byte(r: &mut StrongReader, other: &mut Other) {
    let mut byte = [0u8; 1];
    for i in 0..OPS {
        r.read_exact(&mut byte).await.expect("read");
        assert_eq!(byte[0], i as u8);
        other.check(i);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_reader_that_keeps_finding_frames_yields_to_other_tasks() {
    let chan = channel_with_frames().await;
    let mut r = chan.new_strong_reader();
    let mut other = Other::spawn();
    read_each_byte(&mut r, &mut other).await;
    other.ran_during("reads").await;
}

#[tokio::test(flavor = "current_thread")]
async fn read_frame_and_fill_buf_charge_the_budget_too() {
    let chan = channel_with_frames().await;
    let mut frames = chan.new_strong_reader();
    let mut other = Other::spawn();
    for i in 0..OPS {
        let frame = frames.read_frame(16).await.expect("read_frame");
        assert_eq!(&frame.expect("a frame").payload[..], [i as u8]);
        other.check(i);
    }
    other.ran_during("read_frame").await;

    let chan = channel_with_frames().await;
    let mut lent = chan.new_strong_reader();
    let mut other = Other::spawn();
    for i in 0..OPS {
        let buf = lent.fill_buf().await.expect("fill_buf");
        assert_eq!(buf, [i as u8]);
        lent.consume(1);
        other.check(i);
    }
    other.ran_during("fill_buf").await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_frame_stream_yields_to_other_tasks() {
    let chan = channel_with_frames().await;
    let mut stream = chan.new_strong_reader().into_stream();
    let mut other = Other::spawn();
    for i in 0..OPS {
        let frame = stream.next().await.expect("a frame").expect("no error");
        assert_eq!(&frame.payload[..], [i as u8]);
        other.check(i);
    }
    other.ran_during("items").await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_writer_that_always_finds_room_yields_to_other_tasks() {
    // Weak readers never gate writers, and `Drop` never waits: every write is ready at once.
    let chan = Channel::with_parameters(4096, Backpressure::Drop);
    let _watcher = chan.new_weak_reader();
    let mut w = chan.new_strong_writer();
    let mut other = Other::spawn();
    for i in 0..OPS {
        w.write_all(&[i as u8; 8]).await.expect("write");
        other.check(i);
    }
    other.ran_during("writes").await;
}

#[tokio::test(flavor = "current_thread")]
async fn unconstrained_tasks_are_not_charged() {
    let chan = channel_with_frames().await;
    let mut r = chan.new_strong_reader();
    let mut other = Other::spawn();
    coop::unconstrained(read_each_byte(&mut r, &mut other)).await;
    assert_eq!(
        other.first().await,
        OPS,
        "nothing charged, so nothing yielded"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_core_methods_charge_nothing() {
    // Reached through `Deref`, the core's async API is runtime-agnostic (crate docs).
    let chan = channel_with_frames().await;
    let mut r = chan.new_strong_reader();
    let mut other = Other::spawn();
    let mut byte = [0u8; 1];
    for i in 0..OPS {
        let (_, n) = r
            .get_mut()
            .read_frame_into(&mut byte)
            .await
            .expect("read_frame_into");
        assert_eq!((n, byte[0]), (1, i as u8));
        other.check(i);
    }
    assert_eq!(other.first().await, OPS);
}
