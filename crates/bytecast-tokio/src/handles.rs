//! The handle newtypes and their tokio trait impls.
//!
//! The newtypes, their conversions, selium-messaging's `read_frame` and `into_stream` are the core's
//! `__adapter_handles!` (shared with `bytecast-futures`); this file adds only tokio's traits.
//! Each trait method is one call into the core's `poll_*` form, charged to tokio's cooperative
//! budget ([`crate::coop`]); errors go through [`bytecast::io`]. Nothing here keeps state,
//! retries, buffers or decides anything.

use crate::coop::budgeted;
use crate::FrameStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

bytecast::__adapter_handles! {
    traits: "tokio's I/O traits",
    stream: FrameStream,
    budget: crate::coop::budgeted,
}

/// `AsyncRead` for each reader.
macro_rules! async_read {
    ($($name:ident),*) => {$(
        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let core = &mut self.get_mut().0;
                budgeted(cx, |cx| core.poll_read(cx, buf.initialize_unfilled()))
                    .map(|r| bytecast::io::read_result(r).map(|n| buf.advance(n)))
            }
        }
    )*};
}

/// `AsyncWrite` for each writer: one frame per `poll_write`.
macro_rules! async_write {
    ($($name:ident),*) => {$(
        impl AsyncWrite for $name {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let core = &mut self.get_mut().0;
                budgeted(cx, |cx| core.poll_write(cx, buf)).map(bytecast::io::write_result)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    )*};
}

async_read!(StrongReader, WeakReader, Reader);
async_write!(StrongWriter, WeakWriter, Writer);

/// Zero copy: `fill_buf` lends the rest of the current frame straight from the ring.
impl AsyncBufRead for StrongReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let core = &mut self.get_mut().0;
        budgeted(cx, |cx| core.poll_fill_buf(cx)).map_err(io::Error::from)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().0.consume(amt);
    }
}
