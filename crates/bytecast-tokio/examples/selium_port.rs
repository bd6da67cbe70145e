//! A program written against selium-messaging's names, ported to bytecast by changing its `use`
//! line: with `use selium_messaging::{...}` in its place it is a selium-messaging program.
//!
//! It uses only what selium-messaging has: `Channel::with_parameters` returning `Arc<Channel>`, the
//! `new_*` constructors, `Writer`/`Reader` conversions, `downgrade`, `read_frame(max_len)`,
//! tokio's `AsyncRead`/`AsyncWrite`, `terminate`, `drain`, and `ChannelError::ReaderBehind`
//! downcast from an `io::Error`. Where the two crates behave differently the comments say so
//! (`docs/porting.md` has the full list).
//!
//! Run with `cargo run -p bytecast-tokio --example selium_port`.

use bytecast_tokio::{
    Backpressure, Channel, ChannelError, Reader, StrongReader, StrongWriter, WeakReader,
    WeakWriter, Writer,
};
use std::io::{self, ErrorKind};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> io::Result<()> {
    let chan: Arc<Channel> = Channel::with_parameters(1024, Backpressure::Park);

    // Writers: selium-messaging's `new_writer` is strong; a strong writer can be downgraded.
    let mut sensors: Vec<Writer> = vec![chan.new_writer(), chan.new_writer().downgrade()];
    let strong: StrongWriter = chan.new_strong_writer();
    let mut alarms: WeakWriter = strong.downgrade();
    let mut extra: WeakWriter = chan.new_weak_writer();

    // Readers: one that must see everything, one that may fall behind.
    let mut archive: StrongReader = chan.new_strong_reader();
    let mut monitor: Reader = Reader::from(chan.new_weak_reader());

    let archiver = tokio::spawn(async move {
        let mut frames = 0usize;
        loop {
            match archive.read_frame(256).await {
                Ok(Some(frame)) => {
                    let bytes = frame.payload;
                    assert!(bytes.starts_with(b"sensor") || bytes.starts_with(b"alarm"));
                    frames += 1;
                }
                // Drained and caught up: no frame. (selium-messaging reports `Interrupted`.)
                Ok(None) => return Ok(frames),
                Err(e) => return Err(e),
            }
        }
    });

    for round in 0..200 {
        for (n, sensor) in sensors.iter_mut().enumerate() {
            sensor
                .write_all(format!("sensor {n} reading {round}").as_bytes())
                .await?;
        }
        if round % 50 == 0 {
            alarms
                .write_all(format!("alarm at {round}").as_bytes())
                .await?;
        }
    }
    extra.write_all(b"sensor extra").await?;

    // The monitor was never read while the writers ran, so the ring lapped it: selium-messaging's error.
    let mut buf = [0u8; 64];
    match monitor.read(&mut buf).await {
        Err(e) if e.kind() == ErrorKind::Other => {
            match e.get_ref().and_then(|e| e.downcast_ref()) {
                // bytecast: the exact number of payload bytes lost (selium-messaging: a position).
                Some(ChannelError::ReaderBehind(lost)) => {
                    println!("monitor fell behind: {lost} bytes lost")
                }
                _ => return Err(e),
            }
        }
        other => panic!("the monitor should have been lapped: {other:?}"),
    }
    let weak: WeakReader = match monitor.into_weak() {
        Ok(weak) => weak,
        Err(_) => unreachable!("the monitor is weak"),
    };
    drop(weak);

    chan.drain().map_err(io::Error::other)?;
    // New writes are refused while draining. (selium-messaging: `Interrupted`; bytecast: `BrokenPipe`.)
    let refused = sensors[0].write_all(b"sensor late").await.unwrap_err();
    println!("write while draining: {:?}", refused.kind());

    let frames = archiver.await??;
    assert_eq!(frames, 200 * 2 + 4 + 1);
    println!("archive read {frames} frames, nothing lost");

    for sensor in &mut sensors {
        sensor.get_mut().terminate();
    }
    // Terminating a draining channel: selium-messaging's error variant, and the channel is terminated.
    match chan.terminate() {
        Err(ChannelError::TerminateDraining) | Ok(()) => {}
        Err(e) => return Err(io::Error::other(e)),
    }
    let aborted = extra.write_all(b"sensor after").await.unwrap_err();
    assert_eq!(aborted.kind(), ErrorKind::ConnectionAborted);
    println!("write after terminate: {:?}", aborted.kind());
    Ok(())
}
