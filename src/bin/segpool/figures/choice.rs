//! Which figures the rows make, and what each shows: one builder per question of the paper (see `mod.rs`).

use super::axes::Scale;
use super::draw::{Bar, Group, LegendItem, Panel, Point, Series, XAxis};
use super::{Palette, Planned, Plot, shade, subject_order};
use crate::report::Row;

/// The figures of `rows`, in the paper's order. A results file holds one queue policy; should one hold both,
/// the figures show `grow` (the default), and name any other policy in their titles.
pub(super) fn plan(rows: &[Row]) -> Vec<Planned> {
    let policy =
        if rows.iter().any(|row| row.policy == "grow") { "grow" } else { rows.first().map_or("", |row| &row.policy) };
    let rows: Vec<&Row> = rows.iter().filter(|row| row.policy == policy).collect();
    let palette = Palette::new(&rows);
    let mut figures = Vec::new();
    for workload in ["queue", "empty"] {
        figures.extend(by_subject(&rows, workload));
    }
    for workload in ["queue", "empty"] {
        figures.extend(against_threads(&rows, workload, &palette));
    }
    for workload in ["queue", "empty"] {
        figures.extend(against_segment_size(&rows, workload, &palette));
    }
    figures.extend(unreclaimed(&rows, "queue", None, &palette));
    figures.extend(unreclaimed(&rows, "stall", Some("run"), &palette));
    figures.extend(stall_lengths(&rows, &palette));
    if policy != "grow" {
        for figure in &mut figures {
            figure.title.push_str(&format!(", policy {policy}"));
        }
    }
    figures
}

/// How a workload is named in titles, its unit of cost and its consumers' name.
fn describe(workload: &str) -> (&'static str, &'static str, &'static str) {
    match workload {
        "queue" => ("Queue", "ns per value", "consumer"),
        "stall" => ("Stalled handle", "ns per value", "consumer"),
        "empty" => ("Pool, empty jobs", "ns per job", "worker"),
        "sha256" => ("Pool, SHA-256 jobs", "ns per job", "worker"),
        _ => ("Pool, CPU jobs", "ns per job", "worker"),
    }
}

fn matched(row: &Row) -> bool {
    row.producers == row.consumers
}

/// The distinct values of `key` over `rows`, sorted.
fn distinct<T: Ord + Copy>(rows: &[&Row], key: impl Fn(&Row) -> T) -> Vec<T> {
    let mut values: Vec<T> = rows.iter().map(|row| key(row)).collect();
    values.sort();
    values.dedup();
    values
}

/// "1 producer, 1 consumer" for `threads` of each.
fn threads_phrase(threads: usize, consumer: &str) -> String {
    format!("{}, {}", crate::report::count(threads, "producer"), crate::report::count(threads, consumer))
}

fn cost_point(x: f64, row: &Row) -> Point {
    Point { x, y: row.ns_per_job, whisker: Some((row.ns_per_job_min, row.ns_per_job_max)) }
}

/// One series per subject in `subjects` that has a point: `point` finds its point at each x.
fn series_for(
    subjects: &[(&str, &str)],
    palette: &Palette,
    xs: &[usize],
    point: impl Fn(&str, usize) -> Option<Point>,
) -> Vec<Series> {
    subjects
        .iter()
        .map(|&(name, _)| Series {
            name: name.to_owned(),
            style: palette.style(name),
            points: xs.iter().filter_map(|&x| point(name, x)).collect(),
        })
        .filter(|series| !series.points.is_empty())
        .collect()
}

fn log2_ticks(values: &[usize]) -> Vec<(f64, String)> {
    values.iter().map(|&value| ((value as f64).log2(), value.to_string())).collect()
}

fn threads_axis(threads: &[usize], consumer: &str) -> XAxis {
    XAxis { title: format!("threads (producers = {consumer}s)"), ticks: log2_ticks(threads) }
}

fn size_axis(sizes: &[usize]) -> XAxis {
    XAxis { title: "segment size (slots, log scale)".to_owned(), ticks: log2_ticks(sizes) }
}

/// Figure 1: cost by subject at the smallest matched thread count, a bar per segment size.
fn by_subject(rows: &[&Row], workload: &str) -> Option<Planned> {
    let rows: Vec<&Row> = rows.iter().copied().filter(|row| row.workload == workload && matched(row)).collect();
    let threads = *distinct(&rows, |row| row.producers).first()?;
    let rows: Vec<&Row> = rows.into_iter().filter(|row| row.producers == threads).collect();
    let sizes = distinct(&rows, |row| row.segment_size);
    let (name, unit, consumer) = describe(workload);
    let groups = subject_order(&rows)
        .into_iter()
        .map(|(subject, kind)| Group {
            name: subject.to_owned(),
            bars: sizes
                .iter()
                .enumerate()
                .map(|(index, &size)| {
                    rows.iter().find(|row| row.subject == subject && row.segment_size == size).map(|row| Bar {
                        colour: shade(kind, index, sizes.len()),
                        value: row.ns_per_job,
                        min: row.ns_per_job_min,
                        max: row.ns_per_job_max,
                    })
                })
                .collect(),
        })
        .collect();
    let mut legend = Vec::new();
    for (heading, kind) in [("strategies", "strategy"), ("peers", "peer")] {
        if rows.iter().any(|row| (row.kind == "strategy") == (kind == "strategy")) {
            legend.push(LegendItem::Heading(heading.to_owned()));
            for (index, size) in sizes.iter().enumerate() {
                legend.push(LegendItem::Swatch(format!("segment size {size}"), shade(kind, index, sizes.len())));
            }
        }
    }
    legend.push(LegendItem::Note(String::new()));
    legend.push(LegendItem::Note("bars: median".to_owned()));
    legend.push(LegendItem::Note("whiskers: min–max".to_owned()));
    Some(Planned {
        file: format!("by-subject-{workload}.svg"),
        title: format!("{name}: {unit} by subject, {}", threads_phrase(threads, consumer)),
        plot: Plot::Bars { y_title: unit.to_owned(), groups, legend },
    })
}

/// Figure 2: cost against the thread count, a panel per segment size.
fn against_threads(rows: &[&Row], workload: &str, palette: &Palette) -> Option<Planned> {
    let rows: Vec<&Row> = rows.iter().copied().filter(|row| row.workload == workload && matched(row)).collect();
    let threads = distinct(&rows, |row| row.producers);
    if threads.len() < 2 {
        return None;
    }
    let (name, unit, consumer) = describe(workload);
    let subjects = subject_order(&rows);
    let panels: Vec<Panel> = distinct(&rows, |row| row.segment_size)
        .into_iter()
        .map(|size| Panel {
            title: format!("segment size {size}"),
            x: threads_axis(&threads, consumer),
            y_title: unit.to_owned(),
            y_scale: Scale::Linear,
            series: series_for(&subjects, palette, &threads, |subject, n| {
                let row =
                    rows.iter().find(|row| row.subject == subject && row.segment_size == size && row.producers == n);
                row.map(|row| cost_point((n as f64).log2(), row))
            }),
        })
        .collect();
    let legend = palette.legend(&panels);
    Some(Planned {
        file: format!("threads-{workload}.svg"),
        title: format!("{name}: {unit} against thread count (median, whiskers min–max)"),
        plot: Plot::Lines { panels, legend },
    })
}

/// Figure 3: cost against the segment size at the smallest matched thread count, strategies only.
fn against_segment_size(rows: &[&Row], workload: &str, palette: &Palette) -> Option<Planned> {
    let rows: Vec<&Row> =
        rows.iter().copied().filter(|row| row.workload == workload && matched(row) && row.kind == "strategy").collect();
    let threads = *distinct(&rows, |row| row.producers).first()?;
    let rows: Vec<&Row> = rows.into_iter().filter(|row| row.producers == threads).collect();
    let sizes = distinct(&rows, |row| row.segment_size);
    if sizes.len() < 2 {
        return None;
    }
    let (name, unit, consumer) = describe(workload);
    let panels = vec![Panel {
        title: threads_phrase(threads, consumer),
        x: size_axis(&sizes),
        y_title: unit.to_owned(),
        y_scale: Scale::Linear,
        series: series_for(&subject_order(&rows), palette, &sizes, |subject, size| {
            let row = rows.iter().find(|row| row.subject == subject && row.segment_size == size);
            row.map(|row| cost_point((size as f64).log2(), row))
        }),
    }];
    let legend = palette.legend(&panels);
    Some(Planned {
        file: format!("segment-size-{workload}.svg"),
        title: format!("{name}: {unit} against segment size (median, whiskers min–max)"),
        plot: Plot::Lines { panels, legend },
    })
}

/// The axis title `noun`, saying where zeros went when a log axis has any.
fn peak_title(rows: &[&Row], noun: &str) -> String {
    if rows.iter().any(|row| row.peak_unreclaimed == Some(0)) {
        format!("{noun} (0 at the floor)")
    } else {
        noun.to_owned()
    }
}

fn peak_point(x: f64, row: &Row) -> Option<Point> {
    row.peak_unreclaimed.map(|peak| Point { x, y: peak as f64, whisker: None })
}

/// Figure 4: peak unreclaimed segments against thread count (a panel per segment size) and against segment size
/// (at the smallest matched thread count), for `workload` at `stall`.
fn unreclaimed(rows: &[&Row], workload: &str, stall: Option<&str>, palette: &Palette) -> Option<Planned> {
    let rows: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|row| {
            row.workload == workload
                && row.stall.as_deref() == stall
                && matched(row)
                && row.kind == "strategy"
                && row.peak_unreclaimed.is_some()
        })
        .collect();
    let (name, _, consumer) = describe(workload);
    let subjects = subject_order(&rows);
    let threads = distinct(&rows, |row| row.producers);
    let sizes = distinct(&rows, |row| row.segment_size);
    let y_title = peak_title(&rows, "peak unreclaimed segments");
    let mut panels = Vec::new();
    if threads.len() >= 2 {
        for &size in &sizes {
            panels.push(Panel {
                title: format!("segment size {size}"),
                x: threads_axis(&threads, consumer),
                y_title: y_title.clone(),
                y_scale: Scale::Log,
                series: series_for(&subjects, palette, &threads, |subject, n| {
                    let row = rows
                        .iter()
                        .find(|row| row.subject == subject && row.segment_size == size && row.producers == n);
                    row.and_then(|row| peak_point((n as f64).log2(), row))
                }),
            });
        }
    }
    if let (true, Some(&fewest)) = (sizes.len() >= 2, threads.first()) {
        panels.push(Panel {
            title: threads_phrase(fewest, consumer),
            x: size_axis(&sizes),
            y_title: y_title.clone(),
            y_scale: Scale::Log,
            series: series_for(&subjects, palette, &sizes, |subject, size| {
                let row = rows
                    .iter()
                    .find(|row| row.subject == subject && row.segment_size == size && row.producers == fewest);
                row.and_then(|row| peak_point((size as f64).log2(), row))
            }),
        });
    }
    if panels.is_empty() {
        return None;
    }
    let (file, stalled) = match stall {
        Some(stall) => (format!("unreclaimed-{workload}-{stall}.svg"), format!(" ({})", stall_phrase(stall))),
        None => (format!("unreclaimed-{workload}.svg"), String::new()),
    };
    let legend = palette.legend(&panels);
    Some(Planned {
        file,
        title: format!("{name}{stalled}: peak unreclaimed segments against thread count and segment size"),
        plot: Plot::Lines { panels, legend },
    })
}

/// Where a stall length sorts: milliseconds in order, then the whole run.
fn stall_order(stall: &str) -> (u8, u64) {
    match stall.strip_suffix("ms").and_then(|ms| ms.parse().ok()) {
        Some(ms) => (0, ms),
        None if stall == "run" => (1, 0),
        None => (2, 0),
    }
}

/// A stall length as an axis label: "0", "1 ms", "whole run".
fn stall_label(stall: &str) -> String {
    match stall {
        "0ms" => "0".to_owned(),
        "run" => "whole run".to_owned(),
        other => other.replace("ms", " ms"),
    }
}

fn stall_phrase(stall: &str) -> String {
    if stall == "run" { "stalled for the whole run".to_owned() } else { format!("stalled for {}", stall_label(stall)) }
}

/// Figure 5: the stall-length experiment, a figure per segment size, at the smallest matched thread count.
fn stall_lengths(rows: &[&Row], palette: &Palette) -> Vec<Planned> {
    let rows: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|row| row.workload == "stall" && row.stall.is_some() && matched(row) && row.kind == "strategy")
        .collect();
    let Some(&threads) = distinct(&rows, |row| row.producers).first() else { return Vec::new() };
    let rows: Vec<&Row> = rows.into_iter().filter(|row| row.producers == threads).collect();
    let (name, unit, consumer) = describe("stall");
    let mut figures = Vec::new();
    for size in distinct(&rows, |row| row.segment_size) {
        let rows: Vec<&Row> = rows.iter().copied().filter(|row| row.segment_size == size).collect();
        let mut stalls: Vec<&str> = rows.iter().filter_map(|row| row.stall.as_deref()).collect();
        stalls.sort_by_key(|stall| stall_order(stall));
        stalls.dedup();
        if stalls.len() < 2 {
            continue;
        }
        let x = XAxis {
            title: "how long one handle stays inside an operation".to_owned(),
            ticks: stalls.iter().enumerate().map(|(index, stall)| (index as f64, stall_label(stall))).collect(),
        };
        let subjects = subject_order(&rows);
        let indices: Vec<usize> = (0..stalls.len()).collect();
        let find = |subject: &str, index: usize| {
            rows.iter().find(|row| row.subject == subject && row.stall.as_deref() == Some(stalls[index]))
        };
        let panels = vec![
            Panel {
                title: "peak unreclaimed segments (log scale)".to_owned(),
                x: x.clone(),
                y_title: peak_title(&rows, "segments"),
                y_scale: Scale::Log,
                series: series_for(&subjects, palette, &indices, |subject, index| {
                    find(subject, index).and_then(|row| peak_point(index as f64, row))
                }),
            },
            Panel {
                title: format!("{unit} (median, whiskers min–max)"),
                x,
                y_title: unit.to_owned(),
                y_scale: Scale::Linear,
                series: series_for(&subjects, palette, &indices, |subject, index| {
                    find(subject, index).map(|row| cost_point(index as f64, row))
                }),
            },
        ];
        let legend = palette.legend(&panels);
        figures.push(Planned {
            file: format!("stall-length-size{size}.svg"),
            title: format!(
                "{name}: peak unreclaimed segments and {unit} against stall length (segment size {size}, {})",
                threads_phrase(threads, consumer)
            ),
            plot: Plot::Lines { panels, legend },
        });
    }
    figures
}
