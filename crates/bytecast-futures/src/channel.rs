//! [`Channel`]: the core's channel, handing out this crate's handles.
//!
//! All of it is the core's `__adapter_channel!`, shared with `bytecast-tokio`.

use crate::{Reader, StrongReader, StrongWriter, WeakReader, WeakWriter, Writer};

bytecast::__adapter_channel! {
    krate: "bytecast_futures",
    traits: "futures-io's traits",
    copy: "futures::io::copy",
}
