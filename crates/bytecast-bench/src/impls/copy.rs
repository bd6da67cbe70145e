//! The copy job: one writer task writes frames, and the reading side forwards every byte into a
//! destination (`tokio::io::sink()`, or a loopback TCP connection whose far end a task drains
//! and checks). Four ways to do it: `tokio::io::copy` and `tokio::io::copy_buf` from a
//! `bytecast_tokio` strong reader, the core's own frame loop (`read_frame_into` and one
//! `write_all` of each frame), and `tokio::io::copy` out of a `tokio::io::duplex`.
//!
//! The bytecast rows use the handles only through tokio's traits (`AsyncRead`,
//! `AsyncBufRead`, `AsyncWriteExt`) and the core's documented methods.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytecast::{Channel, Config};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::frame::{counted, staging, stamp, Buf, StreamVerifier, Tally};
use crate::run::{
    AsyncRun, Counter, Ctx, Dest, Pacer, ReaderReport, Shape, WriterReport, CAPACITY,
};

/// How the reading side moves the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mover {
    /// `tokio::io::copy` from the strong reader (`AsyncRead::poll_read`).
    Copy,
    /// `tokio::io::copy_buf` from the strong reader (`AsyncBufRead`, lending from the ring).
    CopyBuf,
    /// The core's frame loop: `read_frame_into` a buffer, then `write_all` of the frame.
    FrameLoop,
}

/// Read size of the task that drains the TCP connection.
const DRAIN_BUF: usize = 64 * 1024;

/// The destination's writing end.
pub(crate) enum Out {
    Sink(tokio::io::Sink),
    Tcp(tokio::net::TcpStream),
}

impl AsyncWrite for Out {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Sink(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Sink(s) => Pin::new(s).poll_flush(cx),
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Sink(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The destination of `s`, and for TCP the task that drains the far end and checks every
/// frame (it ends when the near end shuts down).
fn destination(s: Shape) -> (Out, Option<JoinHandle<Tally>>) {
    match s.dest {
        Dest::Sink => (Out::Sink(tokio::io::sink()), None),
        Dest::Tcp => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let near = std::net::TcpStream::connect(listener.local_addr().expect("local_addr"))
                .expect("connect loopback");
            let (far, _) = listener.accept().expect("accept loopback");
            for sock in [&near, &far] {
                sock.set_nonblocking(true).expect("non-blocking socket");
            }
            let near = tokio::net::TcpStream::from_std(near).expect("tokio socket");
            let mut far = tokio::net::TcpStream::from_std(far).expect("tokio socket");
            let drain = tokio::spawn(async move {
                let mut v = StreamVerifier::new(s.len, s.writers);
                let mut buf = Buf::zeroed(DRAIN_BUF);
                loop {
                    match far.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => v.bytes(&buf[..n]),
                        Err(e) => {
                            v.error(format!("TCP read: {e}"));
                            break;
                        }
                    }
                }
                v.finish()
            });
            (Out::Tcp(near), Some(drain))
        }
        Dest::None => unreachable!("not a copy workload"),
    }
}

/// Ends the reading side: shuts the destination down, then the tally (bytes counted into the
/// sink, or what the TCP drain checked).
async fn finish(
    s: Shape,
    moved: io::Result<u64>,
    mut out: Out,
    drain: Option<JoinHandle<Tally>>,
) -> ReaderReport {
    let shut = out.shutdown().await;
    drop(out);
    let mut tally = match drain {
        None => counted(s.len, *moved.as_ref().unwrap_or(&0)),
        Some(d) => d.await.unwrap_or_else(|e| Tally {
            error: Some(format!("TCP drain task failed: {e}")),
            next: vec![0; s.writers],
            ..Tally::default()
        }),
    };
    let problem = match (moved, shut) {
        (Err(e), _) => Some(format!("copy: {e}")),
        (_, Err(e)) => Some(format!("shutdown: {e}")),
        (Ok(n), _) if n != tally.frames * s.len as u64 && tally.error.is_none() => {
            Some(format!("{n} bytes copied, {} frames arrived", tally.frames))
        }
        _ => None,
    };
    if let Some(p) = problem {
        tally.error.get_or_insert(p);
    }
    ReaderReport::strong(tally)
}

/// The one writer of a byte pipe (the adapter's writer, or a duplex end): a task that stamps
/// each frame and `write_all`s it, until the window is over; `w` drops when it ends.
pub(crate) fn write_all_task<W>(ctx: &Ctx, mut w: W) -> JoinHandle<WriterReport>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut frame = staging(ctx.shape.len);
    let stop = ctx.stop.clone();
    let mut c = Counter::new(&ctx.progress);
    tokio::spawn(async move {
        let mut seq = 0;
        let mut pacer = Pacer::default();
        while !stop.done(seq) {
            stamp(&mut frame, 0, seq);
            w.write_all(&frame).await.expect("write_all");
            seq += 1;
            c.sent();
            pacer.tick().await;
        }
        c.finish()
    })
}

fn one_to_one(s: &Shape) {
    assert!(
        s.writers == 1 && s.readers() == 1 && !s.overload && s.dest != Dest::None,
        "the copy rows run the copy workloads only"
    );
}

/// bytecast: one writer task, and a reading task that moves the bytes with `mover`.
pub(crate) fn bytecast(ctx: &Ctx, mover: Mover) -> AsyncRun {
    let s = ctx.shape;
    one_to_one(&s);
    let core: Arc<Channel> = Channel::try_with_config(Config::new(CAPACITY)).expect("config");
    let chan = bytecast_tokio::Channel::from_core(core.clone());
    let (mut out, drain) = destination(s);
    let reader = match mover {
        Mover::Copy => {
            let mut r = chan.new_strong_reader();
            tokio::spawn(async move {
                let moved = tokio::io::copy(&mut r, &mut out).await;
                finish(s, moved, out, drain).await
            })
        }
        Mover::CopyBuf => {
            let mut r = chan.new_strong_reader();
            tokio::spawn(async move {
                let moved = tokio::io::copy_buf(&mut r, &mut out).await;
                finish(s, moved, out, drain).await
            })
        }
        Mover::FrameLoop => {
            let mut r = core.new_strong_reader();
            let mut buf = Buf::zeroed(s.len);
            tokio::spawn(async move {
                let mut moved = 0u64;
                let result = loop {
                    match r.read_frame_into(&mut buf).await {
                        Ok((_, n)) => match out.write_all(&buf[..n]).await {
                            Ok(()) => moved += n as u64,
                            Err(e) => break Err(e),
                        },
                        Err(bytecast::ChannelError::EndOfStream) => break Ok(moved),
                        Err(e) => break Err(io::Error::from(e)),
                    }
                };
                finish(s, result, out, drain).await
            })
        }
    };
    let writer = if mover == Mover::FrameLoop {
        let mut w = core.new_strong_writer();
        let mut frame = staging(s.len);
        let stop = ctx.stop.clone();
        let mut c = Counter::new(&ctx.progress);
        tokio::spawn(async move {
            let mut seq = 0;
            let mut pacer = Pacer::default();
            while !stop.done(seq) {
                stamp(&mut frame, 0, seq);
                assert_eq!(w.write(&frame).await.expect("write"), s.len);
                seq += 1;
                c.sent();
                pacer.tick().await;
            }
            c.finish()
        })
    } else {
        write_all_task(ctx, chan.new_strong_writer())
    };
    AsyncRun {
        writers: vec![writer],
        readers: vec![reader],
        close: Box::new(move || {
            core.drain().expect("drain");
        }),
    }
}

/// `tokio::io::duplex(1 MiB)`: `write_all` of each frame, `tokio::io::copy` out of the other
/// end. The writer's end drops when its task ends, which ends the copy.
pub(crate) fn duplex(ctx: &Ctx) -> AsyncRun {
    let s = ctx.shape;
    one_to_one(&s);
    let (tx, mut rx) = tokio::io::duplex(CAPACITY);
    let (mut out, drain) = destination(s);
    let reader = tokio::spawn(async move {
        let moved = tokio::io::copy(&mut rx, &mut out).await;
        finish(s, moved, out, drain).await
    });
    AsyncRun {
        writers: vec![write_all_task(ctx, tx)],
        readers: vec![reader],
        close: Box::new(|| {}),
    }
}
