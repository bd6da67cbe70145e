//! An in-memory, asynchronous, many-to-many **byte** channel with explicit backpressure.
//!
//! One ring buffer, many writers, many readers, every cursor a monotonic log position.
//!
//! - Each write is one **frame**: a contiguous slice of the log, attributed to its writer.
//!   Frames of different writers never interleave; readers see frames in reservation order.
//! - **Strong readers** gate writers: nothing they have not read is overwritten. **Weak readers**
//!   never gate writers: when lapped they get [`ChannelError::ReaderBehind`] with the exact
//!   payload bytes lost and resume at the oldest frame still whole. A torn frame is never
//!   delivered.
//! - **Strong writers** hold a writer slot for their life; **weak writers** take one per frame.
//! - [`Backpressure::Park`]: a writer waits for space. [`Backpressure::Drop`]: a frame that does
//!   not fit is refused whole ([`ChannelError::Full`]) and counted.
//! - [`Channel::terminate`] aborts everyone at once; [`Channel::drain`] refuses new frames and
//!   lets readers finish, then gives them end of stream.
//!
//! The crate is `#![no_std]` + `alloc` and runtime-agnostic: it exposes `try_*` (never waits),
//! `poll_*` (any executor) and `async fn` forms of every operation. Adapter crates bind the
//! `poll_*` forms to tokio's and futures-io's traits.
//!
//! # Example
//! ```
//! use bytecast::{Backpressure, Channel, ChannelError};
//! # futures::executor::block_on(async {
//! let chan = Channel::with_parameters(256, Backpressure::Park);
//! let mut writer = chan.new_strong_writer();
//! let mut archive = chan.new_strong_reader();
//! let mut dashboard = chan.new_weak_reader();
//!
//! // Zero-copy-style writing: reserve, fill, commit.
//! let mut grant = writer.reserve(11).await?;
//! grant.put(b"hello ");
//! grant.put(b"world");
//! grant.commit();
//!
//! let (id, frame) = archive.read_frame(64).await?;
//! assert_eq!(Some(id), writer.id());
//! assert_eq!(frame, b"hello world");
//!
//! let mut buf = [0u8; 5];
//! assert_eq!(dashboard.read(&mut buf).await?, 5); // byte reads cross frame boundaries
//! assert_eq!(&buf, b"hello");
//!
//! chan.drain()?;
//! assert_eq!(archive.read_frame(64).await, Err(ChannelError::EndOfStream));
//! # Ok::<(), ChannelError>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | `std::io::Error` conversions ([`io`]), `blocking_*` methods that park the thread |
//! | `critical-section` | no | every step another context may spin on (gate-lock and spin-lock holds, seqlock writes) runs in a critical section of the `critical-section` crate, so an interrupt handler may call any operation whatever the code it preempted was doing; without it, lock-free and wait-free paths stay so but a handler may spin on a lock its preempted code holds (`docs/design.md`, "Progress guarantees") |
//! | `portable-atomic` | no | atomics from portable-atomic and, on targets without compare-and-swap (thumbv6m), `Arc` from portable-atomic-util, which `Channel`'s constructors then return; there, enable `critical-section` too, or portable-atomic's `unsafe-assume-single-core` |
//!
//! # Blocking calls
//!
//! The `blocking_*` methods (`std`) park the calling thread until the operation completes. Call
//! them from plain threads only: inside an async task they deadlock whenever the task that would
//! make progress (the reader a writer waits for, or the writer a reader waits for) runs on the
//! same thread, as every task of a current-thread runtime does. In async code `.await` the
//! `async fn` forms, or move the blocking call to a thread of its own (e.g. tokio's
//! `spawn_blocking`). The crate cannot detect the mistake: it knows no runtime, only wakers.
//! The thread-parking executor behind them is not public, so that nothing invites running
//! other futures on it:
//!
//! ```compile_fail,E0603
//! bytecast::blocking::block_on(async {});
//! ```
//!
//! # Memory ordering
//!
//! Bytes a writer put into a frame before committing it happen-before a reader receiving that
//! frame. A weak reader's copy is made with atomic word loads and validated afterwards, so it is
//! never a data race, and a copy that may have been overwritten is discarded, never delivered.
//!
//! # Targets without 64-bit atomics
//!
//! Positions are `usize` atomics. On 32-bit targets (e.g. `thumbv7em-none-eabihf`) they wrap
//! every 4 GiB: positions are compared by distance, and a weak reader left idle across more
//! than a quarter of that is flagged as lapped before distances to it stop being exact, so it is
//! told exactly what it lost. The counts kept with positions (frames and payload bytes, hence
//! every loss report) are `u64` on every target, in two words on 32-bit ones.
//!
//! # Frame size and memory
//!
//! [`Channel::max_frame_len`] is the capacity less the 8-byte record header: a ring sized to its
//! largest message carries it whole. Records that cross the end of the ring run on into a spare
//! tail, so the ring's allocation is `2 × capacity − 8` bytes, made once at construction.
//!
//! # Leaked guards
//!
//! Forgetting a [`WriteGrant`] (`mem::forget`) is safe: its writer aborts the frame at its next
//! call or when it is dropped; until then the frames reserved after it wait, as behind any open
//! grant.
//!
//! See `docs/design.md` for the protocol, `docs/semantics.md` for each promise and the test that
//! shows it, and `docs/porting.md` for moving from `selium-messaging`.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod channel;
mod config;
mod error;
mod frame;
pub mod poll;
mod reader;
mod ring;
mod shared;
mod sync;
mod writer;

#[cfg(feature = "std")]
mod blocking;
#[cfg(feature = "std")]
pub mod io;

#[cfg(all(test, bytecast_loom))]
mod loom_edges;
#[cfg(all(test, bytecast_loom))]
mod loom_publication;
#[cfg(all(test, bytecast_loom))]
mod loom_wakeups;

pub use channel::{Channel, Stats};
pub use config::{Backpressure, Config, MAX_CAPACITY, MAX_HANDLES, MIN_CAPACITY};
pub use error::ChannelError;
pub use frame::record_len;
pub use poll::{Delivery, Frame, Loss};
#[cfg(not(all(test, bytecast_loom)))]
pub use reader::FrameRef;
pub use reader::{Reader, StartAt, StrongReader, WeakReader};
pub use shared::ReaderStats;
pub use writer::{Reserve, StrongWriter, WeakWriter, WriteGrant, Writer};
