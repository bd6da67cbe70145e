//! The log: one ring of `capacity` bytes, rounded up to a power of two of at least
//! `MIN_CAPACITY` and reported by `capacity()`; a capacity of zero or one that cannot be allocated
//! is a panic with a clear message from `Channel::new` and an error from the fallible
//! constructors; `record_len` tells the ring bytes of a frame, and a ring sized by
//! `Config::for_frames(n, len)` holds `n` frames of `len` bytes from any position.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{
    record_len, Backpressure, Channel, ChannelError, Config, MAX_CAPACITY, MIN_CAPACITY,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

#[test]
fn capacity_is_rounded_up_to_a_power_of_two_of_at_least_the_minimum_and_reported() {
    for (requested, real) in [
        (1, 64),
        (3, 64),
        (63, 64),
        (64, 64),
        (65, 128),
        (100, 128),
        (1000, 1024),
        (4096, 4096),
        (4097, 8192),
    ] {
        let chan = Channel::new(requested);
        assert_eq!(
            chan.capacity(),
            real,
            "capacity for a request of {requested}"
        );
        assert_eq!(chan.stats().capacity, real);
        assert_eq!(Config::new(requested).ring_capacity(), Ok(real));
        assert_eq!(chan.max_frame_len(), real - 8);
    }
    assert_eq!(MIN_CAPACITY, 64);
}

#[test]
#[should_panic(expected = "invalid channel capacity 0")]
fn zero_capacity_panics_with_a_clear_message() {
    let _ = Channel::new(0);
}

#[test]
#[should_panic(expected = "invalid channel capacity")]
fn unallocatable_capacity_panics_with_a_clear_message() {
    let _ = Channel::with_parameters(usize::MAX, Backpressure::Drop);
}

#[test]
fn zero_or_unallocatable_capacity_is_an_error_from_the_fallible_constructors() {
    assert_eq!(
        Channel::try_new(0, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: 0,
            max: bytecast::MAX_CAPACITY
        }
    );
    assert_eq!(
        Channel::try_new(MAX_CAPACITY + 1, Backpressure::Drop).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: MAX_CAPACITY + 1,
            max: bytecast::MAX_CAPACITY,
        }
    );
    assert_eq!(
        Channel::try_new(usize::MAX, Backpressure::Park).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: usize::MAX,
            max: bytecast::MAX_CAPACITY,
        }
    );
    assert_eq!(
        Channel::try_with_config(Config::new(0)).unwrap_err(),
        ChannelError::InvalidCapacity {
            requested: 0,
            max: bytecast::MAX_CAPACITY
        }
    );
    let msg = ChannelError::InvalidCapacity {
        requested: 0,
        max: bytecast::MAX_CAPACITY,
    }
    .to_string();
    assert!(msg.contains("capacity") && msg.contains('0'), "{msg}");
    assert!(Channel::try_new(1, Backpressure::Park).is_ok());
}

/// Writes `frames` frames of `len` bytes into `chan` after `skip` bytes of traffic that a strong
/// reader has read and released, with that reader then reading nothing: every frame must be
/// accepted at once (no `Full` under `Drop`, no wait under `Park`) and arrive whole.
fn sized_ring_holds_its_frames(
    chan: &std::sync::Arc<Channel>,
    frames: usize,
    len: usize,
    skip: usize,
) {
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    // Move the ring's position on by about `skip` bytes, in frames the reader reads and
    // releases, so the sized frames start anywhere in the ring.
    let mut moved = 0;
    while moved < skip {
        let n = (skip - moved).min(chan.max_frame_len()).min(200);
        assert_eq!(w.try_write(&vec![0xEE; n]), Ok(Some(n)));
        assert_eq!(
            r.try_read_frame(chan.capacity())
                .map(|f| f.map(|f| f.1.len())),
            Ok(Some(n))
        );
        moved += record_len(n);
    }
    assert_eq!(
        chan.stats().in_use,
        0,
        "the reader released everything it read"
    );
    for i in 0..frames {
        let frame = vec![i as u8; len];
        assert_eq!(
            w.try_write(&frame),
            Ok(Some(len)),
            "frame {i} of {frames} × {len} bytes, ring {} after {skip} bytes",
            chan.capacity()
        );
    }
    if len > 0 {
        for i in 0..frames {
            let (_, got) = r.try_read_frame(len).unwrap().expect("a frame");
            assert_eq!(got, vec![i as u8; len]);
        }
    }
    assert_eq!(chan.stats().dropped_frames, 0);
}

/// `record_len` is the header and the payload rounded up to 8 bytes, and a channel built for
/// `n` frames of `len` bytes is the smallest power of two that holds them wherever they fall:
/// for frames of 32 KiB up to a quarter of the ring that counts the padding that page-aligns
/// each one (15 such frames need 1 MiB, though 15 × `record_len` is below 512 KiB). Zero
/// frames, or frames that need more than `MAX_CAPACITY`, are `InvalidCapacity`.
#[test]
fn channel_for_frames_sizes_the_ring_for_n_frames_of_len_bytes() {
    assert_eq!(record_len(9), 24);
    assert_eq!((record_len(0), record_len(1), record_len(8)), (8, 16, 16));
    let chan = Channel::for_frames(100, 9, Backpressure::Drop).unwrap();
    assert_eq!(
        (chan.capacity(), chan.backpressure()),
        (4096, Backpressure::Drop)
    );
    sized_ring_holds_its_frames(&chan, 100, 9, 0);
    let chan = Channel::for_frames(1, 56, Backpressure::Park).unwrap();
    assert_eq!(chan.capacity(), 64);
    let big = 32 * 1024;
    assert!(15 * record_len(big) < 512 * 1024);
    if MAX_CAPACITY >= 1 << 20 && !cfg!(miri) {
        // (Not with positions narrowed for `cargo xtask wrap`: the ring would be too large;
        // not under Miri: the proptest covers such frames there, in a smaller ring.)
        let chan = Channel::for_frames(15, big, Backpressure::Drop).unwrap();
        assert_eq!(chan.capacity(), 1 << 20);
        sized_ring_holds_its_frames(&chan, 15, big, 0);
    }
    let too_large = |requested| {
        Err(ChannelError::InvalidCapacity {
            requested,
            max: MAX_CAPACITY,
        })
    };
    assert_eq!(Config::for_frames(0, 9), too_large(0));
    assert_eq!(Config::for_frames(usize::MAX / 8, 9), too_large(usize::MAX));
    assert_eq!(Config::for_frames(1, usize::MAX), too_large(usize::MAX));
    assert_eq!(
        Config::for_frames(1, MAX_CAPACITY),
        too_large(record_len(MAX_CAPACITY))
    );
    assert!(matches!(
        Channel::for_frames(3, MAX_CAPACITY / 2, Backpressure::Park),
        Err(ChannelError::InvalidCapacity { .. })
    ));
}

/// The most large frames (up to 40,000 bytes, page-aligned) the proptest asks a ring for: 20,
/// or as many as surely fit `MAX_CAPACITY` (fewer with positions narrowed for `cargo xtask
/// wrap`).
const LARGE_FRAMES: usize = {
    let fit = MAX_CAPACITY / (40_000 + 8 + 4096);
    if fit < 20 {
        fit
    } else {
        20
    }
};

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 96 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// For any `n` and `len` (small frames, and large ones that get page-aligned) and any ring
    /// position, `Config::for_frames(n, len)` gives a ring that takes `n` frames of `len` bytes
    /// without a refusal under `Drop` or a wait under `Park` while a strong reader reads none.
    #[test]
    fn config_for_frames_holds_that_many_frames_from_any_position(
        (frames, len) in prop_oneof![
            (1..=if cfg!(miri) { 8usize } else { 200 }, 0..=300usize),
            (1..=if cfg!(miri) { 2 } else { LARGE_FRAMES }, 32_000..=40_000usize),
        ],
        skip_share in 0.0..1.0f64,
        park in any::<bool>(),
    ) {
        let backpressure = if park { Backpressure::Park } else { Backpressure::Drop };
        let config = Config::for_frames(frames, len).unwrap().backpressure(backpressure);
        let chan = Channel::try_with_config(config).unwrap();
        let capacity = chan.capacity();
        prop_assert!(capacity == MIN_CAPACITY || frames * record_len(len) > capacity / 2 || len >= 32 * 1024);
        // Under Miri, only the start of the ring (each write and read is slow there).
        let window = if cfg!(miri) { capacity.min(2048) } else { capacity };
        sized_ring_holds_its_frames(&chan, frames, len, (skip_share * window as f64) as usize);
    }
}
