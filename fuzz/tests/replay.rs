//! Stable replay of the fuzz harnesses (no nightly, no libFuzzer): the committed seed corpus,
//! every crash input the fuzzer ever found (`regressions/<target>/`, one named test each
//! below as well), and a batch of pseudo-random inputs. `cargo xtask fuzz-smoke` runs this
//! inside `test-all`; `FUZZ_SMOKE_CASES=N` changes the batch size.

use std::fs;
use std::path::Path;

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.display().to_string(),
                fs::read(&p).expect("readable input"),
            )
        })
        .collect();
    out.sort();
    out
}

fn replay(dir: &str, run: fn(&[u8])) -> usize {
    let inputs = files(dir);
    for (name, data) in &inputs {
        eprintln!("replaying {name}");
        run(data);
    }
    inputs.len()
}

/// xorshift64*: deterministic pseudo-random bytes.
fn random_inputs(seed: u64, run: fn(&[u8])) {
    let cases: usize = std::env::var("FUZZ_SMOKE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut s = seed;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for _ in 0..cases {
        let len = (next() % 600) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        run(&data);
    }
}

#[test]
fn ops_corpus_and_regressions_replay() {
    let n = replay("corpus/ops", bytecast_fuzz::ops::run_bytes)
        + replay("regressions/ops", bytecast_fuzz::ops::run_bytes);
    eprintln!("{n} ops inputs replayed");
}

#[test]
fn interleave_corpus_and_regressions_replay() {
    let n = replay("corpus/interleave", bytecast_fuzz::interleave::run_bytes)
        + replay(
            "regressions/interleave",
            bytecast_fuzz::interleave::run_bytes,
        );
    eprintln!("{n} interleave inputs replayed");
}

#[test]
fn ops_random_inputs() {
    random_inputs(0x6f70_7321, bytecast_fuzz::ops::run_bytes);
}

#[test]
fn interleave_random_inputs() {
    random_inputs(0x696e_7465_726c_6561, bytecast_fuzz::interleave::run_bytes);
}

/// Finding R4 (`docs/reliability.md`): a strong reader that byte-read into a frame after reading
/// less than `capacity / 16` bytes had not released them, so the real channel refused a grant
/// (`Drop`: `Full`) that the reference model, which released every frame at once, accepted.
/// The channel was right; the model now releases in batches as readers do.
#[test]
fn ops_regression_release_batching_divergence() {
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/ops/release-batching-divergence"),
    )
    .expect("kept input");
    bytecast_fuzz::ops::run_bytes(&data);
}
