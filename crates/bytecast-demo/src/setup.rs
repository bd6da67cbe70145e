//! What the command line decides and who plays which part: the settings of a run, when its
//! writers stop, how progress is shown, and the readers' roles. The scene runs them, the view
//! shows them and the report checks them; this module depends on none of those.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use crate::meter::ReaderMeter;

/// When the writers stop.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Plan {
    /// After this many frames each; the drain follows.
    Frames(u64),
    /// When the channels are drained, after this long.
    For(Duration),
}

/// Everything the command line decides.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) writers: u32,
    pub(crate) plan: Plan,
    /// Frame lengths in bytes, header and checksum included.
    pub(crate) lens: RangeInclusive<usize>,
    pub(crate) capacity: usize,
    pub(crate) drop_capacity: usize,
    pub(crate) archivers: u32,
    pub(crate) dashboards: u32,
    pub(crate) dashboard_delay: Duration,
    pub(crate) drop_reader_delay: Duration,
    pub(crate) view: View,
}

/// The kind of reader, which decides what it must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Strong, on the `Park` channel: every frame, in order.
    Archiver,
    /// Weak, on the `Park` channel: in order, with its losses accounted for.
    Dashboard,
    /// Strong, on the `Drop` channel: every frame the channel accepted, in order.
    DropReader,
}

impl Role {
    pub(crate) fn channel(self) -> &'static str {
        match self {
            Self::Archiver | Self::Dashboard => "Park",
            Self::DropReader => "Drop",
        }
    }

    pub(crate) fn kind(self) -> &'static str {
        match self {
            Self::Archiver | Self::DropReader => "strong",
            Self::Dashboard => "weak",
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// Bars redrawn in place on a terminal.
    Live,
    /// A line of totals every so often (CI logs, pipes, `--plain`).
    Plain(Duration),
    /// Nothing (the tests).
    #[cfg(test)]
    Quiet,
}

/// A reader as the view and the summary know it.
#[derive(Debug)]
pub(crate) struct ReaderSlot {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Its id in its channel's per-reader statistics ([`bytecast::Channel::readers`]).
    pub(crate) id: usize,
    pub(crate) meter: Arc<ReaderMeter>,
}
