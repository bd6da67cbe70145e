//! `selium-messaging` 1.0.0-alpha.6 (feature `selium`): writers `write_all` one frame per call,
//! readers `read_frame`.
//!
//! Its `drain` only sets a flag and does not wake a parked reader, so readers would wait forever
//! for the end: each writer ends with an [`END`] frame instead, and strong readers stop when they
//! have seen every writer's. Weak readers may miss those, so once the strong readers are done
//! the channel is terminated, and a weak reader's unread tail counts as lost.

use std::io::ErrorKind;
use std::sync::Arc;

use selium_messaging::{Backpressure, Channel, ChannelError};
use tokio::io::AsyncWriteExt;

use crate::frame::{staging, stamp, Seen, Verifier, END};
use crate::run::{slow_reader, AsyncRun, Counter, Ctx, Pacer, ReaderReport, CAPACITY};

pub(crate) fn selium(ctx: &Ctx) -> AsyncRun {
    let s = ctx.shape;
    let backpressure = if s.overload {
        Backpressure::Drop
    } else {
        Backpressure::Park
    };
    let chan: Arc<Channel> = Channel::with_parameters(CAPACITY, backpressure);
    let mut readers = Vec::new();
    let mut strong_done = Vec::new();
    for i in 0..s.readers() {
        let strong = i < s.strong;
        let mut v = Verifier::new(s.len, s.writers, !strong);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        if strong {
            strong_done.push(done_rx);
        }
        let mut r: selium_messaging::Reader = if strong {
            chan.new_strong_reader().into()
        } else {
            chan.new_weak_reader().into()
        };
        readers.push(tokio::spawn(async move {
            let mut ends = 0;
            let mut pacer = Pacer::default();
            loop {
                let got = match &mut r {
                    selium_messaging::Reader::Strong(r) => r.read_frame(s.len).await,
                    selium_messaging::Reader::Weak(r) => r.read_frame(s.len).await,
                };
                match got {
                    Ok((_, frame)) => match v.frame(&frame) {
                        Seen::Data => slow_reader(&s),
                        Seen::End => {
                            ends += 1;
                            if ends == s.writers {
                                break;
                            }
                        }
                        Seen::Bad => {}
                    },
                    Err(e) if e.kind() == ErrorKind::ConnectionAborted && !strong => break,
                    Err(e) => match e.downcast::<ChannelError>() {
                        Ok(ChannelError::ReaderBehind(_)) if !strong => {}
                        Ok(e) => {
                            v.error(format!("read_frame: {e}"));
                            break;
                        }
                        Err(e) => {
                            v.error(format!("read_frame: {e}"));
                            break;
                        }
                    },
                }
                pacer.tick().await;
            }
            drop(done_tx);
            if strong {
                ReaderReport::strong(v.finish())
            } else {
                let mut report = ReaderReport::lossy(v.finish(), false);
                // selium reports lost bytes of the ring, not whole frames: not checked.
                report.reports_loss = false;
                report
            }
        }));
    }
    let writers = (0..s.writers)
        .map(|id| {
            let mut w = Box::pin(chan.new_strong_writer());
            let mut frame = staging(s.len);
            let stop = ctx.stop.clone();
            let mut c = Counter::new(&ctx.progress);
            tokio::spawn(async move {
                let mut seq = 0;
                let mut pacer = Pacer::default();
                while !stop.done(seq) {
                    stamp(&mut frame, id as u32, seq);
                    if s.overload {
                        match w.write(&frame).await.expect("write") {
                            0 => c.dropped(),
                            n => {
                                assert_eq!(n, s.len, "one write is one whole frame");
                                seq += 1;
                                c.sent();
                            }
                        }
                    } else {
                        w.write_all(&frame).await.expect("write_all");
                        seq += 1;
                        c.sent();
                    }
                    pacer.tick().await;
                }
                stamp(&mut frame, id as u32, END);
                loop {
                    // Under Drop the end frame may be refused too: retry until it is taken.
                    if w.write(&frame).await.expect("write") == s.len {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                c.finish()
            })
        })
        .collect();
    // Once every strong reader has its end frames, weak readers are cut off.
    let closer = chan.clone();
    tokio::spawn(async move {
        for done in strong_done {
            let _ = done.await;
        }
        let _ = closer.terminate();
    });
    AsyncRun {
        writers,
        readers,
        close: Box::new(move || drop(chan)),
    }
}
