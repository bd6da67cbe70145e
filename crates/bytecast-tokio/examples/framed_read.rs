//! `tokio_util::codec::FramedRead` over a reader: writers send text in pieces that do not line
//! up with lines, and a `LinesCodec` turns the byte stream back into lines. Byte reads cross
//! frame boundaries, and `drain()` ends the stream.
//!
//! Run with `cargo run -p bytecast-tokio --example framed_read`.

use bytecast_tokio::Channel;
use futures::StreamExt;
use std::io;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{FramedRead, LinesCodec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let chan = Channel::new(1024);
    let mut lines = FramedRead::new(chan.new_strong_reader(), LinesCodec::new());

    let mut writer = chan.new_strong_writer();
    let producer = tokio::spawn(async move {
        let text: String = (0..500)
            .map(|i| format!("reading {i}: {}\n", i * i))
            .collect();
        // Chunks of 7 bytes: lines are split across frames.
        for chunk in text.as_bytes().chunks(7) {
            writer.write_all(chunk).await?;
        }
        io::Result::Ok(())
    });

    let mut count = 0;
    let consumer = async {
        while let Some(line) = lines.next().await {
            let line = line.map_err(io::Error::other)?;
            assert_eq!(line, format!("reading {count}: {}", count * count));
            count += 1;
        }
        io::Result::Ok(())
    };
    let drain = async {
        producer.await??;
        chan.drain()?;
        io::Result::Ok(())
    };
    tokio::try_join!(consumer, drain)?;
    assert_eq!(count, 500);
    println!("decoded {count} lines from 7-byte frames");
    Ok(())
}
