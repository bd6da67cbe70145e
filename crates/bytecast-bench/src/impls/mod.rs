//! The implementations: bytecast's rows and the peers'.

pub(crate) mod bytecast;
pub(crate) mod peers;
#[cfg(feature = "selium")]
pub(crate) mod selium;
