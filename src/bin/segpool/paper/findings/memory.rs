//! Findings 5 and 6: unreclaimed segments with a stalled handle and without, and allocations in steady state.

use std::fmt::Write as _;

use super::{display, list, not_in_run, range, thousands};
use crate::paper::claims::stall_of;
use crate::paper::targets::{ALLOCATION_FREE, STRATEGIES, find};
use crate::report::Row;

/// A strategy "stops reclaiming" during a stall when its unreclaimed segments amount to at least this share of
/// what it retired in the run, estimated as in [`stops_reclaiming`].
const UNBOUNDED_SHARE: f64 = 0.25;

/// Whether `row` stopped reclaiming during the stall: a run of duration `T` at `s` values per segment retires
/// about `T / (ns_per_job · s)` segments, all of which Leak keeps, so `peak · ns_per_job` over Leak's is the share
/// of its retirements a strategy still held at its peak (the memory run lasts as long as the throughput runs).
fn stops_reclaiming(row: &Row, leak: &Row) -> Option<bool> {
    let (peak, leak_peak) = (row.peak_unreclaimed? as f64, leak.peak_unreclaimed? as f64);
    Some(peak * row.ns_per_job >= UNBOUNDED_SHARE * leak_peak * leak.ns_per_job)
}

fn stall_row<'a>(rows: &'a [Row], subject: &str, size: usize, threads: usize, stall: &str) -> Option<&'a Row> {
    rows.iter().find(|row| {
        row.workload == "stall"
            && row.subject == subject
            && row.segment_size == size
            && row.producers == threads
            && row.consumers == threads
            && row.policy == "grow"
            && stall_of(row) == Some(stall)
    })
}

/// Finding 5: memory while one handle stalls for the whole run.
pub(super) fn stall(rows: &[Row]) -> String {
    let Some(leak) = stall_row(rows, "leak", 1, 1, "run") else {
        return not_in_run("stall rows for the whole run at SegmentSize 1, 1x1 with Leak beside them");
    };
    let mut measured: Vec<(&Row, u64)> = STRATEGIES
        .iter()
        .filter(|name| **name != "leak")
        .filter_map(|name| stall_row(rows, name, 1, 1, "run"))
        .filter_map(|row| Some((row, row.peak_unreclaimed?)))
        .collect();
    measured.sort_by_key(|&(_, peak)| peak);
    let (unbounded, bounded): (Vec<_>, Vec<_>) =
        measured.iter().partition(|(row, _)| stops_reclaiming(row, leak) == Some(true));
    let mut text =
        String::from("With one handle stalled inside an operation for the whole run, at SegmentSize 1, 1x1, ");
    let leaves = match bounded.split_first() {
        Some(((first, peak), rest)) => {
            let mut listed =
                vec![format!("{} leaves {} segments unreclaimed", display(&first.subject), thousands(*peak))];
            listed.extend(rest.iter().map(|(row, peak)| format!("{} {}", display(&row.subject), thousands(*peak))));
            list(&listed)
        }
        None => String::new(),
    };
    let unbounded: Vec<String> =
        unbounded.iter().map(|(row, peak)| format!("{} ({})", display(&row.subject), thousands(*peak))).collect();
    let leak_peak = leak.peak_unreclaimed.map_or_else(|| "–".to_owned(), thousands);
    match (leaves.is_empty(), unbounded.is_empty()) {
        (false, false) => {
            let verb = if unbounded.len() == 1 { "stops" } else { "stop" };
            let _ = write!(
                text,
                "{leaves}, while {} {verb} reclaiming, as Leak ({leak_peak}) never starts.",
                list(&unbounded)
            );
        }
        (false, true) => {
            let _ = write!(text, "{leaves}: every strategy keeps reclaiming, while Leak holds {leak_peak}.");
        }
        (true, _) => {
            let _ = write!(text, "every strategy stops reclaiming: {}, as Leak ({leak_peak}).", list(&unbounded));
        }
    }
    let hazard: Vec<(usize, u64)> = [1, 2, 4]
        .iter()
        .filter_map(|&threads| Some((threads, stall_row(rows, "hazard", 1, threads, "run")?.peak_unreclaimed?)))
        .collect();
    if hazard.len() > 1 {
        let grows = hazard.windows(2).all(|pair| pair[1].1 > pair[0].1);
        let more: Vec<String> =
            hazard[1..].iter().map(|(threads, peak)| format!("{} at {threads}x{threads}", thousands(*peak))).collect();
        let word = if grows { "grows with the threads" } else { "does not grow with the threads" };
        let _ = write!(text, " Hazard's peak {word} ({}).", list(&more));
    }
    let eras: Vec<u64> = ["hazard-eras", "ibr"]
        .iter()
        .flat_map(|name| [2, 4].map(|threads| stall_row(rows, name, 1, threads, "run")))
        .flatten()
        .filter_map(|row| row.peak_unreclaimed)
        .collect();
    if !eras.is_empty() {
        let _ = write!(text, " HazardEras and Ibr peak at {} at 2x2 and 4x4.", range(&eras));
    }
    let mut lengths: Vec<&str> = rows
        .iter()
        .filter(|row| row.workload == "stall" && row.segment_size == 1 && row.producers == 1 && row.consumers == 1)
        .filter_map(stall_of)
        .collect();
    lengths.sort_by_key(|length| length.trim_end_matches("ms").parse::<u64>().unwrap_or(u64::MAX));
    lengths.dedup();
    if lengths.len() > 1 {
        let peaks: Vec<String> = ["hazard", "epoch"]
            .iter()
            .filter_map(|name| {
                let values: Option<Vec<String>> = lengths
                    .iter()
                    .map(|length| Some(thousands(stall_row(rows, name, 1, 1, length)?.peak_unreclaimed?)))
                    .collect();
                Some(format!("{}'s {}", display(name), values?.join(", ")))
            })
            .collect();
        if !peaks.is_empty() {
            let names: Vec<String> = lengths
                .iter()
                .map(|length| if *length == "run" { "the whole run".into() } else { length.replace("ms", " ms") })
                .collect();
            let _ = write!(
                text,
                " Stalled for {} in turn (1x1, SegmentSize 1), the peaks are {}.",
                list(&names),
                peaks.join("; ")
            );
        }
    }
    text
}

/// Finding 6: unreclaimed segments and allocations without a stall.
pub(super) fn memory(rows: &[Row]) -> String {
    let workloads = ["queue", "empty", "sha256", "cpu"];
    let peaks = |name: &str, size: usize| -> Vec<u64> {
        workloads.iter().filter_map(|workload| find(rows, workload, name, size, 1)?.peak_unreclaimed).collect()
    };
    let mut parts = Vec::new();
    for name in ["hazard", "epoch", "qsbr"] {
        let (at_64, at_1) = (peaks(name, 64), peaks(name, 1));
        let part = match (at_64.is_empty(), at_1.is_empty()) {
            (false, false) if range(&at_64) == range(&at_1) => {
                format!("{} {} at both sizes", display(name), range(&at_64))
            }
            (false, false) => {
                format!("{} {} at SegmentSize 64 and {} at 1", display(name), range(&at_64), range(&at_1))
            }
            (false, true) => format!("{} {} at SegmentSize 64", display(name), range(&at_64)),
            (true, false) => format!("{} {} at SegmentSize 1", display(name), range(&at_1)),
            (true, true) => continue,
        };
        parts.push(part);
    }
    if parts.is_empty() {
        return not_in_run("memory runs of Hazard, Epoch or Qsbr at 1x1");
    }
    let mut text = format!(
        "Without a stall, at 1x1 and over the workloads of this run, the peak of unreclaimed segments is {}.",
        list(&parts)
    );
    let places = [
        ("queue", "per value in the queue"),
        ("empty", "per empty job"),
        ("sha256", "per SHA-256 job"),
        ("cpu", "per loop job"),
    ];
    for size in [64, 1] {
        let counted: Vec<(&str, &str, f64)> = places
            .iter()
            .flat_map(|&(workload, place)| ALLOCATION_FREE.map(|name| (workload, place, name)))
            .filter_map(|(workload, place, name)| {
                Some((display(name), place, find(rows, workload, name, size, 1)?.allocs_per_job?))
            })
            .collect();
        if counted.is_empty() {
            continue;
        }
        let mut allocating: Vec<(&str, Vec<String>)> = Vec::new();
        for (name, place, allocs) in counted.iter().filter(|(_, _, allocs)| *allocs > 0.0) {
            let entry = format!("{allocs:.4} {place}");
            match allocating.iter_mut().find(|(known, _)| known == name) {
                Some((_, places)) => places.push(entry),
                None => allocating.push((name, vec![entry])),
            }
        }
        let allocating: Vec<String> =
            allocating.iter().map(|(name, places)| format!("{name} ({})", places.join(", "))).collect();
        if allocating.is_empty() {
            let _ = write!(text, " At SegmentSize {size}, none of our strategies allocates in steady state.");
            continue;
        }
        let _ = write!(
            text,
            " At SegmentSize {size}, our strategies allocate nothing in steady state but {}",
            list(&allocating)
        );
        let in_target =
            counted.iter().any(|(_, place, allocs)| *allocs > 0.0 && (*place == places[0].1 || *place == places[1].1));
        if size == 1 && in_target {
            text.push_str(", so the zero-allocation target reads \"no\" in this run");
        }
        text.push('.');
    }
    text
}
