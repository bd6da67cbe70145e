//! Loom model of the exclusive-copy check (`RING-EXCL-W`, `Shared::no_weak_readers`): a writer
//! whose reservation aliases bytes of the previous lap decides to copy with `memcpy` only when
//! no weak reader can start at or before those bytes. Run by `cargo xtask loom` with the other
//! models (every test name contains `loom`).
//!
//! The copy itself is never plain under loom (`EXCLUSIVE_MIN`), so the models check the
//! decision: after its reservation the writer asks `no_weak_readers` as `try_reserve` does,
//! and a weak reader registering meanwhile (joining, or downgraded) must either be seen or
//! start past the aliased bytes, whoever moved the gate the writer used; one that leaves must
//! have finished its reads before the writer copies. Each model fails when the ordering it
//! rests on is removed (`docs/design.md`, "Exclusive copies").

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

/// The writer's side, on a thread of its own: one frame into the second lap, and the
/// exclusivity decision made after its reservation CAS. Returns the decision and the first
/// position the reservation does not alias (its end, one lap back), or `None` if the frame was
/// refused for want of room (a strong reader still holds the first lap).
fn spawn_writer_into_second_lap(
    shared: &Arc<Shared>,
    slot: usize,
) -> thread::JoinHandle<Option<(bool, usize)>> {
    let shared = shared.clone();
    thread::spawn(move || match shared.try_reserve(slot, 8, 0) {
        Ok(res) => {
            let exclusive = shared.no_weak_readers();
            shared.finish(slot, res, Some(0), 8);
            Some((
                exclusive,
                pos_sub(pos_add(res.start, res.placement.total()), CAP),
            ))
        }
        Err(NoRoom::Full) => None,
        Err(other) => panic!("unexpected refusal {other:?}"),
    })
}

/// The models' claim: a writer that decided to copy with `memcpy` (`exclusive`) filled only
/// bytes that alias positions below `aliased_end`, so a weak reader starting at `start` must
/// start at or after it.
fn assert_not_aliased(exclusive: bool, start: usize, aliased_end: usize) {
    assert!(
        !exclusive || !pos_lt(start, aliased_end),
        "memcpy into bytes a weak reader starting at {start} may read (aliased below {aliased_end})"
    );
}

/// A weak reader joins (at the oldest intact frame, or at the published end) while the writer
/// reserves into the second lap: if the writer decided to copy with `memcpy`, the reader starts
/// at or after every byte the reservation aliases.
#[test]
fn loom_exclusive_copy_never_aliases_a_joining_weak_reader() {
    for from_tail in [false, true] {
        loom::model(move || {
            let (shared, slot) = one_lap_published();
            let writer = spawn_writer_into_second_lap(&shared, slot);
            let (_, start) = shared.join_reader(false, from_tail).expect("a free slot");
            let (exclusive, aliased_end) = writer
                .join()
                .unwrap()
                .expect("no strong reader holds the ring");
            assert_not_aliased(exclusive, start.pos, aliased_end);
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
        let writer = spawn_writer_into_second_lap(&shared, slot);
        shared.downgrade_reader(reader);
        assert_ne!(
            writer.join().unwrap().map(|(exclusive, _)| exclusive),
            Some(true),
            "memcpy into bytes the downgraded reader at 0 is about to read"
        );
    });
}

/// The writer's gate comes from another thread's hold of the gate lock, loaded with `Acquire`
/// in `try_reserve`'s first check, rather than from the writer's own `refresh_gate`: a weak
/// reader whose hold precedes that refresh (and so starts at the old gate, 0) is still seen by
/// the writer's check. Fails when that load of the gate is `Relaxed`.
#[test]
fn loom_exclusive_copy_with_a_gate_another_thread_moved() {
    loom::model(|| {
        let (shared, slot) = one_lap_published();
        let mover = {
            let shared = shared.clone();
            // Stands for another writer's (or a strong reader's release's) gate refresh.
            thread::spawn(move || {
                shared.refresh_gate(16);
            })
        };
        let writer = spawn_writer_into_second_lap(&shared, slot);
        let (_, start) = shared.join_reader(false, false).expect("a free slot");
        mover.join().unwrap();
        let (exclusive, aliased_end) = writer
            .join()
            .unwrap()
            .expect("no strong reader holds the ring");
        assert_not_aliased(exclusive, start.pos, aliased_end);
    });
}

/// The same with the gate moved by a second writer whose larger frame (24 bytes, a 32-byte
/// record, so a gate of 32) races the first writer's CAS: whichever reserves first, the
/// 8-byte writer's check sees a weak reader that starts below what it aliases. Fails when the
/// first load of the gate in `try_reserve` is `Relaxed`.
#[test]
fn loom_exclusive_copy_with_a_gate_another_writer_moved() {
    loom::model(|| {
        let (shared, slot) = one_lap_published();
        shared.add_writer(true);
        let slot_b = shared.claim_writer_slot(None).expect("a second slot");
        let other = {
            let shared = shared.clone();
            thread::spawn(move || match shared.try_reserve(slot_b, 24, 0) {
                Ok(res) => shared.finish(slot_b, res, Some(0), 24),
                Err(NoRoom::Full) => {}
                Err(e) => panic!("unexpected refusal {e:?}"),
            })
        };
        let writer = spawn_writer_into_second_lap(&shared, slot);
        let (_, start) = shared.join_reader(false, false).expect("a free slot");
        other.join().unwrap();
        if let Some((exclusive, aliased_end)) = writer.join().unwrap() {
            assert_not_aliased(exclusive, start.pos, aliased_end);
        }
    });
}

/// The other side of the check: a weak reader that starts below the aliased bytes reads them
/// (a loom `UnsafeCell` read stands for its racy copy) and leaves; a writer that finds no weak
/// reader copies (an `UnsafeCell` write stands for the `memcpy`). Loom reports the two
/// accesses if they are not ordered, that is if the writer's `Acquire` load does not
/// synchronize with the reader's `Release` decrement in `leave_reader`. Preemption bound 2:
/// with a `Relaxed` decrement it fails at 2, not at 1.
#[test]
fn loom_exclusive_copy_after_a_weak_reader_left() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        let (shared, slot) = one_lap_published();
        let bytes = Arc::new(loom::cell::UnsafeCell::new(0u8));
        let writer = {
            let shared = shared.clone();
            let bytes = bytes.clone();
            thread::spawn(move || {
                let res = shared
                    .try_reserve(slot, 8, 0)
                    .expect("no strong reader holds the ring");
                if shared.no_weak_readers() {
                    // Loom records the access when `with_mut` is called.
                    bytes.with_mut(|_| ());
                }
                shared.finish(slot, res, Some(0), 8);
            })
        };
        let (reader, start) = shared.join_reader(false, false).expect("a free slot");
        if pos_lt(start.pos, 16) {
            // Loom records the access when `with` is called.
            bytes.with(|_| ());
        }
        shared.leave_reader(reader);
        writer.join().unwrap();
    });
}
