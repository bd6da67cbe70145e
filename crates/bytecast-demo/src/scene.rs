//! The scene: two channels, the writer tasks, the three kinds of reader, the drain at the end.
//!
//! - The `Park` channel: every writer's frames; strong "archivers" must get every one of them,
//!   whole and in order per writer, and writers wait for them; weak "dashboards" sleep between
//!   frames, fall behind, are lapped and must account for exactly what they lost.
//! - The `Drop` channel, beside it: the same frames offered to a ring with one slow strong
//!   reader; what does not fit is refused whole and counted, and the writers never wait.
//! - At the end both channels are drained: writers still writing are refused (`BrokenPipe`)
//!   and stop, and every reader reads what is left and stops at end of stream.

use std::io;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use bytecast::{ChannelError, Stats};
use bytecast_tokio::{Backpressure, Channel, Config, StrongReader, StrongWriter, WeakReader};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use crate::frame;
use crate::meter::{ReaderMeter, WriterMeter};
use crate::setup::{Plan, ReaderSlot, Role, Settings};
use crate::view::{Board, Phase};

/// How long the readers get to reach end of stream after the drain before the run counts as
/// hung (they need milliseconds).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Readers publish their counters to the view, and every task gives the others a turn on the
/// two workers, this often (in frames).
const PUBLISH_EVERY: u64 = 64;

/// What one writer did.
#[derive(Debug, Clone)]
pub(crate) struct WriterReport {
    pub(crate) index: u32,
    /// Its writer id on the `Park` channel.
    pub(crate) park_id: u16,
    /// Frames and bytes written to the `Park` channel.
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    /// Frames and bytes the `Drop` channel accepted, and frames it refused.
    pub(crate) kept: u64,
    pub(crate) kept_bytes: u64,
    pub(crate) refused: u64,
    /// The writer stopped because the drain refused its next frame.
    pub(crate) stopped_by_drain: bool,
    pub(crate) elapsed: Duration,
}

/// What one reader received and what it found wrong.
#[derive(Debug, Clone)]
pub(crate) struct ReaderReport {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Every frame delivered, whole or not.
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    /// Whole, well-attributed frames per writer (index = the demo's writer index).
    pub(crate) per_writer: Vec<u64>,
    /// Frames failing the checksum or length check.
    pub(crate) torn: u64,
    /// Frames whose channel writer id is not the id of the writer named inside.
    pub(crate) misattributed: u64,
    /// Frames out of order within their writer's sequence (or, for lossless readers, not the
    /// very next one).
    pub(crate) out_of_order: u64,
    /// Weak readers: `ReaderBehind` reports and the bytes they announced...
    pub(crate) loss_reports: u64,
    pub(crate) reported_lost_bytes: u64,
    /// ...and the reader's own totals of frames and payload bytes lost.
    pub(crate) lost_frames: u64,
    pub(crate) lost_bytes: u64,
    /// Bytes it still had to read when the drain started.
    pub(crate) lag_at_drain: u64,
    /// From the start to end of stream.
    pub(crate) elapsed: Duration,
}

/// Everything the summary needs.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) writers: Vec<WriterReport>,
    pub(crate) readers: Vec<ReaderReport>,
    pub(crate) park: Stats,
    pub(crate) drop: Stats,
    /// Writing time (start to drain) and drain time (drain to the last end of stream).
    pub(crate) writing: Duration,
    pub(crate) draining: Duration,
}

/// Checks each frame a reader gets and keeps its report.
struct Verifier {
    /// Channel writer id of each demo writer.
    ids: Arc<[u16]>,
    /// Next expected sequence number per writer.
    next: Vec<u64>,
    /// `false` for lossless readers: each frame must be the very next of its writer.
    gaps_allowed: bool,
    report: ReaderReport,
}

impl Verifier {
    fn new(name: String, role: Role, ids: Arc<[u16]>) -> Self {
        let writers = ids.len();
        Self {
            ids,
            next: vec![0; writers],
            gaps_allowed: role != Role::Archiver,
            report: ReaderReport {
                name,
                role,
                frames: 0,
                bytes: 0,
                per_writer: vec![0; writers],
                torn: 0,
                misattributed: 0,
                out_of_order: 0,
                loss_reports: 0,
                reported_lost_bytes: 0,
                lost_frames: 0,
                lost_bytes: 0,
                lag_at_drain: 0,
                elapsed: Duration::ZERO,
            },
        }
    }

    fn frame(&mut self, channel_writer: u16, bytes: &[u8]) {
        let r = &mut self.report;
        r.frames += 1;
        r.bytes += bytes.len() as u64;
        let Some(seen) = frame::check(bytes) else {
            r.torn += 1;
            return;
        };
        let w = seen.writer as usize;
        if self.ids.get(w) != Some(&channel_writer) {
            r.misattributed += 1;
            return;
        }
        let expected = self.next[w];
        if seen.seq < expected || (!self.gaps_allowed && seen.seq != expected) {
            r.out_of_order += 1;
        }
        self.next[w] = seen.seq + 1;
        r.per_writer[w] += 1;
    }

    fn publish(&self, meter: &ReaderMeter) {
        let r = &self.report;
        meter.publish(r.frames, r.bytes, r.loss_reports);
    }

    fn finish(mut self, start: Instant, meter: &ReaderMeter) -> ReaderReport {
        self.publish(meter);
        meter.finish(self.report.lost_frames, self.report.lost_bytes);
        self.report.elapsed = start.elapsed();
        self.report
    }
}

/// Sleeps `per_frame` on average per call, in naps of at least a millisecond (tokio's timer
/// resolution); an oversleep is paid back by the next calls.
struct Pacer {
    per_frame: Duration,
    /// Nanoseconds owed; negative after an oversleep.
    owed: i128,
}

impl Pacer {
    const NAP: i128 = 1_000_000;

    fn new(per_frame: Duration) -> Self {
        Self { per_frame, owed: 0 }
    }

    async fn pace(&mut self) {
        if self.per_frame.is_zero() {
            return;
        }
        self.owed += self.per_frame.as_nanos() as i128;
        if self.owed >= Self::NAP {
            let nap = Duration::from_nanos(self.owed as u64);
            let t = Instant::now();
            tokio::time::sleep(nap).await;
            self.owed -= t.elapsed().as_nanos() as i128;
        }
    }
}

fn channel(
    capacity: usize,
    backpressure: Backpressure,
    writers: u32,
    readers: u32,
) -> Result<Arc<Channel>> {
    let config = Config::new(capacity)
        .backpressure(backpressure)
        .max_writers(writers.max(1) as usize)
        .max_readers(readers.max(1) as usize);
    Channel::try_with_config(config)
        .with_context(|| format!("a {backpressure:?} channel of {capacity} bytes"))
}

/// The two channels of the scene.
#[derive(Debug)]
pub(crate) struct Channels {
    park: Arc<Channel>,
    drop: Arc<Channel>,
}

/// Creates the channels, checking that the frame lengths fit both.
///
/// An error is a bad combination of flags.
pub(crate) fn channels(s: &Settings) -> Result<Channels> {
    let park = channel(
        s.capacity,
        Backpressure::Park,
        s.writers,
        s.archivers + s.dashboards,
    )?;
    let drop = channel(s.drop_capacity, Backpressure::Drop, s.writers, 1)?;
    for (chan, flag) in [(&park, "--capacity"), (&drop, "--drop-capacity")] {
        ensure!(
            *s.lens.end() <= chan.max_frame_len(),
            "--max-len {} is more than the {:?} channel's longest frame, {} bytes (half its {}-byte ring, less an 8-byte header): lower --max-len or raise {flag}",
            s.lens.end(),
            chan.backpressure(),
            chan.max_frame_len(),
            chan.capacity()
        );
    }
    Ok(Channels { park, drop })
}

/// The id the channel gave the reader created last (the one `before` did not have).
fn newest_reader(chan: &Channel, before: &[usize]) -> usize {
    chan.readers()
        .iter()
        .map(|r| r.id)
        .find(|id| !before.contains(id))
        .expect("the new reader is in the channel's statistics")
}

/// Runs the scene and returns what every task reports. An error means the run could not be
/// completed (a task failed or the readers did not finish): the verdict fails.
pub(crate) async fn run(s: &Settings, channels: Channels) -> Result<Outcome> {
    let Channels { park, drop } = channels;

    // Readers first, so that they see every frame from the first one.
    let mut slots = Vec::new();
    let (mut archivers, mut dashboards, mut drop_reader) = (Vec::new(), Vec::new(), None);
    for (name, role) in reader_names(s) {
        let chan = if role == Role::DropReader {
            &drop
        } else {
            &park
        };
        let before: Vec<usize> = chan.readers().iter().map(|r| r.id).collect();
        match role {
            Role::Archiver => archivers.push(park.new_strong_reader()),
            Role::Dashboard => dashboards.push(park.new_weak_reader()),
            Role::DropReader => drop_reader = Some(drop.new_strong_reader()),
        }
        let id = newest_reader(chan, &before);
        slots.push(ReaderSlot {
            name,
            role,
            id,
            meter: Arc::default(),
        });
    }
    let drop_reader = drop_reader.expect("the Drop channel has a reader");

    let mut park_writers = Vec::new();
    let mut drop_writers = Vec::new();
    for _ in 0..s.writers {
        park_writers.push(park.try_new_strong_writer()?);
        drop_writers.push(drop.try_new_strong_writer()?);
    }
    let ids = |ws: &[StrongWriter]| -> Arc<[u16]> {
        ws.iter()
            .map(|w| w.id().expect("a strong writer holds its id for life"))
            .collect()
    };
    let (park_ids, drop_ids) = (ids(&park_writers), ids(&drop_writers));

    let board = Arc::new(Board::new(
        s.clone(),
        park.clone(),
        drop.clone(),
        (0..s.writers).map(|_| Arc::default()).collect(),
        slots,
    ));
    let view = tokio::spawn(crate::view::show(board.clone()));
    let start = board.start;

    let mut readers: Vec<JoinHandle<Result<ReaderReport>>> = Vec::new();
    let mut slots = board.readers.iter();
    let mut verifier = |ids: &Arc<[u16]>| {
        let slot = slots.next().expect("a slot per reader");
        (
            Verifier::new(slot.name.clone(), slot.role, ids.clone()),
            slot.meter.clone(),
        )
    };
    for reader in archivers {
        let (v, meter) = verifier(&park_ids);
        readers.push(tokio::spawn(archive(reader, v, meter, start)));
    }
    for reader in dashboards {
        let (v, meter) = verifier(&park_ids);
        let max = *s.lens.end();
        readers.push(tokio::spawn(watch(
            reader,
            v,
            meter,
            start,
            max,
            s.dashboard_delay,
        )));
    }
    let (v, meter) = verifier(&drop_ids);
    readers.push(tokio::spawn(overflow(
        drop_reader,
        v,
        meter,
        start,
        s.drop_reader_delay,
    )));

    let writers: Vec<JoinHandle<Result<WriterReport>>> = park_writers
        .into_iter()
        .zip(drop_writers)
        .zip(board.writers.clone())
        .enumerate()
        .map(|(i, ((p, d), meter))| {
            let job = Job {
                index: i as u32,
                frames: match s.plan {
                    Plan::Frames(n) => n,
                    Plan::For(_) => u64::MAX,
                },
                lens: s.lens.clone(),
                start,
            };
            tokio::spawn(write(job, p, d, meter))
        })
        .collect();

    // The end: after the frames are written, or at the deadline while writers are still
    // writing (they see the drain as `BrokenPipe` and stop).
    let mut writer_reports = Vec::new();
    let writers = match s.plan {
        Plan::Frames(_) => {
            for w in writers {
                writer_reports.push(w.await.context("a writer task panicked")??);
            }
            Vec::new()
        }
        Plan::For(d) => {
            tokio::time::sleep_until((start + d).into()).await;
            writers
        }
    };
    let lags: Vec<u64> = {
        let (p, d) = (park.readers(), drop.readers());
        board
            .readers
            .iter()
            .map(|slot| {
                let stats = if slot.role == Role::DropReader {
                    &d
                } else {
                    &p
                };
                stats.iter().find(|r| r.id == slot.id).map_or(0, |r| r.lag)
            })
            .collect()
    };
    park.drain().context("draining the Park channel")?;
    drop.drain().context("draining the Drop channel")?;
    let drained = Instant::now();
    let writing = drained - start;
    board.set_phase(Phase::Draining);
    for w in writers {
        writer_reports.push(w.await.context("a writer task panicked")??);
    }

    let all = futures_util::future::join_all(readers);
    let results = tokio::time::timeout(DRAIN_TIMEOUT, all)
        .await
        .map_err(|_| {
            anyhow!("the readers did not reach end of stream within {DRAIN_TIMEOUT:?} of the drain")
        })?;
    let draining = drained.elapsed();
    let mut reader_reports = Vec::new();
    for (r, lag) in results.into_iter().zip(lags) {
        let mut report = r.context("a reader task panicked")??;
        report.lag_at_drain = lag;
        reader_reports.push(report);
    }
    board.set_phase(Phase::Done);
    view.await.context("the view task panicked")?;

    Ok(Outcome {
        writers: writer_reports,
        readers: reader_reports,
        park: park.stats(),
        drop: drop.stats(),
        writing,
        draining,
    })
}

/// Reader names and roles, in the order `run` spawns them.
fn reader_names(s: &Settings) -> Vec<(String, Role)> {
    fn numbered(base: &'static str, n: u32, role: Role) -> impl Iterator<Item = (String, Role)> {
        (0..n).map(move |i| {
            let name = if n == 1 {
                base.to_owned()
            } else {
                format!("{base} {i}")
            };
            (name, role)
        })
    }
    numbered("archiver", s.archivers, Role::Archiver)
        .chain(numbered("dashboard", s.dashboards, Role::Dashboard))
        .chain(std::iter::once((
            "drop reader".to_owned(),
            Role::DropReader,
        )))
        .collect()
}

/// One writer's orders.
struct Job {
    index: u32,
    frames: u64,
    lens: RangeInclusive<usize>,
    start: Instant,
}

/// `true` for the error a write gets once the channel is draining.
fn is_drain(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// A writer: each frame goes to the `Park` channel (waiting for the archivers when the ring is
/// full) and is then offered to the `Drop` channel (never waiting; refused when full). It stops
/// after its frames or when the drain refuses the next one.
async fn write(
    job: Job,
    mut park: StrongWriter,
    mut drop: StrongWriter,
    meter: Arc<WriterMeter>,
) -> Result<WriterReport> {
    let mut r = WriterReport {
        index: job.index,
        park_id: park.id().expect("a strong writer holds its id for life"),
        frames: 0,
        bytes: 0,
        kept: 0,
        kept_bytes: 0,
        refused: 0,
        stopped_by_drain: false,
        elapsed: Duration::ZERO,
    };
    let mut buf = Vec::with_capacity(*job.lens.end());
    for seq in 0..job.frames {
        if seq % PUBLISH_EVERY == 0 && seq > 0 {
            tokio::task::yield_now().await;
        }
        let len = frame::frame_len(job.index, seq, &job.lens);
        frame::encode(job.index, seq, len, &mut buf);
        // tokio's `AsyncWrite`: one `poll_write` is one frame, and a frame no longer than the
        // channel's `max_frame_len` is taken whole, so `write_all` makes exactly one frame.
        match park.write_all(&buf).await {
            Ok(()) => {}
            Err(e) if is_drain(&e) => {
                r.stopped_by_drain = true;
                break;
            }
            Err(e) => return Err(e).context(format!("writer {} on the Park channel", job.index)),
        }
        r.frames += 1;
        r.bytes += len as u64;
        // Under `Drop` a frame that does not fit is refused whole: `Ok(0)`.
        match drop.write(&buf).await {
            Ok(0) => r.refused += 1,
            Ok(n) if n == len => {
                r.kept += 1;
                r.kept_bytes += len as u64;
            }
            Ok(n) => bail!(
                "writer {}: the Drop channel took {n} bytes of a {len}-byte frame",
                job.index
            ),
            Err(e) if is_drain(&e) => {
                r.stopped_by_drain = true;
                break;
            }
            Err(e) => return Err(e).context(format!("writer {} on the Drop channel", job.index)),
        }
        // Every frame (plain stores to this writer's own meter), so that the view never shows
        // a reader ahead of the writers.
        meter.publish(r.frames, r.bytes, r.kept, r.refused);
    }
    r.elapsed = job.start.elapsed();
    meter.publish(r.frames, r.bytes, r.kept, r.refused);
    meter.finish(r.elapsed.as_millis() as u64);
    Ok(r)
}

/// An archiver: borrows each frame straight from the ring (no copy), checks it, releases it.
async fn archive(
    mut reader: StrongReader,
    mut v: Verifier,
    meter: Arc<ReaderMeter>,
    start: Instant,
) -> Result<ReaderReport> {
    loop {
        match reader.get_mut().borrow_frame().await {
            Ok(f) => v.frame(f.writer(), f.bytes()),
            Err(ChannelError::EndOfStream) => break,
            Err(e) => return Err(e).context("archiver"),
        }
        if v.report.frames % PUBLISH_EVERY == 0 {
            v.publish(&meter);
            tokio::task::yield_now().await;
        }
    }
    Ok(v.finish(start, &meter))
}

/// A dashboard: copies each frame out, then dawdles; when lapped it is told how many bytes it
/// lost and goes on at the oldest frame still whole.
async fn watch(
    mut reader: WeakReader,
    mut v: Verifier,
    meter: Arc<ReaderMeter>,
    start: Instant,
    max_len: usize,
    delay: Duration,
) -> Result<ReaderReport> {
    let mut buf = vec![0; max_len];
    let mut pacer = Pacer::new(delay);
    loop {
        match reader.get_mut().read_frame_into(&mut buf).await {
            Ok((id, n)) => {
                v.frame(id, &buf[..n]);
                pacer.pace().await;
            }
            Err(ChannelError::ReaderBehind(lost)) => {
                v.report.loss_reports += 1;
                v.report.reported_lost_bytes += lost;
            }
            Err(ChannelError::EndOfStream) => break,
            Err(e) => return Err(e).context("dashboard"),
        }
        if v.report.frames % PUBLISH_EVERY == 0 {
            v.publish(&meter);
            tokio::task::yield_now().await;
        }
    }
    (v.report.lost_frames, v.report.lost_bytes) = (reader.lost_frames(), reader.lost_bytes());
    Ok(v.finish(start, &meter))
}

/// The `Drop` channel's reader: a frame `Stream`, read slowly.
async fn overflow(
    reader: StrongReader,
    mut v: Verifier,
    meter: Arc<ReaderMeter>,
    start: Instant,
    delay: Duration,
) -> Result<ReaderReport> {
    let mut frames = reader.into_stream();
    let mut pacer = Pacer::new(delay);
    while let Some(item) = frames.next().await {
        let frame = item.context("drop reader")?;
        v.frame(frame.writer, &frame.payload);
        pacer.pace().await;
        if v.report.frames % PUBLISH_EVERY == 0 {
            v.publish(&meter);
            tokio::task::yield_now().await;
        }
    }
    Ok(v.finish(start, &meter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report;
    use crate::setup::View;

    fn small(plan: Plan) -> Settings {
        Settings {
            writers: 3,
            plan,
            lens: 20..=300,
            capacity: 4096,
            drop_capacity: 1024,
            archivers: 2,
            dashboards: 2,
            dashboard_delay: Duration::from_micros(50),
            drop_reader_delay: Duration::from_micros(50),
            view: View::Quiet,
        }
    }

    fn run_scene(s: &Settings) -> Outcome {
        let channels = channels(s).unwrap();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap()
            .block_on(run(s, channels))
            .unwrap()
    }

    /// A small scene passes every check, and the counts are the ones planned.
    #[test]
    fn a_small_scene_passes_every_check() {
        let o = run_scene(&small(Plan::Frames(3000)));
        for c in report::checks(&o) {
            assert!(c.ok, "{}: {}", c.claim, c.detail);
        }
        assert_eq!(o.park.frames_published, 9000);
        assert!(o
            .writers
            .iter()
            .all(|w| w.frames == 3000 && !w.stopped_by_drain));
        assert_eq!(o.readers.len(), 5);
        let (summary, ok) = report::summary(&o, false);
        assert!(ok);
        assert!(summary.contains("verdict: OK"), "{summary}");
    }

    /// With a deadline the drain stops the writers mid-flight, and the counts still add up.
    #[test]
    fn a_drain_mid_flight_loses_nothing_uncounted() {
        let o = run_scene(&small(Plan::For(Duration::from_millis(200))));
        for c in report::checks(&o) {
            assert!(c.ok, "{}: {}", c.claim, c.detail);
        }
        assert!(o.writers.iter().all(|w| w.stopped_by_drain));
    }

    /// The checks are not a formality: a count that does not add up fails the verdict.
    #[test]
    fn a_discrepancy_fails_the_verdict() {
        let good = run_scene(&small(Plan::Frames(500)));
        type Break = fn(&mut Outcome);
        let breaks: [(&str, Break); 5] = [
            ("strong readers lost nothing", |o| {
                o.readers[0].per_writer[1] -= 1
            }),
            ("no torn frame anywhere", |o| o.readers[3].torn += 1),
            ("weak losses add up", |o| o.readers[2].lost_frames += 1),
            ("drop counters agree", |o| o.writers[0].refused += 1),
            ("channel counters agree", |o| o.park.bytes_published += 1),
        ];
        for (claim, damage) in breaks {
            let mut o = Outcome {
                writers: good.writers.clone(),
                readers: good.readers.clone(),
                park: good.park,
                drop: good.drop,
                writing: good.writing,
                draining: good.draining,
            };
            damage(&mut o);
            let checks = report::checks(&o);
            let failed: Vec<_> = checks.iter().filter(|c| !c.ok).map(|c| c.claim).collect();
            assert_eq!(failed, [claim]);
            assert!(report::verdict(&checks).starts_with("verdict: FAILED"));
            assert!(!report::summary(&o, false).1);
        }
    }
}
