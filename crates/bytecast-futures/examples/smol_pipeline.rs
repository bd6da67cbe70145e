//! A smol pipeline through two channels: producers write log lines into `raw`; a filter task
//! reads `raw` as lines straight from the ring (a strong reader is an `AsyncBufRead`), keeps
//! the warnings and writes them, upper-cased, into `alerts`; a sink copies `alerts` into memory
//! with `futures::io::copy`. Draining `raw` ends the filter, and draining `alerts` ends the sink.
//!
//! Run with `cargo run -p bytecast-futures --example smol_pipeline`.

use bytecast_futures::Channel;
use futures::{AsyncBufReadExt, AsyncWriteExt, StreamExt};
use std::io;

const PRODUCERS: usize = 3;
const LINES: usize = 1_000;

fn main() -> io::Result<()> {
    smol::block_on(async {
        let raw = Channel::new(2048);
        let alerts = Channel::new(1024);

        let mut lines = raw.new_strong_reader().lines();
        let mut out = alerts.new_strong_writer();
        let filter = smol::spawn(async move {
            let mut kept = 0;
            while let Some(line) = lines.next().await {
                let line = line?;
                if line.contains("warn") {
                    out.write_all(format!("{}\n", line.to_uppercase()).as_bytes())
                        .await?;
                    kept += 1;
                }
            }
            io::Result::Ok(kept)
        });

        let mut sink_reader = alerts.new_strong_reader();
        let sink = smol::spawn(async move {
            let mut collected = Vec::new();
            futures::io::copy(&mut sink_reader, &mut collected).await?;
            io::Result::Ok(collected)
        });

        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let mut writer = raw.new_weak_writer();
                smol::spawn(async move {
                    for i in 0..LINES {
                        let level = if i % 10 == 0 { "warn" } else { "info" };
                        // One write per line: lines of different producers never interleave.
                        writer
                            .write_all(format!("{level} producer {p} event {i}\n").as_bytes())
                            .await?;
                    }
                    io::Result::Ok(())
                })
            })
            .collect();
        for p in producers {
            p.await?;
        }
        raw.drain()?;
        let kept = filter.await?;
        alerts.drain()?;
        let collected = String::from_utf8(sink.await?).map_err(io::Error::other)?;

        assert_eq!(kept, PRODUCERS * LINES / 10);
        assert_eq!(collected.lines().count(), kept);
        assert!(collected.lines().all(|l| l.starts_with("WARN PRODUCER ")));
        println!("{} lines in, {kept} warnings out", PRODUCERS * LINES);
        Ok(())
    })
}
