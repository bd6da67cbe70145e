//! The implementations: bytecast's rows and the peers', and the copy job's rows.

pub(crate) mod bytecast;
pub(crate) mod copy;
pub(crate) mod peers;
#[cfg(feature = "selium")]
pub(crate) mod selium;
