//! The catalogue: workloads, implementations, which implementation fits which workload, and
//! running one cell (a workload on an implementation).

use std::time::Duration;

use crate::impls::bytecast::{self as bc, Api};
use crate::impls::copy::{self, Mover};
use crate::impls::peers;
use crate::run::{run_async, run_threads, Dest, Outcome, Shape};

/// A workload: a shape, with the words that explain it in `docs/bench.md`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Workload {
    pub(crate) id: &'static str,
    pub(crate) about: &'static str,
    pub(crate) shape: Shape,
}

impl Workload {
    /// Whether this is a copy workload (the reader forwards the bytes to a destination).
    pub(crate) fn is_copy(&self) -> bool {
        self.shape.dest != Dest::None
    }

    /// The measured window of each run, from the run's `base` window: a third of it for the copy
    /// workloads, whose rows are many and steady, so that they add little to the benchmark's
    /// length.
    pub(crate) fn window(&self, base: Duration) -> Duration {
        if self.is_copy() {
            (base / COPY_WINDOW_SHARE).max(MIN_WINDOW)
        } else {
            base
        }
    }
}

/// The copy workloads' window is the base window divided by this.
pub(crate) const COPY_WINDOW_SHARE: u32 = 3;

/// The shortest window any run gets.
pub(crate) const MIN_WINDOW: Duration = Duration::from_millis(20);

const fn shape(writers: usize, strong: usize, weak: usize, len: usize) -> Shape {
    Shape {
        writers,
        strong,
        weak,
        len,
        overload: false,
        dest: Dest::None,
    }
}

const fn copy_job(len: usize, dest: Dest) -> Shape {
    Shape {
        dest,
        ..shape(1, 1, 0, len)
    }
}

/// Every workload, in report order.
pub(crate) const WORKLOADS: &[Workload] = &[
    Workload {
        id: "1to1-64B",
        about: "1 writer, 1 reader, 64-byte frames: per-frame overhead.",
        shape: shape(1, 1, 0, 64),
    },
    Workload {
        id: "1to1-1KiB",
        about: "1 writer, 1 reader, 1 KiB frames.",
        shape: shape(1, 1, 0, 1024),
    },
    Workload {
        id: "1to1-64KiB",
        about: "1 writer, 1 reader, 64 KiB frames: bandwidth, against the copy limit.",
        shape: shape(1, 1, 0, 65536),
    },
    Workload {
        id: "1to4-64B",
        about: "1 writer, 4 lossless readers, 64-byte frames (figure per reader).",
        shape: shape(1, 4, 0, 64),
    },
    Workload {
        id: "1to16-64B",
        about: "1 writer, 16 lossless readers, 64-byte frames (figure per reader).",
        shape: shape(1, 16, 0, 64),
    },
    Workload {
        id: "1to64-64B",
        about: "1 writer, 64 lossless readers, 64-byte frames (figure per reader; cost growth).",
        shape: shape(1, 64, 0, 64),
    },
    Workload {
        id: "4to1-64B",
        about: "4 writers, 1 reader, 64-byte frames: frames/s at the reader.",
        shape: shape(4, 1, 0, 64),
    },
    Workload {
        id: "16to1-64B",
        about: "16 writers, 1 reader, 64-byte frames (cost growth).",
        shape: shape(16, 1, 0, 64),
    },
    Workload {
        id: "1s3w-64B",
        about: "1 writer, 1 strong and 3 weak readers, 64-byte frames: the figure is the strong \
                reader's; weak readers may be lapped and must report exactly what they lost.",
        shape: shape(1, 1, 3, 64),
    },
    Workload {
        id: "drop-64B",
        about: "Drop under overload: 1 writer, 1 reader that spends 2 µs on each frame, 64-byte \
                frames; the writer never waits, frames that do not fit are refused (or, for \
                lossy peers, lost) and counted. The figure is frames delivered per second.",
        shape: Shape {
            writers: 1,
            strong: 1,
            weak: 0,
            len: 64,
            overload: true,
            dest: Dest::None,
        },
    },
    Workload {
        id: "copy-sink-64B",
        about: "The copy job: 1 writer task writes 64-byte frames, one write each; the reading \
                side forwards every byte into `tokio::io::sink()`. The sink keeps nothing, so \
                these runs check the byte count only (the TCP runs check every frame).",
        shape: copy_job(64, Dest::Sink),
    },
    Workload {
        id: "copy-sink-1KiB",
        about: "The copy job into `tokio::io::sink()`, 1 KiB frames.",
        shape: copy_job(1024, Dest::Sink),
    },
    Workload {
        id: "copy-tcp-64B",
        about: "The copy job into a loopback TCP connection (127.0.0.1, default socket options), \
                64-byte frames; a task drains the far end and checks every frame. The figure \
                is frames per second arriving at the far end.",
        shape: copy_job(64, Dest::Tcp),
    },
    Workload {
        id: "copy-tcp-1KiB",
        about: "The copy job into a loopback TCP connection, 1 KiB frames.",
        shape: copy_job(1024, Dest::Tcp),
    },
];

/// How an implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Tasks on a 2-worker tokio runtime.
    Async,
    /// Plain threads that spin while they would wait.
    Threads,
    /// One thread (the copy limit).
    Single,
}

/// An implementation (a row of the tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Impl {
    BytecastTokio,
    BytecastAsync,
    BytecastAsyncZc,
    BytecastAsyncZcPieces,
    BytecastTry,
    BytecastTryZc,
    BytecastTokioCopy,
    BytecastTokioCopyBuf,
    BytecastFrameLoop,
    TokioBroadcast,
    AsyncBroadcast,
    TokioDuplex,
    TokioDuplexCopy,
    Bbqueue,
    BbqueueThreads,
    Disruptor,
    Selium,
    CopyLimit,
}

/// Every implementation, in report order.
pub(crate) const IMPLS: &[Impl] = &[
    Impl::BytecastTokio,
    Impl::BytecastAsync,
    Impl::BytecastAsyncZc,
    Impl::BytecastAsyncZcPieces,
    Impl::BytecastTry,
    Impl::BytecastTryZc,
    Impl::BytecastTokioCopy,
    Impl::BytecastTokioCopyBuf,
    Impl::BytecastFrameLoop,
    Impl::TokioBroadcast,
    Impl::AsyncBroadcast,
    Impl::TokioDuplex,
    Impl::TokioDuplexCopy,
    Impl::Bbqueue,
    Impl::Selium,
    Impl::BbqueueThreads,
    Impl::Disruptor,
    Impl::CopyLimit,
];

impl Impl {
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::BytecastTokio => "bytecast-tokio",
            Self::BytecastAsync => "bytecast-async",
            Self::BytecastAsyncZc => "bytecast-async-zc",
            Self::BytecastAsyncZcPieces => "bytecast-async-zc-pieces",
            Self::BytecastTry => "bytecast-try",
            Self::BytecastTryZc => "bytecast-try-zc",
            Self::BytecastTokioCopy => "bytecast-tokio-copy",
            Self::BytecastTokioCopyBuf => "bytecast-tokio-copy-buf",
            Self::BytecastFrameLoop => "bytecast-frame-loop",
            Self::TokioBroadcast => "tokio-broadcast",
            Self::AsyncBroadcast => "async-broadcast",
            Self::TokioDuplex => "tokio-duplex",
            Self::TokioDuplexCopy => "tokio-duplex-copy",
            Self::Bbqueue => "bbqueue",
            Self::BbqueueThreads => "bbqueue-threads",
            Self::Disruptor => "disruptor",
            Self::Selium => "selium",
            Self::CopyLimit => "copy-limit",
        }
    }

    pub(crate) fn from_id(id: &str) -> Option<Self> {
        IMPLS.iter().copied().find(|i| i.id() == id)
    }

    /// What the row runs, for the report.
    pub(crate) fn about(self) -> &'static str {
        match self {
            Self::BytecastTokio => {
                "bytecast through `bytecast-tokio`: `AsyncWrite::write` of one frame, \
                 `AsyncRead::read` until the frame is complete"
            }
            Self::BytecastAsync => {
                "bytecast core, async, copying: `write(&frame).await`, `read_frame_into(&mut buf).await`"
            }
            Self::BytecastAsyncZc => {
                "bytecast core, async, zero-copy: `reserve(len).await` + one `put` of the stamped \
                 frame + `commit`, `borrow_frame().await` checked in place (what the bbqueue row does)"
            }
            Self::BytecastAsyncZcPieces => {
                "as `bytecast-async-zc`, the frame put in pieces as a serializer would write it: \
                 a body slice and a stamp word per 256 bytes (512 `put`s for 64 KiB)"
            }
            Self::BytecastTry => {
                "bytecast core, `try_write` / `try_read_frame_into` on spinning threads"
            }
            Self::BytecastTryZc => {
                "bytecast core, `try_reserve` + one `put` + `commit` / `try_borrow_frame` on spinning threads"
            }
            Self::BytecastTokioCopy => {
                "the copy job through `bytecast-tokio`: the writer task `write_all`s each frame, \
                 `tokio::io::copy` from a strong reader (`AsyncRead`) into the destination"
            }
            Self::BytecastTokioCopyBuf => {
                "as `bytecast-tokio-copy` with `tokio::io::copy_buf` (`AsyncBufRead`: `fill_buf` \
                 lends from the ring)"
            }
            Self::BytecastFrameLoop => {
                "the copy job on the core's frame loop, no tokio copy: `write(&frame).await`; \
                 `read_frame_into(&mut buf).await`, then one `write_all` of the frame into the \
                 destination"
            }
            Self::TokioBroadcast => {
                "`tokio::sync::broadcast` of `Arc<[u8]>` frames (lossy by design: `Lagged(n)` is counted as loss)"
            }
            Self::AsyncBroadcast => {
                "`async-broadcast` 0.7 of `Arc<[u8]>` frames (`broadcast_direct`/`recv_direct`; \
                 `try_broadcast` under overload)"
            }
            Self::TokioDuplex => {
                "`tokio::io::duplex(1 MiB)`: `write_all` of each frame, `read` until it is complete"
            }
            Self::TokioDuplexCopy => {
                "the copy job through `tokio::io::duplex(1 MiB)`: `write_all` of each frame, \
                 `tokio::io::copy` out of the other end into the destination"
            }
            Self::Bbqueue => {
                "`bbqueue` 0.7 framed, async (`wait_grant`/`wait_read`), frame copied into the \
                 write grant, read grant checked in place"
            }
            Self::BbqueueThreads => {
                "`bbqueue` 0.7 framed, `grant`/`read` on spinning threads"
            }
            Self::Disruptor => {
                "`disruptor` 4 with `[u8; len]` events: `try_publish` filling the slot in place, \
                 handlers check it in place, on spinning threads"
            }
            Self::Selium => {
                "`selium-messaging` 1.0.0-alpha.6: `write_all` of one frame, `read_frame` \
                 (feature `selium`)"
            }
            Self::CopyLimit => {
                "one thread: stamp the frame, memcpy it into a 1 MiB ring, memcpy it out once per \
                 reader and check it; no synchronisation"
            }
        }
    }

    pub(crate) fn class(self) -> Class {
        match self {
            Self::BytecastTry | Self::BytecastTryZc | Self::BbqueueThreads | Self::Disruptor => {
                Class::Threads
            }
            Self::CopyLimit => Class::Single,
            _ => Class::Async,
        }
    }

    pub(crate) fn is_bytecast(self) -> bool {
        matches!(
            self,
            Self::BytecastTokio
                | Self::BytecastAsync
                | Self::BytecastAsyncZc
                | Self::BytecastAsyncZcPieces
                | Self::BytecastTry
                | Self::BytecastTryZc
                | Self::BytecastTokioCopy
                | Self::BytecastTokioCopyBuf
                | Self::BytecastFrameLoop
        )
    }

    /// Whether the implementation is one of the copy job's rows.
    pub(crate) fn is_copy(self) -> bool {
        matches!(
            self,
            Self::BytecastTokioCopy
                | Self::BytecastTokioCopyBuf
                | Self::BytecastFrameLoop
                | Self::TokioDuplexCopy
        )
    }

    /// Whether the implementation can run the workload at all (N/A otherwise).
    pub(crate) fn fits(self, s: &Shape) -> bool {
        let one_to_one = s.writers == 1 && s.readers() == 1;
        // The copy rows run the copy workloads, and only they do.
        if s.dest != Dest::None {
            return self.is_copy() && one_to_one && !s.overload;
        }
        match self {
            Self::BytecastTokioCopy
            | Self::BytecastTokioCopyBuf
            | Self::BytecastFrameLoop
            | Self::TokioDuplexCopy => false,
            Self::BytecastAsync | Self::BytecastTry | Self::Selium => true,
            Self::BytecastTokio | Self::TokioBroadcast | Self::AsyncBroadcast => s.weak == 0,
            Self::BytecastAsyncZc
            | Self::BytecastAsyncZcPieces
            | Self::BytecastTryZc
            | Self::BbqueueThreads => one_to_one && !s.overload,
            Self::TokioDuplex => one_to_one && !s.overload,
            Self::Bbqueue => one_to_one,
            Self::Disruptor => s.weak == 0 && matches!(s.len, 64 | 1024 | 65536),
            Self::CopyLimit => !s.overload,
        }
    }

    /// Whether this build includes the implementation.
    pub(crate) fn built(self) -> bool {
        self != Self::Selium || cfg!(feature = "selium")
    }
}

/// Finds a workload by id.
pub(crate) fn workload(id: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.id == id)
}

/// A 2-worker multi-thread tokio runtime, as every async row uses.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `imp` on `shape` once for `dur`.
pub(crate) fn run_cell(
    rt: &tokio::runtime::Runtime,
    imp: Impl,
    shape: Shape,
    dur: Duration,
) -> Outcome {
    match imp {
        Impl::BytecastTokio => run_async(rt, shape, dur, bc::tokio_adapter),
        Impl::BytecastAsync => run_async(rt, shape, dur, |c| bc::core_async(c, Api::Copy)),
        Impl::BytecastAsyncZc => run_async(rt, shape, dur, |c| bc::core_async(c, Api::Grant)),
        Impl::BytecastAsyncZcPieces => {
            run_async(rt, shape, dur, |c| bc::core_async(c, Api::GrantPieces))
        }
        Impl::BytecastTry => run_threads(shape, dur, |c| bc::core_threads(c, Api::Copy)),
        Impl::BytecastTryZc => run_threads(shape, dur, |c| bc::core_threads(c, Api::Grant)),
        Impl::BytecastTokioCopy => run_async(rt, shape, dur, |c| copy::bytecast(c, Mover::Copy)),
        Impl::BytecastTokioCopyBuf => {
            run_async(rt, shape, dur, |c| copy::bytecast(c, Mover::CopyBuf))
        }
        Impl::BytecastFrameLoop => {
            run_async(rt, shape, dur, |c| copy::bytecast(c, Mover::FrameLoop))
        }
        Impl::TokioDuplexCopy => run_async(rt, shape, dur, copy::duplex),
        Impl::TokioBroadcast => run_async(rt, shape, dur, peers::tokio_broadcast),
        Impl::AsyncBroadcast => run_async(rt, shape, dur, peers::async_broadcast),
        Impl::TokioDuplex => run_async(rt, shape, dur, peers::tokio_duplex),
        Impl::Bbqueue => run_async(rt, shape, dur, peers::bbqueue_async),
        Impl::BbqueueThreads => run_threads(shape, dur, peers::bbqueue_threads),
        Impl::Disruptor => run_threads(shape, dur, peers::disruptor),
        Impl::CopyLimit => peers::copy_limit(shape, dur),
        Impl::Selium => selium(rt, shape, dur),
    }
}

#[cfg(feature = "selium")]
fn selium(rt: &tokio::runtime::Runtime, shape: Shape, dur: Duration) -> Outcome {
    run_async(rt, shape, dur, crate::impls::selium::selium)
}

#[cfg(not(feature = "selium"))]
fn selium(_: &tokio::runtime::Runtime, _: Shape, _: Duration) -> Outcome {
    Outcome {
        error: Some("built without the `selium` feature".to_owned()),
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every implementation delivers verified frames on every workload it fits (a few
    /// milliseconds each; nothing about speed is asserted).
    #[test]
    fn every_fitting_cell_delivers_verified_frames() {
        let rt = runtime();
        for w in WORKLOADS {
            if w.shape.readers() > 16 || w.shape.writers > 4 {
                continue; // the 64-reader and 16-writer cells only add threads
            }
            for &imp in IMPLS {
                if !imp.fits(&w.shape) || !imp.built() {
                    continue;
                }
                let out = run_cell(&rt, imp, w.shape, Duration::from_millis(15));
                assert_eq!(out.error, None, "{} on {}", imp.id(), w.id);
                assert!(out.delivered > 0, "{} on {}", imp.id(), w.id);
            }
        }
    }

    #[test]
    fn ids_round_trip() {
        for &imp in IMPLS {
            assert_eq!(Impl::from_id(imp.id()), Some(imp));
        }
        for w in WORKLOADS {
            assert_eq!(workload(w.id).map(|x| x.id), Some(w.id));
        }
    }
}
