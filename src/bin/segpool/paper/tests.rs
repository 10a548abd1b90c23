//! The paper generator's tests: sections, claims, findings and the refusal of results it cannot stand on.

use std::fs;
use std::path::PathBuf;

use super::claims::{self, parse};
use super::{findings, regenerate, replace_section, sections};
use crate::report::{self, Row};

fn row(workload: &str, subject: &str, size: usize, threads: usize, ns: f64) -> Row {
    Row {
        workload: workload.into(),
        subject: subject.into(),
        kind: "strategy".into(),
        producers: threads,
        consumers: threads,
        segment_size: size,
        policy: "grow".into(),
        stall: None,
        runs: 3,
        jobs: 1000,
        ns_per_job: ns,
        ns_per_job_min: ns * 0.9,
        ns_per_job_max: ns * 1.1,
        p50_ns: Some(900),
        p99_ns: Some(5000),
        allocs_per_job: Some(0.0),
        peak_unreclaimed: Some(10),
        segments_allocated: Some(64),
        exhaustion_events: Some(0),
        handed_back: 0,
        bytes_per_job: None,
    }
}

/// A small run: queue and empty at 1x1 and 2x2, sizes 1 and 64, and a whole-run stall in which Epoch stops
/// reclaiming and Hazard does not.
fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for threads in [1, 2] {
        for (workload, factor) in [("queue", 1.0), ("empty", 1.5)] {
            for (subject, ns) in [("hazard", 25.0), ("epoch", 27.0), ("qsbr", 18.0), ("leak", 32.0), ("segqueue", 30.0)]
            {
                for size in [1, 64] {
                    let ns = ns * factor * if size == 1 { 5.0 } else { 1.0 } * threads as f64;
                    rows.push(row(workload, subject, size, threads, ns));
                }
            }
        }
    }
    for (subject, ns, peak) in [("hazard", 370.0, 14), ("epoch", 1140.0, 198_527), ("leak", 866.0, 272_959)] {
        rows.push(Row { peak_unreclaimed: Some(peak), ..row("stall", subject, 1, 1, ns) });
    }
    rows
}

fn data(rows: &[Row]) -> claims::Data<'_> {
    claims::Data { rows, criterion: &[] }
}

/// A paper holding every generated section and `extra` hand-written text.
fn paper(extra: &str) -> String {
    let mut text = format!("# Paper\n\n{extra}\n");
    for name in sections(&rows(), None).iter().map(|(name, _)| *name).chain(["figures", "criterion"]) {
        text.push_str(&format!("\n<!-- BEGIN GENERATED: {name} -->\n<!-- END GENERATED: {name} -->\n"));
    }
    text
}

/// A scratch folder with `results.csv` (of `rows`) and `paper.md` (of `text`).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, rows: &[Row], text: &str) -> Scratch {
        let folder = std::env::temp_dir().join(format!("segpool-paper-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(&folder).unwrap();
        report::write_csv(&folder.join("results.csv"), rows).unwrap();
        fs::write(folder.join("paper.md"), text).unwrap();
        Scratch(folder)
    }

    fn regenerate(&self) -> Result<(), String> {
        regenerate(&self.0.join("results.csv"), &self.0.join("paper.md"), None, None)
    }

    fn paper(&self) -> String {
        fs::read_to_string(self.0.join("paper.md")).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_section_is_replaced_and_the_rest_kept() {
    let text = "intro\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\noutro\n";
    let new = replace_section(text, "x", "new\n").unwrap();
    assert_eq!(new, "intro\n<!-- BEGIN GENERATED: x -->\nnew\n<!-- END GENERATED: x -->\noutro\n");
    assert_eq!(replace_section(&new, "x", "new").unwrap(), new, "regenerating is idempotent");
}

#[test]
fn a_missing_marker_is_named() {
    let error = replace_section("no markers", "targets", "").unwrap_err();
    assert!(error.contains("BEGIN GENERATED: targets"), "{error}");
}

#[test]
fn a_contradicted_claim_is_refused_by_name_and_nothing_is_written() {
    let text = paper(
        "Intro.\nHazard is cheaper than Qsbr in the queue.\n<!-- claim: ns(queue, hazard, 64, 1x1) < ns(queue, qsbr, \
         64, 1x1) -->\n",
    );
    let scratch = Scratch::new("contradicted", &rows(), &text);
    let error = scratch.regenerate().unwrap_err();
    assert!(error.contains("paper.md:5:"), "the claim's line: {error}");
    assert!(error.contains("claim `ns(queue, hazard, 64, 1x1) < ns(queue, qsbr, 64, 1x1)`"), "its text: {error}");
    assert!(error.contains("Hazard is cheaper than Qsbr in the queue."), "the sentence: {error}");
    assert!(error.contains("ns(queue, hazard, 64, 1x1) = 25") && error.contains("= 18"), "the values: {error}");
    assert_eq!(scratch.paper(), text, "the paper is untouched");
    assert!(!scratch.0.join("figures").exists() && !scratch.0.join("data").exists(), "nothing else is written");
}

#[test]
fn a_claim_whose_rows_are_missing_is_refused() {
    let text = paper("Limbo is fast.\n<!-- claim: ns(queue, limbo, 64, 1x1) < 100 -->\n");
    let scratch = Scratch::new("missing", &rows(), &text);
    let error = scratch.regenerate().unwrap_err();
    assert!(error.contains("ns(queue, limbo, 64, 1x1): no such row"), "{error}");
    assert_eq!(scratch.paper(), text);
}

#[test]
fn well_formed_claims_pass_and_the_sections_are_written() {
    let text = paper(
        "Qsbr is the cheapest.\n<!-- claim: ns(queue, qsbr, 64, 1x1) < ns(queue, hazard, 64, 1x1) and \
         ns(queue, qsbr, 64, 1x1) / ns(queue, leak, 64, 1x1) <= 0.9 -->\nEpoch stops reclaiming in a stall. <!-- \
         claim: peak(stall, epoch, 1, 1x1, run) > 100 * peak(stall, hazard, 1, 1x1) -->\n",
    );
    let scratch = Scratch::new("passes", &rows(), &text);
    scratch.regenerate().unwrap();
    let written = scratch.paper();
    assert!(written.contains("Qsbr is the cheapest strategy that reclaims: 18.0 ns per value"), "{written}");
    assert!(written.contains("<!-- claim: peak(stall, epoch, 1, 1x1, run)"), "the claims stay");
    assert!(written.contains("median of 3 throughput rounds"), "the method line counts rounds: {written}");
    assert!(scratch.0.join("data/results.csv").exists());
}

#[test]
fn malformed_claims_are_rejected_with_a_clear_message() {
    for (claim, expected) in [
        ("", "the claim is empty"),
        ("ns(queue, hazard, 64, 1x1)", "expected a comparison (<, <=, >, >=), found the end"),
        ("speed(queue, hazard, 64, 1x1) < 3", "`speed` is neither a number nor a metric"),
        ("ns(queue, hazard, 64) < 3", "expected `,` after the segment size, found `)`"),
        ("ns(queue, hazard, big, 1x1) < 3", "`big` is not a segment size"),
        ("ns(queue, hazard, 64, 1by1) < 3", "`1by1` is not producers x consumers"),
        ("ns(queue, hazard, 64, 1x1, run) < 3", "a stall length selects rows of the stall workload"),
        ("ns(queue, hazard, 64, 1x1) < 3 or 1 < 2", "expected `and` or the end, found `or`"),
        ("(ns(queue, hazard, 64, 1x1) < 3", "expected `)` to close the parenthesis, found `<`"),
        ("ns(queue, hazard, 64, 1x1) = 3", "unexpected `=`"),
        ("ns(queue, \"wpool, 64, 1x1) < 3", "is not closed"),
    ] {
        let error = parse(claim).unwrap_err();
        assert!(error.contains(expected), "{claim:?}: {error}");
    }
    assert!(parse("ns(empty, \"wpool (Go harness)\", 64, 1x1) / ns(empty, hazard, 64, 1x1) >= 4").is_ok());
    // In a paper, an unreadable claim is refused like a contradicted one, with its line.
    let error = claims::check_all("p.md", "a\nb <!-- claim: ns(queue) < 1 -->\n", &data(&rows())).unwrap_err();
    assert!(error.contains("p.md:2: claim `ns(queue) < 1`") && error.contains("cannot read it"), "{error}");
    let error = claims::check_all("p.md", "b <!-- claim: 1 < 2\n", &data(&rows())).unwrap_err();
    assert!(error.contains("not closed"), "{error}");
}

#[test]
fn a_finding_flips_its_words_when_the_data_flip() {
    let sentence = |rows: &[Row], name: &str| {
        findings::sections(rows).into_iter().find(|(section, _)| *section == name).map(|(_, text)| text).unwrap()
    };
    let cost = sentence(&rows(), "findings-cost");
    assert!(cost.contains("so reclaiming is faster than allocating"), "{cost}");
    let contention = sentence(&rows(), "findings-contention");
    assert!(contention.contains("Hazard and Epoch beat `SegQueue`"), "{contention}");
    // Swap Qsbr's and Leak's times, and Hazard's, Epoch's and SegQueue's at 2x2.
    let mut swapped = rows();
    for row in swapped.iter_mut().filter(|row| row.segment_size == 64) {
        row.ns_per_job = match (row.subject.as_str(), row.producers) {
            ("qsbr", 1) if row.workload == "queue" => 32.0,
            ("leak", 1) if row.workload == "queue" => 18.0,
            ("segqueue", 2) => 20.0,
            _ => row.ns_per_job,
        };
    }
    let cost = sentence(&swapped, "findings-cost");
    assert!(cost.contains("so reclaiming is slower than allocating"), "{cost}");
    assert!(cost.contains("Hazard is the cheapest strategy that reclaims: 25.0"), "{cost}");
    let contention = sentence(&swapped, "findings-contention");
    assert!(contention.contains("Hazard and Epoch trail `SegQueue`"), "{contention}");
}

#[test]
fn the_stall_finding_tells_bounded_from_unbounded() {
    let stall = findings::sections(&rows()).into_iter().find(|(name, _)| *name == "findings-stall").unwrap().1;
    assert!(
        stall.contains(
            "Hazard leaves 14 segments unreclaimed, while Epoch (198,527) stops reclaiming, as Leak \
                        (272,959) never starts."
        ),
        "{stall}"
    );
    let absent: Vec<Row> = rows().into_iter().filter(|row| row.workload != "stall").collect();
    let stall = findings::sections(&absent).into_iter().find(|(name, _)| *name == "findings-stall").unwrap().1;
    assert!(stall.starts_with("Not in this run"), "{stall}");
}

#[test]
fn results_without_the_minimal_configurations_are_refused() {
    let lacking: Vec<Row> =
        rows().into_iter().filter(|row| !(row.workload == "empty" && row.segment_size == 1)).collect();
    let text = paper("");
    let scratch = Scratch::new("lacking", &lacking, &text);
    let error = scratch.regenerate().unwrap_err();
    assert!(error.contains("refusing these results") && error.contains("empty at 1x1, segment size 1"), "{error}");
    assert_eq!(scratch.paper(), text);
    let mut doubled = rows();
    doubled.push(rows()[0].clone());
    let error = super::check_rows(&doubled).unwrap_err();
    assert!(error.contains("two rows of hazard"), "{error}");
    assert!(super::check_rows(&[]).unwrap_err().contains("no results"));
}

#[test]
fn stall_lengths_are_selected_by_name_and_old_files_stall_for_the_whole_run() {
    let mut rows = rows();
    for (length, peak) in [("0ms", 12), ("10ms", 3_000)] {
        for subject in ["hazard", "epoch", "leak"] {
            let peak = if subject == "hazard" { 9 } else { peak };
            let stalled = row("stall", subject, 1, 1, 400.0);
            rows.push(Row { stall: Some(length.into()), peak_unreclaimed: Some(peak), ..stalled });
        }
    }
    // The rows of `rows()` have no stall column, as in a file from before it: they are the whole-run stall.
    assert_eq!(
        parse("peak(stall, epoch, 1, 1x1, 10ms) < 3001 and peak(stall, epoch, 1, 1x1) > 100000")
            .unwrap()
            .check(&data(&rows)),
        Ok(())
    );
    assert_eq!(parse("peak(stall, epoch, 1, 1x1, run) > 100000").unwrap().check(&data(&rows)), Ok(()));
    let error = parse("peak(stall, epoch, 1, 1x1, 100ms) < 1").unwrap().check(&data(&rows)).unwrap_err();
    assert!(error.contains("peak(stall, epoch, 1, 1x1, 100ms): no such row"), "{error}");
    let stall = findings::sections(&rows).into_iter().find(|(name, _)| *name == "findings-stall").unwrap().1;
    assert!(
        stall.contains(
            "Stalled for 0 ms, 10 ms and the whole run in turn (1x1, SegmentSize 1), the peaks are Hazard's \
                        9, 9, 14; Epoch's 12, 3,000, 198,527."
        ),
        "{stall}"
    );
    assert!(stall.contains("Hazard leaves 14 segments unreclaimed"), "the whole run's rows: {stall}");
}

#[test]
fn the_method_line_counts_each_rows_rounds() {
    let mut rows = rows();
    assert!(super::method_line(&rows, None).contains("the median of 3 throughput rounds of one subject"));
    for row in rows.iter_mut().take(4) {
        row.runs = 5;
    }
    let line = super::method_line(&rows, None);
    let others = rows.len() - 4;
    assert!(
        line.contains(&format!("the median of 3–5 throughput rounds (4 rows with 5, {others} rows with 3)")),
        "{line}"
    );
}

#[test]
fn criterion_claims_read_the_saved_estimates() {
    let estimate = |function: &str, value: &str, median_ns: f64| super::criterion::Estimate {
        group: "queue/pairs".into(),
        function: function.into(),
        value: value.into(),
        median_ns,
        elements: Some(1),
        measured: "2026-12-02 00:15".into(),
    };
    let saved = [estimate("hazard", "1", 100.0), estimate("hazard", "64", 37.0)];
    let rows = rows();
    let with = claims::Data { rows: &rows, criterion: &saved };
    let claim = "criterion(\"queue/pairs\", hazard, 1) / criterion(\"queue/pairs\", hazard, 64) < ns(queue, hazard, 1, \
                 1x1) / ns(queue, hazard, 64, 1x1)";
    assert_eq!(parse(claim).unwrap().check(&with), Ok(()), "2.7x in criterion, 5x in the comparison");
    let error = parse("criterion(\"queue/pairs\", qsbr, 1) < 1").unwrap().check(&with).unwrap_err();
    assert!(error.contains("criterion(\"queue/pairs\", qsbr, 1): no such benchmark"), "{error}");
    let error = parse(claim).unwrap().check(&data(&rows)).unwrap_err();
    assert!(error.contains("no criterion estimates beside the paper"), "{error}");
    assert!(parse("criterion(queue/pairs, hazard) < 1").unwrap_err().contains("expected `,` after the group"));
}

/// The README's results in brief are the paper's generated findings, rewritten from the same data; a README
/// claim the data contradict refuses the whole regeneration, and a section the README lacks is not added to it.
#[test]
fn the_readme_companion_is_regenerated_and_its_claims_checked() {
    let scratch = Scratch::new("companion", &rows(), &paper(""));
    let readme = scratch.0.join("README.md");
    let brief =
        "# Tool\n\nIn brief:\n<!-- BEGIN GENERATED: findings-cost -->\nstale\n<!-- END GENERATED: findings-cost -->\n";
    let regenerate_both =
        || regenerate(&scratch.0.join("results.csv"), &scratch.0.join("paper.md"), None, Some(readme.as_path()));
    fs::write(&readme, brief).unwrap();
    regenerate_both().unwrap();
    let written = fs::read_to_string(&readme).unwrap();
    assert!(!written.contains("stale") && written.contains("Qsbr is the cheapest strategy"), "{written}");
    assert!(!written.contains("GENERATED: targets"), "only the sections the README holds: {written}");
    let contradicted =
        format!("{brief}Hazard wins. <!-- claim: ns(queue, hazard, 64, 1x1) < ns(queue, qsbr, 64, 1x1) -->\n");
    fs::write(&readme, &contradicted).unwrap();
    let before = scratch.paper();
    let error = regenerate_both().unwrap_err();
    assert!(error.contains("README.md:") && error.contains("Hazard wins."), "{error}");
    assert_eq!(fs::read_to_string(&readme).unwrap(), contradicted, "the README is untouched");
    assert_eq!(scratch.paper(), before, "and so is the paper");
}
