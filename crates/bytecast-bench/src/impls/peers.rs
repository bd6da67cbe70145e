//! The peers, each used the way its documentation shows: `tokio::sync::broadcast`,
//! `async-broadcast`, `tokio::io::duplex`, `bbqueue` (async and on threads), the `disruptor`
//! crate (threads), and the copy limit.
//!
//! Typed channels carry each frame as an `Arc<[u8]>`: one allocation and one copy per frame at
//! the writer, shared (not copied) by every reader, which checks it in place.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use bbqueue::traits::bbqhdl::BbqHandle;
use bbqueue::traits::coordination::cas::AtomicCoord;
use bbqueue::traits::notifier::maitake::MaiNotSpsc;
use bbqueue::traits::storage::BoxedSlice;
use bbqueue::BBQueue;
use disruptor::wait_strategies::WaitStrategy;
use disruptor::{Producer, Sequence};
use tokio::io::AsyncReadExt;

use crate::frame::{staging, stamp, Buf, Seen, Verifier, END};
use crate::run::{
    judge, slow_reader, AsyncRun, Backoff, Counter, Ctx, Outcome, Pacer, ReaderReport, Shape,
    ThreadRun, WriterReport, CAPACITY,
};

/// `tokio::sync::broadcast`: lossy by design; readers count `Lagged(n)` as reported loss.
pub(crate) fn tokio_broadcast(ctx: &Ctx) -> AsyncRun {
    use tokio::sync::broadcast::{self, error::RecvError};
    let s = ctx.shape;
    let (tx, _) = broadcast::channel::<Arc<[u8]>>(s.slots());
    let readers = (0..s.readers())
        .map(|_| {
            let mut rx = tx.subscribe();
            let mut v = Verifier::new(s.len, s.writers, true);
            tokio::spawn(async move {
                let mut pacer = Pacer::default();
                loop {
                    match rx.recv().await {
                        Ok(frame) => {
                            v.frame(&frame);
                            slow_reader(&s);
                        }
                        Err(RecvError::Lagged(n)) => v.reported_loss(n),
                        Err(RecvError::Closed) => break,
                    }
                    pacer.tick().await;
                }
                ReaderReport::lossy(v.finish(), true)
            })
        })
        .collect();
    let writers = (0..s.writers)
        .map(|id| {
            let tx = tx.clone();
            let mut frame = staging(s.len);
            let stop = ctx.stop.clone();
            let mut c = Counter::new(&ctx.progress);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut pacer = Pacer::default();
                while !stop.done(seq) {
                    stamp(&mut frame, id as u32, seq);
                    tx.send(Arc::from(&frame[..])).expect("receivers live");
                    seq += 1;
                    c.sent();
                    pacer.tick().await;
                }
                c.finish()
            })
        })
        .collect();
    AsyncRun {
        writers,
        readers,
        close: Box::new(move || drop(tx)),
    }
}

/// `async-broadcast`: lossless (writers wait for the slowest reader); under overload the writer
/// uses `try_broadcast` and drops what is refused.
pub(crate) fn async_broadcast(ctx: &Ctx) -> AsyncRun {
    use async_broadcast::{RecvError, TrySendError};
    let s = ctx.shape;
    let (tx, rx) = async_broadcast::broadcast::<Arc<[u8]>>(s.slots());
    let readers = (0..s.readers())
        .map(|_| {
            let mut rx = rx.clone();
            let mut v = Verifier::new(s.len, s.writers, false);
            tokio::spawn(async move {
                let mut pacer = Pacer::default();
                loop {
                    match rx.recv_direct().await {
                        Ok(frame) => {
                            v.frame(&frame);
                            slow_reader(&s);
                        }
                        Err(RecvError::Closed) => break,
                        Err(e) => {
                            v.error(format!("recv: {e}"));
                            break;
                        }
                    }
                    pacer.tick().await;
                }
                ReaderReport::strong(v.finish())
            })
        })
        .collect();
    drop(rx);
    let writers = (0..s.writers)
        .map(|id| {
            let tx = tx.clone();
            let mut frame = staging(s.len);
            let stop = ctx.stop.clone();
            let mut c = Counter::new(&ctx.progress);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut pacer = Pacer::default();
                while !stop.done(seq) {
                    stamp(&mut frame, id as u32, seq);
                    let msg: Arc<[u8]> = Arc::from(&frame[..]);
                    let sent = if s.overload {
                        match tx.try_broadcast(msg) {
                            Ok(_) => true,
                            Err(TrySendError::Full(_)) => false,
                            Err(e) => panic!("try_broadcast: {e}"),
                        }
                    } else {
                        tx.broadcast_direct(msg).await.expect("broadcast");
                        true
                    };
                    if sent {
                        seq += 1;
                        c.sent();
                    } else {
                        c.dropped();
                    }
                    pacer.tick().await;
                }
                c.finish()
            })
        })
        .collect();
    AsyncRun {
        writers,
        readers,
        close: Box::new(move || drop(tx)),
    }
}

/// `tokio::io::duplex`: an in-memory byte pipe, 1 writer and 1 reader; `write_all` of each
/// frame, `read` until a frame is complete.
pub(crate) fn tokio_duplex(ctx: &Ctx) -> AsyncRun {
    let s = ctx.shape;
    assert!(s.writers == 1 && s.readers() == 1 && !s.overload);
    let (tx, mut rx) = tokio::io::duplex(CAPACITY);
    let mut buf = Buf::zeroed(s.len);
    let reader = tokio::spawn(async move {
        let mut v = Verifier::new(s.len, 1, false);
        let mut pacer = Pacer::default();
        'frames: loop {
            let mut filled = 0;
            while filled < s.len {
                match rx.read(&mut buf[filled..]).await {
                    Ok(0) if filled == 0 => break 'frames,
                    Ok(0) => {
                        v.error("end of stream inside a frame");
                        break 'frames;
                    }
                    Ok(n) => filled += n,
                    Err(e) => {
                        v.error(format!("read: {e}"));
                        break 'frames;
                    }
                }
            }
            v.frame(&buf);
            pacer.tick().await;
        }
        ReaderReport::strong(v.finish())
    });
    AsyncRun {
        writers: vec![crate::impls::copy::write_all_task(ctx, tx)],
        readers: vec![reader],
        close: Box::new(|| {}),
    }
}

type Bbq = BBQueue<BoxedSlice, AtomicCoord, MaiNotSpsc>;

/// `bbqueue` (framed, `usize` headers, async notifier): 1 writer and 1 reader; the writer stamps
/// a staging frame and copies it into a write grant, the reader checks the read grant in place.
/// It has no close, so the writer ends with an [`END`] frame.
pub(crate) fn bbqueue_async(ctx: &Ctx) -> AsyncRun {
    let s = ctx.shape;
    assert!(s.writers == 1 && s.readers() == 1);
    let q = Arc::new(Bbq::new_with_storage(BoxedSlice::new(CAPACITY)));
    let cons = q.framed_consumer::<usize>();
    let reader = tokio::spawn(async move {
        let mut v = Verifier::new(s.len, 1, false);
        let mut pacer = Pacer::default();
        loop {
            let g = cons.wait_read().await;
            let seen = v.frame(&g);
            g.release();
            if seen != Seen::Data {
                break;
            }
            slow_reader(&s);
            pacer.tick().await;
        }
        ReaderReport::strong(v.finish())
    });
    let prod = q.framed_producer::<usize>();
    let mut frame = staging(s.len);
    let stop = ctx.stop.clone();
    let mut c = Counter::new(&ctx.progress);
    let writer = tokio::spawn(async move {
        let mut seq = 0;
        let mut pacer = Pacer::default();
        while !stop.done(seq) {
            stamp(&mut frame, 0, seq);
            let grant = if s.overload {
                prod.grant(s.len).ok()
            } else {
                Some(prod.wait_grant(s.len).await)
            };
            match grant {
                Some(mut g) => {
                    g.copy_from_slice(&frame);
                    g.commit(s.len);
                    seq += 1;
                    c.sent();
                }
                None => c.dropped(),
            }
            pacer.tick().await;
        }
        stamp(&mut frame, 0, END);
        let mut g = prod.wait_grant(s.len).await;
        g.copy_from_slice(&frame);
        g.commit(s.len);
        c.finish()
    });
    AsyncRun {
        writers: vec![writer],
        readers: vec![reader],
        close: Box::new(|| {}),
    }
}

/// `bbqueue` on spinning threads (non-blocking `grant`/`read` with [`Backoff`]).
pub(crate) fn bbqueue_threads(ctx: &Ctx) -> ThreadRun {
    let s = ctx.shape;
    assert!(s.writers == 1 && s.readers() == 1);
    let q = Arc::new(Bbq::new_with_storage(BoxedSlice::new(CAPACITY)));
    let cons = q.framed_consumer::<usize>();
    let reader = thread::spawn(move || {
        let mut v = Verifier::new(s.len, 1, false);
        let mut b = Backoff::default();
        loop {
            let Ok(g) = cons.read() else {
                b.snooze();
                continue;
            };
            b.reset();
            let seen = v.frame(&g);
            g.release();
            if seen != Seen::Data {
                break;
            }
            slow_reader(&s);
        }
        ReaderReport::strong(v.finish())
    });
    let prod = q.framed_producer::<usize>();
    let mut frame = staging(s.len);
    let stop = ctx.stop.clone();
    let mut c = Counter::new(&ctx.progress);
    let writer = thread::spawn(move || {
        let mut seq = 0;
        let mut b = Backoff::default();
        let mut end = false;
        loop {
            let stopping = stop.done(seq);
            stamp(&mut frame, 0, if stopping { END } else { seq });
            loop {
                match prod.grant(s.len) {
                    Ok(mut g) => {
                        g.copy_from_slice(&frame);
                        g.commit(s.len);
                        b.reset();
                        if stopping {
                            end = true;
                        } else {
                            seq += 1;
                            c.sent();
                        }
                        break;
                    }
                    Err(_) if s.overload && !stopping => {
                        c.dropped();
                        break;
                    }
                    Err(_) => b.snooze(),
                }
            }
            if end {
                break;
            }
        }
        c.finish()
    });
    ThreadRun {
        writers: vec![writer],
        readers: vec![reader],
        close: Box::new(|| {}),
    }
}

thread_local! {
    static SPINS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The disruptor consumers' wait strategy: [`Backoff`]'s rule (spin, and yield once every
/// 256 polls), so both thread rows wait alike.
#[derive(Debug, Clone, Copy)]
struct SpinYield;

impl WaitStrategy for SpinYield {
    fn wait_for(&self, _: Sequence) {
        SPINS.with(|n| {
            n.set(n.get() + 1);
            if n.get() % 256 == 0 {
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        });
    }
}

/// Hands a disruptor consumer's tally back when the disruptor drops its handler.
struct Sink {
    v: Verifier,
    shape: Shape,
    out: Option<mpsc::Sender<ReaderReport>>,
}

impl Sink {
    fn handle(&mut self, e: &[u8]) {
        self.v.frame(e);
        slow_reader(&self.shape);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let v = std::mem::replace(&mut self.v, Verifier::new(self.shape.len, 1, false));
        if let Some(out) = self.out.take() {
            let _ = out.send(ReaderReport::strong(v.finish()));
        }
    }
}

/// The `disruptor` crate on threads: events are `[u8; len]` slots filled in place by
/// `try_publish` (retried with [`Backoff`]; under overload a refusal drops the frame), handlers
/// check them in place. Frame lengths 64, 1024 and 65536.
pub(crate) fn disruptor(ctx: &Ctx) -> ThreadRun {
    match ctx.shape.len {
        64 => disruptor_n::<64>(ctx),
        1024 => disruptor_n::<1024>(ctx),
        65536 => disruptor_n::<65536>(ctx),
        len => panic!("no disruptor event type for {len}-byte frames"),
    }
}

fn disruptor_n<const N: usize>(ctx: &Ctx) -> ThreadRun {
    let s = ctx.shape;
    assert_eq!(s.weak, 0, "the disruptor has no weak readers");
    let mut handlers = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..s.readers() {
        let (tx, rx) = mpsc::channel();
        let mut sink = Sink {
            v: Verifier::new(N, s.writers, false),
            shape: s,
            out: Some(tx),
        };
        handlers.push(move |e: &[u8; N], _: Sequence, _: bool| sink.handle(e));
        readers.push(thread::spawn(move || {
            rx.recv().unwrap_or_else(|_| {
                let mut v = Verifier::new(N, 1, false);
                v.error("disruptor handler dropped without a report");
                ReaderReport::strong(v.finish())
            })
        }));
    }
    let slots = s.slots();
    let factory = || [0u8; N];
    let mut handlers = handlers.into_iter();
    let first = handlers.next().expect("a reader");
    let writers = if s.writers == 1 {
        let b =
            disruptor::build_single_producer(slots, factory, SpinYield).handle_events_with(first);
        match handlers.next() {
            None => vec![spawn_disruptor_writer(ctx, 0, b.build())],
            Some(second) => {
                let mut b = b.handle_events_with(second);
                for h in handlers {
                    b = b.handle_events_with(h);
                }
                vec![spawn_disruptor_writer(ctx, 0, b.build())]
            }
        }
    } else {
        let b =
            disruptor::build_multi_producer(slots, factory, SpinYield).handle_events_with(first);
        let mut out = Vec::new();
        match handlers.next() {
            None => {
                let p = b.build();
                for id in 1..s.writers {
                    out.push(spawn_disruptor_writer(ctx, id, p.clone()));
                }
                out.insert(0, spawn_disruptor_writer(ctx, 0, p));
            }
            Some(second) => {
                let mut b = b.handle_events_with(second);
                for h in handlers {
                    b = b.handle_events_with(h);
                }
                let p = b.build();
                for id in 1..s.writers {
                    out.push(spawn_disruptor_writer(ctx, id, p.clone()));
                }
                out.insert(0, spawn_disruptor_writer(ctx, 0, p));
            }
        }
        out
    };
    ThreadRun {
        writers,
        readers,
        close: Box::new(|| {}),
    }
}

fn spawn_disruptor_writer<const N: usize, P>(
    ctx: &Ctx,
    id: usize,
    mut p: P,
) -> thread::JoinHandle<WriterReport>
where
    P: Producer<[u8; N]> + Send + 'static,
{
    let s = ctx.shape;
    let mut frame = staging(N);
    let stop = ctx.stop.clone();
    let mut c = Counter::new(&ctx.progress);
    thread::spawn(move || {
        let mut seq = 0;
        let mut b = Backoff::default();
        'frames: while !stop.done(seq) {
            stamp(&mut frame, id as u32, seq);
            loop {
                match p.try_publish(|e| e.copy_from_slice(&frame)) {
                    Ok(_) => {
                        seq += 1;
                        c.sent();
                        b.reset();
                        break;
                    }
                    Err(_) if s.overload => {
                        c.dropped();
                        break;
                    }
                    Err(_) if stop.done(seq) => break 'frames,
                    Err(_) => b.snooze(),
                }
            }
        }
        // Dropping the last producer waits for the handlers to finish.
        drop(p);
        c.finish()
    })
}

/// The copy limit: on one thread, each frame is stamped, copied into a ring-sized buffer, then
/// copied out once per reader and checked, with no synchronisation at all.
pub(crate) fn copy_limit(shape: Shape, dur: Duration) -> Outcome {
    let s = shape;
    let mut ring = vec![0u8; CAPACITY];
    let mut frame = staging(s.len);
    let mut bufs = vec![Buf::zeroed(s.len); s.readers()];
    let mut verifiers: Vec<_> = (0..s.readers())
        .map(|_| Verifier::new(s.len, s.writers, false))
        .collect();
    let mut seqs = vec![0u64; s.writers];
    let mut pos = 0;
    let start = Instant::now();
    let mut w = 0;
    'run: loop {
        for _ in 0..256 {
            stamp(&mut frame, w as u32, seqs[w]);
            seqs[w] += 1;
            if pos + s.len > CAPACITY {
                pos = 0;
            }
            ring[pos..pos + s.len].copy_from_slice(&frame);
            // The ring is memory a reader reads back: keep the compiler from forwarding the
            // staging frame straight to the readers.
            std::hint::black_box(ring.as_mut_ptr());
            for (buf, v) in bufs.iter_mut().zip(&mut verifiers) {
                buf.copy_from_slice(&ring[pos..pos + s.len]);
                v.frame(buf);
            }
            pos += s.len;
            w = (w + 1) % s.writers;
        }
        if start.elapsed() >= dur {
            break 'run;
        }
    }
    let elapsed = start.elapsed();
    let writers: Vec<_> = seqs
        .iter()
        .map(|&sent| WriterReport { sent, dropped: 0 })
        .collect();
    let readers: Vec<_> = verifiers
        .into_iter()
        .map(|v| ReaderReport::strong(v.finish()))
        .collect();
    judge(&s, elapsed, &writers, &readers)
}
