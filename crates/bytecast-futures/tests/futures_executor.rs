//! The behaviour suite (`common/mod.rs`) on `futures::executor`: `block_on` for the case,
//! a `ThreadPool` for the tasks it spawns.

#[macro_use]
mod common;

use futures::executor::{block_on, ThreadPool};
use futures::task::SpawnExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

struct Futures;

impl common::Spawn for Futures {
    fn spawn<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Pin<Box<dyn Future<Output = T> + Send>> {
        static POOL: OnceLock<ThreadPool> = OnceLock::new();
        let pool = POOL.get_or_init(|| ThreadPool::builder().pool_size(2).create().unwrap());
        Box::pin(
            pool.spawn_with_handle(task)
                .expect("the pool accepts tasks"),
        )
    }
}

suite!(Futures, block_on);
