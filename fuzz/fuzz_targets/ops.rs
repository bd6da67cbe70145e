//! Operation sequences on one thread, checked against the reference model of the log.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bytecast_fuzz::ops::run_bytes(data));
