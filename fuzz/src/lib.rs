//! Fuzz harnesses for `bytecast`, shared by the cargo-fuzz targets in `fuzz_targets/` and by
//! the stable replay tests in `tests/` (the committed corpus and every crash input found, run
//! by `cargo xtask fuzz-smoke` inside `test-all`).
//!
//! - [`ops`]: bytes decoded into single-threaded operation sequences, checked step by step
//!   against the reference model of the log (the internal crate `bytecast-model`,
//!   shared with the proptest `crates/bytecast/tests/model.rs`).
//! - [`interleave`]: poll interleavings of several handles with counting wakers: no lost
//!   wake-up, no torn frame, no hang, a healthy channel afterwards.

pub mod interleave;
pub mod ops;
