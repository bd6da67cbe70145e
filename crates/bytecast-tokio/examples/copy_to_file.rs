//! `tokio::io::copy` from a strong reader into a file: four writers log lines into one channel,
//! an archiver copies the channel into a file under the temp directory, and `drain()` ends the
//! copy. The file is then checked: every line is there, whole, and each writer's lines are in
//! order.
//!
//! Run with `cargo run -p bytecast-tokio --example copy_to_file`.

use bytecast_tokio::Channel;
use std::io;
use tokio::io::AsyncWriteExt;

const WRITERS: usize = 4;
const LINES: usize = 2_000;

#[tokio::main]
async fn main() -> io::Result<()> {
    // A ring much smaller than the log: the writers park while the archiver catches up.
    let chan = Channel::new(4096);
    let path = std::env::temp_dir().join(format!("bytecast-copy-{}.log", std::process::id()));

    let mut archiver = chan.new_strong_reader();
    let archive = tokio::spawn({
        let path = path.clone();
        async move {
            let mut file = tokio::fs::File::create(&path).await?;
            let copied = tokio::io::copy(&mut archiver, &mut file).await?; // ends at the drain
            file.flush().await?;
            io::Result::Ok(copied)
        }
    });

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut writer = chan.new_writer();
            tokio::spawn(async move {
                for i in 0..LINES {
                    // One write is one frame: a line is never interleaved with another writer's.
                    let line = format!("writer {w} line {i:05} {}\n", "#".repeat(i % 40));
                    writer.write_all(line.as_bytes()).await?;
                }
                io::Result::Ok(())
            })
        })
        .collect();
    for w in writers {
        w.await??;
    }
    chan.drain()?;
    let copied = archive.await??;

    let text = tokio::fs::read_to_string(&path).await?;
    tokio::fs::remove_file(&path).await?;
    assert_eq!(copied as usize, text.len());
    let mut next = [0usize; WRITERS];
    for line in text.lines() {
        let mut words = line.split(' ');
        let (_, w, _, i) = (words.next(), words.next(), words.next(), words.next());
        let w: usize = w.and_then(|w| w.parse().ok()).expect("a whole line");
        let i: usize = i.and_then(|i| i.parse().ok()).expect("a whole line");
        assert_eq!(i, next[w], "writer {w}'s lines out of order");
        assert_eq!(
            line.len(),
            format!("writer {w} line {i:05} ").len() + i % 40
        );
        next[w] += 1;
    }
    assert_eq!(next, [LINES; WRITERS]);
    println!(
        "copied {copied} bytes ({} lines from {WRITERS} writers) into {}: verified",
        WRITERS * LINES,
        path.display()
    );
    Ok(())
}
