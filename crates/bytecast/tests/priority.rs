//! The admission priority of writers waiting for space (`docs/design.md`, "Admission
//! priority"): a holder whose claim was taken over asks again, the last holder lets others go
//! first once but is never starved by writers that cannot claim (waiting for a slot, or with a
//! cancelled wait), a weak writer's forgotten wait holds no slot, and `upgrade` after a wait is
//! not refused for want of a slot.

#[path = "support/edges.rs"]
mod edges;
#[path = "support/harness.rs"]
mod harness;

use bytecast::{Backpressure, Channel, Config};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

fn cx() -> Context<'static> {
    Context::from_waker(futures::task::noop_waker_ref())
}

fn chan(cap: usize, bp: Backpressure) -> Arc<Channel> {
    Channel::try_with_config(Config::new(cap).backpressure(bp)).unwrap()
}

fn chan_w(cap: usize, bp: Backpressure, max_writers: usize) -> Arc<Channel> {
    Channel::try_with_config(Config::new(cap).backpressure(bp).max_writers(max_writers)).unwrap()
}

#[test]
fn holder_whose_priority_was_taken_over_asks_again() {
    harness::guarded("revoked holder", || {
        let c = chan(256, Backpressure::Park);
        let mut r = c.new_strong_reader();
        let mut big = c.new_strong_writer();
        let mut small = c.new_strong_writer();
        let max = c.max_frame_len();
        let payload = vec![0xB1; max];
        assert_eq!(small.try_write(&[1; 8]), Ok(Some(8)));
        let mut fut = pin!(big.write(&payload));
        // Waits (ring not empty) and takes the admission priority.
        assert!(fut.as_mut().poll(&mut cx()).is_pending());
        // The reader frees the ring; the holder was woken, but the small writer runs first
        // and keeps trying (a `try_write` loop): after PRIORITY_PATIENCE refusals it takes over.
        r.try_read_frame(256).unwrap().unwrap();
        let mut took_over = false;
        for _ in 0..200 {
            if small.try_write(&[2; 8]).unwrap().is_some() {
                took_over = true;
                break;
            }
        }
        assert!(
            took_over,
            "precondition: the small writer takes the priority over"
        );
        // From now on the big writer is polled every step, the small writer writes one frame
        // per step, the reader reads one frame per step. A big writer that asks again is
        // admitted within a few steps.
        let mut admitted = None;
        for step in 0..200 {
            if let Poll::Ready(res) = fut.as_mut().poll(&mut cx()) {
                assert_eq!(res, Ok(max));
                admitted = Some(step);
                break;
            }
            let _ = r.try_read_frame(256).unwrap();
            let _ = small.try_write(&[3; 8]).unwrap();
        }
        assert!(
            admitted.is_some(),
            "full-size writer starved after its claim was taken over"
        );
    });
}

#[test]
fn last_holder_is_not_starved_by_a_writer_waiting_for_a_slot() {
    harness::guarded("turns", || {
        let c = chan_w(256, Backpressure::Park, 2);
        let mut r = c.new_strong_reader();
        let mut big = c.new_strong_writer();
        let mut small = c.new_strong_writer();
        let mut weak = c.new_weak_writer();
        let max = c.max_frame_len();
        let payload = vec![0xB1; max];
        // First full-size frame: `big` holds the priority once and gives it back.
        assert_eq!(small.try_write(&[1; 8]), Ok(Some(8)));
        {
            let mut fut = pin!(big.write(&payload));
            assert!(fut.as_mut().poll(&mut cx()).is_pending());
            r.try_read_frame(256).unwrap().unwrap();
            assert_eq!(fut.as_mut().poll(&mut cx()), Poll::Ready(Ok(max)));
        }
        // A weak writer waits for a slot (both are held by strong writers).
        let mut wfut = Box::pin(weak.write(&[9; 8]));
        assert!(wfut.as_mut().poll(&mut cx()).is_pending());
        // Second full-size frame, with small frames arriving each step.
        let mut fut = pin!(big.write(&payload));
        let mut admitted = false;
        for _ in 0..200 {
            if let Poll::Ready(res) = fut.as_mut().poll(&mut cx()) {
                assert_eq!(res, Ok(max));
                admitted = true;
                break;
            }
            let _ = r.try_read_frame(256).unwrap();
            while small.try_write(&[3; 8]).unwrap().is_some() {}
        }
        assert!(
            admitted,
            "full-size writer starved: it never claims the priority again"
        );
        drop(wfut);
    });
}

// Same, with the rival being a strong writer whose `write` future was dropped while pending
// (cancel safe, documented) while the priority was held by someone else: its `sleeping` flag
// stays set and counts as a waiting writer for ever.
#[test]
fn last_holder_is_not_starved_by_a_cancelled_write() {
    harness::guarded("turns-cancelled", || {
        let c = chan(256, Backpressure::Park);
        let mut r = c.new_strong_reader();
        let mut big = c.new_strong_writer();
        let mut small = c.new_strong_writer();
        let max = c.max_frame_len();
        let payload = vec![0xB1; max];
        assert_eq!(small.try_write(&[1; 8]), Ok(Some(8)));
        {
            let mut fut = pin!(big.write(&payload));
            assert!(fut.as_mut().poll(&mut cx()).is_pending());
            // The small writer's `write` waits while `big` holds the priority, and is cancelled
            // (e.g. a timeout in a `select!`).
            {
                let mut sfut = pin!(small.write(&[5; 8]));
                assert!(sfut.as_mut().poll(&mut cx()).is_pending());
            }
            r.try_read_frame(256).unwrap().unwrap();
            assert_eq!(fut.as_mut().poll(&mut cx()), Poll::Ready(Ok(max)));
        }
        let mut fut = pin!(big.write(&payload));
        let mut admitted = false;
        for _ in 0..200 {
            if let Poll::Ready(res) = fut.as_mut().poll(&mut cx()) {
                assert_eq!(res, Ok(max));
                admitted = true;
                break;
            }
            let _ = r.try_read_frame(256).unwrap();
            while small.try_write(&[3; 8]).unwrap().is_some() {}
        }
        assert!(
            admitted,
            "full-size writer starved after another writer cancelled a write"
        );
    });
}

#[test]
fn forgotten_pending_reserve_of_weak_writer_does_not_hold_a_slot_forever() {
    harness::guarded("forgotten weak reserve", || {
        let c = chan_w(256, Backpressure::Park, 1);
        let mut r = c.new_strong_reader();
        let mut w1 = c.new_weak_writer();
        let mut w2 = c.new_weak_writer();
        let max = c.max_frame_len();
        assert_eq!(w1.try_write(&[1; 8]), Ok(Some(8)));
        {
            let mut fut = Box::pin(w1.reserve(max));
            assert!(fut.as_mut().poll(&mut cx()).is_pending());
            // Forgotten, kept reachable (so that Miri does not report the box as leaked).
            edges::forget_boxed(fut);
        }
        r.try_read_frame(256).unwrap().unwrap();
        let mut wrote = false;
        for _ in 0..1000 {
            if w2.try_write(&[2; 8]).unwrap().is_some() {
                wrote = true;
                break;
            }
        }
        assert!(
            wrote,
            "second weak writer never gets a slot: the forgotten wait keeps it"
        );
    });
}

// The same slot makes `upgrade` of the waiting weak writer itself fail with TooManyWriters
// although it is the only writer of a one-writer channel.
#[test]
fn upgrade_of_weak_writer_that_waited_is_not_too_many_writers() {
    let c = chan_w(256, Backpressure::Park, 1);
    let mut r = c.new_strong_reader();
    let mut w = c.new_weak_writer();
    let max = c.max_frame_len();
    assert_eq!(w.try_write(&[1; 8]), Ok(Some(8)));
    assert!(w.poll_write(&mut cx(), &vec![2; max]).is_pending());
    r.try_read_frame(256).unwrap().unwrap();
    match w.upgrade() {
        Ok(_) => {}
        Err((_, e)) => panic!("upgrade of the only writer failed: {e:?}"),
    }
}
