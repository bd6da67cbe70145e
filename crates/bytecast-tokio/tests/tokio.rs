//! The behaviour suite (`common/mod.rs`) on tokio's current-thread and multi-thread runtimes.
//! Each case runs under a 20 s timeout, so a lost wake-up fails instead of hanging.

mod common;

use std::future::Future;
use std::time::Duration;

async fn guard(case: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(20), case)
        .await
        .expect("the case hung for 20 s");
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod current_thread {
            $(
                #[tokio::test]
                async fn $case() {
                    super::guard(super::common::$case()).await;
                }
            )*
        }

        mod multi_thread {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::guard(super::common::$case()).await;
                }
            )*
        }
    };
}

suite!(
    round_trip,
    byte_reads_are_a_pipe,
    end_of_stream_is_no_data_on_every_face,
    lossy_stream_gives_the_loss_as_an_item,
    sink_writes_one_frame_per_item,
    shutdown_gives_the_writer_up,
    weak_writer_clones_write_too,
    many_writers_frames_whole_ordered_attributed,
    fan_out_to_several_strong_readers,
    weak_reader_loss_and_resume,
    drop_mode_write_all_gives_write_zero,
    terminate_wakes_parked_reader_and_writer,
    drain_ends_copy_and_read_to_end,
    write_while_draining_is_broken_pipe,
    dropped_pending_read_or_write_leaves_channel_healthy,
    selium_names_and_conversions,
);
