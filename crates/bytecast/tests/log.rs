//! The log: one ring of `capacity` bytes, rounded up to a power of two of at least
//! `MIN_CAPACITY` and reported by `capacity()`; a capacity of zero or one that cannot be allocated
//! is a panic with a clear message from `Channel::new` and an error from the fallible
//! constructors.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{Backpressure, Channel, ChannelError, Config, MAX_CAPACITY, MIN_CAPACITY};

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
