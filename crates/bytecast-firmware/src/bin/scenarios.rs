//! The self-checking scenarios, one after the other: round trip, weak lapping with exact loss,
//! `Drop` counters, drain and terminate, the wrap of a narrowed position space (in the image
//! built with `--cfg bytecast_narrow_positions`), and the interrupt-driven ones: a SysTick
//! handler that writes while the main loop reads and writes, then one that reads while the
//! main loop writes. Every check that fails panics (exit status 1); the last line is `ALL OK`.

#![no_std]
#![no_main]

extern crate alloc;

use bytecast::{Backpressure, Channel, ChannelError, Config, StrongReader, StrongWriter};
use bytecast_firmware::{
    check, check_frame, exit, frame, frame_len, init_heap, println, Chan, InOrder, FRAME_MAX,
};
use core::cell::RefCell;
use core::task::{Context, Poll, Waker};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::{entry, exception};
use critical_section::Mutex;

/// SysTick reload: a tick every this many core cycles, short enough that ticks land inside
/// the main loop's channel calls (its gate-lock holds and seqlock writes among them).
const RELOAD: u32 = 400;

/// Frames each source writes in the interrupt scenarios.
const IRQ_FRAMES: u32 = 3000;

fn channel(capacity: usize, backpressure: Backpressure) -> Chan {
    let config = Config::new(capacity)
        .backpressure(backpressure)
        .max_writers(4)
        .max_readers(4);
    Channel::try_with_config(config).expect("channel")
}

#[entry]
fn main() -> ! {
    init_heap();
    let mut peripherals = cortex_m::Peripherals::take().expect("peripherals");
    round_trip();
    weak_lapping();
    drop_counters();
    drain_and_terminate();
    wrap();
    irq_producer(&mut peripherals.SYST);
    irq_consumer(&mut peripherals.SYST);
    println!("ALL OK");
    exit(true)
}

/// Frames written by a strong writer (one by `try_write`, one by a reservation in turn) reach a
/// strong and a weak reader whole, in order, with the writer's id.
fn round_trip() {
    let chan = channel(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut strong = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let (mut order, mut weak_order) = (InOrder::default(), InOrder::default());
    const N: u32 = 1000;
    for seq in 0..N {
        let len = frame(0, seq, &mut buf);
        if seq % 2 == 0 {
            check!(w.try_write(&buf[..len]) == Ok(Some(len)), "write {}", seq);
        } else {
            let mut grant = w.try_reserve(len).expect("reserve").expect("room");
            grant.put(&buf[..len]);
            check!(grant.commit() == len, "commit {}", seq);
        }
        let (id, n) = strong
            .try_read_frame_into(&mut out)
            .expect("read")
            .expect("published");
        check!(Some(id) == w.id(), "writer id {}", id);
        order.see(&out[..n]);
        let (_, n) = weak
            .try_read_frame_into(&mut out)
            .expect("weak read")
            .expect("published");
        weak_order.see(&out[..n]);
    }
    check!(
        strong.try_read_frame_into(&mut out) == Ok(None),
        "nothing more"
    );
    check!(weak_order.bytes == order.bytes, "weak reader in step");
    let stats = chan.stats();
    check!(
        stats.frames_published == u64::from(N) && stats.bytes_published == order.bytes,
        "published counters {:?}",
        stats
    );
    println!(
        "round_trip: {} frames, {} bytes, strong and weak readers whole and in order",
        N, order.bytes
    );
}

/// A weak reader behind writers that never wait: every loss it is told of is exactly the
/// frames it skipped, and what it read plus what it lost is everything written.
fn weak_lapping() {
    let chan = channel(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut weak = chan.new_weak_reader();
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let (mut seq, mut written) = (0u32, 0u64);
    let (mut next, mut read, mut lost, mut pending, mut reports) = (0u32, 0u64, 0u64, 0u64, 0u32);
    let mut read_one = |weak: &mut bytecast::WeakReader| -> bool {
        match weak.try_read_frame_into(&mut out) {
            Ok(Some((_, n))) => {
                let (_, s) = check_frame(&out[..n]).expect("weak reader got a torn frame");
                check!(s >= next, "frame {} after {}", s, next);
                let skipped: u64 = (next..s).map(|q| frame_len(q) as u64).sum();
                check!(
                    skipped == pending,
                    "frames {}..{} ({} bytes) skipped, {} reported lost",
                    next,
                    s,
                    skipped,
                    pending
                );
                (next, pending) = (s + 1, 0);
                read += n as u64;
                true
            }
            Ok(None) => false,
            Err(ChannelError::ReaderBehind(b)) => {
                check!(b > 0, "empty loss report");
                (pending, lost, reports) = (pending + b, lost + b, reports + 1);
                true
            }
            Err(e) => panic!("weak read: {:?}", e),
        }
    };
    for round in 0..200u32 {
        for _ in 0..(round % 7 + 1) * 3 {
            let len = frame(0, seq, &mut buf);
            check!(w.try_write(&buf[..len]) == Ok(Some(len)), "write {}", seq);
            (seq, written) = (seq + 1, written + len as u64);
        }
        for _ in 0..4 {
            if !read_one(&mut weak) {
                break;
            }
        }
    }
    while read_one(&mut weak) {}
    check!(
        pending == 0 && next == seq,
        "read up to frame {} of {}",
        next,
        seq
    );
    check!(
        read + lost == written,
        "read {} + lost {} != written {}",
        read,
        lost,
        written
    );
    check!(
        weak.lost_bytes() == lost,
        "lost_bytes() {} != {}",
        weak.lost_bytes(),
        lost
    );
    check!(reports > 0, "the reader was never lapped");
    println!(
        "weak_lapping: {} frames ({} bytes) written, {} bytes read, {} lost in {} reports ({} frames), exact",
        seq,
        written,
        read,
        lost,
        reports,
        weak.lost_frames()
    );
}

/// Under `Drop`, a frame that does not fit is refused whole and counted; the strong reader gets
/// every accepted frame.
fn drop_counters() {
    let chan = channel(256, Backpressure::Drop);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let (mut accepted, mut refused) = (0u32, 0u64);
    let mut order = InOrder::default();
    for i in 0..2000u32 {
        let len = frame(0, accepted, &mut buf);
        match w.try_write(&buf[..len]) {
            Ok(Some(n)) => {
                check!(n == len, "short write");
                accepted += 1;
            }
            Err(ChannelError::Full) => refused += 1,
            other => panic!("write under Drop: {:?}", other),
        }
        if i % 3 == 0 {
            if let Some((_, n)) = r.try_read_frame_into(&mut out).expect("read") {
                order.see(&out[..n]);
            }
        }
    }
    while let Some((_, n)) = r.try_read_frame_into(&mut out).expect("read") {
        order.see(&out[..n]);
    }
    let stats = chan.stats();
    check!(refused > 0, "nothing refused");
    check!(
        stats.dropped_frames == refused,
        "dropped_frames {} != {}",
        stats.dropped_frames,
        refused
    );
    check!(
        order.frames[0] == accepted,
        "read {} of {} accepted",
        order.frames[0],
        accepted
    );
    check!(
        stats.frames_published == u64::from(accepted),
        "frames_published {:?}",
        stats
    );
    println!(
        "drop_counters: {} accepted and read in order, {} refused = dropped_frames {}",
        accepted, refused, stats.dropped_frames
    );
}

/// Drain: readers finish what was published, then end of stream; new frames refused. Terminate:
/// everyone fails at once. Dropping the channel and its last writer ends the stream too.
fn drain_and_terminate() {
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let chan = channel(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut strong = chan.new_strong_reader();
    let mut weak = chan.new_weak_reader();
    for seq in 0..5 {
        let len = frame(0, seq, &mut buf);
        check!(w.try_write(&buf[..len]) == Ok(Some(len)), "write");
    }
    check!(chan.drain() == Ok(()), "drain");
    check!(
        w.try_write(b"late") == Err(ChannelError::Draining),
        "write while draining"
    );
    read_to_end(&mut strong, 5, "drained strong reader");
    read_to_end(&mut weak, 5, "drained weak reader");

    let chan = channel(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let len = frame(0, 0, &mut buf);
    check!(w.try_write(&buf[..len]) == Ok(Some(len)), "write");
    check!(chan.terminate() == Ok(()), "terminate");
    check!(
        r.try_read_frame_into(&mut out) == Err(ChannelError::Terminated),
        "read after terminate"
    );
    check!(
        w.try_write(&buf[..len]) == Err(ChannelError::Terminated),
        "write after terminate"
    );
    check!(
        chan.drain() == Err(ChannelError::DrainTerminated),
        "drain after terminate"
    );

    let chan = channel(256, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    for seq in 0..3 {
        let len = frame(0, seq, &mut buf);
        check!(w.try_write(&buf[..len]) == Ok(Some(len)), "write");
    }
    drop(w);
    drop(chan);
    read_to_end(&mut r, 3, "orphaned reader");
    println!("drain_and_terminate: drained readers read 5 + 5 frames then end of stream; terminate fails reads, writes and drain; an orphaned reader read 3 then end of stream");
}

/// Log bytes of a frame of `len` payload bytes: an 8-byte header, the payload rounded up to 8.
fn record_len(len: usize) -> u64 {
    (8 + len.next_multiple_of(8)) as u64
}

/// Reads every frame `r` has (whole and in order), checks there were `expected`, then end of
/// stream.
fn read_to_end(r: &mut dyn ReadFrame, expected: u32, what: &str) {
    let mut out = [0u8; FRAME_MAX];
    let mut order = InOrder::default();
    while let Ok(Some((_, n))) = r.read_into(&mut out) {
        order.see(&out[..n]);
    }
    check!(
        order.frames[0] == expected,
        "{}: got {} of {}",
        what,
        order.frames[0],
        expected
    );
    check!(
        r.read_into(&mut out) == Err(ChannelError::EndOfStream),
        "{}: no end of stream",
        what
    );
}

/// One frame read for both reader kinds.
trait ReadFrame {
    fn read_into(&mut self, out: &mut [u8]) -> Result<Option<(u16, usize)>, ChannelError>;
}
impl ReadFrame for StrongReader {
    fn read_into(&mut self, out: &mut [u8]) -> Result<Option<(u16, usize)>, ChannelError> {
        self.try_read_frame_into(out)
    }
}
impl ReadFrame for bytecast::WeakReader {
    fn read_into(&mut self, out: &mut [u8]) -> Result<Option<(u16, usize)>, ChannelError> {
        self.try_read_frame_into(out)
    }
}

/// Positions wrap: with `--cfg bytecast_narrow_positions` the position space is 2^22 bytes, and
/// more than one and a quarter spaces go through a 1 KiB ring; a strong reader gets every frame,
/// and a weak reader left idle across all of it is told its exact loss.
fn wrap() {
    if !cfg!(bytecast_narrow_positions) {
        println!("wrap: in the image built with --cfg bytecast_narrow_positions");
        return;
    }
    const SPACE: u64 = 1 << 22;
    let chan = channel(1024, Backpressure::Park);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut idle = chan.new_weak_reader();
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let mut order = InOrder::default();
    let (mut seq, mut record_bytes, mut written) = (0u32, 0u64, 0u64);
    while record_bytes < SPACE + SPACE / 4 {
        for _ in 0..8 {
            let len = frame(0, seq, &mut buf);
            check!(w.try_write(&buf[..len]) == Ok(Some(len)), "write {}", seq);
            seq += 1;
            written += len as u64;
            record_bytes += record_len(len);
        }
        while let Some((_, n)) = r.try_read_frame_into(&mut out).expect("read") {
            order.see(&out[..n]);
        }
    }
    check!(
        order.frames[0] == seq,
        "strong reader got {} of {}",
        order.frames[0],
        seq
    );
    let (mut read, mut lost) = (0u64, 0u64);
    loop {
        match idle.try_read_frame_into(&mut out) {
            Ok(Some((_, n))) => {
                check_frame(&out[..n]).expect("torn frame after the wrap");
                read += n as u64;
            }
            Ok(None) => break,
            Err(ChannelError::ReaderBehind(b)) => lost += b,
            Err(e) => panic!("idle weak reader: {:?}", e),
        }
    }
    check!(
        read + lost == written,
        "idle reader: read {} + lost {} != {}",
        read,
        lost,
        written
    );
    println!(
        "wrap: {} frames, {} record bytes through the ring ({:.2} position spaces), strong reader got all; idle weak reader lost {} and read {} bytes, exact",
        seq,
        record_bytes,
        record_bytes as f32 / SPACE as f32,
        lost,
        read
    );
}

/// What the SysTick handler does.
enum Job {
    Idle,
    Produce(Producer),
    Consume(Consumer),
}

static JOB: Mutex<RefCell<Job>> = Mutex::new(RefCell::new(Job::Idle));

#[exception]
fn SysTick() {
    critical_section::with(|cs| match &mut *JOB.borrow_ref_mut(cs) {
        Job::Idle => {}
        Job::Produce(p) => p.tick(),
        Job::Consume(c) => c.tick(),
    });
}

fn start_ticks(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
}

fn stop_ticks(syst: &mut SYST) {
    syst.disable_interrupt();
    syst.disable_counter();
}

fn take_job() -> Job {
    critical_section::with(|cs| core::mem::replace(&mut *JOB.borrow_ref_mut(cs), Job::Idle))
}

/// The handler's look at the channel's statistics, every tick: `published` and every strong
/// reader's mark are read through their seqlocks (and the gate lock taken) while the main loop
/// may be writing them, and the published counts never go back.
struct Seen {
    chan: Chan,
    frames: u64,
    bytes: u64,
}

impl Seen {
    fn new(chan: &Chan) -> Self {
        Self {
            chan: chan.clone(),
            frames: 0,
            bytes: 0,
        }
    }

    fn look(&mut self) {
        let stats = self.chan.stats();
        check!(
            stats.frames_published >= self.frames && stats.bytes_published >= self.bytes,
            "published counts went back: {:?} after {} frames, {} bytes",
            stats,
            self.frames,
            self.bytes
        );
        (self.frames, self.bytes) = (stats.frames_published, stats.bytes_published);
    }
}

/// The handler's writer: up to three frames of tag 1 per tick with `try_write`.
struct Producer {
    w: StrongWriter,
    seq: u32,
    ticks: u32,
    full: u32,
    seen: Seen,
}

impl Producer {
    fn tick(&mut self) {
        self.ticks += 1;
        self.seen.look();
        let mut buf = [0u8; FRAME_MAX];
        for _ in 0..3 {
            if self.seq == IRQ_FRAMES {
                return;
            }
            let len = frame(1, self.seq, &mut buf);
            match self.w.try_write(&buf[..len]) {
                Ok(Some(n)) => {
                    check!(n == len, "handler: short write");
                    self.seq += 1;
                }
                Ok(None) => {
                    self.full += 1;
                    return;
                }
                Err(e) => panic!("handler write: {:?}", e),
            }
        }
    }
}

/// Main-loop calls that take the gate lock: statistics and a weak reader joining and leaving.
fn gate_traffic(chan: &Chan, iteration: u32) {
    if iteration % 4 == 0 {
        let _ = chan.stats();
    }
    if iteration % 16 == 0 {
        drop(chan.new_weak_reader());
    }
}

/// The SysTick handler writes (strong writer, tag 1) while the main loop writes on a second
/// strong writer (tag 2), reads everything with a strong reader and takes the gate lock for
/// statistics and joins: the strong reader gets both sources whole and in order.
fn irq_producer(syst: &mut SYST) {
    let chan = channel(256, Backpressure::Park);
    let producer = Producer {
        w: chan.new_strong_writer(),
        seq: 0,
        ticks: 0,
        full: 0,
        seen: Seen::new(&chan),
    };
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    critical_section::with(|cs| *JOB.borrow_ref_mut(cs) = Job::Produce(producer));
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let (mut seq, mut main_full, mut iteration) = (0u32, 0u32, 0u32);
    let mut order = InOrder::default();
    start_ticks(syst);
    while order.frames[1] < IRQ_FRAMES || order.frames[2] < IRQ_FRAMES {
        iteration += 1;
        check!(iteration < 50_000_000, "no progress: {:?}", order);
        if seq < IRQ_FRAMES {
            let len = frame(2, seq, &mut buf);
            match w.try_write(&buf[..len]) {
                Ok(Some(_)) => seq += 1,
                Ok(None) => main_full += 1,
                Err(e) => panic!("main write: {:?}", e),
            }
        }
        for _ in 0..2 {
            match r.try_read_frame_into(&mut out) {
                Ok(Some((_, n))) => order.see(&out[..n]),
                Ok(None) => break,
                Err(e) => panic!("main read: {:?}", e),
            }
        }
        gate_traffic(&chan, iteration);
    }
    stop_ticks(syst);
    let Job::Produce(p) = take_job() else {
        panic!("the producer is gone")
    };
    check!(p.seq == IRQ_FRAMES, "handler wrote {}", p.seq);
    check!(
        r.try_read_frame_into(&mut out) == Ok(None),
        "a frame too many"
    );
    let stats = chan.stats();
    check!(
        stats.frames_published == u64::from(2 * IRQ_FRAMES) && stats.bytes_published == order.bytes,
        "counters {:?} after {} bytes read",
        stats,
        order.bytes
    );
    println!(
        "irq_producer: handler wrote {} frames in {} ticks (ring full {} times), main wrote {} (full {} times) in {} iterations; strong reader got {} + {} frames ({} bytes) whole and in order; counters agree",
        p.seq, p.ticks, p.full, seq, main_full, iteration, order.frames[1], order.frames[2], order.bytes
    );
}

/// The handler's reader: every frame published, with a strong reader, at each tick.
struct Consumer {
    r: StrongReader,
    order: InOrder,
    ticks: u32,
    seen: Seen,
}

impl Consumer {
    fn tick(&mut self) {
        self.ticks += 1;
        self.seen.look();
        let mut out = [0u8; FRAME_MAX];
        for _ in 0..8 {
            match self.r.try_read_frame_into(&mut out) {
                Ok(Some((_, n))) => self.order.see(&out[..n]),
                Ok(None) => return,
                Err(e) => panic!("handler read: {:?}", e),
            }
        }
    }
}

/// The SysTick handler reads with a strong reader while the main loop writes on a strong writer
/// (tag 1, `try_write`) and a weak writer (tag 2, `poll_write`, so it waits on the channel's
/// waiter list when the ring is full), reads now and then with a weak reader and takes the gate
/// lock: the handler gets every frame whole and in order, the weak reader's losses are exact.
fn irq_consumer(syst: &mut SYST) {
    let chan = channel(256, Backpressure::Park);
    let consumer = Consumer {
        r: chan.new_strong_reader(),
        order: InOrder::default(),
        ticks: 0,
        seen: Seen::new(&chan),
    };
    let mut strong = chan.new_strong_writer();
    let mut weak_w = chan.new_weak_writer();
    let mut weak = chan.new_weak_reader();
    critical_section::with(|cs| *JOB.borrow_ref_mut(cs) = Job::Consume(consumer));
    let (mut buf, mut out) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
    let (mut seqs, mut full, mut iteration, mut written) = ([0u32; 3], 0u32, 0u32, 0u64);
    let (mut next, mut read, mut lost, mut skipped) = ([0u32; 3], 0u64, 0u64, 0u64);
    let mut weak_read = |weak: &mut bytecast::WeakReader, out: &mut [u8; FRAME_MAX]| -> bool {
        match weak.try_read_frame_into(out) {
            Ok(Some((_, n))) => {
                let (tag, s) = check_frame(&out[..n]).expect("weak reader got a torn frame");
                let t = usize::from(tag);
                check!(t == 1 || t == 2, "tag {}", tag);
                check!(s >= next[t], "tag {}: frame {} after {}", tag, s, next[t]);
                skipped += (next[t]..s).map(|q| frame_len(q) as u64).sum::<u64>();
                next[t] = s + 1;
                read += n as u64;
                true
            }
            Ok(None) => false,
            Err(ChannelError::ReaderBehind(b)) => {
                lost += b;
                true
            }
            Err(e) => panic!("weak read: {:?}", e),
        }
    };
    start_ticks(syst);
    while seqs[1] < IRQ_FRAMES || seqs[2] < IRQ_FRAMES {
        iteration += 1;
        check!(iteration < 50_000_000, "no progress: wrote {:?}", seqs);
        for (t, seq) in seqs.iter_mut().enumerate().skip(1) {
            if *seq == IRQ_FRAMES {
                continue;
            }
            let len = frame(t as u8, *seq, &mut buf);
            let result = if t == 1 {
                strong.try_write(&buf[..len])
            } else {
                // The poll form: a weak writer that finds the ring full registers on the
                // channel's waiter list (its spin lock), which the handler's releases empty.
                let mut cx = Context::from_waker(Waker::noop());
                match weak_w.poll_write(&mut cx, &buf[..len]) {
                    Poll::Ready(r) => r.map(Some),
                    Poll::Pending => Ok(None),
                }
            };
            match result {
                Ok(Some(_)) => (*seq, written) = (*seq + 1, written + len as u64),
                Ok(None) => full += 1,
                Err(e) => panic!("main write: {:?}", e),
            }
        }
        if iteration % 8 == 0 {
            weak_read(&mut weak, &mut out);
        }
        gate_traffic(&chan, iteration);
    }
    // The handler reads what is left.
    let mut waited = 0u32;
    let c = loop {
        let done = critical_section::with(|cs| match &*JOB.borrow_ref(cs) {
            Job::Consume(c) => c.order.frames[1] == IRQ_FRAMES && c.order.frames[2] == IRQ_FRAMES,
            _ => false,
        });
        if done {
            stop_ticks(syst);
            let Job::Consume(c) = take_job() else {
                panic!("the consumer is gone")
            };
            break c;
        }
        waited += 1;
        check!(waited < 50_000_000, "the handler stopped reading");
    };
    while weak_read(&mut weak, &mut out) {}
    skipped += (1..3)
        .map(|t| {
            (next[t]..IRQ_FRAMES)
                .map(|q| frame_len(q) as u64)
                .sum::<u64>()
        })
        .sum::<u64>();
    check!(
        skipped == lost,
        "weak reader skipped {} bytes, was told {}",
        skipped,
        lost
    );
    check!(
        read + lost == written,
        "weak: read {} + lost {} != {}",
        read,
        lost,
        written
    );
    let stats = chan.stats();
    check!(
        stats.frames_published == u64::from(2 * IRQ_FRAMES)
            && stats.bytes_published == c.order.bytes,
        "counters {:?} after {} bytes read",
        stats,
        c.order.bytes
    );
    check!(
        c.order.bytes == written,
        "handler read {} of {} bytes",
        c.order.bytes,
        written
    );
    println!(
        "irq_consumer: main wrote {} + {} frames ({} bytes; ring full {} times) in {} iterations; handler read {} + {} ({} bytes) whole and in order in {} ticks; weak reader read {} bytes, lost {} exactly; counters agree",
        seqs[1], seqs[2], written, full, iteration, c.order.frames[1], c.order.frames[2], c.order.bytes, c.ticks, read, lost
    );
}
