//! `bytecast-bench-allocs`: the cells of `bytecast-bench` under a counting global allocator, for
//! the allocations-per-frame column. The timed runs never pay for the counting.
#![forbid(unsafe_code)]

use std::alloc::System;

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocations() -> u64 {
    let s = GLOBAL.stats();
    (s.allocations + s.reallocations) as u64
}

fn main() -> std::process::ExitCode {
    bytecast_bench::main_with(Some(allocations))
}
