//! The paper's targets table: issue 17's targets (the hot paths), each with what the results file measured and
//! whether that meets it. A target whose configuration the run did not include says so (`n/a`), never `yes`.

use std::fmt::Write as _;

use crate::report::Row;

/// Our strategies that never allocate in steady state (checked at SegmentSize 1, where every value takes a segment).
pub const ALLOCATION_FREE: [&str; 7] = ["limbo", "hazard", "epoch", "hazard-eras", "ibr", "qsbr", "hyaline"];

/// Every strategy, ours and the reference crates', in the paper's order.
pub const STRATEGIES: [&str; 12] = [
    "limbo",
    "hazard",
    "epoch",
    "hazard-eras",
    "ibr",
    "qsbr",
    "hyaline",
    "leak",
    "haphazard",
    "fast-smr",
    "seize",
    "crossbeam-epoch",
];

/// The strategies the SegmentSize-1 and contention targets name.
const HEADLINE: [&str; 2] = ["hazard", "epoch"];

/// The row of one subject in one configuration (`threads` producers and as many consumers or workers, Grow; in
/// the stall workload, the stall for the whole run).
pub fn find<'a>(rows: &'a [Row], workload: &str, subject: &str, size: usize, threads: usize) -> Option<&'a Row> {
    rows.iter().find(|row| {
        row.workload == workload
            && row.subject == subject
            && row.segment_size == size
            && row.producers == threads
            && row.consumers == threads
            && row.policy == "grow"
            && super::claims::stall_of(row).is_none_or(|stall| stall == "run")
    })
}

struct Table(String);

impl Table {
    fn line(&mut self, target: &str, measured: String, met: Option<bool>) {
        let met = met.map_or("n/a", |met| if met { "yes" } else { "no" });
        let _ = writeln!(self.0, "| {target} | {measured} | {met} |");
    }

    /// One line per workload and thread count: `ratio(row)` for each subject, met when every ratio is at most
    /// `bound` (and at least one subject was measured).
    fn ratios(&mut self, target: &str, bound: f64, measured: Vec<(String, f64)>) {
        if measured.is_empty() {
            return self.line(target, "not in this run".into(), None);
        }
        let worst = measured.iter().map(|(_, ratio)| *ratio).fold(0.0, f64::max);
        let listed: Vec<String> = measured.iter().map(|(name, ratio)| format!("{name} {ratio:.2}x")).collect();
        self.line(target, listed.join(", "), Some(worst <= bound));
    }
}

/// The targets table.
pub fn targets(rows: &[Row]) -> String {
    let mut table = Table(String::from("| target | measured | met |\n|---|---|---|\n"));
    for (workload, label) in [("queue", "queue"), ("empty", "pool, empty job")] {
        for threads in [1, 2] {
            let measured = HEADLINE
                .iter()
                .filter_map(|name| {
                    Some((find(rows, workload, name, 1, threads)?, find(rows, workload, name, 64, threads)?))
                })
                .map(|(one, sixty_four)| (one.subject.clone(), one.ns_per_job / sixty_four.ns_per_job))
                .collect();
            table.ratios(
                &format!("{label} {threads}x{threads}: SegmentSize 1 at most 2x SegmentSize 64 per job"),
                2.0,
                measured,
            );
        }
        let allocating: Vec<&Row> =
            ALLOCATION_FREE.iter().filter_map(|name| find(rows, workload, name, 1, 1)).collect();
        let counted: Vec<String> = allocating
            .iter()
            .filter_map(|row| row.allocs_per_job.map(|allocs| format!("{} {allocs:.4}", row.subject)))
            .collect();
        let met = (!counted.is_empty()).then(|| allocating.iter().all(|row| row.allocs_per_job == Some(0.0)));
        let measured = if counted.is_empty() { "no memory run".to_owned() } else { counted.join(", ") };
        table.line(&format!("{label} 1x1: zero allocations per job in steady state at SegmentSize 1"), measured, met);
    }
    for (workload, label) in [("queue", "queue"), ("empty", "pool, empty job")] {
        let measured = match (find(rows, workload, "limbo", 64, 1), find(rows, workload, "leak", 64, 1)) {
            (Some(limbo), Some(leak)) => vec![("limbo".to_owned(), limbo.ns_per_job / leak.ns_per_job)],
            _ => Vec::new(),
        };
        table.ratios(&format!("{label} 1x1, SegmentSize 64: Limbo within 1.3x of Leak"), 1.3, measured);
    }
    let channel = find(rows, "empty", "crossbeam-channel", 64, 1);
    match (find(rows, "empty", "io_uring", 64, 1), channel) {
        (Some(uring), Some(channel)) => {
            let ratio = uring.ns_per_job / channel.ns_per_job;
            let allocs = uring.allocs_per_job.map_or("no memory run".to_owned(), |a| format!("{a:.4} allocs/job"));
            table.line(
                "pool, empty job 1x1: io_uring within 2x of the crossbeam-channel pool, no allocation per job",
                format!("{ratio:.2}x ({:.1} vs {:.1} ns/job), {allocs}", uring.ns_per_job, channel.ns_per_job),
                Some(ratio <= 2.0 && uring.allocs_per_job.is_none_or(|allocs| allocs == 0.0)),
            );
        }
        _ => table.line("pool, empty job 1x1: io_uring within 2x of the channel pool", "not in this run".into(), None),
    }
    // The best strategy that reclaims: Leak, the baseline, allocates a segment whenever one fills.
    let best = STRATEGIES
        .iter()
        .filter(|name| **name != "leak")
        .filter_map(|name| find(rows, "empty", name, 64, 1))
        .min_by(|a, b| a.ns_per_job.total_cmp(&b.ns_per_job));
    match (best, find(rows, "empty", crate::wpool::SUBJECT, 64, 1)) {
        (Some(best), Some(wpool)) => {
            let speedup = wpool.ns_per_job / best.ns_per_job;
            table.line(
                "pool, empty job 1x1, SegmentSize 64: best reclaiming strategy at least 4x faster than wpool (Go harness)",
                format!(
                    "{speedup:.2}x ({} {:.1} vs wpool {:.1} ns/job)",
                    best.subject, best.ns_per_job, wpool.ns_per_job
                ),
                Some(speedup >= 4.0),
            );
        }
        _ => table.line(
            "pool, empty job 1x1: best reclaiming strategy at least 4x faster than wpool",
            "no wpool row (--wpool)".into(),
            None,
        ),
    }
    match (best, channel) {
        (Some(best), Some(channel)) => table.line(
            "pool, empty job 1x1, SegmentSize 64: best reclaiming strategy no slower than the crossbeam-channel pool",
            format!(
                "{} {:.2}x the channel's {:.1} ns/job",
                best.subject,
                best.ns_per_job / channel.ns_per_job,
                channel.ns_per_job
            ),
            Some(best.ns_per_job <= channel.ns_per_job),
        ),
        _ => table.line(
            "pool, empty job 1x1: best reclaiming strategy no slower than the channel",
            "not in this run".into(),
            None,
        ),
    }
    for threads in [2, 4] {
        let measured = match find(rows, "queue", "segqueue", 64, threads) {
            Some(peer) => HEADLINE
                .iter()
                .filter_map(|name| find(rows, "queue", name, 64, threads))
                .map(|row| (row.subject.clone(), row.ns_per_job / peer.ns_per_job))
                .collect(),
            None => Vec::new(),
        };
        table.ratios(
            &format!("queue {threads}x{threads}, SegmentSize 64: no slower than crossbeam SegQueue"),
            1.0,
            measured,
        );
    }
    table.0
}
