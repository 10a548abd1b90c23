use std::collections::BTreeSet;
use std::fs;

use super::axes::{Scale, YAxis, tick_label, wrap};
use super::choice::plan;
use super::{Palette, Plot, draw_all, subject_order};
use crate::report::Row;

/// A row of `subject` whose times and peak are distinct per configuration, min and max either side of the median.
fn row(workload: &str, subject: &str, kind: &str, threads: usize, size: usize, stall: Option<&str>) -> Row {
    let ns = 10.0 * threads as f64 + 1000.0 / size as f64 + subject.len() as f64;
    Row {
        workload: workload.into(),
        subject: subject.into(),
        kind: kind.into(),
        producers: threads,
        consumers: threads,
        segment_size: size,
        policy: "grow".into(),
        stall: stall.map(str::to_owned),
        runs: 3,
        jobs: 1000,
        ns_per_job: ns,
        ns_per_job_min: ns - 1.5,
        ns_per_job_max: ns + 4.0,
        p50_ns: None,
        p99_ns: None,
        allocs_per_job: None,
        // Hazard's peak is 0 at one thread: the log axes must place a zero.
        peak_unreclaimed: (kind == "strategy").then_some(if subject == "hazard" { threads as u64 - 1 } else { 500 }),
        segments_allocated: None,
        exhaustion_events: None,
        handed_back: 0,
        bytes_per_job: None,
    }
}

const SUBJECTS: [(&str, &str); 4] =
    [("mutex-deque", "peer"), ("hazard", "strategy"), ("epoch", "strategy"), ("segqueue", "peer")];

/// Queue and empty rows at the given thread counts and sizes, and stall rows at the given stall lengths.
fn matrix(threads: &[usize], sizes: &[usize], stalls: &[&str]) -> Vec<Row> {
    let mut rows = Vec::new();
    for &n in threads {
        for &size in sizes {
            for (subject, kind) in SUBJECTS {
                rows.push(row("queue", subject, kind, n, size, None));
                rows.push(row("empty", subject, kind, n, size, None));
                for &stall in stalls.iter().filter(|_| kind == "strategy") {
                    rows.push(row("stall", subject, kind, n, size, Some(stall)));
                }
            }
        }
    }
    rows.push(Row {
        kind: crate::wpool::KIND.into(),
        subject: crate::wpool::SUBJECT.into(),
        ..row("empty", "", "", 1, 1, None)
    });
    rows
}

fn files(rows: &[Row]) -> BTreeSet<String> {
    plan(rows).into_iter().map(|figure| figure.file).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn tick_labels_are_clean() {
    let cases = [
        (0.0, "0"),
        (2.0, "2"),
        (0.5, "0.5"),
        (12.5, "12.5"),
        (500.0, "500"),
        (1000.0, "1k"),
        (1250.0, "1.25k"),
        (1500.0, "1.5k"),
        (100_000.0, "100k"),
        (1024.0, "1,024"),
        (1_234_567.0, "1,234,567"),
        (2_000_000.0, "2M"),
    ];
    for (value, label) in cases {
        assert_eq!(tick_label(value), label, "tick at {value}");
    }
}

#[test]
fn a_linear_axis_starts_at_zero_and_ends_just_above_the_data() {
    let axis = YAxis::fit(Scale::Linear, &[3.0, 1330.0, 40.0]);
    assert_eq!(axis.ticks.first(), Some(&(0.0, "0".to_owned())));
    assert!(axis.range.1 >= 1330.0 && axis.range.1 < 1330.0 * 1.1, "no empty band at the top: {:?}", axis.range);
    let labels: Vec<&str> = axis.ticks.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(labels, ["0", "250", "500", "750", "1k", "1.25k"]);
    assert!(axis.ticks.iter().all(|&(at, _)| at <= axis.range.1), "{:?}", axis.ticks);
}

#[test]
fn a_log_axis_puts_zero_at_its_floor() {
    let axis = YAxis::fit(Scale::Log, &[0.0, 3.0, 5000.0]);
    let (floor, label) = axis.ticks[0].clone();
    assert_eq!(label, "0");
    assert_eq!(axis.at(0.0), floor);
    assert!(floor < axis.at(1.0) && axis.range.0 <= floor, "the floor is below 1 and inside the plot: {axis:?}");
    let labels: Vec<&str> = axis.ticks.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(labels, ["0", "1", "10", "100", "1k"]);
    assert!(axis.range.1 >= 5000f64.log10() && axis.range.1 < 4.0, "ends just above the largest: {axis:?}");
    let from_ten = YAxis::fit(Scale::Log, &[0.0, 10.0, 300.0]);
    let labels: Vec<&str> = from_ten.ticks.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(labels, ["0", "1", "10", "100"], "with a zero, the axis reaches down to 1");
    let narrow = YAxis::fit(Scale::Log, &[3.0, 640.0]);
    let labels: Vec<&str> = narrow.ticks.iter().map(|(_, label)| label.as_str()).collect();
    assert_eq!(labels, ["5", "10", "20", "50", "100", "200", "500"], "no zero, and 1-2-5 ticks over few decades");
}

#[test]
fn names_wrap_after_hyphens_and_at_spaces() {
    assert_eq!(wrap("crossbeam-channel", 10), ["crossbeam-", "channel"]);
    assert_eq!(wrap("wpool (Go harness)", 9), ["wpool (Go", "harness)"]);
    assert_eq!(wrap("hazard-eras", 11), ["hazard-eras"]);
    assert_eq!(wrap("limbo", 3), ["limbo"], "a word too long keeps its own line");
}

#[test]
fn strategies_come_before_peers_and_the_go_harness() {
    let rows = matrix(&[1], &[1], &[]);
    let rows: Vec<&Row> = rows.iter().filter(|row| row.workload == "empty").collect();
    let order: Vec<&str> = subject_order(&rows).into_iter().map(|(name, _)| name).collect();
    assert_eq!(order, ["hazard", "epoch", "mutex-deque", "segqueue", crate::wpool::SUBJECT]);
}

#[test]
fn twelve_strategies_look_distinct_and_peers_are_dashed() {
    let names: Vec<String> = (0..12).map(|index| format!("s{index}")).collect();
    let mut rows: Vec<Row> = names.iter().map(|name| row("queue", name, "strategy", 1, 1, None)).collect();
    rows.push(row("queue", "segqueue", "peer", 1, 1, None));
    let refs: Vec<&Row> = rows.iter().collect();
    let palette = Palette::new(&refs);
    let looks: BTreeSet<String> =
        names.iter().map(|name| palette.style(name)).map(|style| format!("{:?}", style.colour)).collect();
    assert_eq!(looks.len(), 12, "12 colours for 12 strategies");
    assert!(names.iter().all(|name| !palette.style(name).dashed) && palette.style("segqueue").dashed);
}

#[test]
fn error_bars_and_whiskers_come_from_min_and_max() {
    let rows = matrix(&[1, 2], &[1, 64], &[]);
    let planned = plan(&rows);
    let bars = planned.iter().find(|figure| figure.file == "by-subject-queue.svg").expect("figure 1");
    let Plot::Bars { groups, .. } = &bars.plot else { panic!("figure 1 is bars") };
    let names: Vec<&str> = groups.iter().map(|group| group.name.as_str()).collect();
    assert_eq!(names, ["hazard", "epoch", "mutex-deque", "segqueue"], "strategies first, at one thread only");
    let hazard = row("queue", "hazard", "strategy", 1, 64, None);
    let bar = groups[0].bars[1].as_ref().expect("hazard at size 64");
    assert_eq!((bar.value, bar.min, bar.max), (hazard.ns_per_job, hazard.ns_per_job_min, hazard.ns_per_job_max));
    assert_ne!(groups[0].bars[0].as_ref().unwrap().colour, groups[2].bars[0].as_ref().unwrap().colour, "peers differ");
    let lines = planned.iter().find(|figure| figure.file == "threads-queue.svg").expect("figure 2");
    let Plot::Lines { panels, legend } = &lines.plot else { panic!("figure 2 is lines") };
    assert_eq!(panels.len(), 2, "a panel per segment size");
    let epoch = panels[1].series.iter().find(|series| series.name == "epoch").expect("epoch's line");
    let at_two = row("queue", "epoch", "strategy", 2, 64, None);
    assert_eq!(epoch.points[1].whisker, Some((at_two.ns_per_job_min, at_two.ns_per_job_max)));
    assert_eq!(legend.len(), 6, "two headings, two strategies, two peers: {legend:?}");
}

#[test]
fn figures_without_their_data_are_skipped() {
    assert!(plan(&[]).is_empty());
    // One thread count, one size: only the bars by subject; one stall length: no stall-length figure.
    assert_eq!(files(&matrix(&[1], &[64], &["run"])), set(&["by-subject-queue.svg", "by-subject-empty.svg"]));
    // Sizes but one thread count: the segment-size figures and the size panel of the unreclaimed ones.
    assert_eq!(
        files(&matrix(&[1], &[1, 64], &["0ms", "run"])),
        set(&[
            "by-subject-queue.svg",
            "by-subject-empty.svg",
            "segment-size-queue.svg",
            "segment-size-empty.svg",
            "unreclaimed-queue.svg",
            "unreclaimed-stall-run.svg",
            "stall-length-size1.svg",
            "stall-length-size64.svg",
        ])
    );
    // Producers and consumers that differ are no thread-count line.
    let mut unmatched = matrix(&[1], &[64], &[]);
    unmatched.extend(matrix(&[1], &[64], &[]).into_iter().map(|row| Row { consumers: 2, ..row }));
    assert_eq!(files(&unmatched), set(&["by-subject-queue.svg", "by-subject-empty.svg"]));
}

#[test]
fn draw_all_writes_every_figure_with_its_caption() {
    let folder = std::env::temp_dir().join(format!("segpool-figures-{}", std::process::id()));
    fs::create_dir_all(&folder).unwrap();
    let rows = matrix(&[1, 2, 4], &[1, 64, 1024], &["0ms", "1ms", "10ms", "100ms", "run"]);
    let figures = draw_all(&rows, &folder, "commit abc1234, test machine").unwrap();
    let expected = set(&[
        "by-subject-queue.svg",
        "by-subject-empty.svg",
        "threads-queue.svg",
        "threads-empty.svg",
        "segment-size-queue.svg",
        "segment-size-empty.svg",
        "unreclaimed-queue.svg",
        "unreclaimed-stall-run.svg",
        "stall-length-size1.svg",
        "stall-length-size64.svg",
        "stall-length-size1024.svg",
    ]);
    assert_eq!(figures.iter().map(|figure| figure.file.clone()).collect::<BTreeSet<_>>(), expected);
    let written: BTreeSet<String> =
        fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(written, expected, "exactly the figures returned");
    for figure in &figures {
        let svg = fs::read_to_string(folder.join(&figure.file)).unwrap();
        assert!(svg.contains("commit abc1234, test machine"), "{}: the caption", figure.file);
        assert!(svg.contains(&figure.title), "{}: the title", figure.file);
        assert!(!svg.contains(".0<") && !svg.contains(".0\n<"), "{}: a tick printed with .0", figure.file);
    }
    let stall = fs::read_to_string(folder.join("stall-length-size64.svg")).unwrap();
    for label in ["0", "1 ms", "10 ms", "100 ms", "whole run"] {
        assert!(stall.contains(&format!(">\n{label}\n<")) || stall.contains(&format!(">{label}<")), "label {label:?}");
    }
    fs::remove_dir_all(&folder).unwrap();
}

/// A folder reused from a bigger run keeps none of that run's figures the new rows do not redraw, and nothing that
/// is not one of ours.
#[test]
fn draw_all_removes_the_figures_of_an_earlier_run_and_only_those() {
    let folder = std::env::temp_dir().join(format!("segpool-figures-stale-{}", std::process::id()));
    fs::create_dir_all(&folder).unwrap();
    draw_all(&matrix(&[1, 2, 4], &[1, 64, 1024], &["0ms", "run"]), &folder, "earlier").unwrap();
    for kept in ["mine.svg", "threads-notes.txt"] {
        fs::write(folder.join(kept), "not a figure").unwrap();
    }
    let figures = draw_all(&matrix(&[1], &[64], &[]), &folder, "later").unwrap();
    let written: BTreeSet<String> =
        fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut expected: BTreeSet<String> = figures.iter().map(|figure| figure.file.clone()).collect();
    assert!(!expected.contains("threads-queue.svg"), "one thread count draws no thread figure");
    expected.extend(["mine.svg".to_owned(), "threads-notes.txt".to_owned()]);
    assert_eq!(written, expected);
    fs::remove_dir_all(&folder).unwrap();
}
