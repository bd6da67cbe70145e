//! `minimal` without the channel: the same runtime, heap, output (numbers formatted too) and
//! exit, and one allocation written and read back. `cargo xtask qemu` reports `minimal`'s flash and RAM as this
//! program's plus the difference, which is what the core costs.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use bytecast_firmware::{check, exit, heap_used, init_heap, println};
use cortex_m_rt::entry;

#[entry]
fn main() -> ! {
    init_heap();
    let mut v = Vec::with_capacity(8);
    v.extend_from_slice(b"hello");
    check!(core::hint::black_box(&v)[..] == b"hello"[..], "read");
    println!("baseline: {} heap bytes in use", heap_used());
    println!("baseline: ok");
    exit(true)
}
