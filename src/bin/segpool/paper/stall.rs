//! The paper's stall-length table: for each strategy, the peak of unreclaimed segments and the time per value
//! against how long one handle stalls inside an operation (the `stall` workload's `--stall` lengths), the
//! MPMC-queue counterpart of setbench's retire-list size against the length of a delay.

use std::fmt::Write as _;

use super::targets::STRATEGIES;
use crate::report::Row;

/// A stall length's place on the axis: its milliseconds, with the whole run after every finite length.
pub fn stall_order(stall: &str) -> u64 {
    stall.strip_suffix("ms").and_then(|millis| millis.parse().ok()).unwrap_or(u64::MAX)
}

/// A stall length as a column heading: "0 ms", "10 ms", "whole run".
pub fn stall_heading(stall: &str) -> String {
    if stall == "run" { "whole run".to_owned() } else { stall.replace("ms", " ms") }
}

/// One table per segment size of the 1x1 stall rows (Grow): a line per strategy, a column per stall length, each
/// cell the memory run's peak of unreclaimed segments and the median round's ns per value.
pub fn stall_length_tables(rows: &[Row]) -> String {
    let stalled: Vec<&Row> = rows
        .iter()
        .filter(|row| {
            row.workload == "stall"
                && row.stall.is_some()
                && row.producers == 1
                && row.consumers == 1
                && row.policy == "grow"
        })
        .collect();
    let mut lengths: Vec<&str> = stalled.iter().filter_map(|row| row.stall.as_deref()).collect();
    lengths.sort_by_key(|stall| stall_order(stall));
    lengths.dedup();
    let mut sizes: Vec<usize> = stalled.iter().map(|row| row.segment_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    if lengths.is_empty() {
        return "Not in this run (no `stall` rows at 1x1).".to_owned();
    }
    let mut text = String::new();
    for size in sizes {
        let _ = writeln!(
            text,
            "**SegmentSize {size}**, 1 producer, 1 consumer: peak unreclaimed segments · ns per value\n"
        );
        let headings: Vec<String> = lengths.iter().map(|stall| stall_heading(stall)).collect();
        let _ = writeln!(text, "| strategy | {} |", headings.join(" | "));
        let _ = writeln!(text, "|---|{}", "---:|".repeat(lengths.len()));
        for name in STRATEGIES {
            let cells: Vec<String> = lengths
                .iter()
                .map(|&stall| {
                    stalled
                        .iter()
                        .find(|row| {
                            row.subject == name && row.segment_size == size && row.stall.as_deref() == Some(stall)
                        })
                        .map_or_else(
                            || "–".to_owned(),
                            |row| {
                                let peak = row.peak_unreclaimed.map_or_else(|| "–".to_owned(), |peak| peak.to_string());
                                format!("{peak} · {:.0}", row.ns_per_job)
                            },
                        )
                })
                .collect();
            if cells.iter().any(|cell| cell != "–") {
                let _ = writeln!(text, "| {name} | {} |", cells.join(" | "));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stalled(subject: &str, stall: &str, peak: u64, ns: f64) -> Row {
        let line = format!("stall,{subject},strategy,1,1,1,grow,{stall},3,1000,{ns},{ns},{ns},1,,,0,{peak},,0,0,");
        let header: Vec<&str> = crate::report::CSV_HEADER.split(',').collect();
        Row::from_csv(&header, &line).expect("a well-formed line")
    }

    #[test]
    fn columns_follow_the_stall_length_and_rows_the_strategies() {
        let rows = [
            stalled("epoch", "run", 90_000, 300.0),
            stalled("hazard", "10ms", 14, 120.0),
            stalled("epoch", "0ms", 5, 110.0),
            stalled("hazard", "run", 14, 125.0),
            stalled("epoch", "10ms", 9_000, 140.0),
        ];
        let text = stall_length_tables(&rows);
        assert!(text.contains("| strategy | 0 ms | 10 ms | whole run |"), "{text}");
        assert!(text.contains("| hazard | – | 14 · 120 | 14 · 125 |"), "{text}");
        assert!(text.contains("| epoch | 5 · 110 | 9000 · 140 | 90000 · 300 |"), "{text}");
        assert!(text.find("| hazard").unwrap() < text.find("| epoch").unwrap(), "the paper's strategy order");
        assert_eq!(stall_length_tables(&rows[..0]), "Not in this run (no `stall` rows at 1x1).");
    }
}
