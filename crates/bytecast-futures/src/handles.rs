//! The handle newtypes and their futures-io trait impls.
//!
//! The newtypes, their conversions, selium-messaging's `read_frame` and `into_stream` are the core's
//! `__adapter_handles!` (shared with `bytecast-tokio`); this file adds only futures-io's traits.
//! Each trait method is one call into the core's `poll_*` form; errors go through
//! [`bytecast::io`]. Nothing here keeps state, retries, buffers or decides anything.

use crate::FrameStream;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

bytecast::__adapter_handles! {
    traits: "futures-io's traits",
    stream: FrameStream,
    // futures-io's executors have no cooperative budget to charge.
    budget: bytecast::__no_budget,
}

/// `AsyncRead` for each reader.
macro_rules! async_read {
    ($($name:ident),*) => {$(
        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut()
                    .0
                    .poll_read(cx, buf)
                    .map(bytecast::io::read_result)
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
                self.get_mut()
                    .0
                    .poll_write(cx, buf)
                    .map(bytecast::io::write_result)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
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
        self.get_mut().0.poll_fill_buf(cx).map_err(io::Error::from)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().0.consume(amt);
    }
}
