//! A live tail that may fall behind: a weak reader's lossy stream copied into a text log, with a
//! marker line wherever writers lapped it. Lines are never joined across a loss, because each
//! item is a whole frame or a loss, never bytes.
//!
//! Run with `cargo run -p bytecast-tokio --example lossy_tail`.

use bytecast_tokio::{Channel, Delivery};
use futures::StreamExt;
use std::io;
use tokio::io::AsyncWriteExt;

const LINES: u32 = 5_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    // A small ring and a tail that only starts after a burst: it is lapped for certain.
    let chan = Channel::new(2048);
    let mut tail = chan.new_weak_reader().into_lossy_stream();
    let mut writer = chan.new_strong_writer();
    for i in 0..LINES {
        writer.write_all(format!("line {i}\n").as_bytes()).await?;
    }
    chan.drain()?;

    // The tail's whole job: frames go out as they are, each loss as one marker line.
    let mut out = Vec::new();
    while let Some(item) = tail.next().await {
        match item? {
            Delivery::Frame(frame) => out.extend_from_slice(&frame.payload),
            Delivery::Lost(loss) => out.extend_from_slice(
                format!("[lost {} lines, {} bytes]\n", loss.frames, loss.bytes).as_bytes(),
            ),
        }
    }

    // Every line is whole; after the marker the lines run on in order to the last one.
    let text = String::from_utf8(out).expect("whole frames of text");
    let mut lines = text.lines();
    let marker = lines.next().expect("the tail was lapped");
    assert!(marker.starts_with("[lost "), "{marker}");
    let rest: Vec<u32> = lines
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .expect(l)
        })
        .collect();
    assert!(rest.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(rest.last(), Some(&(LINES - 1)));
    let lost: u32 = marker[6..].split(' ').next().unwrap().parse().unwrap();
    assert_eq!(lost as usize + rest.len(), LINES as usize);
    println!("{marker}, then {} lines in order", rest.len());
    Ok(())
}
