//! [`FrameStream`]: a reader's frames as a [`Stream`], shaped like tokio-stream's
//! `BroadcastStream`. All of it is the core's `__adapter_frame_stream!`, shared with
//! `bytecast-futures`; this file gives it tokio's budget ([`crate::coop`]) and the doc example its
//! runtime.

use crate::Reader;
use futures_core::Stream;

bytecast::__adapter_frame_stream! {
    budget: crate::coop::budgeted,
    example: {
        /// ```
        /// use bytecast_tokio::Channel;
        /// use futures::StreamExt;
        /// use tokio::io::AsyncWriteExt;
        ///
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() -> std::io::Result<()> {
        /// let chan = Channel::new(1024);
        /// let mut writer = chan.new_strong_writer();
        /// let frames = chan.new_strong_reader().into_stream();
        /// writer.write_all(b"one").await?;
        /// writer.write_all(b"two").await?;
        /// chan.drain().map_err(std::io::Error::from)?;
        ///
        /// let got: Vec<_> = frames.map(|f| f.unwrap().1).collect().await;
        /// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
        /// # Ok(())
        /// # }
        /// ```
    },
}
