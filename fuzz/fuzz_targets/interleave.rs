//! Poll interleavings of several handles with counting wakers: no lost wake-up, no hang.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bytecast_fuzz::interleave::run_bytes(data));
