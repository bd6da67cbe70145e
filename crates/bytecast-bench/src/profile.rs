//! `--single-thread PATH FRAMES [LEN]`: one thread writes a frame and reads it back, `FRAMES` times,
//! through one of bytecast's paths or the copy limit, checking every frame as the benchmark
//! does. Meant for `valgrind --tool=callgrind`: the difference between two frame counts,
//! divided by the difference in frames, is the instruction count per frame of that path with
//! no waiting, no contention and no scheduler in it (`docs/performance.md`, "Measuring a path alone").

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytecast::{Channel, Config};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::frame::{pieces, staging, stamp, StreamVerifier, Verifier};
use crate::run::CAPACITY;

/// The paths `--single-thread` knows.
pub(crate) const PATHS: &[&str] = &[
    "copy",
    "grant",
    "grant-pieces",
    "adapter",
    "pipe",
    "duplex-pipe",
    "copy-limit",
];

/// The buffer of the `pipe` paths' reads: `tokio::io::copy`'s.
const PIPE_BUF: usize = 8 * 1024;

/// The `pipe` paths: `write` frames one `poll_write` each until a [`PIPE_BUF`] worth is
/// written (at least one frame), then `poll_read` them back into a [`PIPE_BUF`] buffer, as
/// `tokio::io::copy` reads, and check them as a stream.
fn pipe<W: AsyncWrite + Unpin, R: AsyncRead + Unpin>(
    w: &mut W,
    r: &mut R,
    frames: u64,
    len: usize,
) -> Result<u64, String> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut frame = staging(len);
    let mut buf = vec![0u8; PIPE_BUF];
    let mut v = StreamVerifier::new(len, 1);
    let batch = (PIPE_BUF / len).max(1) as u64;
    let mut seq = 0;
    while seq < frames {
        let n = batch.min(frames - seq);
        for _ in 0..n {
            stamp(&mut frame, 0, seq);
            match Pin::new(&mut *w).poll_write(&mut cx, &frame) {
                Poll::Ready(Ok(m)) if m == len => {}
                other => return Err(format!("poll_write: {other:?}")),
            }
            seq += 1;
        }
        let mut left = n as usize * len;
        while left > 0 {
            let mut rb = ReadBuf::new(&mut buf);
            match Pin::new(&mut *r).poll_read(&mut cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    left -= rb.filled().len();
                    v.bytes(rb.filled());
                }
                other => return Err(format!("poll_read: {other:?}")),
            }
        }
    }
    let t = v.finish();
    match t.error {
        Some(e) => Err(e),
        None => Ok(t.frames),
    }
}

/// Runs `frames` frames of `len` bytes through `path`; returns how many were checked.
pub(crate) fn single_thread(path: &str, frames: u64, len: usize) -> Result<u64, String> {
    let mut frame = staging(len);
    let mut buf = vec![0u8; len];
    let mut v = Verifier::new(len, 1, false);
    let chan = Channel::try_with_config(Config::new(CAPACITY)).map_err(|e| e.to_string())?;
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut cx = Context::from_waker(Waker::noop());
    match path {
        "copy" => {
            for seq in 0..frames {
                stamp(&mut frame, 0, seq);
                w.try_write(&frame).map_err(|e| e.to_string())?;
                let (_, n) = r
                    .try_read_frame_into(&mut buf)
                    .map_err(|e| e.to_string())?
                    .ok_or("no frame")?;
                v.frame(&buf[..n]);
            }
        }
        // `grant`: the stamped frame in one `put`, as the `-zc` rows do; `grant-pieces`: as the
        // `-zc-pieces` row does.
        "grant" | "grant-pieces" => {
            let one_put = path == "grant";
            for seq in 0..frames {
                let mut g = w
                    .try_reserve(len)
                    .map_err(|e| e.to_string())?
                    .ok_or("no room")?;
                if one_put {
                    stamp(&mut frame, 0, seq);
                    g.put(&frame);
                } else {
                    pieces(&frame, 0, seq, |p| {
                        g.put(p);
                    });
                }
                g.commit();
                let f = r
                    .try_borrow_frame()
                    .map_err(|e| e.to_string())?
                    .ok_or("no frame")?;
                v.frame(&f);
            }
        }
        "adapter" => {
            // The core handles above would gate the adapter's writer: gone first.
            drop((w, r));
            let chan = bytecast_tokio::Channel::from_core(chan.clone());
            let mut w = chan.new_strong_writer();
            let mut r = chan.new_strong_reader();
            for seq in 0..frames {
                stamp(&mut frame, 0, seq);
                match Pin::new(&mut w).poll_write(&mut cx, &frame) {
                    Poll::Ready(Ok(n)) if n == len => {}
                    other => return Err(format!("poll_write: {other:?}")),
                }
                let mut filled = 0;
                while filled < len {
                    let mut rb = ReadBuf::new(&mut buf[filled..]);
                    match Pin::new(&mut r).poll_read(&mut cx, &mut rb) {
                        Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                            filled += rb.filled().len();
                        }
                        other => return Err(format!("poll_read: {other:?}")),
                    }
                }
                v.frame(&buf);
            }
        }
        // `pipe`: through the tokio adapter, as `tokio::io::copy` reads a strong reader;
        // `duplex-pipe`: the same through `tokio::io::duplex`.
        "pipe" => {
            drop((w, r));
            let chan = bytecast_tokio::Channel::from_core(chan.clone());
            let mut w = chan.new_strong_writer();
            let mut r = chan.new_strong_reader();
            return pipe(&mut w, &mut r, frames, len);
        }
        "duplex-pipe" => {
            let (mut tx, mut rx) = tokio::io::duplex(CAPACITY);
            return pipe(&mut tx, &mut rx, frames, len);
        }
        "copy-limit" => {
            let mut ring = vec![0u8; CAPACITY];
            let mut pos = 0;
            for seq in 0..frames {
                stamp(&mut frame, 0, seq);
                if pos + len > CAPACITY {
                    pos = 0;
                }
                ring[pos..pos + len].copy_from_slice(&frame);
                std::hint::black_box(ring.as_mut_ptr());
                buf.copy_from_slice(&ring[pos..pos + len]);
                v.frame(&buf);
                pos += len;
            }
        }
        other => return Err(format!("unknown path `{other}`; one of {PATHS:?}")),
    }
    let t = v.finish();
    match t.error {
        Some(e) => Err(e),
        None if t.frames == frames => Ok(t.frames),
        None => Err(format!("{} of {frames} frames", t.frames)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_checks_its_frames() {
        for path in PATHS {
            assert_eq!(single_thread(path, 20_000, 64), Ok(20_000), "{path}");
            assert_eq!(single_thread(path, 100, 65536), Ok(100), "{path}");
        }
        assert_eq!(single_thread("copy", 0, 64), Ok(0));
        assert!(single_thread("bogus", 1, 64).is_err());
    }
}
