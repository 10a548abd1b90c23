//! The findings of Section 5.0, written from the results: every number and every comparative word (cheapest,
//! faster or slower, within or beyond a target, "stops reclaiming") is computed here, so a run that says otherwise
//! rewrites the sentence instead of contradicting it. The authors' explanations of *why* stay hand-written between
//! the sections. A finding whose rows the run lacks says so.

use std::fmt::Write as _;

use super::targets::{STRATEGIES, find};
use crate::report::Row;

mod memory;
use memory::{memory, stall};

/// The strategies of this crate (the rest of [`STRATEGIES`] are the reference crates').
const OURS: [&str; 8] = ["limbo", "hazard", "epoch", "hazard-eras", "ibr", "qsbr", "hyaline", "leak"];
const CRATES: [&str; 4] = ["haphazard", "fast-smr", "seize", "crossbeam-epoch"];

/// The findings' sections, in the paper's order.
pub fn sections(rows: &[Row]) -> Vec<(&'static str, String)> {
    vec![
        ("findings-cost", cost(rows)),
        ("findings-wpool", against_wpool(rows)),
        ("findings-segment-size", segment_size(rows)),
        ("findings-contention", contention(rows)),
        ("findings-stall", stall(rows)),
        ("findings-memory", memory(rows)),
        ("findings-io-uring", io_uring(rows)),
        ("findings-real-work", real_work(rows)),
    ]
}

/// The paper's name for a subject.
pub fn display(subject: &str) -> &str {
    match subject {
        "limbo" => "Limbo",
        "hazard" => "Hazard",
        "epoch" => "Epoch",
        "hazard-eras" => "HazardEras",
        "ibr" => "Ibr",
        "qsbr" => "Qsbr",
        "hyaline" => "Hyaline",
        "leak" => "Leak",
        "segqueue" => "`SegQueue`",
        "crossbeam-channel" => "the crossbeam channel",
        "mutex-deque" => "`Mutex<VecDeque>`",
        other => other,
    }
}

/// "a", "a and b", "a, b and c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A count with thousands separators: 198,527.
pub fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `a`'s time against `b`'s, in words: "2.10x faster" or "1.20x slower".
fn faster_or_slower(a: f64, b: f64) -> String {
    if a <= b { format!("{:.2}x faster", b / a) } else { format!("{:.2}x slower", a / b) }
}

/// "10" or "4–6".
fn range(values: &[u64]) -> String {
    let (low, high) = (values.iter().min().copied().unwrap_or(0), values.iter().max().copied().unwrap_or(0));
    if low == high { thousands(low) } else { format!("{}–{}", thousands(low), thousands(high)) }
}

fn not_in_run(what: &str) -> String {
    format!("Not in this run: it has no {what}.")
}

fn ns(rows: &[Row], workload: &str, subject: &str, size: usize, threads: usize) -> Option<f64> {
    find(rows, workload, subject, size, threads).map(|row| row.ns_per_job)
}

/// The cheapest of `subjects` in one configuration.
fn cheapest<'a>(rows: &'a [Row], workload: &str, subjects: &[&str], size: usize) -> Option<&'a Row> {
    subjects
        .iter()
        .filter_map(|name| find(rows, workload, name, size, 1))
        .min_by(|a, b| a.ns_per_job.total_cmp(&b.ns_per_job))
}

/// Finding 1: the cost per operation at SegmentSize 64, 1x1.
fn cost(rows: &[Row]) -> String {
    let reclaiming: Vec<&str> = STRATEGIES.iter().copied().filter(|name| *name != "leak").collect();
    let Some(best) = cheapest(rows, "queue", &reclaiming, 64) else {
        return not_in_run("queue rows at SegmentSize 64, 1x1");
    };
    let mut text = format!(
        "In the queue at SegmentSize 64, 1x1, {} is the cheapest strategy that reclaims: {:.1} ns per value",
        display(&best.subject),
        best.ns_per_job
    );
    let mut against = Vec::new();
    if let Some(hazard) = ns(rows, "queue", "hazard", 64, 1).filter(|_| best.subject != "hazard") {
        against.push(format!("{:.2}x Hazard's {hazard:.1}", best.ns_per_job / hazard));
    }
    let leak = ns(rows, "queue", "leak", 64, 1);
    if let Some(leak) = leak {
        against.push(format!("{:.2}x Leak's {leak:.1}", best.ns_per_job / leak));
    }
    if !against.is_empty() {
        let _ = write!(text, ", {}", list(&against));
    }
    if let Some(leak) = leak {
        let word = if best.ns_per_job < leak { "faster" } else { "slower" };
        let _ = write!(text, ", so reclaiming is {word} than allocating a fresh segment each time one fills");
    }
    text.push('.');
    let pool_subjects: Vec<&str> = reclaiming.iter().copied().filter(|name| *name != "leak").collect();
    if let Some(pool_best) = cheapest(rows, "empty", &pool_subjects, 64) {
        let again = if pool_best.subject == best.subject { " again" } else { "" };
        let _ = write!(
            text,
            " In the pool with an empty job, {} is{again} the cheapest strategy, at {:.1} ns per job",
            display(&pool_best.subject),
            pool_best.ns_per_job
        );
        let others: Vec<String> = ["hazard", "crossbeam-channel"]
            .iter()
            .filter(|name| **name != pool_best.subject)
            .filter_map(|name| Some(format!("{} {:.1}", display(name), ns(rows, "empty", name, 64, 1)?)))
            .collect();
        if !others.is_empty() {
            let _ = write!(text, " ({})", list(&others));
        }
        let backends: Vec<&Row> = rows
            .iter()
            .filter(|row| row.workload == "empty" && row.segment_size == 64 && row.producers == 1 && row.consumers == 1)
            .filter(|row| row.policy == "grow" && row.kind != crate::wpool::KIND)
            .collect();
        let fastest = backends.iter().min_by(|a, b| a.ns_per_job.total_cmp(&b.ns_per_job));
        match fastest {
            Some(fastest) if fastest.subject == pool_best.subject => text.push_str(", the fastest backend there"),
            Some(fastest) => {
                let _ = write!(text, ", behind {} ({:.1})", display(&fastest.subject), fastest.ns_per_job);
            }
            None => {}
        }
        text.push('.');
    }
    let classics: Vec<(&str, f64)> = ["hazard", "epoch", "hazard-eras", "ibr"]
        .iter()
        .filter_map(|name| Some((*name, ns(rows, "queue", name, 64, 1)?)))
        .collect();
    if !classics.is_empty() {
        let times: Vec<f64> = classics.iter().map(|(_, ns)| *ns).collect();
        let (low, high) = (times.iter().copied().fold(f64::MAX, f64::min), times.iter().copied().fold(0.0, f64::max));
        let names: Vec<String> = classics.iter().map(|(name, _)| display(name).to_owned()).collect();
        let spread = if low == high { format!("{low:.1}") } else { format!("{low:.1}–{high:.1}") };
        let _ = write!(text, " {} take {spread} ns in the queue", list(&names));
        if let Some(peer) = ns(rows, "queue", "segqueue", 64, 1) {
            let relation = if low >= 0.9 * peer && high <= 1.1 * peer {
                "within 10 % of"
            } else if high < peer {
                "below"
            } else if low > peer {
                "above"
            } else {
                "either side of"
            };
            let _ = write!(text, ", {relation} crossbeam's `SegQueue` ({peer:.1})");
        }
        text.push('.');
    }
    if let (Some(hyaline), Some(epoch)) = (ns(rows, "queue", "hyaline", 64, 1), ns(rows, "queue", "epoch", 64, 1)) {
        let _ = write!(text, " Hyaline takes {hyaline:.1}, {:.2}x Epoch's time.", hyaline / epoch);
    }
    let mut crates: Vec<(&str, f64)> =
        CRATES.iter().filter_map(|name| Some((*name, ns(rows, "queue", name, 64, 1)?))).collect();
    crates.sort_by(|a, b| a.1.total_cmp(&b.1));
    if !crates.is_empty() {
        let named: Vec<String> = crates.iter().map(|(name, ns)| format!("{name} {ns:.1}")).collect();
        let _ = write!(text, " The reference crates take, from the fastest: {}.", list(&named));
    }
    if let (Some(limbo), Some(leak)) = (ns(rows, "queue", "limbo", 64, 1), leak) {
        let _ = write!(text, " Limbo takes {limbo:.1}, {:.2}x Leak's time.", limbo / leak);
    }
    text
}

/// Finding 2: the pool against wpool's own Go benchmark.
fn against_wpool(rows: &[Row]) -> String {
    let Some(wpool) = find(rows, "empty", crate::wpool::SUBJECT, 64, 1) else {
        return not_in_run("wpool rows (run the comparison with `--wpool DIR`)");
    };
    // Leak is the baseline that never reclaims, not a strategy a user of the pool would pick.
    let mut ours: Vec<&Row> =
        OURS.iter().filter(|name| **name != "leak").filter_map(|name| find(rows, "empty", name, 64, 1)).collect();
    ours.sort_by(|a, b| a.ns_per_job.total_cmp(&b.ns_per_job));
    let (Some(best), Some(slowest)) = (ours.first(), ours.last()) else {
        return not_in_run("rows of our strategies in the pool at SegmentSize 64, 1x1");
    };
    let mut text = format!(
        "Side by side, wpool's own benchmark (Go harness, `BenchmarkPool_WorkerScale`, empty job, 1 producer, 1 \
         worker, SegmentSize 64) took {:.1} ns per job; our best reclaiming strategy, {} ({:.1}), is {} than the \
         seed",
        wpool.ns_per_job,
        display(&best.subject),
        best.ns_per_job,
        faster_or_slower(best.ns_per_job, wpool.ns_per_job)
    );
    if ours.len() > 2 {
        let next = ours[ours.len() - 2];
        let _ = write!(
            text,
            ", our slowest, {}, {}, and every other at least {}",
            display(&slowest.subject),
            faster_or_slower(slowest.ns_per_job, wpool.ns_per_job),
            faster_or_slower(next.ns_per_job, wpool.ns_per_job)
        );
    }
    text.push('.');
    text
}

/// Finding 3: what SegmentSize 1 costs against SegmentSize 64.
fn segment_size(rows: &[Row]) -> String {
    let mut parts = Vec::new();
    let mut met = Vec::new();
    for (workload, place) in [("queue", "in the queue"), ("empty", "in the pool (empty job)")] {
        let ratios: Vec<(String, f64)> = ["hazard", "epoch"]
            .iter()
            .filter_map(|name| {
                Some((display(name).to_owned(), ns(rows, workload, name, 1, 1)? / ns(rows, workload, name, 64, 1)?))
            })
            .collect();
        if ratios.is_empty() {
            continue;
        }
        met.extend(ratios.iter().map(|(_, ratio)| *ratio <= 2.0));
        let listed: Vec<String> = ratios.iter().map(|(name, ratio)| format!("{ratio:.2}x with {name}")).collect();
        parts.push(format!("{} {place}", list(&listed)));
    }
    if parts.is_empty() {
        return not_in_run("Hazard or Epoch rows at SegmentSize 1 and 64, 1x1");
    }
    let verdict = if met.iter().all(|&met| met) {
        "met"
    } else if met.iter().any(|&met| met) {
        "met in part"
    } else {
        "missed"
    };
    format!(
        "At 1x1, SegmentSize 1 multiplies the time per value of SegmentSize 64 by {}: the 2x target is {verdict}.",
        list(&parts)
    )
}

/// Finding 4: Hazard and Epoch against `SegQueue` with more threads.
fn contention(rows: &[Row]) -> String {
    let mut sentences = Vec::new();
    for threads in [2, 4] {
        let Some(peer) = ns(rows, "queue", "segqueue", 64, threads) else { continue };
        let ratios: Vec<(&str, f64)> = ["hazard", "epoch"]
            .iter()
            .filter_map(|name| Some((display(name), ns(rows, "queue", name, 64, threads)? / peer)))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let names: Vec<String> = ratios.iter().map(|(name, _)| (*name).to_owned()).collect();
        let verb = if ratios.iter().all(|(_, ratio)| *ratio < 1.0) {
            "beat"
        } else if ratios.iter().all(|(_, ratio)| *ratio > 1.0) {
            "trail"
        } else {
            "are on either side of"
        };
        let verb =
            if ratios.len() == 1 { verb.replace("beat", "beats").replace("trail", "trails") } else { verb.into() };
        let verb = if ratios.len() == 1 { verb.replace("are on", "is on") } else { verb };
        let times: Vec<String> = ratios.iter().map(|(_, ratio)| format!("{ratio:.2}x")).collect();
        let mut sentence = format!(
            "At {threads}x{threads}, SegmentSize 64, {} {verb} `SegQueue` ({} its time)",
            list(&names),
            list(&times)
        );
        if let Some(channel) = ns(rows, "queue", "crossbeam-channel", 64, threads) {
            let worst = ratios.iter().map(|(_, ratio)| *ratio).fold(1.0, f64::max) * peer;
            let best = ratios.iter().map(|(_, ratio)| *ratio).fold(1.0, f64::min) * peer;
            let word = if channel > worst {
                "slower than all of them"
            } else if channel < best {
                "faster than all of them"
            } else {
                "among them"
            };
            let _ = write!(sentence, "; the crossbeam channel is {word} ({:.2}x)", channel / peer);
        }
        sentences.push(format!("{sentence}."));
    }
    if sentences.is_empty() {
        return not_in_run("queue rows with `SegQueue` at 2x2 or 4x4");
    }
    sentences.join(" ")
}

/// Finding 7: io_uring against the crossbeam channel.
fn io_uring(rows: &[Row]) -> String {
    let (Some(uring), Some(channel)) =
        (find(rows, "empty", "io_uring", 64, 1), find(rows, "empty", "crossbeam-channel", 64, 1))
    else {
        return not_in_run("io_uring and crossbeam-channel rows in the pool at SegmentSize 64, 1x1");
    };
    let ratio = uring.ns_per_job / channel.ns_per_job;
    let target = if ratio <= 2.0 {
        "within the 2x target".to_owned()
    } else {
        format!("the 2x target missed by {:.0} %", (ratio / 2.0 - 1.0) * 100.0)
    };
    let allocs =
        uring.allocs_per_job.map_or_else(String::new, |allocs| format!(", with {allocs:.4} allocations per job"));
    format!(
        "io_uring takes {:.1} ns per empty job at 1x1, SegmentSize 64, {ratio:.2}x the crossbeam channel's {:.1} \
         ({target}){allocs}.",
        uring.ns_per_job, channel.ns_per_job
    )
}

/// Finding 8: how far apart the backends are when jobs do real work.
fn real_work(rows: &[Row]) -> String {
    // The widest spread (slowest over fastest, less one) of any of `workloads` at `size`, in per cent.
    let spread = |workloads: &[&str], size: usize| -> Option<f64> {
        let spreads: Vec<f64> = workloads
            .iter()
            .filter_map(|workload| {
                let times: Vec<f64> = rows
                    .iter()
                    .filter(|row| row.workload == *workload && row.segment_size == size)
                    .filter(|row| row.producers == 1 && row.consumers == 1 && row.policy == "grow")
                    .filter(|row| row.kind != crate::wpool::KIND)
                    .map(|row| row.ns_per_job)
                    .collect();
                let low = times.iter().copied().fold(f64::MAX, f64::min);
                let high = times.iter().copied().fold(0.0, f64::max);
                (times.len() > 1).then(|| (high / low - 1.0) * 100.0)
            })
            .collect();
        spreads.into_iter().reduce(f64::max)
    };
    let real = ["sha256", "cpu"];
    let (Some(at_1), Some(at_64)) = (spread(&real, 1), spread(&real, 64)) else {
        return not_in_run("sha256 or cpu rows at 1x1");
    };
    let mut text = format!(
        "With SHA-256 of 8 KiB or a 100,000-step loop per job, every backend's time per job at 1x1 is within \
         {at_1:.0} % of the fastest one's at SegmentSize 1 and {at_64:.0} % at 64"
    );
    if let Some(sha) = ns(rows, "sha256", "hazard", 64, 1) {
        let _ = write!(text, " (a SHA-256 job takes {:.1} µs)", sha / 1e3);
    }
    if let Some(empty) = spread(&["empty"], 64) {
        let word = if at_64.max(at_1) < empty / 2.0 { "against" } else { "close to" };
        let _ = write!(text, ", {word} {empty:.0} % for the empty job at SegmentSize 64");
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lists_read_as_prose() {
        assert_eq!(thousands(198_527), "198,527");
        assert_eq!(thousands(512), "512");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(list(&["a".into()]), "a");
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(faster_or_slower(10.0, 20.0), "2.00x faster");
        assert_eq!(faster_or_slower(30.0, 20.0), "1.50x slower");
        assert_eq!(range(&[4, 6, 5]), "4–6");
    }
}
