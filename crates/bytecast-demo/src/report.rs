//! The closing summary: tables of writers and readers, the checks, and the verdict.

use std::fmt::{self, Write as _};

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use indicatif::{HumanBytes, HumanCount};

use crate::scene::{Outcome, ReaderReport};
use crate::setup::Role;
use crate::view::rate;

/// One verified claim.
#[derive(Debug)]
pub(crate) struct Check {
    pub(crate) claim: &'static str,
    pub(crate) ok: bool,
    /// The numbers behind it, or what went wrong.
    pub(crate) detail: String,
}

/// The summary, and whether every check passed.
pub(crate) fn summary(outcome: &Outcome, fancy: bool) -> (String, bool) {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_summary(&mut out, outcome, fancy);
    let checks = checks(outcome);
    for c in &checks {
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            if c.ok { "ok" } else { "FAILED" },
            c.claim,
            c.detail
        );
    }
    let _ = writeln!(out, "\n{}", verdict(&checks));
    (out, checks.iter().all(|c| c.ok))
}

fn write_summary(out: &mut String, outcome: &Outcome, fancy: bool) -> fmt::Result {
    writeln!(out)?;
    writeln!(out, "{}", writers_table(outcome, fancy))?;
    writeln!(out)?;
    writeln!(out, "{}", readers_table(outcome, fancy))?;
    writeln!(out)?;
    let (park, drop) = (&outcome.park, &outcome.drop);
    writeln!(
        out,
        "Park channel: {} ring, {} frames ({}) published · Drop channel: {} ring, {} frames ({}) published, dropped_frames {}",
        HumanBytes(park.capacity as u64),
        HumanCount(park.frames_published),
        HumanBytes(park.bytes_published),
        HumanBytes(drop.capacity as u64),
        HumanCount(drop.frames_published),
        HumanBytes(drop.bytes_published),
        HumanCount(drop.dropped_frames),
    )?;
    let stopped = outcome
        .writers
        .iter()
        .filter(|w| w.stopped_by_drain)
        .count();
    writeln!(
        out,
        "Writing {:.2} s, Park throughput {} ({:.2} M frames/s); drain: {stopped} writer(s) stopped by it, {:.2} ms to the last end of stream",
        outcome.writing.as_secs_f64(),
        rate(park.bytes_published, outcome.writing),
        park.frames_published as f64 / outcome.writing.as_secs_f64().max(1e-3) / 1e6,
        outcome.draining.as_secs_f64() * 1e3,
    )?;
    writeln!(out)
}

/// The verdict line.
pub(crate) fn verdict(checks: &[Check]) -> String {
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.claim).collect();
    if failed.is_empty() {
        let claims: Vec<&str> = checks.iter().map(|c| c.claim).collect();
        format!("verdict: OK ({})", claims.join(", "))
    } else {
        format!("verdict: FAILED ({})", failed.join(", "))
    }
}

/// On a terminal: box drawing, fitted to its width. Otherwise: a Markdown table at full width.
fn table(fancy: bool) -> Table {
    let mut t = Table::new();
    if fancy {
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        if let Some((_, cols)) = console::Term::stdout().size_checked() {
            t.set_width(cols)
                .set_content_arrangement(ContentArrangement::Dynamic);
        }
    } else {
        t.load_preset(presets::ASCII_MARKDOWN);
    }
    t
}

fn right(text: impl ToString) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

fn writers_table(o: &Outcome, fancy: bool) -> Table {
    let mut t = table(fancy);
    t.set_header([
        "writer",
        "id",
        "Park frames",
        "Park bytes",
        "throughput",
        "Drop kept",
        "Drop refused",
        "refused",
    ]);
    let row = |name: String, id: String, frames, bytes, secs, kept, refused| {
        let offered = kept + refused;
        vec![
            Cell::new(name),
            right(id),
            right(HumanCount(frames)),
            right(HumanBytes(bytes)),
            right(rate(bytes, secs)),
            right(HumanCount(kept)),
            right(HumanCount(refused)),
            right(format!(
                "{:.1}%",
                100.0 * refused as f64 / offered.max(1) as f64
            )),
        ]
    };
    for w in &o.writers {
        t.add_row(row(
            format!("writer {}", w.index),
            w.park_id.to_string(),
            w.frames,
            w.bytes,
            w.elapsed,
            w.kept,
            w.refused,
        ));
    }
    let sum = |f: fn(&crate::scene::WriterReport) -> u64| o.writers.iter().map(f).sum::<u64>();
    t.add_row(row(
        "all writers".to_owned(),
        String::new(),
        sum(|w| w.frames),
        sum(|w| w.bytes),
        o.writing,
        sum(|w| w.kept),
        sum(|w| w.refused),
    ));
    t
}

/// One column per reader (so that it fits a terminal however many writers there are).
fn readers_table(o: &Outcome, fancy: bool) -> Table {
    let mut t = table(fancy);
    let mut header = vec![Cell::new("reader")];
    header.extend(o.readers.iter().map(|r| right(&r.name)));
    t.set_header(header);
    let written: u64 = o.writers.iter().map(|w| w.frames).sum();
    let written_bytes: u64 = o.writers.iter().map(|w| w.bytes).sum();
    let kept: u64 = o.writers.iter().map(|w| w.kept).sum();
    let kept_bytes: u64 = o.writers.iter().map(|w| w.kept_bytes).sum();
    // What each reader should have seen: everything written to its channel.
    let offered = |r: &ReaderReport| match r.role {
        Role::Archiver | Role::Dashboard => (written, written_bytes),
        Role::DropReader => (kept, kept_bytes),
    };
    let mut row = |label: &str, cell: &dyn Fn(&ReaderReport) -> String| {
        let mut cells = vec![Cell::new(label)];
        cells.extend(o.readers.iter().map(|r| right(cell(r))));
        t.add_row(cells);
    };
    row("channel", &|r| {
        format!("{}, {}", r.role.channel(), r.role.kind())
    });
    row("frames", &|r| HumanCount(r.frames).to_string());
    row("bytes", &|r| HumanBytes(r.bytes).to_string());
    row("throughput", &|r| rate(r.bytes, r.elapsed));
    row("lost frames", &|r| {
        HumanCount(offered(r).0.saturating_sub(r.frames)).to_string()
    });
    row("lost bytes", &|r| {
        HumanBytes(offered(r).1.saturating_sub(r.bytes)).to_string()
    });
    row("ReaderBehind reports", &|r| match r.role {
        Role::Dashboard => HumanCount(r.loss_reports).to_string(),
        Role::Archiver | Role::DropReader => "-".to_owned(),
    });
    row("torn", &|r| r.torn.to_string());
    row("out of order, misattributed", &|r| {
        format!("{}, {}", r.out_of_order, r.misattributed)
    });
    row("left to read at drain", &|r| {
        HumanBytes(r.lag_at_drain).to_string()
    });
    t
}

/// Every claim the demo makes, checked against what the tasks counted.
pub(crate) fn checks(o: &Outcome) -> Vec<Check> {
    let written: u64 = o.writers.iter().map(|w| w.frames).sum();
    let written_bytes: u64 = o.writers.iter().map(|w| w.bytes).sum();
    let kept: u64 = o.writers.iter().map(|w| w.kept).sum();
    let kept_bytes: u64 = o.writers.iter().map(|w| w.kept_bytes).sum();
    let refused: u64 = o.writers.iter().map(|w| w.refused).sum();
    let of = |role| {
        o.readers
            .iter()
            .filter(move |r: &&ReaderReport| r.role == role)
    };

    // Strong readers of the Park channel: every frame of every writer, in order.
    let mut problems = Vec::new();
    for r in of(Role::Archiver) {
        for (w, (&got, writer)) in r.per_writer.iter().zip(&o.writers).enumerate() {
            if got != writer.frames {
                problems.push(format!(
                    "{} got {got} of writer {w}'s {} frames",
                    r.name, writer.frames
                ));
            }
        }
        if r.out_of_order + r.misattributed > 0 {
            problems.push(format!(
                "{}: {} frames out of sequence, {} misattributed",
                r.name, r.out_of_order, r.misattributed
            ));
        }
    }
    let archivers = of(Role::Archiver).count();
    let strong = Check {
        claim: "strong readers lost nothing",
        ok: problems.is_empty(),
        detail: if !problems.is_empty() {
            problems.join("; ")
        } else if archivers == 0 {
            "no archiver in this run".to_owned()
        } else {
            format!(
                "{archivers} archiver(s) got all {} frames, each writer's sequence complete and in order",
                HumanCount(written)
            )
        },
    };

    let torn: u64 = o.readers.iter().map(|r| r.torn).sum();
    let misattributed: u64 = o.readers.iter().map(|r| r.misattributed).sum();
    let delivered: u64 = o.readers.iter().map(|r| r.frames).sum();
    let whole = Check {
        claim: "no torn frame anywhere",
        ok: torn == 0 && misattributed == 0,
        detail: format!(
            "{} frames delivered to {} readers: {torn} failed the checksum, {misattributed} carried another writer's id",
            HumanCount(delivered),
            o.readers.len()
        ),
    };

    // Weak readers: what they got plus what they were told they lost is everything written.
    let mut problems = Vec::new();
    let mut details = Vec::new();
    for r in of(Role::Dashboard) {
        if r.frames + r.lost_frames != written {
            problems.push(format!(
                "{}: {} delivered + {} lost != {written} written",
                r.name, r.frames, r.lost_frames
            ));
        }
        if r.bytes + r.lost_bytes != written_bytes {
            problems.push(format!(
                "{}: {} bytes delivered + {} lost != {written_bytes} written",
                r.name, r.bytes, r.lost_bytes
            ));
        }
        if r.reported_lost_bytes != r.lost_bytes {
            problems.push(format!(
                "{}: ReaderBehind reports add up to {} bytes, its counter says {}",
                r.name, r.reported_lost_bytes, r.lost_bytes
            ));
        }
        if r.out_of_order + r.misattributed > 0 {
            problems.push(format!(
                "{}: {} frames out of order, {} misattributed",
                r.name, r.out_of_order, r.misattributed
            ));
        }
        details.push(format!(
            "{}: {} delivered + {} lost = {} frames, {} + {} = {} bytes (ReaderBehind reports: {}, adding up to {} bytes)",
            r.name,
            HumanCount(r.frames),
            HumanCount(r.lost_frames),
            HumanCount(r.frames + r.lost_frames),
            HumanCount(r.bytes),
            HumanCount(r.lost_bytes),
            HumanCount(r.bytes + r.lost_bytes),
            HumanCount(r.loss_reports),
            HumanCount(r.reported_lost_bytes),
        ));
    }
    let weak = Check {
        claim: "weak losses add up",
        ok: problems.is_empty(),
        detail: if !problems.is_empty() {
            problems.join("; ")
        } else if details.is_empty() {
            "no dashboard in this run".to_owned()
        } else {
            details.join("; ")
        },
    };

    // The Drop channel: its counter, the writers' refusals and the reader's frames agree.
    let mut problems = Vec::new();
    if o.drop.dropped_frames != refused {
        problems.push(format!(
            "dropped_frames is {}, writers saw {refused} refused",
            o.drop.dropped_frames
        ));
    }
    if o.drop.frames_published != kept || o.drop.bytes_published != kept_bytes {
        problems.push(format!(
            "published {} frames ({} bytes), writers saw {kept} ({kept_bytes} bytes) kept",
            o.drop.frames_published, o.drop.bytes_published
        ));
    }
    for r in of(Role::DropReader) {
        for (w, (&got, writer)) in r.per_writer.iter().zip(&o.writers).enumerate() {
            if got != writer.kept {
                problems.push(format!(
                    "{} got {got} of writer {w}'s {} kept frames",
                    r.name, writer.kept
                ));
            }
        }
        if r.out_of_order + r.misattributed > 0 {
            problems.push(format!(
                "{}: {} frames out of order, {} misattributed",
                r.name, r.out_of_order, r.misattributed
            ));
        }
    }
    let dropped = Check {
        claim: "drop counters agree",
        ok: problems.is_empty(),
        detail: if problems.is_empty() {
            format!(
                "dropped_frames = {} = frames the writers saw refused; the slow reader got all {} kept",
                HumanCount(refused),
                HumanCount(kept)
            )
        } else {
            problems.join("; ")
        },
    };

    // The Park channel's own counters match the writers'.
    let park = Check {
        claim: "channel counters agree",
        ok: o.park.frames_published == written && o.park.bytes_published == written_bytes,
        detail: format!(
            "Park published {} frames / {} bytes; writers wrote {} / {}",
            HumanCount(o.park.frames_published),
            HumanCount(o.park.bytes_published),
            HumanCount(written),
            HumanCount(written_bytes)
        ),
    };

    vec![strong, whole, weak, dropped, park]
}
