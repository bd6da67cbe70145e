//! The behaviour suite (`common/mod.rs`) on async-std (discontinued upstream; kept here, as a
//! dev-dependency only, to show the adapter runs on the executors users still have).

#[macro_use]
mod common;

use std::future::Future;
use std::pin::Pin;

struct AsyncStd;

impl common::Spawn for AsyncStd {
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(async_std::task::spawn(task))
    }
}

suite!(AsyncStd, async_std::task::block_on);
