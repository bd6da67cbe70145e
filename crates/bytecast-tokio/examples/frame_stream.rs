//! Frames as a `Stream` with `StreamExt`: three writers publish readings; an archive stream
//! (strong reader) sees every frame with its writer's id, and a dashboard (a weak reader's
//! lossy stream) that starts late on a small ring gets what it lost as an item and goes on.
//!
//! Run with `cargo run -p bytecast-tokio --example frame_stream`.

use bytecast_tokio::{Channel, Delivery};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::io;
use tokio::io::AsyncWriteExt;

const WRITERS: u16 = 3;
const FRAMES: u32 = 1_000;

#[tokio::main]
async fn main() -> io::Result<()> {
    let chan = Channel::new(1024);
    let archive = chan.new_strong_reader().into_stream();
    let dashboard = chan.new_weak_reader().into_lossy_stream();

    // The archive counts frames and bytes per writer id as they come.
    let archive = tokio::spawn(
        archive.fold(BTreeMap::new(), |mut per_writer, frame| async move {
            let frame = frame.expect("a strong reader loses nothing");
            let (id, bytes) = (frame.writer, frame.payload);
            let entry: &mut (u32, usize) = per_writer.entry(id).or_default();
            assert_eq!(
                bytes,
                reading(entry.0),
                "frames of one writer arrive in order"
            );
            *entry = (entry.0 + 1, entry.1 + bytes.len());
            per_writer
        }),
    );

    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let mut writer = chan.new_strong_writer();
            tokio::spawn(async move {
                for seq in 0..FRAMES {
                    writer.write_all(&reading(seq)).await?;
                }
                io::Result::Ok(())
            })
        })
        .collect();
    for w in writers {
        w.await??;
    }
    chan.drain()?;

    // The dashboard only starts now: what was overwritten is reported, the rest arrives.
    let (frames, lost) = dashboard
        .fold((0u32, 0u64), |(frames, lost), item| async move {
            match item.expect("only termination is an error") {
                Delivery::Frame(_) => (frames + 1, lost),
                Delivery::Lost(loss) => (frames, lost + loss.bytes),
            }
        })
        .await;

    let per_writer = archive.await?;
    for (id, (frames, bytes)) in &per_writer {
        println!("archive: writer {id}: {frames} frames, {bytes} bytes");
        assert_eq!(*frames, FRAMES);
    }
    assert_eq!(per_writer.len(), WRITERS as usize);
    println!("dashboard: {frames} frames read, {lost} bytes reported lost");
    assert!(lost > 0 && frames > 0);
    Ok(())
}

/// A reading: its sequence number, then some text.
fn reading(seq: u32) -> Vec<u8> {
    format!("{seq:08} temperature {}.{}", 20 + seq % 7, seq % 10).into_bytes()
}
