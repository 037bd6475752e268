//! The results as Markdown: one table of figures against their floors and targets, then one
//! table per growth series, written between markers in BENCHMARKS.md so a run replaces them.

use std::fmt::Write as _;
use std::path::Path;

use crate::measure::Stat;

/// What a figure must meet.
pub enum Target {
    /// deploydb's median at most this multiple of the floor's.
    Ratio(f64),
    /// Peak RSS at most this many MiB.
    MiB(f64),
    /// deploydb's median at most this many milliseconds, whatever the floor.
    Ms(f64),
}

pub struct Row {
    pub figure: String,
    pub floor_name: String,
    pub kind: RowKind,
    pub target: Target,
}

pub enum RowKind {
    Timed { ours: Stat, floor: Stat },
    Rss { kib: i64 },
}

/// `text` for a Markdown table cell: a `|`, even inside a code span (`cat log | cat`), would
/// end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

impl Row {
    pub fn timed(figure: &str, floor_name: &str, (ours, floor): (Stat, Stat), ratio: f64) -> Row {
        Row {
            figure: cell(figure),
            floor_name: cell(floor_name),
            kind: RowKind::Timed { ours, floor },
            target: Target::Ratio(ratio),
        }
    }

    /// A figure with an absolute target; the floor is shown for scale.
    pub fn within(figure: &str, floor_name: &str, (ours, floor): (Stat, Stat), ms: f64) -> Row {
        Row {
            figure: cell(figure),
            floor_name: cell(floor_name),
            kind: RowKind::Timed { ours, floor },
            target: Target::Ms(ms),
        }
    }

    pub fn rss(figure: &str, kib: i64, mib: f64) -> Row {
        Row {
            figure: cell(figure),
            floor_name: "—".into(),
            kind: RowKind::Rss { kib },
            target: Target::MiB(mib),
        }
    }

    fn met(&self) -> bool {
        match (&self.kind, &self.target) {
            (RowKind::Timed { ours, floor }, Target::Ratio(r)) => ours.ms() / floor.ms() <= *r,
            (RowKind::Rss { kib }, Target::MiB(m)) => (*kib as f64 / 1024.0) <= *m,
            (RowKind::Timed { ours, .. }, Target::Ms(limit)) => ours.ms() <= *limit,
            _ => false,
        }
    }
}

/// A growth series: one figure at several sizes, with a sentence on why it grows as it does.
pub struct Series {
    pub title: String,
    pub size_name: String,
    pub floor_name: String,
    pub points: Vec<(String, Stat, Stat)>,
    pub why: String,
}

pub fn render(rows: &[Row], series: &[Series], context: &str) -> String {
    let mut out = String::new();
    writeln!(out, "{context}\n").unwrap();
    writeln!(
        out,
        "| figure | deploydb, median (min–max) | floor | floor, median (min–max) | ratio | target | met |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|").unwrap();
    for row in rows {
        let met = if row.met() { "yes" } else { "**no**" };
        match (&row.kind, &row.target) {
            (RowKind::Timed { ours, floor }, Target::Ratio(r)) => writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | ≤ {r:.2} | {met} |",
                row.figure,
                ours.render(),
                row.floor_name,
                floor.render(),
                ours.ms() / floor.ms()
            ),
            (RowKind::Timed { ours, floor }, Target::Ms(limit)) => writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | ≤ {limit} ms | {met} |",
                row.figure,
                ours.render(),
                row.floor_name,
                floor.render(),
                ours.ms() / floor.ms()
            ),
            (RowKind::Rss { kib }, Target::MiB(m)) => writeln!(
                out,
                "| {} | {:.1} MiB | — | — | — | ≤ {m} MiB | {met} |",
                row.figure,
                *kib as f64 / 1024.0
            ),
            _ => unreachable!("rows are built by Row::timed and Row::rss"),
        }
        .unwrap();
    }
    for s in series {
        writeln!(out, "\n**{}** — {}\n", s.title, s.why).unwrap();
        writeln!(
            out,
            "| {} | deploydb, median (min–max) | {}, median (min–max) | ratio |",
            s.size_name, s.floor_name
        )
        .unwrap();
        writeln!(out, "|---|---|---|---|").unwrap();
        for (size, ours, floor) in &s.points {
            writeln!(
                out,
                "| {size} | {} | {} | {:.2} |",
                ours.render(),
                floor.render(),
                ours.ms() / floor.ms()
            )
            .unwrap();
        }
    }
    out
}

/// Replaces what stands between bench `name`'s markers in `path` (appending them if missing),
/// so each bench rewrites only its own block.
pub fn write_into(path: &Path, name: &str, text: &str) {
    let begin = format!("<!-- {name}:begin (written by `cargo bench --bench {name}`) -->");
    let end = format!("<!-- {name}:end -->");
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{begin}\n{text}{end}");
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &old[..b], &old[e + end.len()..]),
        _ => format!("{old}\n{block}\n"),
    };
    std::fs::write(path, new).expect("write BENCHMARKS.md");
}
