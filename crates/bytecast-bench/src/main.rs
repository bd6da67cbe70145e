//! `bytecast-bench`: see the library docs and `docs/bench.md` (`cargo xtask bench`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    bytecast_bench::main_with(None)
}
