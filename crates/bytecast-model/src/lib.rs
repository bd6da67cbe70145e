//! The reference model of the log, and the harness that checks a real channel against it step
//! by step: what every operation must return, what every reader must receive, and the channel's
//! counters, for any sequence of operations on any number of handles. A small internal crate
//! (`publish = false`) shared by the proptest `crates/bytecast/tests/model.rs` and the fuzz
//! target `fuzz/src/ops.rs`, which bring the generators of operations (proptest strategies,
//! `Arbitrary`) and call [`run_case`].

// The operations are plain data for the generators; their variants are named after the
// channel's calls they stand for.
#![allow(missing_docs)]

use bytecast::{
    Backpressure, Channel, ChannelError, Config, StartAt, StrongReader, StrongWriter, WeakReader,
    WeakWriter, WriteGrant,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Runs one case on this thread: a channel built from `params` must match the model at every
/// step. Starts with one writer and one reader of each kind, then runs `steps`, then drops every
/// handle in an arbitrary order (nothing may panic in `Drop`).
pub fn run_case(params: &Params, steps: &[Step]) {
    let mut h = Harness::new(params);
    for op in [
        Op::NewStrongWriter,
        Op::NewWeakWriter,
        Op::NewReader {
            strong: true,
            tail: false,
        },
        Op::NewReader {
            strong: false,
            tail: false,
        },
    ] {
        h.run(&op);
    }
    for s in steps {
        h.step(s);
    }
    h.writers.clear();
    h.chan = None;
    h.readers.clear();
}

// ---------------------------------------------------------------------------------------------
// Operations.

#[derive(Debug, Clone)]
pub enum Op {
    NewStrongWriter,
    NewWeakWriter,
    DropWriter(usize),
    TerminateWriter(usize),
    DowngradeWriter(usize),
    UpgradeWriter(usize),
    NewReader {
        strong: bool,
        tail: bool,
    },
    DropReader(usize),
    TerminateReader(usize),
    DowngradeReader(usize),
    /// `try_write` of `len % (max_frame_len + 9)` bytes.
    Write {
        w: usize,
        len: usize,
    },
    /// `try_reserve(len)`, `put` of `put % (len + 5)` bytes, then commit (or drop = abort).
    Grant {
        w: usize,
        len: usize,
        put: usize,
        commit: bool,
    },
    ReadFrame {
        r: usize,
        max: usize,
    },
    ReadFrameInto {
        r: usize,
        max: usize,
    },
    ReadBytes {
        r: usize,
        n: usize,
    },
    Skip(usize),
    Borrow(usize),
    Drain,
    Terminate,
    DropChannel,
}

#[derive(Debug, Clone)]
pub enum Step {
    Op(Op),
    /// A grant held open while `inner` runs, then committed or aborted.
    Hold {
        w: usize,
        len: usize,
        put: usize,
        commit: bool,
        inner: Vec<Op>,
    },
}

#[derive(Debug, Clone)]
pub struct Params {
    pub requested_capacity: usize,
    pub drop_mode: bool,
    pub max_writers: usize,
    pub max_readers: usize,
}

const HEADER: u64 = 8;

fn footprint(len: usize) -> u64 {
    HEADER + (len as u64).div_ceil(8) * 8
}

#[derive(Debug, Clone)]
enum Rec {
    Pad,
    Aborted,
    Data { id: u16, bytes: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Draining,
    Terminated,
}

#[derive(Debug, Clone)]
struct MWriter {
    strong: bool,
    terminated: bool,
    /// A strong writer's id (checked unique when it was created).
    id: Option<u16>,
}

#[derive(Debug, Clone)]
struct MReader {
    strong: bool,
    terminated: bool,
    /// Log position of the record the reader is at.
    pos: u64,
    /// Bytes of the data frame at `pos` already delivered.
    offset: usize,
    lost_bytes: u64,
    lost_frames: u64,
    /// The position the reader last published to the writers (a strong reader gates writers
    /// there, not at `pos`): readers release in batches, see [`MReader::advance`].
    released: u64,
    /// Log bytes passed since `released`.
    unreleased: u64,
    /// A loss met by a byte read after it had delivered bytes, reported by the next read.
    pending_loss: Option<u64>,
}

impl MReader {
    fn new(strong: bool, pos: u64) -> Self {
        Self {
            strong,
            terminated: false,
            pos,
            offset: 0,
            pending_loss: None,
            lost_bytes: 0,
            lost_frames: 0,
            released: pos,
            unreleased: 0,
        }
    }

    /// Moves past the record at `pos` (footprint `fp`), releasing as the real reader does:
    /// once `cap / 16` bytes have been passed since the last release, or, for a strong reader,
    /// once it has read everything published.
    fn advance(&mut self, fp: u64, cap: u64, published: u64) {
        self.pos += fp;
        self.offset = 0;
        self.unreleased += fp;
        if self.unreleased >= cap / 16 || (self.strong && self.pos == published) {
            self.release();
        }
    }

    /// Publishes the position (the real reader also does this whenever it finds nothing more
    /// to read, and after a lap).
    fn release(&mut self) {
        self.released = self.pos;
        self.unreleased = 0;
    }
}

#[derive(Debug, Clone, Copy)]
struct MRes {
    start: u64,
    pad: u64,
    fp: u64,
}

/// An open grant, its writer (out of the writer list meanwhile), and every writer id seen
/// while it was open.
#[derive(Debug)]
struct Held {
    res: MRes,
    w: MWriter,
    seen: Vec<u16>,
}

#[derive(Debug)]
struct Model {
    cap: u64,
    max_frame: usize,
    drop_mode: bool,
    max_writers: usize,
    max_readers: usize,
    reserve: u64,
    log: BTreeMap<u64, (u64, Rec)>,
    /// Grants held open (by `Hold` steps, and a `Grant` op inside one), oldest first.
    holds: Vec<Held>,
    state: State,
    orphaned: bool,
    dropped: u64,
}

/// What the model expects from a read: a value, or a zero-loss lap the channel may report as
/// `ReaderBehind(0)` instead.
struct ReadOutcome<T> {
    expected: Result<Option<T>, ChannelError>,
    /// Set if the reader was lapped without losing a data frame: the reader before the op, and
    /// where it resumes.
    zero_loss_lap: Option<(MReader, u64)>,
}

impl Model {
    fn published(&self) -> u64 {
        self.holds.first().map_or(self.reserve, |h| h.res.start)
    }

    /// The oldest record still whole: the first at or after `reserve - C`, at most `published`.
    fn oldest_whole(&self) -> u64 {
        let from = self.reserve.saturating_sub(self.cap);
        let published = self.published();
        self.log
            .range(from..published)
            .next()
            .map_or(published, |(&pos, _)| pos)
    }

    fn published_totals(&self) -> (u64, u64) {
        let published = self.published();
        self.log
            .range(..published)
            .filter_map(|(_, (_, rec))| match rec {
                Rec::Data { bytes, .. } => Some(bytes.len() as u64),
                _ => None,
            })
            .fold((0, 0), |(f, b), len| (f + 1, b + len))
    }

    fn refusal(&self) -> Option<ChannelError> {
        match self.state {
            State::Open => None,
            State::Draining => Some(ChannelError::Draining),
            State::Terminated => Some(ChannelError::Terminated),
        }
    }

    fn slots_in_use(&self, writers: &[WSlot]) -> usize {
        let live_strong = writers
            .iter()
            .filter(|w| w.m.strong && !w.m.terminated)
            .count();
        live_strong + self.holds.len()
    }

    fn writer_count(&self, writers: &[WSlot]) -> usize {
        writers.iter().filter(|w| !w.m.terminated).count()
            + self.holds.iter().filter(|h| !h.w.terminated).count()
    }

    fn gate_bound(&self, readers: &[RSlot]) -> u64 {
        readers
            .iter()
            .filter(|r| r.m.strong && !r.m.terminated)
            .map(|r| r.m.released)
            .fold(self.published(), u64::min)
            + self.cap
    }

    /// A reservation of `len` bytes by `w`.
    fn reserve(
        &mut self,
        w: &MWriter,
        len: usize,
        writers: &[WSlot],
        readers: &[RSlot],
    ) -> Result<Option<MRes>, ChannelError> {
        if w.terminated {
            return Err(ChannelError::Terminated);
        }
        if len > self.max_frame {
            return Err(ChannelError::FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        let no_room = |m: &mut Self| {
            if m.drop_mode {
                m.dropped += 1;
                Err(ChannelError::Full)
            } else {
                Ok(None)
            }
        };
        if !w.strong && self.slots_in_use(writers) >= self.max_writers {
            return no_room(self);
        }
        let idx = self.reserve % self.cap;
        let fp = footprint(len);
        // A payload of 32 KiB up to a quarter of the ring starts on a 4 KiB boundary of the ring
        // where the frame fits there before the end; every other frame starts where it is (one
        // that crosses the end of the ring runs on into its spare tail: no padding).
        let aligned = (idx + HEADER).next_multiple_of(4096) - HEADER;
        let large = len >= 32 * 1024 && len as u64 <= self.cap / 4;
        let pad = if large && aligned + fp <= self.cap {
            aligned - idx
        } else {
            0
        };
        let end = self.reserve + pad + fp;
        if end > self.gate_bound(readers) {
            return no_room(self);
        }
        let res = MRes {
            start: self.reserve,
            pad,
            fp,
        };
        self.reserve = end;
        Ok(Some(res))
    }

    /// Commit (`Some((id, bytes))`, empty = abort) or abort (`None`).
    fn finish(&mut self, res: MRes, committed: Option<(u16, Vec<u8>)>) {
        if res.pad > 0 {
            self.log.insert(res.start, (res.pad, Rec::Pad));
        }
        let at = res.start + res.pad;
        match committed {
            Some((id, bytes)) if !bytes.is_empty() => {
                let used = footprint(bytes.len());
                self.log.insert(at, (used, Rec::Data { id, bytes }));
                if used < res.fp {
                    self.log.insert(at + used, (res.fp - used, Rec::Pad));
                }
            }
            _ => {
                self.log.insert(at, (res.fp, Rec::Aborted));
            }
        }
    }

    fn ended(&self, writers: &[WSlot]) -> bool {
        (self.state == State::Draining || (self.orphaned && self.writer_count(writers) == 0))
            && self.reserve == self.published()
    }

    /// After reader `r` passed a data frame of footprint `fp`: its release, as the real reader
    /// does it (a batch, or, for a strong reader, having read every data frame published, the
    /// records without data up to the published end passed on the way).
    fn advance_data(&self, r: &mut MReader, fp: u64) {
        r.pos += fp;
        r.offset = 0;
        r.unreleased += fp;
        if r.strong {
            let published = self.published();
            while r.pos < published {
                match self.log.get(&r.pos) {
                    Some((skip, Rec::Pad | Rec::Aborted)) => {
                        r.pos += skip;
                        r.unreleased += skip;
                    }
                    _ => break,
                }
            }
            if r.pos == published {
                r.release();
                return;
            }
        }
        if r.unreleased >= self.cap / 16 {
            r.release();
        }
    }

    /// The data frame at the reader's position (skipping padding and aborted records), as
    /// `(id, remaining bytes, footprint)`; handles laps of weak readers.
    fn head(
        &self,
        r: &mut MReader,
        writers: &[WSlot],
        lap: &mut Option<(MReader, u64)>,
        before: &MReader,
    ) -> Result<Option<(u16, Vec<u8>, u64)>, ChannelError> {
        loop {
            if r.terminated || self.state == State::Terminated {
                return Err(ChannelError::Terminated);
            }
            if let Some(bytes) = r.pending_loss.take() {
                return Err(ChannelError::ReaderBehind(bytes));
            }
            if r.pos == self.published() {
                // Caught up: the real reader gives back what it read before saying so.
                if r.unreleased > 0 {
                    r.release();
                }
                return if self.ended(writers) {
                    Err(ChannelError::EndOfStream)
                } else {
                    Ok(None)
                };
            }
            if !r.strong && self.reserve > r.pos + self.cap {
                let resume = self.oldest_whole();
                let (mut frames, mut bytes) = (0u64, 0u64);
                for (_, (_, rec)) in self.log.range(r.pos..resume) {
                    if let Rec::Data { bytes: b, .. } = rec {
                        frames += 1;
                        bytes += b.len() as u64;
                    }
                }
                bytes -= r.offset as u64;
                r.pos = resume;
                r.offset = 0;
                r.release();
                if frames == 0 {
                    // Nothing lost: reporting ReaderBehind(0) or carrying on are both fine.
                    *lap = Some((before.clone(), resume));
                    continue;
                }
                r.lost_bytes += bytes;
                r.lost_frames += frames;
                return Err(ChannelError::ReaderBehind(bytes));
            }
            let (fp, rec) = self
                .log
                .get(&r.pos)
                .expect("the model's records tile the log");
            match rec {
                Rec::Data { id, bytes } => return Ok(Some((*id, bytes[r.offset..].to_vec(), *fp))),
                Rec::Pad | Rec::Aborted => r.advance(*fp, self.cap, self.published()),
            }
        }
    }

    /// A frame read with limit `limit` (`None`: skip, any length).
    fn read_frame(
        &self,
        r: &mut MReader,
        limit: Option<usize>,
        writers: &[WSlot],
    ) -> ReadOutcome<(u16, Vec<u8>)> {
        let before = r.clone();
        let mut lap = None;
        let expected = match self.head(r, writers, &mut lap, &before) {
            Ok(Some((id, rest, fp))) => match limit {
                Some(limit) if rest.len() > limit => Err(ChannelError::FrameTooLong {
                    len: rest.len(),
                    limit,
                }),
                _ => {
                    self.advance_data(r, fp);
                    Ok(Some((id, rest)))
                }
            },
            other => other.map(|_| None),
        };
        ReadOutcome {
            expected,
            zero_loss_lap: lap,
        }
    }

    /// A byte read into a buffer of `n` bytes.
    fn read_bytes(&self, r: &mut MReader, n: usize, writers: &[WSlot]) -> ReadOutcome<Vec<u8>> {
        let before = r.clone();
        let mut lap = None;
        if n == 0 {
            let terminated = r.terminated || self.state == State::Terminated;
            return ReadOutcome {
                expected: if terminated {
                    Err(ChannelError::Terminated)
                } else {
                    Ok(Some(Vec::new()))
                },
                zero_loss_lap: None,
            };
        }
        // A pipe: whole frames and parts of frames until `n` bytes, stopping early where
        // nothing more is published, or at end of stream or an error (reported by the next read
        // once bytes were delivered; a loss is held for it).
        let mut got = Vec::new();
        let expected = loop {
            match self.head(r, writers, &mut lap, &before) {
                Ok(Some((_, rest, fp))) => {
                    let k = (n - got.len()).min(rest.len());
                    got.extend_from_slice(&rest[..k]);
                    r.offset += k;
                    if k == rest.len() {
                        self.advance_data(r, fp);
                    }
                    if got.len() == n {
                        break Ok(Some(got));
                    }
                }
                Ok(None) if got.is_empty() => break Ok(None),
                Err(e) if got.is_empty() => break Err(e),
                Ok(None) | Err(ChannelError::EndOfStream) => break Ok(Some(got)),
                Err(e) => {
                    if let ChannelError::ReaderBehind(bytes) = e {
                        r.pending_loss = Some(bytes);
                    }
                    break Ok(Some(got));
                }
            }
        };
        ReadOutcome {
            expected,
            zero_loss_lap: lap,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real handles next to their model state.

enum RW {
    Strong(StrongWriter),
    Weak(WeakWriter),
}

impl RW {
    fn try_write(&mut self, buf: &[u8]) -> Result<Option<usize>, ChannelError> {
        match self {
            Self::Strong(w) => w.try_write(buf),
            Self::Weak(w) => w.try_write(buf),
        }
    }
    fn try_reserve(&mut self, len: usize) -> Result<Option<WriteGrant<'_>>, ChannelError> {
        match self {
            Self::Strong(w) => w.try_reserve(len),
            Self::Weak(w) => w.try_reserve(len),
        }
    }
    fn id(&self) -> Option<u16> {
        match self {
            Self::Strong(w) => w.id(),
            Self::Weak(w) => w.id(),
        }
    }
    fn terminate(&mut self) {
        match self {
            Self::Strong(w) => w.terminate(),
            Self::Weak(w) => w.terminate(),
        }
    }
}

enum RR {
    Strong(StrongReader),
    Weak(WeakReader),
}

impl RR {
    fn try_read_frame(&mut self, max: usize) -> Result<Option<(u16, Vec<u8>)>, ChannelError> {
        match self {
            Self::Strong(r) => r.try_read_frame(max),
            Self::Weak(r) => r.try_read_frame(max),
        }
    }
    fn try_read_frame_into(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(u16, usize)>, ChannelError> {
        match self {
            Self::Strong(r) => r.try_read_frame_into(buf),
            Self::Weak(r) => r.try_read_frame_into(buf),
        }
    }
    fn try_read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ChannelError> {
        match self {
            Self::Strong(r) => r.try_read(buf),
            Self::Weak(r) => r.try_read(buf),
        }
    }
    fn try_skip_frame(&mut self) -> Result<Option<usize>, ChannelError> {
        match self {
            Self::Strong(r) => r.try_skip_frame(),
            Self::Weak(r) => r.try_skip_frame(),
        }
    }
    fn terminate(&mut self) {
        match self {
            Self::Strong(r) => r.terminate(),
            Self::Weak(r) => r.terminate(),
        }
    }
    fn lag(&self) -> u64 {
        match self {
            Self::Strong(r) => r.lag(),
            Self::Weak(r) => r.lag(),
        }
    }
}

struct WSlot {
    real: RW,
    m: MWriter,
}

struct RSlot {
    real: RR,
    m: MReader,
}

struct Harness {
    chan: Option<Arc<Channel>>,
    writers: Vec<WSlot>,
    readers: Vec<RSlot>,
    model: Model,
    next_tag: usize,
    trace: Vec<String>,
}

fn bytes_for(tag: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (tag.wrapping_mul(37).wrapping_add(i.wrapping_mul(11)) % 253) as u8)
        .collect()
}

impl Harness {
    fn new(p: &Params) -> Self {
        let backpressure = if p.drop_mode {
            Backpressure::Drop
        } else {
            Backpressure::Park
        };
        let chan = Channel::try_with_config(
            Config::new(p.requested_capacity)
                .backpressure(backpressure)
                .max_writers(p.max_writers)
                .max_readers(p.max_readers),
        )
        .expect("valid configuration");
        let cap = p.requested_capacity.next_power_of_two().max(64);
        assert_eq!(chan.capacity(), cap);
        assert_eq!(chan.max_frame_len(), cap - 8);
        Self {
            model: Model {
                cap: cap as u64,
                max_frame: cap - 8,
                drop_mode: p.drop_mode,
                max_writers: p.max_writers,
                max_readers: p.max_readers,
                reserve: 0,
                log: BTreeMap::new(),
                holds: Vec::new(),
                state: State::Open,
                orphaned: false,
                dropped: 0,
            },
            chan: Some(chan),
            writers: Vec::new(),
            readers: Vec::new(),
            next_tag: 0,
            trace: Vec::new(),
        }
    }

    fn ctx(&self) -> String {
        let start = self.trace.len().saturating_sub(12);
        format!(
            "after ops (last {}):\n  {}\nmodel: reserve {} published {} state {:?}",
            self.trace.len() - start,
            self.trace[start..].join("\n  "),
            self.model.reserve,
            self.model.published(),
            self.model.state
        )
    }

    /// Ids a writer's frame or a new strong writer must not carry.
    fn busy_ids(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = self
            .writers
            .iter()
            .filter(|w| w.m.strong && !w.m.terminated)
            .filter_map(|w| w.m.id)
            .collect();
        ids.extend(self.model.holds.iter().filter_map(|h| h.w.id));
        ids
    }

    fn note_id(&mut self, id: u16) {
        for h in &mut self.model.holds {
            h.seen.push(id);
        }
    }

    /// Checks a frame id a writer just used, and returns it.
    fn frame_id(&mut self, i: usize) -> u16 {
        let w = &self.writers[i];
        let id = w.real.id().expect("a writer that wrote a frame has an id");
        assert_ne!(id, 0, "id 0 is reserved\n{}", self.ctx());
        if w.m.strong {
            assert_eq!(
                Some(id),
                w.m.id,
                "a strong writer's frames carry its id\n{}",
                self.ctx()
            );
        } else {
            assert!(
                !self.busy_ids().contains(&id),
                "weak writer wrote with id {id}, held by a live writer {:?}\n{}",
                self.busy_ids(),
                self.ctx()
            );
        }
        self.note_id(id);
        id
    }

    /// Reader positions inside a run of padding and aborted records are equivalent (every read
    /// skips them first): where the channel puts a reader inside such a run (a new reader, or a
    /// lapped weak reader resuming) is its choice. Learns the reader's real position from
    /// `lag()` and adopts it if it lies in the same run as the model's; any other difference is
    /// a failure.
    fn sync_positions(&mut self) {
        let published = self.model.published();
        for k in 0..self.readers.len() {
            let r = &self.readers[k];
            if r.m.terminated {
                continue;
            }
            let lag = r.real.lag();
            assert!(
                lag <= published,
                "lag {lag} of reader {k} beyond the log\n{}",
                self.ctx()
            );
            let real = published - lag;
            let model = r.m.pos;
            if real == model {
                continue;
            }
            let (lo, hi) = (real.min(model), real.max(model));
            let boundary = real == published || self.model.log.contains_key(&real);
            let only_skips = self
                .model
                .log
                .range(lo..hi)
                .all(|(_, (_, rec))| !matches!(rec, Rec::Data { .. }));
            assert!(
                boundary && only_skips && r.m.offset == 0,
                "reader {k} is at log position {real}, the model says {model} (lag {lag})\n{}",
                self.ctx()
            );
            // The real reader passed (or has not yet passed) only skipped records; follow it
            // record by record, so that its batched releases stay in step.
            let cap = self.model.cap;
            let m = &mut self.readers[k].m;
            if real > model {
                let skipped: Vec<u64> = self
                    .model
                    .log
                    .range(model..real)
                    .map(|(_, (fp, _))| *fp)
                    .collect();
                for fp in skipped {
                    m.advance(fp, cap, published);
                }
                if real == published && m.unreleased > 0 {
                    m.release();
                }
            } else {
                m.pos = real;
                m.released = m.released.min(real);
            }
        }
    }

    fn check_stats(&mut self) {
        self.sync_positions();
        for (k, r) in self.readers.iter().enumerate() {
            if let RR::Weak(w) = &r.real {
                assert_eq!(
                    (w.lost_bytes(), w.lost_frames()),
                    (r.m.lost_bytes, r.m.lost_frames),
                    "losses of weak reader {k}\n{}",
                    self.ctx()
                );
            }
        }
        let Some(chan) = &self.chan else { return };
        let s = chan.stats();
        let m = &self.model;
        let all_writers = self
            .writers
            .iter()
            .map(|w| &w.m)
            .chain(m.holds.iter().map(|h| &h.w));
        let (mut sw, mut ww) = (0, 0);
        for w in all_writers.filter(|w| !w.terminated) {
            if w.strong {
                sw += 1;
            } else {
                ww += 1;
            }
        }
        let live_readers = self.readers.iter().filter(|r| !r.m.terminated);
        let sr = live_readers.clone().filter(|r| r.m.strong).count();
        let wr = live_readers.count() - sr;
        let (frames, bytes) = m.published_totals();
        assert_eq!(s.capacity as u64, m.cap);
        assert_eq!(
            (
                s.strong_writers,
                s.weak_writers,
                s.strong_readers,
                s.weak_readers
            ),
            (sw, ww, sr, wr),
            "handle counts\n{}",
            self.ctx()
        );
        assert_eq!(
            s.dropped_frames,
            m.dropped,
            "dropped frames\n{}",
            self.ctx()
        );
        assert_eq!(
            (s.frames_published, s.bytes_published),
            (frames, bytes),
            "published totals\n{}",
            self.ctx()
        );
        assert_eq!(chan.is_terminated(), m.state == State::Terminated);
        assert_eq!(chan.is_draining(), m.state == State::Draining);
        let mut real: Vec<(bool, u64, u64)> = chan
            .readers()
            .iter()
            .map(|r| (r.strong, r.lost_bytes, r.lost_frames))
            .collect();
        let mut model: Vec<(bool, u64, u64)> = self
            .readers
            .iter()
            .filter(|r| !r.m.terminated)
            .map(|r| (r.m.strong, r.m.lost_bytes, r.m.lost_frames))
            .collect();
        real.sort_unstable();
        model.sort_unstable();
        assert_eq!(real, model, "Channel::readers()\n{}", self.ctx());
    }

    /// Compares a read's result with the model's expectation (see [`ReadOutcome`]).
    fn settle_read<T: PartialEq + std::fmt::Debug>(
        &mut self,
        k: usize,
        actual: Result<Option<T>, ChannelError>,
        outcome: ReadOutcome<T>,
    ) {
        if actual == Err(ChannelError::ReaderBehind(0)) {
            if let Some((before, resume)) = outcome.zero_loss_lap {
                let m = &mut self.readers[k].m;
                *m = before;
                m.pos = resume;
                m.offset = 0;
                return;
            }
        }
        assert_eq!(
            actual,
            outcome.expected,
            "read by reader {k}\n{}",
            self.ctx()
        );
    }

    fn run(&mut self, op: &Op) {
        self.trace.push(format!("{op:?}"));
        self.apply(op);
        self.check_stats();
    }

    fn apply(&mut self, op: &Op) {
        let nw = self.writers.len();
        let nr = self.readers.len();
        match *op {
            Op::NewStrongWriter => {
                let Some(chan) = &self.chan else { return };
                let actual = chan.try_new_strong_writer();
                if self.model.state == State::Terminated {
                    // On a terminated channel: a terminated handle, not an error.
                    let w = actual.expect("a terminated handle, not an error");
                    assert!(w.is_terminated(), "new strong writer\n{}", self.ctx());
                    self.writers.push(WSlot {
                        real: RW::Strong(w),
                        m: MWriter {
                            strong: true,
                            terminated: true,
                            id: None,
                        },
                    });
                    return;
                }
                let expected = if self.model.slots_in_use(&self.writers) >= self.model.max_writers {
                    Err(ChannelError::TooManyWriters {
                        max: self.model.max_writers,
                    })
                } else {
                    Ok(())
                };
                match actual {
                    Ok(w) => {
                        assert_eq!(expected, Ok(()), "new strong writer\n{}", self.ctx());
                        let id = w.id().expect("a strong writer has an id");
                        assert!(
                            id != 0 && !self.busy_ids().contains(&id),
                            "new strong writer got the live id {id}\n{}",
                            self.ctx()
                        );
                        self.note_id(id);
                        self.writers.push(WSlot {
                            real: RW::Strong(w),
                            m: MWriter {
                                strong: true,
                                terminated: false,
                                id: Some(id),
                            },
                        });
                    }
                    Err(e) => assert_eq!(Err(e), expected, "new strong writer\n{}", self.ctx()),
                }
            }
            Op::NewWeakWriter => {
                let Some(chan) = &self.chan else { return };
                let w = chan.new_weak_writer();
                let terminated = self.model.state == State::Terminated;
                assert_eq!(
                    w.is_terminated(),
                    terminated,
                    "new weak writer\n{}",
                    self.ctx()
                );
                self.writers.push(WSlot {
                    real: RW::Weak(w),
                    m: MWriter {
                        strong: false,
                        terminated,
                        id: None,
                    },
                });
            }
            Op::DropWriter(i) if nw > 0 => {
                self.writers.remove(i % nw);
            }
            Op::TerminateWriter(i) if nw > 0 => {
                let w = &mut self.writers[i % nw];
                w.real.terminate();
                w.m.terminated = true;
            }
            Op::DowngradeWriter(i) if nw > 0 => {
                let WSlot { real, m } = self.writers.remove(i % nw);
                let real = match real {
                    RW::Strong(s) => s.downgrade(),
                    RW::Weak(w) => w,
                };
                self.writers.push(WSlot {
                    real: RW::Weak(real),
                    m: MWriter {
                        strong: false,
                        terminated: m.terminated,
                        id: None,
                    },
                });
            }
            Op::UpgradeWriter(i) if nw > 0 => {
                let i = i % nw;
                if self.writers[i].m.strong {
                    return;
                }
                let WSlot { real, m } = self.writers.remove(i);
                let RW::Weak(weak) = real else { unreachable!() };
                let expected = if m.terminated || self.model.state == State::Terminated {
                    Err(ChannelError::Terminated)
                } else if self.model.slots_in_use(&self.writers) >= self.model.max_writers {
                    Err(ChannelError::TooManyWriters {
                        max: self.model.max_writers,
                    })
                } else {
                    Ok(())
                };
                match weak.upgrade() {
                    Ok(s) => {
                        assert_eq!(expected, Ok(()), "upgrade\n{}", self.ctx());
                        let id = s.id().expect("a strong writer has an id");
                        assert!(
                            !self.busy_ids().contains(&id),
                            "upgrade got a live id\n{}",
                            self.ctx()
                        );
                        self.note_id(id);
                        self.writers.push(WSlot {
                            real: RW::Strong(s),
                            m: MWriter {
                                strong: true,
                                terminated: false,
                                id: Some(id),
                            },
                        });
                    }
                    Err((weak, e)) => {
                        assert_eq!(Err(e), expected, "upgrade\n{}", self.ctx());
                        self.writers.push(WSlot {
                            real: RW::Weak(weak),
                            m,
                        });
                    }
                }
            }
            Op::NewReader { strong, tail } => {
                let Some(chan) = &self.chan else { return };
                let start = if tail { StartAt::Tail } else { StartAt::Oldest };
                let live = self.readers.iter().filter(|r| !r.m.terminated).count();
                let terminated = self.model.state == State::Terminated;
                let expected = if terminated {
                    // On a terminated channel: a terminated handle, not an error.
                    Ok(())
                } else if live >= self.model.max_readers {
                    Err(ChannelError::TooManyReaders {
                        max: self.model.max_readers,
                    })
                } else {
                    Ok(())
                };
                let actual = if strong {
                    chan.try_new_strong_reader(start).map(RR::Strong)
                } else {
                    chan.try_new_weak_reader(start).map(RR::Weak)
                };
                match actual {
                    Ok(real) => {
                        assert_eq!(expected, Ok(()), "new reader\n{}", self.ctx());
                        let pos = if tail {
                            self.model.published()
                        } else {
                            self.model.oldest_whole()
                        };
                        let mut m = MReader::new(strong, pos);
                        m.terminated = terminated;
                        self.readers.push(RSlot { real, m });
                    }
                    Err(e) => assert_eq!(Err(e), expected, "new reader\n{}", self.ctx()),
                }
            }
            Op::DropReader(k) if nr > 0 => {
                self.readers.remove(k % nr);
            }
            Op::TerminateReader(k) if nr > 0 => {
                let r = &mut self.readers[k % nr];
                r.real.terminate();
                r.m.terminated = true;
            }
            Op::DowngradeReader(k) if nr > 0 => {
                let RSlot { real, mut m } = self.readers.remove(k % nr);
                let real = match real {
                    RR::Strong(s) => s.downgrade(),
                    RR::Weak(w) => w,
                };
                m.strong = false;
                self.readers.push(RSlot {
                    real: RR::Weak(real),
                    m,
                });
            }
            Op::Write { w, len } if nw > 0 => {
                let i = w % nw;
                let len = len % (self.model.max_frame + 9);
                let tag = self.next_tag;
                self.next_tag += 1;
                let buf = bytes_for(tag, len);
                let actual = self.writers[i].real.try_write(&buf);
                let expected = if len == 0 {
                    if self.writers[i].m.terminated || self.model.state == State::Terminated {
                        Err(ChannelError::Terminated)
                    } else {
                        Ok(Some(0))
                    }
                } else {
                    let n = len.min(self.model.max_frame);
                    let m = self.writers[i].m.clone();
                    match self.model.reserve(&m, n, &self.writers, &self.readers) {
                        Ok(Some(res)) => {
                            let id = self.frame_id(i);
                            self.model.finish(res, Some((id, buf[..n].to_vec())));
                            Ok(Some(n))
                        }
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
                    }
                };
                assert_eq!(
                    actual,
                    expected,
                    "try_write of {len} bytes by writer {i}\n{}",
                    self.ctx()
                );
            }
            Op::Grant {
                w,
                len,
                put,
                commit,
            } if nw > 0 => self.hold(w % nw, len, put, commit, &[]),
            Op::ReadFrame { r, max } if nr > 0 => {
                let k = r % nr;
                let actual = self.readers[k].real.try_read_frame(max);
                let mut m = self.readers[k].m.clone();
                let outcome = self.model.read_frame(&mut m, Some(max), &self.writers);
                self.readers[k].m = m;
                self.settle_read(k, actual, outcome);
            }
            Op::ReadFrameInto { r, max } if nr > 0 => {
                let k = r % nr;
                let mut buf = vec![0u8; max];
                let actual = self.readers[k]
                    .real
                    .try_read_frame_into(&mut buf)
                    .map(|o| o.map(|(id, n)| (id, buf[..n].to_vec())));
                let mut m = self.readers[k].m.clone();
                let outcome = self.model.read_frame(&mut m, Some(max), &self.writers);
                self.readers[k].m = m;
                self.settle_read(k, actual, outcome);
            }
            Op::ReadBytes { r, n } if nr > 0 => {
                let k = r % nr;
                let mut buf = vec![0u8; n];
                let actual = self.readers[k]
                    .real
                    .try_read(&mut buf)
                    .map(|o| o.map(|got| buf[..got].to_vec()));
                let mut m = self.readers[k].m.clone();
                let outcome = self.model.read_bytes(&mut m, n, &self.writers);
                self.readers[k].m = m;
                self.settle_read(k, actual, outcome);
            }
            Op::Skip(r) if nr > 0 => {
                let k = r % nr;
                let actual = self.readers[k].real.try_skip_frame();
                let mut m = self.readers[k].m.clone();
                let outcome = self.model.read_frame(&mut m, None, &self.writers);
                let outcome = ReadOutcome {
                    expected: outcome.expected.map(|o| o.map(|(_, b)| b.len())),
                    zero_loss_lap: outcome.zero_loss_lap,
                };
                self.readers[k].m = m;
                self.settle_read(k, actual, outcome);
            }
            Op::Borrow(r) if nr > 0 => {
                let k = r % nr;
                let RR::Strong(real) = &mut self.readers[k].real else {
                    return;
                };
                let actual = real
                    .try_borrow_frame()
                    .map(|o| o.map(|f| (f.writer(), f.bytes().to_vec())));
                let mut m = self.readers[k].m.clone();
                let outcome = self.model.read_frame(&mut m, None, &self.writers);
                self.readers[k].m = m;
                self.settle_read(k, actual, outcome);
            }
            Op::Drain => {
                let Some(chan) = &self.chan else { return };
                let expected = if self.model.state == State::Terminated {
                    Err(ChannelError::DrainTerminated)
                } else {
                    self.model.state = State::Draining;
                    Ok(())
                };
                assert_eq!(chan.drain(), expected, "drain\n{}", self.ctx());
            }
            Op::Terminate => {
                let Some(chan) = &self.chan else { return };
                let expected = if self.model.state == State::Draining {
                    Err(ChannelError::TerminateDraining)
                } else {
                    Ok(())
                };
                self.model.state = State::Terminated;
                assert_eq!(chan.terminate(), expected, "terminate\n{}", self.ctx());
            }
            Op::DropChannel => {
                self.chan = None;
                self.model.orphaned = true;
            }
            // An operation on a handle when there is none.
            _ => {}
        }
    }

    /// A grant by writer `i`, held open while `inner` runs, then committed or aborted.
    fn hold(&mut self, i: usize, len: usize, put: usize, commit: bool, inner: &[Op]) {
        let len = len % (self.model.max_frame + 9);
        let WSlot { mut real, m } = self.writers.remove(i);
        let tag = self.next_tag;
        self.next_tag += 1;
        let expected = self.model.reserve(&m, len, &self.writers, &self.readers);
        let kind = if m.strong { "strong" } else { "weak" };
        let actual = real.try_reserve(len);
        let (mut grant, res) = if matches!((&actual, &expected), (Ok(Some(_)), Ok(Some(_)))) {
            let (Ok(Some(g)), Ok(Some(res))) = (actual, expected) else {
                unreachable!()
            };
            (g, res)
        } else {
            let actual = actual.map(|o| o.map(|g| g.capacity()));
            let expected = expected.map(|o| o.map(|_| len));
            self.writers.push(WSlot { real, m });
            assert_eq!(
                actual,
                expected,
                "try_reserve({len}) by a {kind} writer\n{}",
                self.ctx()
            );
            return;
        };
        assert_eq!(grant.capacity(), len);
        let data = bytes_for(tag, put % (len + 5));
        let n = grant.put(&data);
        assert_eq!(n, data.len().min(len), "put");
        assert_eq!((grant.len(), grant.remaining()), (n, len - n));
        // Hold it open.
        let seen = self.busy_ids();
        self.model.holds.push(Held { res, w: m, seen });
        self.check_stats();
        for op in inner {
            self.trace.push(format!("  (grant open) {op:?}"));
            self.apply(op);
            self.check_stats();
        }
        let committed = if commit {
            assert_eq!(grant.commit(), n, "commit returns the bytes put");
            true
        } else {
            drop(grant);
            false
        };
        let Held { res, w: held, seen } = self.model.holds.pop().expect("held");
        let frame = if committed && n > 0 {
            let id = real.id().expect("a writer that committed has an id");
            if held.strong {
                assert_eq!(Some(id), held.id);
            } else {
                assert!(
                    !seen.contains(&id),
                    "a weak writer's grant used id {id} while another writer had it ({seen:?})\n{}",
                    self.ctx()
                );
                assert!(!self.busy_ids().contains(&id));
            }
            self.note_id(id);
            Some((id, data[..n].to_vec()))
        } else {
            None
        };
        self.model.finish(res, frame);
        self.writers.push(WSlot { real, m: held });
        self.trace.push(format!(
            "  grant by writer {i} {}",
            if committed { "committed" } else { "aborted" }
        ));
    }

    fn step(&mut self, s: &Step) {
        match s {
            Step::Op(op) => self.run(op),
            Step::Hold {
                w,
                len,
                put,
                commit,
                inner,
            } => {
                let nw = self.writers.len();
                if nw == 0 {
                    return;
                }
                let i = w % nw;
                let len_eff = len % (self.model.max_frame + 9);
                self.trace
                    .push(format!("Hold {{ w: {i}, len: {len_eff} }}"));
                // Only a grant the model knows will be granted is held; anything else runs as
                // a plain Grant op (which checks the refusal).
                let m = self.writers[i].m.clone();
                let saved = (self.model.reserve, self.model.dropped);
                let granted = matches!(
                    self.model
                        .reserve(&m, len_eff, &self.writers, &self.readers),
                    Ok(Some(_))
                );
                (self.model.reserve, self.model.dropped) = saved;
                if granted {
                    self.hold(i, *len, *put, *commit, inner);
                    self.check_stats();
                } else {
                    self.trace.pop();
                    self.run(&Op::Grant {
                        w: i,
                        len: *len,
                        put: *put,
                        commit: *commit,
                    });
                }
            }
        }
    }
}
