//! `docs/bench.svg`: horizontal bars of frames/s per reader on a log scale, one group per
//! headline workload. Written as plain SVG text (no plotting or font dependency: the viewer
//! renders the text).

use std::fmt::Write as _;

use crate::cells::{Class, Impl, IMPLS};
use crate::report::{copy_window, rate, CellReport, Machine, Settings};

/// The workloads the chart shows.
const SHOWN: &[&str] = &[
    "1to1-64B",
    "1to1-1KiB",
    "1to1-64KiB",
    "1to4-64B",
    "4to1-64B",
    "1to16-64B",
    "copy-sink-64B",
    "copy-tcp-64B",
];

const WIDTH: f64 = 920.0;
const LABEL: f64 = 150.0;
const PLOT_X0: f64 = 160.0;
const PLOT_X1: f64 = 820.0;
const BAR: f64 = 13.0;
const GAP: f64 = 3.0;
const GROUP: f64 = 24.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn colour(i: Impl) -> &'static str {
    match (i.is_bytecast(), i.class()) {
        (_, Class::Single) => "#6b6b6b",
        (true, Class::Async) => "#2f6fd6",
        (true, _) => "#123f8c",
        (false, Class::Async) => "#e58a3c",
        (false, _) => "#a84c17",
    }
}

/// One bar: median, min and max, or why there is no figure.
type Bar = (Impl, Result<(f64, f64, f64), &'static str>);

/// The chart.
pub(crate) fn chart(cells: &[CellReport], s: &Settings, m: &Machine) -> String {
    // Bars: (workload, impl, median, min, max), or a note for hangs and wrong results.
    let mut groups: Vec<(&str, Vec<Bar>)> = Vec::new();
    for w in SHOWN {
        let mut bars = Vec::new();
        for &i in IMPLS {
            let Some(c) = cells.iter().find(|c| c.workload.id == *w && c.imp == i) else {
                continue;
            };
            match (c.figure(), &c.status) {
                (Some(f), _) => bars.push((i, Ok((f.median, f.min, f.max)))),
                (None, crate::report::Status::Hang { .. }) => bars.push((i, Err("hang"))),
                (None, crate::report::Status::Done(_)) => bars.push((i, Err("wrong"))),
                (None, crate::report::Status::Crashed(_)) => bars.push((i, Err("failed"))),
                _ => {}
            }
        }
        if !bars.is_empty() {
            groups.push((w, bars));
        }
    }
    let values: Vec<f64> = groups
        .iter()
        .flat_map(|(_, b)| b.iter().filter_map(|(_, v)| v.ok().map(|v| v.1)))
        .collect();
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1.0)
        .log10()
        .floor()
        .min(5.0);
    let hi = values
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(10.0)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let x = |v: f64| PLOT_X0 + (v.max(1.0).log10() - lo) / (hi - lo) * (PLOT_X1 - PLOT_X0);
    let top = 58.0;
    let height_of = |n: usize| GROUP + n as f64 * (BAR + GAP);
    let plot_h: f64 = groups.iter().map(|(_, b)| height_of(b.len())).sum();
    let height = top + plot_h + 56.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{}" y="20" font-size="14" font-weight="bold">bytecast and peers: frames/s per reader (log scale), median with min–max</text>
<text x="{}" y="38" fill="#555">{}</text>"##,
        LABEL - 140.0,
        LABEL - 140.0,
        escape(&format!(
            "{} · {} cores · {} · {} runs × {} ms (copy jobs {} ms) · 1 MiB ring · {}",
            m.cpu,
            m.cores,
            m.rustc,
            s.runs,
            s.window.as_millis(),
            copy_window(s).as_millis(),
            s.kind()
        ))
    );
    // Decade grid.
    for d in lo as i32..=hi as i32 {
        let gx = x(10f64.powi(d));
        let label = rate(10f64.powi(d));
        let _ = writeln!(
            out,
            r##"<line x1="{gx:.1}" y1="{top}" x2="{gx:.1}" y2="{:.1}" stroke="#dddddd"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{label}</text>"##,
            top + plot_h,
            top + plot_h + 14.0
        );
    }
    let mut y = top;
    for (w, bars) in &groups {
        let _ = writeln!(
            out,
            r#"<text x="10" y="{:.1}" font-weight="bold">{}</text>"#,
            y + 16.0,
            escape(w)
        );
        y += GROUP;
        for (i, v) in bars {
            let name = escape(i.id());
            let weight = if i.is_bytecast() { "bold" } else { "normal" };
            let _ = writeln!(
                out,
                r#"<text x="{LABEL}" y="{:.1}" text-anchor="end" font-weight="{weight}">{name}</text>"#,
                y + BAR - 3.0
            );
            match v {
                Ok((med, min, max)) => {
                    let w = x(*med) - PLOT_X0;
                    let _ = writeln!(
                        out,
                        r##"<rect x="{PLOT_X0}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{}"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#000000"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                        w.max(1.0),
                        colour(*i),
                        x(*min),
                        y + BAR / 2.0,
                        x(*max),
                        y + BAR / 2.0,
                        x(*max).max(x(*med)) + 4.0,
                        y + BAR - 3.0,
                        rate(*med)
                    );
                }
                Err(what) => {
                    let _ = writeln!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" fill="#b00020" font-weight="bold">{what}</text>"##,
                        PLOT_X0 + 4.0,
                        y + BAR - 3.0
                    );
                }
            }
            y += BAR + GAP;
        }
    }
    let ly = top + plot_h + 34.0;
    let legend = [
        ("#2f6fd6", "bytecast, async tasks (2 workers)"),
        ("#123f8c", "bytecast, spinning threads"),
        ("#e58a3c", "peer, async tasks"),
        ("#a84c17", "peer, spinning threads"),
        ("#6b6b6b", "copy limit (1 thread)"),
    ];
    let mut lx = 10.0;
    for (c, label) in legend {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{:.1}" width="10" height="10" fill="{c}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            ly - 9.0,
            lx + 14.0,
            ly,
            escape(label)
        );
        lx += 14.0 + label.len() as f64 * 6.0 + 16.0;
    }
    out.push_str("</svg>\n");
    out
}
