//! The reference model of the log and the harness that checks a channel against it: the same
//! code as the proptest `crates/bytecast/tests/model.rs` uses, from the internal crate
//! `bytecast-model` (`crates/bytecast-model`).
//!
//! Differences from the proptest: cases are built from bytes (`Arbitrary` for [`Case`]) instead
//! of proptest strategies, and [`run_case`] runs on the caller's thread
//! (libFuzzer's `-timeout` turns a hang into a finding).

#![allow(missing_docs)]

use arbitrary::Arbitrary;
pub use bytecast_model::{Op, Params, Step};

// The operations, `Step`, `Params` and the model are in the internal crate `bytecast-model`.

/// A fuzz case: channel parameters and the steps to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub params: Params,
    pub steps: Vec<Step>,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        // Small rings (64 to 512 bytes) wrap often; handle limits 1 to 4 run out often.
        let params = Params {
            requested_capacity: u.int_in_range(1..=512)?,
            drop_mode: u.arbitrary()?,
            max_writers: u.int_in_range(1..=4)?,
            max_readers: u.int_in_range(1..=4)?,
        };
        let mut steps = Vec::new();
        while !u.is_empty() && steps.len() < 200 {
            let step = if u.ratio(1, 13)? {
                let (w, len, put, commit) = u.arbitrary()?;
                let n = u.int_in_range(0..=9)?;
                let inner = (0..n)
                    .map(|_| small_op(u))
                    .collect::<arbitrary::Result<_>>()?;
                Step::Hold {
                    w: small(w),
                    len: small(len),
                    put: small(put),
                    commit,
                    inner,
                }
            } else {
                Step::Op(small_op(u)?)
            };
            steps.push(step);
        }
        Ok(Self { params, steps })
    }
}

/// Lengths and indices are taken modulo small numbers by the harness anyway; keeping them in a
/// byte makes each operation cost few input bytes.
fn small(x: u8) -> usize {
    x as usize
}

fn small_op(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<Op> {
    let i = |u: &mut arbitrary::Unstructured<'_>| u.arbitrary::<u8>().map(small);
    Ok(match u.int_in_range(0..=19u8)? {
        0 => Op::NewStrongWriter,
        1 => Op::NewWeakWriter,
        2 => Op::DropWriter(i(u)?),
        3 => Op::TerminateWriter(i(u)?),
        4 => Op::DowngradeWriter(i(u)?),
        5 => Op::UpgradeWriter(i(u)?),
        6 => Op::NewReader {
            strong: u.arbitrary()?,
            tail: u.arbitrary()?,
        },
        7 => Op::DropReader(i(u)?),
        8 => Op::TerminateReader(i(u)?),
        9 => Op::DowngradeReader(i(u)?),
        10 => Op::Write {
            w: i(u)?,
            len: i(u)?,
        },
        11 => Op::Grant {
            w: i(u)?,
            len: i(u)?,
            put: i(u)?,
            commit: u.arbitrary()?,
        },
        12 => Op::ReadFrame {
            r: i(u)?,
            max: i(u)?,
        },
        13 => Op::ReadFrameInto {
            r: i(u)?,
            max: i(u)?,
        },
        14 => Op::ReadBytes {
            r: i(u)?,
            n: i(u)? % 48,
        },
        15 => Op::Skip(i(u)?),
        16 => Op::Borrow(i(u)?),
        17 => Op::Drain,
        18 => Op::Terminate,
        _ => Op::DropChannel,
    })
}

/// Runs one case on this thread: the channel must match the model at every step.
pub fn run_case(case: &Case) {
    bytecast_model::run_case(&case.params, &case.steps);
}

/// Decodes `data` into a case and runs it (the `ops` fuzz target).
pub fn run_bytes(data: &[u8]) {
    if let Ok(case) = Case::arbitrary(&mut arbitrary::Unstructured::new(data)) {
        run_case(&case);
    }
}
