//! A poll-driven superloop: the usual shape of firmware without an RTOS or an async executor.
//!
//! Three tasks share a 256-byte `Park` channel: `sensor` writes self-checking frames with the
//! `async` API (waiting whenever the ring is full), `logger` reads every frame with a strong
//! reader, and `dashboard` reads with a weak reader but is polled only every eighth turn of the
//! loop (a display refreshed at a lower rate), so it is lapped and told its exact losses. The
//! loop polls only the tasks whose waker fired ([`flag_waker`]); when none is ready and some
//! are unfinished, a real board would sleep
//! (`wfi`) until an interrupt wakes one, and here, with no interrupt in play, it would be a lost
//! wake-up, so the program fails instead.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use bytecast::{Backpressure, Channel, ChannelError, Config};
use bytecast_firmware::{
    check, check_frame, exit, flag_waker, frame, init_heap, println, InOrder, FRAME_MAX, READY,
};
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::Ordering::Relaxed;
use core::task::{Context, Poll};
use cortex_m_rt::entry;

const FRAMES: u32 = 2000;

#[entry]
fn main() -> ! {
    init_heap();
    let chan = Channel::try_with_config(
        Config::new(256)
            .backpressure(Backpressure::Park)
            .max_writers(1)
            .max_readers(2),
    )
    .expect("channel");
    let mut writer = chan.new_strong_writer();
    let mut logger_reader = chan.new_strong_reader();
    let mut dashboard_reader = chan.new_weak_reader();
    // The tasks hold the handles; without the channel and once the writer is gone, the
    // readers reach end of stream after the last frame.
    drop(chan);
    let written = Cell::new(0u64);
    let sensor = async {
        let mut buf = [0u8; FRAME_MAX];
        for seq in 0..FRAMES {
            let len = frame(0, seq, &mut buf);
            let n = writer.write(&buf[..len]).await.expect("sensor write");
            check!(n == len, "short write");
            written.set(written.get() + n as u64);
        }
        drop(writer);
    };
    let logger = async {
        let mut order = InOrder::default();
        let mut out = [0u8; FRAME_MAX];
        loop {
            match logger_reader.read_frame_into(&mut out).await {
                Ok((_, n)) => order.see(&out[..n]),
                Err(ChannelError::EndOfStream) => break order,
                Err(e) => panic!("logger: {:?}", e),
            }
        }
    };
    let dashboard = async {
        let (mut read, mut lost, mut frames) = (0u64, 0u64, 0u32);
        let mut out = [0u8; FRAME_MAX];
        loop {
            match dashboard_reader.read_frame_into(&mut out).await {
                Ok((_, n)) => {
                    check_frame(&out[..n]).expect("dashboard: torn frame");
                    (read, frames) = (read + n as u64, frames + 1);
                }
                Err(ChannelError::ReaderBehind(b)) => lost += b,
                Err(ChannelError::EndOfStream) => break (read, lost, frames),
                Err(e) => panic!("dashboard: {:?}", e),
            }
        }
    };
    let mut sensor = Box::pin(sensor);
    let mut logger = Box::pin(logger);
    let mut dashboard = Box::pin(dashboard);
    let (mut order, mut dash) = (None, None);
    let mut polls = [0u32; 3];
    let mut sensor_done = false;
    let mut iterations = 0u32;
    while !(sensor_done && order.is_some() && dash.is_some()) {
        iterations += 1;
        let mut polled = false;
        for (i, count) in polls.iter_mut().enumerate() {
            // The dashboard's turn comes every eighth pass; its wake-up waits until then.
            if !READY[i].load(Relaxed) || (i == 2 && iterations % 8 != 0) {
                continue;
            }
            READY[i].store(false, Relaxed);
            let waker = flag_waker(i);
            let mut cx = Context::from_waker(&waker);
            match i {
                0 if !sensor_done => {
                    sensor_done = Pin::as_mut(&mut sensor).poll(&mut cx).is_ready();
                }
                1 if order.is_none() => {
                    if let Poll::Ready(o) = Pin::as_mut(&mut logger).poll(&mut cx) {
                        order = Some(o);
                    }
                }
                2 if dash.is_none() => {
                    if let Poll::Ready(d) = Pin::as_mut(&mut dashboard).poll(&mut cx) {
                        dash = Some(d);
                    }
                }
                _ => continue,
            }
            *count += 1;
            polled = true;
        }
        let waiting = READY.iter().any(|ready| ready.load(Relaxed));
        check!(
            polled || waiting || (sensor_done && order.is_some() && dash.is_some()),
            "no task woken and some unfinished: a lost wake-up (polls {:?})",
            polls
        );
    }
    let (order, (read, lost, frames)) = (order.expect("logger"), dash.expect("dashboard"));
    check!(
        order.frames[0] == FRAMES,
        "logger read {} of {}",
        order.frames[0],
        FRAMES
    );
    check!(order.bytes == written.get(), "logger bytes");
    check!(
        read + lost == written.get(),
        "dashboard: read {} + lost {} != {}",
        read,
        lost,
        written.get()
    );
    println!(
        "superloop: sensor wrote {} frames ({} bytes), logger read all in order, dashboard read {} and lost {} bytes exactly; {} loop turns, polls (sensor, logger, dashboard) = {:?}",
        FRAMES,
        written.get(),
        frames,
        lost,
        iterations,
        polls
    );
    println!("superloop: ok");
    exit(true)
}
