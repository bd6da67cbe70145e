//! [`FrameStream`]: a reader's frames as a [`Stream`], shaped like tokio-stream's
//! `BroadcastStream`. All of it is the core's `__adapter_frame_stream!`, shared with
//! `bytecast-tokio`; this file gives the doc example its runtime.

use crate::Reader;
use futures_core::Stream;

bytecast::__adapter_frame_stream! {
    budget: bytecast::__no_budget,
    example: {
        /// ```
        /// use bytecast_futures::Channel;
        /// use futures::{AsyncWriteExt, StreamExt};
        ///
        /// # futures::executor::block_on(async {
        /// let chan = Channel::new(1024);
        /// let mut writer = chan.new_strong_writer();
        /// let frames = chan.new_strong_reader().into_stream();
        /// writer.write_all(b"one").await?;
        /// writer.write_all(b"two").await?;
        /// chan.drain().map_err(std::io::Error::from)?;
        ///
        /// let got: Vec<_> = frames.map(|f| f.unwrap().1).collect().await;
        /// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
        /// # std::io::Result::Ok(())
        /// # }).unwrap();
        /// ```
    },
}
