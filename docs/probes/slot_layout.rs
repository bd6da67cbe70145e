//! Probe: how fast one core copies 64 KiB frames into a 1 MiB ring that another core reads, as a
//! function of where the frames sit in the ring. No channel, no bytecast: a writer thread
//! `memcpy`s each frame into the next slot and publishes a counter with a `Release` store; a
//! reader thread waits for it, loads one word per 512 bytes of the slot (what the benchmark's
//! frame check loads) and hands the slot back with another `Release` store.
//!
//! Run (on the benchmark machine, nothing else running):
//!
//! ```text
//! rustc -O docs/probes/slot_layout.rs -o /tmp/slot_layout && /tmp/slot_layout
//! ```
//!
//! It prints frames per second (median of 5 runs of 60 000 frames) for records of 64 KiB (every
//! slot starts at the same page offset), 64 KiB + 8 (a record whose 8-byte header shifts each
//! slot 8 bytes further into its page), + 64 and + 4096, and for three page offsets of the
//! source buffer. `docs/performance.md`, "Large frames and page offsets", says what bytecast
//! does because of it.

use std::sync::atomic::{AtomicUsize, Ordering::Acquire, Ordering::Release};
use std::sync::Arc;
use std::time::Instant;

const FRAME: usize = 64 << 10;
const RING: usize = 1 << 20;
const STRIDE: usize = 512;
const FRAMES: usize = 60_000;

#[repr(align(128))]
struct Counter(AtomicUsize);

struct Ring {
    /// `RING + 4096` bytes, written only through `slot_ptr` by the writer (module docs).
    bytes: Box<[u8]>,
    written: Counter,
    read: Counter,
}

impl Ring {
    fn slot_ptr(&self, at: usize) -> *mut u8 {
        assert!(at + FRAME <= self.bytes.len());
        self.bytes.as_ptr().cast_mut().wrapping_add(at)
    }
}

/// Frames per second for records of `record` bytes, the source at page offset `src_offset`.
fn run(record: usize, src_offset: usize) -> f64 {
    let slots = RING / record;
    let ring = Arc::new(Ring {
        bytes: vec![0u8; RING + 4096].into_boxed_slice(),
        written: Counter(AtomicUsize::new(0)),
        read: Counter(AtomicUsize::new(0)),
    });
    let reader = {
        let ring = ring.clone();
        std::thread::spawn(move || {
            let mut sum = 0u64;
            for n in 0..FRAMES {
                while ring.written.0.load(Acquire) == n {
                    std::hint::spin_loop();
                }
                let slot = ring.slot_ptr((n % slots) * record);
                for at in (0..FRAME).step_by(STRIDE) {
                    // SAFETY: the slot is inside the allocation (`slot_ptr` asserts it) and the
                    // writer does not write it again until this thread's `Release` store below
                    // hands it back; its copy happened before the `Release` store this thread
                    // just loaded with `Acquire`.
                    sum = sum.wrapping_add(unsafe { slot.add(at).cast::<u64>().read_unaligned() });
                }
                ring.read.0.store(n + 1, Release);
            }
            sum
        })
    };
    let source = vec![7u8; FRAME + 8192];
    let skip = (4096 - source.as_ptr() as usize % 4096) % 4096 + src_offset;
    let source = &source[skip..skip + FRAME];
    let start = Instant::now();
    for n in 0..FRAMES {
        while ring.read.0.load(Acquire) + slots <= n {
            std::hint::spin_loop();
        }
        let slot = ring.slot_ptr((n % slots) * record);
        // SAFETY: the slot is inside the allocation (`slot_ptr` asserts it), the reader has
        // handed it back (the `Acquire` load above saw its `Release` store), and it does not
        // read it again before the `Release` store below; the source is a separate buffer.
        unsafe { std::ptr::copy_nonoverlapping(source.as_ptr(), slot, FRAME) };
        ring.written.0.store(n + 1, Release);
    }
    let rate = FRAMES as f64 / start.elapsed().as_secs_f64();
    std::hint::black_box(reader.join().expect("reader"));
    rate
}

fn main() {
    println!("record bytes  source page offset  k frames/s (median of 5)");
    for record in [FRAME, FRAME + 8, FRAME + 64, FRAME + 4096] {
        for src_offset in [16, 848, 2512] {
            let mut runs: Vec<f64> = (0..5).map(|_| run(record, src_offset)).collect();
            runs.sort_by(f64::total_cmp);
            println!(
                "{record:>12}  {src_offset:>18}  {:>8.0}  [{:.0} – {:.0}]",
                runs[2] / 1e3,
                runs[0] / 1e3,
                runs[4] / 1e3
            );
        }
    }
}
