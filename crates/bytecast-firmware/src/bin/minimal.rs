//! The smallest program that uses the core: one channel, one writer and one reader, one frame
//! written and read back. `cargo xtask qemu` compares its flash and RAM with `baseline` (the
//! same program without the channel), and prints the heap figures it measures: the channel's
//! RAM as the ring, fixed bytes and bytes per handle slot, and what each handle costs.

#![no_std]
#![no_main]

extern crate alloc;

use bytecast::{Channel, Config, StrongReader, StrongWriter, WeakReader, WeakWriter};
use bytecast_firmware::{check, exit, heap_used, init_heap, println};
use cortex_m_rt::entry;

/// Heap bytes a channel of `capacity` with `writers` and `readers` slots takes.
fn channel_heap(capacity: usize, writers: usize, readers: usize) -> usize {
    let before = heap_used();
    let chan = Channel::try_with_config(
        Config::new(capacity)
            .max_writers(writers)
            .max_readers(readers),
    )
    .expect("channel");
    let used = heap_used() - before;
    drop(chan);
    check!(heap_used() == before, "the channel's memory is freed");
    used
}

#[entry]
fn main() -> ! {
    init_heap();
    let chan =
        Channel::try_with_config(Config::new(256).max_writers(1).max_readers(1)).expect("channel");
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    check!(w.try_write(b"hello") == Ok(Some(5)), "write");
    let mut out = [0u8; 8];
    let id = w.id().expect("a strong writer has an id");
    check!(
        r.try_read_frame_into(&mut out) == Ok(Some((id, 5))) && &out[..5] == b"hello",
        "read"
    );
    drop((w, r, chan));

    let base = channel_heap(256, 1, 1);
    let ring = channel_heap(512, 1, 1) - base;
    let writer_slot = channel_heap(256, 2, 1) - base;
    let reader_slot = channel_heap(256, 1, 2) - base;
    check!(
        ring == 256 * 2,
        "the ring takes 2 bytes per byte of capacity: {}",
        ring
    );
    let fixed = base - (2 * 256 - 8) - writer_slot - reader_slot;

    let chan =
        Channel::try_with_config(Config::new(256).max_writers(4).max_readers(4)).expect("channel");
    let before = heap_used();
    let handles = (
        chan.new_strong_writer(),
        chan.new_weak_writer(),
        chan.new_strong_reader(),
        chan.new_weak_reader(),
    );
    let handle_heap = heap_used() - before;
    drop(handles);
    println!(
        "footprint: heap per channel = (2 x capacity - 8) ring + {} fixed + {} per writer slot + {} per reader slot",
        fixed, writer_slot, reader_slot
    );
    println!(
        "footprint: heap for a channel of 256 bytes, 1 writer and 1 reader slot = {}",
        base
    );
    println!(
        "footprint: handles (StrongWriter, WeakWriter, StrongReader, WeakReader) = {}, {}, {}, {} bytes each, {} heap bytes for all four",
        core::mem::size_of::<StrongWriter>(),
        core::mem::size_of::<WeakWriter>(),
        core::mem::size_of::<StrongReader>(),
        core::mem::size_of::<WeakReader>(),
        handle_heap
    );
    println!("minimal: ok");
    exit(true)
}
