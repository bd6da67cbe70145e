//! The behaviour suite (`common/mod.rs`) on smol.

#[macro_use]
mod common;

use std::future::Future;
use std::pin::Pin;

struct Smol;

impl common::Spawn for Smol {
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        Box::pin(smol::spawn(task))
    }
}

suite!(Smol, smol::block_on);
