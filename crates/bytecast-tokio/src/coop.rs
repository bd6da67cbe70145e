//! tokio's cooperative budget: every channel operation of this crate's handles, streams and
//! sink is charged to the polling task's budget, as tokio's own
//! I/O and sync types are.
//!
//! A task that keeps reading frames that are already there, or writing into a ring with room,
//! would otherwise never return `Pending`, and on its worker no other task would run until it
//! stopped. With the budget, once the task has made its runtime's quota of operations in one
//! poll (128 in tokio 1.x), the next operation returns `Pending` without touching the channel,
//! tokio polls the other tasks, and then this one again. Outside a tokio runtime, and inside
//! [`tokio::task::coop::unconstrained`], nothing is charged.
//!
//! The core handle's own async methods, reached through `Io::get_mut` (`read_frame_into`,
//! `write`, `reserve`, ...), are runtime-agnostic and charge nothing; a task looping on them
//! alone yields only when it has to wait.

use std::task::{ready, Context, Poll};
use tokio::task::coop;

/// Polls `op` for the task in `cx`, charging one unit of its budget if `op` completes (a
/// `Pending` result gives the unit back, so waiting costs nothing). When the budget is spent,
/// returns `Pending` without polling `op`; tokio has then arranged to poll the task again.
#[inline]
pub(crate) fn budgeted<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let charge = ready!(coop::poll_proceed(cx));
    let polled = op(cx);
    if polled.is_ready() {
        charge.made_progress();
    }
    polled
}
