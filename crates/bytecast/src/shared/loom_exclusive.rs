//! Loom model of the exclusive-copy check (`RING-EXCL-W`, `Shared::no_weak_readers`): a writer
//! whose reservation aliases bytes of the previous lap decides to copy with `memcpy` only when
//! no weak reader can start at or before those bytes. Run by `cargo xtask loom` with the other
//! models (every test name contains `loom`).
//!
//! The copy itself is never plain under loom (`EXCLUSIVE_MIN`), so the model checks the
//! decision: after its reservation the writer asks `no_weak_readers` as `try_reserve` does,
//! and a weak reader registering meanwhile must either be seen or start past the aliased bytes.

use super::*;
use crate::sync::Arc;
use loom::thread;

/// Capacity of the model's ring; a frame of 8 payload bytes takes 16 of it.
const CAP: usize = 64;

/// A channel whose ring holds one published lap of four 16-byte frames, with the gate left at
/// 0 (nothing needed it moved): a writer's next frame aliases positions 0..16, and must first
/// move the gate past them. Returns the shared state and the writer's slot.
fn one_lap_published() -> (Arc<Shared>, usize) {
    let shared = Arc::new(Shared::new(CAP, Backpressure::Park, 2, 2).expect("valid size"));
    shared.add_writer(true);
    let slot = shared.claim_writer_slot(None).expect("a free slot");
    for _ in 0..4 {
        let res = shared
            .try_reserve(slot, 8, 0)
            .expect("room in the first lap");
        shared.finish(slot, res, Some(0), 8);
    }
    assert_eq!(shared.published.pos(), CAP);
    assert_eq!(shared.gate.pos(), 0, "the first lap never needs the gate");
    (shared, slot)
}

/// The writer's side: one frame into the second lap, and the exclusivity decision made after
/// its reservation CAS. Returns the decision and the first position the reservation does not
/// alias (its end, one lap back).
fn write_into_second_lap(shared: &Shared, slot: usize) -> (bool, usize) {
    let res = shared
        .try_reserve(slot, 8, 0)
        .expect("no strong reader holds the ring");
    let exclusive = shared.no_weak_readers();
    shared.finish(slot, res, Some(0), 8);
    (
        exclusive,
        pos_sub(pos_add(res.start, res.placement.total()), CAP),
    )
}

/// A weak reader joins (at the oldest intact frame, or at the published end) while the writer
/// reserves into the second lap: if the writer decided to copy with `memcpy`, the reader starts
/// at or after every byte the reservation aliases.
#[test]
fn loom_exclusive_copy_never_aliases_a_joining_weak_reader() {
    for from_tail in [false, true] {
        loom::model(move || {
            let (shared, slot) = one_lap_published();
            let writer = {
                let shared = shared.clone();
                thread::spawn(move || write_into_second_lap(&shared, slot))
            };
            let (_, start) = shared.join_reader(false, from_tail).expect("a free slot");
            let (exclusive, aliased_end) = writer.join().unwrap();
            assert!(
                !exclusive || !pos_lt(start.pos, aliased_end),
                "memcpy into bytes a weak reader starting at {} may read (aliased below {})",
                start.pos,
                aliased_end
            );
        });
    }
}

/// A strong reader at 0 holds the first lap and is downgraded while the writer tries to
/// reserve into the second: the writer is refused (the reader still gates it) or gets the room
/// after the downgrade, and then it must see the reader, weak by then at 0, and not copy with
/// `memcpy` into the bytes it is about to read.
#[test]
fn loom_exclusive_copy_never_aliases_a_downgraded_reader() {
    loom::model(|| {
        let (shared, slot) = one_lap_published();
        let (reader, at) = shared.join_reader(true, false).expect("a free slot");
        assert_eq!(at.pos, 0);
        let writer = {
            let shared = shared.clone();
            thread::spawn(move || match shared.try_reserve(slot, 8, 0) {
                Ok(res) => {
                    let exclusive = shared.no_weak_readers();
                    shared.finish(slot, res, Some(0), 8);
                    Some(exclusive)
                }
                Err(NoRoom::Full) => None,
                Err(other) => panic!("unexpected refusal {other:?}"),
            })
        };
        shared.downgrade_reader(reader);
        assert_ne!(
            writer.join().unwrap(),
            Some(true),
            "memcpy into bytes the downgraded reader at 0 is about to read"
        );
    });
}
