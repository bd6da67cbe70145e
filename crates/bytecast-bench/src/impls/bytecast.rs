//! bytecast, five ways: the tokio adapter (`AsyncWrite`/`AsyncRead`), the core's async API
//! copying (`write`/`read_frame_into`) and zero-copy (`reserve`+`put`+`commit`/`borrow_frame`),
//! and the core's `try_` API on spinning threads, copying and zero-copy.

use std::sync::Arc;
use std::thread;

use bytecast::{Backpressure, Channel, ChannelError, Config, WriteGrant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::frame::{pieces, staging, stamp, Buf, Verifier};
use crate::run::{
    slow_reader, AsyncRun, Backoff, Counter, Ctx, Pacer, ReaderReport, ThreadRun, CAPACITY,
};

/// The API a bytecast row uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// Copying: `write` / `try_write` and `read_frame_into` / `try_read_frame_into`.
    Copy,
    /// Zero-copy: `reserve` + one `put` of the stamped frame + `commit`, and `borrow_frame`
    /// (strong readers; weak readers always copy): what the bbqueue and disruptor rows do.
    Grant,
    /// As [`Api::Grant`], the frame put in pieces as a serializer would write it: a body slice
    /// and a stamp word per 256 bytes ([`pieces`]), 512 `put`s for 64 KiB.
    GrantPieces,
}

/// Fills a grant: the stamped frame in one `put`, or in [`pieces`].
fn fill(g: &mut WriteGrant<'_>, api: Api, frame: &mut [u8], writer: u32, seq: u64) {
    if api == Api::GrantPieces {
        pieces(frame, writer, seq, |p| {
            g.put(p);
        });
    } else {
        stamp(frame, writer, seq);
        g.put(frame);
    }
}

fn channel(ctx: &Ctx) -> Arc<Channel> {
    let s = ctx.shape;
    let backpressure = if s.overload {
        Backpressure::Drop
    } else {
        Backpressure::Park
    };
    Channel::try_with_config(
        Config::new(CAPACITY)
            .backpressure(backpressure)
            .max_writers(s.writers.max(64))
            .max_readers(s.readers().max(64)),
    )
    .expect("a valid configuration")
}

fn close(chan: Arc<Channel>) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        chan.drain().expect("drain");
    })
}

fn report(v: Verifier, strong: bool) -> ReaderReport {
    if strong {
        ReaderReport::strong(v.finish())
    } else {
        ReaderReport::lossy(v.finish(), false)
    }
}

/// The tokio adapter: `write` of one frame per call, `read` until a frame is complete (what
/// `tokio::io::duplex` does too). Strong readers only.
pub(crate) fn tokio_adapter(ctx: &Ctx) -> AsyncRun {
    let s = ctx.shape;
    assert_eq!(s.weak, 0, "the adapter row has no weak readers");
    let core = channel(ctx);
    let chan = bytecast_tokio::Channel::from_core(core.clone());
    let readers = (0..s.strong)
        .map(|_| {
            let mut r = chan.new_strong_reader();
            let mut buf = Buf::zeroed(s.len);
            tokio::spawn(async move {
                let mut v = Verifier::new(s.len, s.writers, false);
                let mut pacer = Pacer::default();
                'frames: loop {
                    let mut filled = 0;
                    while filled < s.len {
                        match r.read(&mut buf[filled..]).await {
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
                    slow_reader(&s);
                    pacer.tick().await;
                }
                ReaderReport::strong(v.finish())
            })
        })
        .collect();
    let writers = (0..s.writers)
        .map(|id| {
            let mut w = chan.new_strong_writer();
            let mut frame = staging(s.len);
            let stop = ctx.stop.clone();
            let mut c = Counter::new(&ctx.progress);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut pacer = Pacer::default();
                while !stop.done(seq) {
                    stamp(&mut frame, id as u32, seq);
                    match w.write(&frame).await.expect("write") {
                        0 => c.dropped(),
                        n => {
                            assert_eq!(n, s.len, "one write is one whole frame");
                            seq += 1;
                            c.sent();
                        }
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
        close: close(core),
    }
}

/// The core's async API.
pub(crate) fn core_async(ctx: &Ctx, api: Api) -> AsyncRun {
    let s = ctx.shape;
    let chan = channel(ctx);
    let mut readers = Vec::new();
    for i in 0..s.readers() {
        let strong = i < s.strong;
        let mut buf = Buf::zeroed(s.len);
        let mut v = Verifier::new(s.len, s.writers, !strong);
        readers.push(if strong {
            let mut r = chan.new_strong_reader();
            tokio::spawn(async move {
                let mut pacer = Pacer::default();
                loop {
                    let got = match api {
                        Api::Copy => r.read_frame_into(&mut buf).await.map(|(_, n)| {
                            v.frame(&buf[..n]);
                        }),
                        Api::Grant | Api::GrantPieces => r.borrow_frame().await.map(|f| {
                            v.frame(&f);
                        }),
                    };
                    match got {
                        Ok(()) => slow_reader(&s),
                        Err(ChannelError::EndOfStream) => break,
                        Err(e) => {
                            v.error(format!("read: {e}"));
                            break;
                        }
                    }
                    pacer.tick().await;
                }
                report(v, true)
            })
        } else {
            let mut r = chan.new_weak_reader();
            tokio::spawn(async move {
                let mut pacer = Pacer::default();
                loop {
                    match r.read_frame_into(&mut buf).await {
                        Ok((_, n)) => {
                            v.frame(&buf[..n]);
                            slow_reader(&s);
                        }
                        Err(ChannelError::ReaderBehind(bytes)) => v.reported_loss_bytes(bytes),
                        Err(ChannelError::EndOfStream) => break,
                        Err(e) => {
                            v.error(format!("read: {e}"));
                            break;
                        }
                    }
                    pacer.tick().await;
                }
                report(v, false)
            })
        });
    }
    let writers = (0..s.writers)
        .map(|id| {
            let mut w = chan.new_strong_writer();
            let mut frame = staging(s.len);
            let stop = ctx.stop.clone();
            let mut c = Counter::new(&ctx.progress);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut pacer = Pacer::default();
                while !stop.done(seq) {
                    let done = match api {
                        Api::Copy => {
                            stamp(&mut frame, id as u32, seq);
                            w.write(&frame).await.map(|n| assert_eq!(n, s.len))
                        }
                        Api::Grant | Api::GrantPieces => w.reserve(s.len).await.map(|mut g| {
                            fill(&mut g, api, &mut frame, id as u32, seq);
                            assert_eq!(g.commit(), s.len);
                        }),
                    };
                    match done {
                        Ok(()) => {
                            seq += 1;
                            c.sent();
                        }
                        Err(ChannelError::Full) => c.dropped(),
                        Err(e) => panic!("write: {e}"),
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
        close: close(chan),
    }
}

/// The core's `try_` API on plain threads that spin (with [`Backoff`]) while they would wait.
pub(crate) fn core_threads(ctx: &Ctx, api: Api) -> ThreadRun {
    let s = ctx.shape;
    let chan = channel(ctx);
    let mut readers = Vec::new();
    for i in 0..s.readers() {
        let strong = i < s.strong;
        let mut buf = Buf::zeroed(s.len);
        let mut v = Verifier::new(s.len, s.writers, !strong);
        readers.push(if strong {
            let mut r = chan.new_strong_reader();
            thread::spawn(move || {
                let mut b = Backoff::default();
                loop {
                    let got = match api {
                        Api::Copy => r.try_read_frame_into(&mut buf).map(|f| {
                            f.map(|(_, n)| {
                                v.frame(&buf[..n]);
                            })
                        }),
                        Api::Grant | Api::GrantPieces => r.try_borrow_frame().map(|f| {
                            f.map(|f| {
                                v.frame(&f);
                            })
                        }),
                    };
                    match got {
                        Ok(Some(())) => {
                            b.reset();
                            slow_reader(&s);
                        }
                        Ok(None) => b.snooze(),
                        Err(ChannelError::EndOfStream) => break,
                        Err(e) => {
                            v.error(format!("read: {e}"));
                            break;
                        }
                    }
                }
                report(v, true)
            })
        } else {
            let mut r = chan.new_weak_reader();
            thread::spawn(move || {
                let mut b = Backoff::default();
                loop {
                    match r.try_read_frame_into(&mut buf) {
                        Ok(Some((_, n))) => {
                            b.reset();
                            v.frame(&buf[..n]);
                            slow_reader(&s);
                        }
                        Ok(None) => b.snooze(),
                        Err(ChannelError::ReaderBehind(bytes)) => v.reported_loss_bytes(bytes),
                        Err(ChannelError::EndOfStream) => break,
                        Err(e) => {
                            v.error(format!("read: {e}"));
                            break;
                        }
                    }
                }
                report(v, false)
            })
        });
    }
    let writers = (0..s.writers)
        .map(|id| {
            let mut w = chan.new_strong_writer();
            let mut frame = staging(s.len);
            let stop = ctx.stop.clone();
            let mut c = Counter::new(&ctx.progress);
            thread::spawn(move || {
                let mut seq = 0;
                let mut b = Backoff::default();
                'frames: while !stop.done(seq) {
                    if api == Api::Copy {
                        stamp(&mut frame, id as u32, seq);
                    }
                    loop {
                        let done = match api {
                            Api::Copy => w.try_write(&frame).map(|n| n.map(drop)),
                            Api::Grant | Api::GrantPieces => w.try_reserve(s.len).map(|g| {
                                g.map(|mut g| {
                                    fill(&mut g, api, &mut frame, id as u32, seq);
                                    g.commit();
                                })
                            }),
                        };
                        match done {
                            Ok(Some(())) => {
                                seq += 1;
                                c.sent();
                                b.reset();
                                break;
                            }
                            Ok(None) if stop.done(seq) => break 'frames,
                            Ok(None) => b.snooze(),
                            Err(ChannelError::Full) => {
                                c.dropped();
                                break;
                            }
                            Err(e) => panic!("write: {e}"),
                        }
                    }
                }
                c.finish()
            })
        })
        .collect();
    ThreadRun {
        writers,
        readers,
        close: close(chan),
    }
}
