//! `bytecast-bench`: bytecast against its peers on the same workloads, in one run.
//!
//! `cargo xtask bench [--quick] [--filter X]` builds this crate in release mode and runs
//! `bytecast-bench`, which runs every cell (a workload on an implementation) in a child process
//! of its own, under a watchdog, then writes `docs/bench.md` and `docs/bench.svg`. See
//! `docs/bench.md` for the workloads, the method and the published run, and
//! `docs/performance.md` for what the figures show.
//!
//! The crate is a library only so that its two binaries share the code: `bytecast-bench` (the
//! timed runs) and `bytecast-bench-allocs` (the same cells under a counting allocator).
#![forbid(unsafe_code)]

mod cells;
mod cli;
mod frame;
mod impls;
mod profile;
mod report;
mod run;
mod svg;

/// Runs the command line of either binary; `alloc_counter` is the counting allocator's
/// allocation count (the `bytecast-bench-allocs` binary), `None` for the timed binary.
/// Returns the process exit code.
pub fn main_with(alloc_counter: Option<fn() -> u64>) -> std::process::ExitCode {
    if let Some(f) = alloc_counter {
        run::set_alloc_counter(f);
    }
    cli::main()
}
