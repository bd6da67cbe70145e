//! What every program of the firmware crate shares: the heap, the output (semihosting), the exit
//! status, the panic handler and the self-checking frames.
//!
//! Each program prints its counts and ends through [`exit`]: status 0 only if every check
//! passed; a failed check panics, and the panic handler prints it and exits with status 1.
//! `cargo xtask qemu` runs each program under QEMU with a timeout, so a hang fails too.

#![no_std]

extern crate alloc;

use core::mem::MaybeUninit;
use embedded_alloc::LlffHeap;

pub use cortex_m_semihosting::hprintln as println;

/// The shared handle to a channel: `alloc`'s `Arc` where the target has compare-and-swap,
/// portable-atomic-util's on thumbv6m (the core's `portable-atomic` feature).
#[cfg(target_has_atomic = "ptr")]
pub type Chan = alloc::sync::Arc<bytecast::Channel>;
/// The shared handle to a channel: `alloc`'s `Arc` where the target has compare-and-swap,
/// portable-atomic-util's on thumbv6m (the core's `portable-atomic` feature).
#[cfg(not(target_has_atomic = "ptr"))]
pub type Chan = portable_atomic_util::Arc<bytecast::Channel>;

/// Bytes of the heap: most of the RAM (the rest is the stack and the statics).
#[cfg(not(small_ram))]
pub const HEAP_SIZE: usize = 40 * 1024; // lm3s6965evb: 64 KiB of RAM
/// Bytes of the heap: most of the RAM (the rest is the stack and the statics).
#[cfg(small_ram)]
pub const HEAP_SIZE: usize = 9 * 1024; // micro:bit: 16 KiB of RAM

#[global_allocator]
static HEAP: LlffHeap = LlffHeap::empty();

/// Sets the heap up; call once, first thing in `main`.
pub fn init_heap() {
    static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before any allocation; `MEMORY` is used by nothing else, so the heap
    // owns it for the rest of the program.
    unsafe { HEAP.init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE) }
}

/// Heap bytes in use.
pub fn heap_used() -> usize {
    HEAP.used()
}

/// Ends the program under QEMU: status 0 if `ok`, else 1.
pub fn exit(ok: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Not under a debugger or QEMU: nothing to return to.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("FAILED: {}", info);
    exit(false)
}

/// Checks `cond`, panicking with the scenario's message (the panic handler prints it and exits
/// with status 1).
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!($($msg)+);
        }
    };
}

/// Bytes before a frame's payload pattern: the tag and the sequence number.
pub const FRAME_HEAD: usize = 5;
/// The longest frame [`frame`] makes.
pub const FRAME_MAX: usize = FRAME_HEAD + 48;

/// Self-checking frame `seq` of source `tag` into `buf`; returns its length (5 to 52 bytes):
/// the tag, `seq` (little endian), then a pattern of both, so a torn or spliced frame fails
/// [`check_frame`].
pub fn frame(tag: u8, seq: u32, buf: &mut [u8; FRAME_MAX]) -> usize {
    let len = FRAME_HEAD + (seq.wrapping_mul(13) % 48) as usize;
    buf[0] = tag;
    buf[1..FRAME_HEAD].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in buf[FRAME_HEAD..len].iter_mut().enumerate() {
        *b = pattern(tag, seq, i);
    }
    len
}

fn pattern(tag: u8, seq: u32, i: usize) -> u8 {
    (seq as u8).wrapping_mul(31) ^ (i as u8).wrapping_mul(7) ^ tag.rotate_left(3) ^ (seq >> 8) as u8
}

/// The tag and sequence number of a frame made by [`frame`], or `None` if it is not one (torn,
/// spliced or truncated).
pub fn check_frame(bytes: &[u8]) -> Option<(u8, u32)> {
    if bytes.len() < FRAME_HEAD {
        return None;
    }
    let tag = bytes[0];
    let seq = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let len = FRAME_HEAD + (seq.wrapping_mul(13) % 48) as usize;
    let whole = bytes.len() == len
        && bytes[FRAME_HEAD..]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(tag, seq, i));
    whole.then_some((tag, seq))
}

/// Length of frame `seq` (of any tag), as [`frame`] makes it.
pub fn frame_len(seq: u32) -> usize {
    FRAME_HEAD + (seq.wrapping_mul(13) % 48) as usize
}

/// Per-source sequence check for a strong reader: every frame of each tag arrives, in order.
#[derive(Debug, Default)]
pub struct InOrder {
    next: [u32; 4],
    /// Frames seen, per tag.
    pub frames: [u32; 4],
    /// Payload bytes seen, all tags.
    pub bytes: u64,
}

impl InOrder {
    /// Checks one frame: whole, of a known tag, the next of its tag.
    pub fn see(&mut self, bytes: &[u8]) {
        let Some((tag, seq)) = check_frame(bytes) else {
            panic!(
                "torn frame of {} bytes: {:?}",
                bytes.len(),
                &bytes[..bytes.len().min(8)]
            );
        };
        let t = usize::from(tag);
        check!(t < 4, "unknown tag {}", tag);
        check!(
            seq == self.next[t],
            "tag {}: frame {} arrived, {} expected (a strong reader lost or reordered frames)",
            tag,
            seq,
            self.next[t]
        );
        self.next[t] += 1;
        self.frames[t] += 1;
        self.bytes += bytes.len() as u64;
    }
}

/// How many tasks [`flag_waker`] serves.
pub const TASKS: usize = 4;

/// Per task: woken since it was last polled. Only the main loop runs here (no interrupt
/// touches them), so plain loads and stores suffice, also on thumbv6m.
pub static READY: [core::sync::atomic::AtomicBool; TASKS] =
    [const { core::sync::atomic::AtomicBool::new(true) }; TASKS];

/// A waker that marks task `i` ready in [`READY`]: what a superloop needs to poll only the
/// tasks that can progress.
pub fn flag_waker(i: usize) -> core::task::Waker {
    use core::task::{RawWaker, RawWakerVTable, Waker};
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(data: *const ()) {
        READY[data as usize].store(true, core::sync::atomic::Ordering::Relaxed);
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    assert!(i < TASKS, "task index");
    // SAFETY: the vtable's functions keep the `RawWaker` contract: the data is a task index,
    // not a pointer, so cloning copies it, waking stores to a static, and dropping frees nothing;
    // all of them are thread-safe.
    unsafe { Waker::from_raw(RawWaker::new(i as *const (), &VTABLE)) }
}
