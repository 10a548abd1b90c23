//! The comparison's figures: one SVG per question the paper asks, drawn from the result rows.
//!
//! 1. `by-subject-<workload>`: what a value (queue) or a job (pool, empty jobs) costs each subject at the
//!    smallest matched thread count, grouped bars by segment size with min–max error bars.
//! 2. `threads-<workload>`: how that cost changes with the thread count (producers = consumers), a panel per
//!    segment size.
//! 3. `segment-size-<workload>`: how it changes with the segment size, strategies only.
//! 4. `unreclaimed-queue`, `unreclaimed-stall-run`: peak unreclaimed segments against thread count and segment
//!    size (log scale).
//! 5. `stall-length-size<N>`: the stall-length experiment, peak unreclaimed segments and cost per value against
//!    how long one handle stays inside its operation.
//!
//! A figure whose data the rows lack (one thread count, one segment size, no stall workload) is skipped. What to
//! draw is planned first (`choice.rs`) and drawn after, so the tests can check the data without reading SVG.
//!
//! SVG only: the SVG backend writes text as `<text>` in the `sans-serif` family and needs no font, whereas
//! plotters' bitmap backend would need a TTF font loaded (font-kit or an embedded font) to draw any text.

mod axes;
mod choice;
mod draw;
#[cfg(test)]
mod tests;

use std::path::Path;

use plotters::style::RGBColor;

use crate::report::Row;
use choice::plan;
use draw::{Group, LegendItem, MARKERS, Panel, Style};

/// A figure written by [`draw_all`]: its file name inside the folder, and a title for the paper.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub file: String,
    pub title: String,
}

/// The file-name prefixes of the figure families above: what [`draw_all`] may remove as stale.
const FAMILIES: [&str; 5] = ["by-subject-", "threads-", "segment-size-", "unreclaimed-", "stall-length-size"];

/// Draws every figure the rows have data for into `folder`, each with `caption` (one line of provenance) in
/// small text at its bottom, and removes the figures an earlier run left there that these rows do not redraw, so
/// that a reused folder shows only this run. Returns the figures written, in the paper's order.
pub fn draw_all(rows: &[Row], folder: &Path, caption: &str) -> Result<Vec<Figure>, String> {
    let planned = plan(rows);
    remove_stale(folder, &planned)?;
    for figure in &planned {
        let path = folder.join(&figure.file);
        match &figure.plot {
            Plot::Bars { y_title, groups, legend } => {
                draw::bars(&path, &figure.title, caption, y_title, groups, legend)?
            }
            Plot::Lines { panels, legend } => draw::lines(&path, &figure.title, caption, panels, legend)?,
        }
    }
    Ok(planned.into_iter().map(|figure| Figure { file: figure.file, title: figure.title }).collect())
}

/// Removes the SVGs of `folder` named like one of our figure families that `planned` does not redraw (a figure of
/// a thread count or a workload this run did not have). Other files, other SVGs included, are left alone.
fn remove_stale(folder: &Path, planned: &[Planned]) -> Result<(), String> {
    let entries = std::fs::read_dir(folder).map_err(|error| format!("{}: {error}", folder.display()))?;
    for entry in entries {
        let entry = entry.map_err(|error| format!("{}: {error}", folder.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.ends_with(".svg") && FAMILIES.iter().any(|family| name.starts_with(family));
        if ours && !planned.iter().any(|figure| figure.file == name) {
            std::fs::remove_file(entry.path()).map_err(|error| format!("{}: {error}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// What one figure shows.
#[derive(Debug)]
enum Plot {
    Bars { y_title: String, groups: Vec<Group>, legend: Vec<LegendItem> },
    Lines { panels: Vec<Panel>, legend: Vec<LegendItem> },
}

#[derive(Debug)]
struct Planned {
    file: String,
    title: String,
    plot: Plot,
}

/// Where a row's kind sorts: our strategies, then the peers, then the Go harness.
fn kind_rank(kind: &str) -> usize {
    match kind {
        "strategy" => 0,
        "peer" => 1,
        crate::wpool::KIND => 2,
        _ => 3,
    }
}

/// The subjects of `rows` with their kinds: strategies first, then peers, each in the order they first appear.
fn subject_order<'a>(rows: &[&'a Row]) -> Vec<(&'a str, &'a str)> {
    let mut subjects: Vec<(&str, &str)> = Vec::new();
    for row in rows {
        if !subjects.iter().any(|&(name, _)| name == row.subject) {
            subjects.push((&row.subject, &row.kind));
        }
    }
    subjects.sort_by_key(|&(_, kind)| kind_rank(kind));
    subjects
}

/// A qualitative palette for up to 12 strategies (paired with 6 marker shapes), greys for the peers.
const STRATEGY_COLOURS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(57, 59, 121),
    RGBColor(99, 121, 57),
    RGBColor(0, 0, 0),
];
const PEER_GREYS: [RGBColor; 4] =
    [RGBColor(90, 90, 90), RGBColor(150, 150, 150), RGBColor(120, 120, 120), RGBColor(175, 175, 175)];
/// Bar shades, light to dark: strategies in blues, peers (and the Go harness) in oranges.
const BLUES: [RGBColor; 5] = [
    RGBColor(198, 219, 239),
    RGBColor(158, 202, 225),
    RGBColor(107, 174, 214),
    RGBColor(49, 130, 189),
    RGBColor(8, 81, 156),
];
const ORANGES: [RGBColor; 5] = [
    RGBColor(253, 208, 162),
    RGBColor(253, 174, 107),
    RGBColor(253, 141, 60),
    RGBColor(230, 85, 13),
    RGBColor(166, 54, 3),
];

/// The shade of the `index`th of `count` segment sizes for a subject of `kind`: the smallest size lightest.
fn shade(kind: &str, index: usize, count: usize) -> RGBColor {
    let ramp = if kind == "strategy" { &BLUES } else { &ORANGES };
    let at = if count <= 1 { 3 } else { 1 + (index * 3 + (count - 1) / 2) / (count - 1) };
    ramp[at.min(ramp.len() - 1)]
}

/// Each subject's line style, the same in every figure of a run.
struct Palette(Vec<(String, String, Style)>);

impl Palette {
    fn new(rows: &[&Row]) -> Palette {
        let (mut strategies, mut peers) = (0, 0);
        let styles = subject_order(rows)
            .into_iter()
            .map(|(name, kind)| {
                let style = if kind == "strategy" {
                    strategies += 1;
                    let index = strategies - 1;
                    Style {
                        colour: STRATEGY_COLOURS[index % 12],
                        marker: MARKERS[index % MARKERS.len()],
                        dashed: false,
                    }
                } else {
                    peers += 1;
                    let index = peers - 1;
                    // Peers take the shapes from the far end, so a peer and the first strategy never share one.
                    let marker = MARKERS[MARKERS.len() - 1 - index % MARKERS.len()];
                    Style { colour: PEER_GREYS[index % PEER_GREYS.len()], marker, dashed: true }
                };
                (name.to_owned(), kind.to_owned(), style)
            })
            .collect();
        Palette(styles)
    }

    fn style(&self, subject: &str) -> Style {
        self.0
            .iter()
            .find(|(name, _, _)| name == subject)
            .map_or(Style { colour: PEER_GREYS[0], marker: MARKERS[0], dashed: true }, |&(_, _, style)| style)
    }

    /// A legend for the subjects drawn in `panels`, strategies and peers under their headings.
    fn legend(&self, panels: &[Panel]) -> Vec<LegendItem> {
        let drawn = |name: &str| panels.iter().any(|panel| panel.series.iter().any(|series| series.name == name));
        let mut items = Vec::new();
        for (heading, strategy) in [("strategies", true), ("peers", false)] {
            let members: Vec<LegendItem> = self
                .0
                .iter()
                .filter(|(name, kind, _)| (kind == "strategy") == strategy && drawn(name))
                .map(|(name, _, style)| LegendItem::Line(name.clone(), *style))
                .collect();
            if !members.is_empty() {
                items.push(LegendItem::Heading(heading.to_owned()));
                items.extend(members);
            }
        }
        items
    }
}
