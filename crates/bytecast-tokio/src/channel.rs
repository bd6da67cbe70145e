//! [`Channel`]: the core's channel, handing out this crate's handles.
//!
//! All of it is the core's `__adapter_channel!`, shared with `bytecast-futures`.

use crate::{Reader, StrongReader, StrongWriter, WeakReader, WeakWriter, Writer};

bytecast::__adapter_channel! {
    krate: "bytecast_tokio",
    traits: "tokio's I/O traits",
    copy: "tokio::io::copy",
}
