//! Leak safety: a forgotten guard behaves like a dropped one (SEMANTICS, "Safe code cannot
//! break the channel").
//!
//! `mem::forget` of a write grant, of a pending `reserve` or `write` future, of a borrowed frame
//! or of a pending read future, followed by reusing or dropping the handle it borrowed, never
//! panics inside the library, never stalls, and never delivers a byte nobody committed: strong
//! and weak readers receive exactly the committed frames, in order, with their writer ids. A
//! forgotten grant is aborted; the frames reserved after it, held back while it is open, become
//! readable once its writer is used again or dropped. A forgotten borrowed frame is read again.
//!
//! Every test runs under the watchdog (a stall is a failure). Rounds are scaled down under Miri.

#[path = "support/edges.rs"]
mod edges;
#[path = "support/harness.rs"]
mod harness;

use bytecast::{Backpressure, Channel, ChannelError, Reader, StrongWriter, Writer};
use edges::{
    assert_frames, forget_boxed, noop_cx, poison, read_all, read_some, tagged, Frame, Rng,
};
use harness::guarded;
use std::future::Future;
use std::mem;
use std::pin::{pin, Pin};
use std::task::Poll;

const CAP: usize = 256;
/// Rounds of the randomised and threaded variants.
const ROUNDS: usize = if cfg!(miri) { 40 } else { 2000 };

/// The writer guard that is forgotten.
#[derive(Debug, Clone, Copy)]
enum Guard {
    /// A grant from `try_reserve`, partly filled.
    TryGrant,
    /// A grant from the `reserve` future, partly filled.
    ReserveGrant,
    /// A `reserve` future that returned `Pending` (ring full).
    PendingReserve,
    /// A `write` future that returned `Pending` (ring full).
    PendingWrite,
}

/// What happens to the handle afterwards.
#[derive(Debug, Clone, Copy)]
enum Then {
    Reuse,
    Drop,
}

const GUARDS: [Guard; 4] = [
    Guard::TryGrant,
    Guard::ReserveGrant,
    Guard::PendingReserve,
    Guard::PendingWrite,
];

/// Writes one frame that must be accepted and records it as committed.
fn commit(w: &mut Writer, tag: u8, seq: u32, len: usize, committed: &mut Vec<Frame>) {
    let f = tagged(tag, seq, len);
    assert_eq!(w.try_write(&f), Ok(Some(len)), "a frame that fits");
    committed.push((w.id().expect("a writer that wrote has an id"), f));
}

/// Writes frames until the ring refuses one (Park: `Ok(None)`).
fn fill(w: &mut Writer, tag: u8, committed: &mut Vec<Frame>) {
    for seq in 0.. {
        let f = tagged(tag, seq, 24);
        match w.try_write(&f).expect("fill") {
            Some(n) => {
                assert_eq!(n, 24);
                committed.push((w.id().unwrap(), f));
            }
            None => return,
        }
    }
}

fn forgotten_writer_guard(strong: bool, guard: Guard, then: Then) {
    let chan = Channel::new(CAP);
    let mut sr = chan.new_strong_reader();
    let mut wr = chan.new_weak_reader();
    let mut a: Writer = if strong {
        chan.new_strong_writer().into()
    } else {
        chan.new_weak_writer().into()
    };
    let mut b: Writer = chan.new_strong_writer().into();
    let (mut committed, mut got_s, mut got_w) = (Vec::new(), Vec::new(), Vec::new());
    commit(&mut b, 1, 0, 10, &mut committed);
    commit(&mut a, 2, 0, 11, &mut committed);
    match guard {
        Guard::TryGrant => {
            let mut g = a.try_reserve(40).unwrap().expect("room for a grant");
            assert_eq!(g.put(&poison(24)), 24);
            mem::forget(g);
        }
        Guard::ReserveGrant => {
            let mut fut = a.reserve(40);
            let Poll::Ready(g) = Pin::new(&mut fut).poll(&mut noop_cx()) else {
                panic!("room for a grant")
            };
            let mut g = g.unwrap();
            assert_eq!(g.put(&poison(40)), 40);
            mem::forget(g);
        }
        Guard::PendingReserve | Guard::PendingWrite => {
            fill(&mut b, 3, &mut committed);
            if let Guard::PendingReserve = guard {
                let mut fut = a.reserve(40);
                assert!(Pin::new(&mut fut).poll(&mut noop_cx()).is_pending());
                // Forgotten on purpose, whether or not `Reserve` has a destructor.
                #[allow(clippy::forget_non_drop)]
                mem::forget(fut);
            } else {
                let bytes = poison(40);
                let mut fut = Box::pin(a.write(&bytes));
                assert!(fut.as_mut().poll(&mut noop_cx()).is_pending());
                forget_boxed(fut);
            }
            got_s.extend(read_all(&mut sr, CAP));
            got_w.extend(read_all(&mut wr, CAP));
        }
    }
    // Reserved after the forgotten guard: held back at most until `a` is used again or dropped.
    commit(&mut b, 4, 0, 12, &mut committed);
    got_s.extend(read_all(&mut sr, CAP));
    got_w.extend(read_all(&mut wr, CAP));
    match then {
        Then::Reuse => {
            commit(&mut a, 5, 0, 13, &mut committed);
            let mut g = a.try_reserve(30).unwrap().expect("room");
            let f = tagged(5, 1, 30);
            g.put(&f);
            assert_eq!(g.commit(), 30);
            committed.push((a.id().unwrap(), f));
        }
        Then::Drop => drop(a),
    }
    commit(&mut b, 6, 0, 14, &mut committed);
    got_s.extend(read_all(&mut sr, CAP));
    got_w.extend(read_all(&mut wr, CAP));
    let what = format!("strong={strong} {guard:?} then {then:?}");
    assert_frames(&format!("{what}: strong reader"), &got_s, &committed);
    assert_frames(&format!("{what}: weak reader"), &got_w, &committed);
    let s = chan.stats();
    assert_eq!(s.frames_published, committed.len() as u64, "{what}: {s:?}");
    let bytes: usize = committed.iter().map(|f| f.1.len()).sum();
    assert_eq!(s.bytes_published, bytes as u64, "{what}: {s:?}");
    assert_eq!(s.in_use, 0, "{what}: caught-up readers hold nothing: {s:?}");
    assert_eq!(wr.lost_bytes(), 0, "{what}");
}

fn every_writer_guard(then: Then) {
    for strong in [true, false] {
        for guard in GUARDS {
            guarded(&format!("{guard:?} then {then:?}"), move || {
                forgotten_writer_guard(strong, guard, then)
            });
        }
    }
}

/// A forgotten grant, or a forgotten pending `reserve`/`write`, of a strong or a weak writer,
/// then that writer writes again: exactly the committed frames reach both readers, including
/// the ones reserved after the forgotten grant and the writer's own later frames.
#[test]
fn forgotten_writer_guard_then_the_writer_is_reused() {
    every_writer_guard(Then::Reuse);
}

/// As above, but the writer is dropped instead: the forgotten frame is aborted, and what other
/// writers reserved after it becomes readable.
#[test]
fn forgotten_writer_guard_then_the_writer_is_dropped() {
    every_writer_guard(Then::Drop);
}

/// A forgotten borrowed frame is not lost: the reader's next read returns it again, writers
/// never overwrite it meanwhile, and everything after it follows in order. Dropping the reader
/// instead releases its hold.
///
/// Passes on the current code; it guards the promise for the borrowed frame while the fix
/// changes how readers release.
#[test]
fn forgotten_borrowed_frame_is_read_again_or_released_with_its_reader() {
    guarded("forgotten FrameRef", || {
        for then in [Then::Reuse, Then::Drop] {
            let chan = Channel::new(128);
            let mut r = chan.new_strong_reader();
            let mut w: Writer = chan.new_strong_writer().into();
            let mut committed = Vec::new();
            commit(&mut w, 1, 0, 20, &mut committed);
            commit(&mut w, 1, 1, 21, &mut committed);
            let f = r.try_borrow_frame().unwrap().expect("a frame");
            assert_eq!(
                (f.writer(), f.bytes()),
                (committed[0].0, &committed[0].1[..])
            );
            mem::forget(f);
            // Writers fill what they may; the borrowed frame is still unread.
            fill(&mut w, 2, &mut committed);
            match then {
                Then::Reuse => {
                    let got = read_all(&mut r, 128);
                    assert_frames("after a forgotten FrameRef", &got, &committed);
                }
                Then::Drop => {
                    drop(r);
                    let s = chan.stats();
                    assert_eq!((s.strong_readers, s.in_use), (0, 0), "{s:?}");
                    // Nothing holds writers back any more.
                    for seq in 0..20 {
                        assert!(w.try_write(&tagged(3, seq, 40)).unwrap().is_some());
                    }
                }
            }
        }
    });
}

/// Which read future is forgotten while pending.
#[derive(Debug, Clone, Copy)]
enum ReadFut {
    Read,
    ReadFrame,
    ReadFrameInto,
    BorrowFrame,
}

fn forgotten_read_future(strong: bool, fut: ReadFut, then: Then) {
    let chan = Channel::new(128);
    let mut r: Reader = if strong {
        chan.new_strong_reader().into()
    } else {
        chan.new_weak_reader().into()
    };
    let mut w: Writer = chan.new_strong_writer().into();
    let mut buf = [0u8; 128];
    let mut cx = noop_cx();
    match (fut, &mut r) {
        (ReadFut::Read, r) => {
            let mut f = Box::pin(r.read(&mut buf));
            assert!(f.as_mut().poll(&mut cx).is_pending());
            forget_boxed(f);
        }
        (ReadFut::ReadFrame, r) => {
            let mut f = Box::pin(r.read_frame(128));
            assert!(f.as_mut().poll(&mut cx).is_pending());
            forget_boxed(f);
        }
        (ReadFut::ReadFrameInto, Reader::Strong(r)) => {
            let mut f = Box::pin(r.read_frame_into(&mut buf));
            assert!(f.as_mut().poll(&mut cx).is_pending());
            forget_boxed(f);
        }
        (ReadFut::ReadFrameInto, Reader::Weak(r)) => {
            let mut f = Box::pin(r.read_frame_into(&mut buf));
            assert!(f.as_mut().poll(&mut cx).is_pending());
            forget_boxed(f);
        }
        (ReadFut::BorrowFrame, Reader::Strong(r)) => {
            let mut f = Box::pin(r.borrow_frame());
            assert!(f.as_mut().poll(&mut cx).is_pending());
            forget_boxed(f);
        }
        (ReadFut::BorrowFrame, Reader::Weak(_)) => return,
    }
    let mut committed = Vec::new();
    for seq in 0..5 {
        commit(&mut w, 1, seq, 9 + seq as usize, &mut committed);
    }
    let what = format!("strong={strong} {fut:?} then {then:?}");
    match then {
        Then::Reuse => assert_frames(&what, &read_all(&mut r, 128), &committed),
        Then::Drop => {
            drop(r);
            let s = chan.stats();
            assert_eq!((s.strong_readers, s.weak_readers), (0, 0), "{what}: {s:?}");
            for seq in 0..20 {
                let ok = w.try_write(&tagged(2, seq, 40)).unwrap();
                assert!(ok.is_some(), "{what}: nothing holds writers back");
            }
        }
    }
}

/// A pending `read`, `read_frame`, `read_frame_into` or `borrow_frame` future, forgotten: the
/// reader reads every later frame in order, or, dropped, holds nothing back.
///
/// Passes on the current code (read futures hold nothing); it guards the promise for every
/// guard type while the fix changes the readers.
#[test]
fn forgotten_pending_read_future_then_reuse_or_drop() {
    guarded("forgotten read futures", || {
        for strong in [true, false] {
            for fut in [
                ReadFut::Read,
                ReadFut::ReadFrame,
                ReadFut::ReadFrameInto,
                ReadFut::BorrowFrame,
            ] {
                for then in [Then::Reuse, Then::Drop] {
                    forgotten_read_future(strong, fut, then);
                }
            }
        }
    });
}

/// Several writers of random sizes interleave commits, aborts, forgotten grants, forgotten
/// pending writes and being dropped and recreated, while a strong and a weak reader read a few
/// frames at a time: each reader delivers exactly the committed frames, in order.
#[test]
fn many_rounds_of_forgets_commits_and_aborts_deliver_exactly_the_committed_frames() {
    for stream in 0..4u64 {
        guarded("mixed rounds", move || mixed_rounds(stream));
    }
}

fn mixed_rounds(stream: u64) {
    let chan = Channel::with_parameters(512, Backpressure::Park);
    let mut rng = Rng::new(stream + 1);
    let mut sr = chan.new_strong_reader();
    let mut wr = chan.new_weak_reader();
    let new_writer = |i: usize| -> Writer {
        if i % 2 == 0 {
            chan.new_strong_writer().into()
        } else {
            chan.new_weak_writer().into()
        }
    };
    let mut writers: Vec<Option<Writer>> = (0..3).map(|i| Some(new_writer(i))).collect();
    let (mut committed, mut got_s, mut got_w) = (Vec::new(), Vec::new(), Vec::new());
    let mut seq = 0u32;
    for _ in 0..ROUNDS {
        let i = rng.below(writers.len());
        let w = writers[i].get_or_insert_with(|| new_writer(i));
        let len = 8 + rng.below(60);
        match rng.below(9) {
            0..=2 => {
                let f = tagged(i as u8, seq, len);
                if let Some(n) = w.try_write(&f).unwrap() {
                    assert_eq!(n, len);
                    committed.push((w.id().unwrap(), f));
                    seq += 1;
                }
            }
            3 => {
                let f = tagged(i as u8, seq, len);
                let done = match w.try_reserve(len).unwrap() {
                    Some(mut g) => {
                        g.put(&f[..len / 2]);
                        g.put(&f[len / 2..]);
                        g.commit() == len
                    }
                    None => false,
                };
                if done {
                    committed.push((w.id().unwrap(), f));
                    seq += 1;
                }
            }
            4 => {
                if let Some(mut g) = w.try_reserve(len).unwrap() {
                    g.put(&poison(len / 2));
                    g.abort();
                }
            }
            5 | 6 => {
                if let Some(mut g) = w.try_reserve(len).unwrap() {
                    g.put(&poison(rng.below(len + 1)));
                    mem::forget(g);
                }
            }
            7 => {
                let p = poison(len);
                let mut fut = Box::pin(w.write(&p));
                match fut.as_mut().poll(&mut noop_cx()) {
                    Poll::Pending => forget_boxed(fut),
                    Poll::Ready(r) => {
                        // It fit: the frame is committed (of poisoned bytes: expected as such).
                        assert_eq!(r, Ok(len));
                        drop(fut);
                        committed.push((w.id().unwrap(), p));
                    }
                }
            }
            _ => writers[i] = None,
        }
        // Both readers read the same number of frames, so the weak one is never lapped.
        let n = rng.below(4);
        got_s.extend(read_some(&mut sr, n, 512));
        got_w.extend(read_some(&mut wr, n, 512));
    }
    drop(writers);
    got_s.extend(read_all(&mut sr, 512));
    got_w.extend(read_all(&mut wr, 512));
    assert_frames("strong reader", &got_s, &committed);
    assert_frames("weak reader", &got_w, &committed);
    let s = chan.stats();
    assert_eq!(s.frames_published, committed.len() as u64, "{s:?}");
    assert_eq!(
        (s.strong_writers, s.weak_writers, s.in_use),
        (0, 0, 0),
        "{s:?}"
    );
}

/// One thread forgets a grant on its writer before every frame it commits (so it reuses a
/// writer whose grant was forgotten, over and over) while another writes normally and a reader
/// thread checks every frame it receives: each writer's frames arrive whole, in order, none
/// missing, none made of forgotten bytes; then end of stream.
#[test]
fn threads_forgetting_grants_while_others_write_and_read() {
    guarded("threaded forgets", || {
        let rounds = ROUNDS as u32;
        let chan = Channel::new(1024);
        let mut r = chan.new_strong_reader();
        let mut forgetter = chan.new_weak_writer();
        let mut plain = chan.new_strong_writer();
        drop(chan);
        let t_forget = std::thread::spawn(move || {
            for seq in 0..rounds {
                let len = 8 + (seq as usize * 7) % 90;
                let mut g = futures::executor::block_on(forgetter.reserve(len)).unwrap();
                g.put(&poison(len));
                mem::forget(g);
                let f = tagged(0, seq, len);
                assert_eq!(forgetter.blocking_write(&f), Ok(len));
            }
        });
        let t_plain = std::thread::spawn(move || write_plain(&mut plain, rounds));
        let mut next = [0u32; 2];
        loop {
            match r.blocking_read_frame(1024) {
                Ok((_, f)) => {
                    let seq = u32::from_le_bytes(f[..4].try_into().unwrap());
                    let t = (0..2u8)
                        .find(|&t| tagged(t, seq, f.len()) == f)
                        .unwrap_or_else(|| panic!("a frame nobody committed: {f:02x?}"));
                    assert_eq!(
                        seq, next[t as usize],
                        "writer {t}: frames in order, none lost"
                    );
                    next[t as usize] += 1;
                }
                Err(ChannelError::EndOfStream) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        t_forget.join().expect("forgetting writer");
        t_plain.join().expect("plain writer");
        assert_eq!(next, [rounds, rounds], "every committed frame arrived");
    });
}

fn write_plain(w: &mut StrongWriter, rounds: u32) {
    for seq in 0..rounds {
        let len = 8 + (seq as usize * 13) % 70;
        assert_eq!(w.blocking_write(&tagged(1, seq, len)), Ok(len));
    }
}

/// A grant forgotten on a writer whose frame was reserved first, with another writer's frame
/// reserved right after it: that frame is delivered once the first writer writes again (never
/// the forgotten bytes), also when the forgotten grant was filled completely.
#[test]
fn frames_behind_a_forgotten_grant_become_readable_after_reuse() {
    guarded("behind a forgotten grant", || {
        let chan = Channel::new(128);
        let mut r = chan.new_strong_reader();
        let mut a: Writer = chan.new_strong_writer().into();
        let mut b: Writer = chan.new_strong_writer().into();
        let mut committed = Vec::new();
        {
            let mut g = a.try_reserve(16).unwrap().unwrap();
            g.put(&poison(16));
            mem::forget(g);
        }
        commit(&mut b, 1, 0, 16, &mut committed);
        let early = read_all(&mut r, 128);
        assert!(early.is_empty() || early == committed[..1]);
        {
            let mut fut = pin!(a.write(b"after"));
            assert_eq!(fut.as_mut().poll(&mut noop_cx()), Poll::Ready(Ok(5)));
        }
        committed.push((a.id().unwrap(), b"after".to_vec()));
        let mut got = early;
        got.extend(read_all(&mut r, 128));
        assert_frames("behind a forgotten grant", &got, &committed);
    });
}

/// `upgrade()` of a weak writer whose grant was forgotten aborts that grant first, as a drop
/// would, so the slot it held is free: with one writer slot, the upgrade succeeds.
#[test]
fn weak_writer_upgrade_after_forgotten_grant_succeeds() {
    let chan =
        bytecast::Channel::try_with_config(bytecast::Config::new(256).max_writers(1)).unwrap();
    let mut w = chan.new_weak_writer();
    let g = w.try_reserve(8).unwrap().unwrap();
    std::mem::forget(g);
    match w.upgrade() {
        Ok(_) => {}
        Err((_, e)) => panic!("upgrade after a forgotten (= aborted) grant failed: {e:?}"),
    }
}
