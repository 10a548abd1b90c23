//! The raw data: `rounds.csv`, one line per measured quantity of every round, in the order the rounds ran.
//! `results.csv` keeps the median round per subject and configuration; this file keeps every round, so that a
//! reader can redo the statistics (spread, outliers, drift over the run) without running anything again.
//!
//! A line is the configuration (the first eight columns of `results.csv`), the round (`1`..`N` for throughput
//! rounds, `memory` for the memory run), and one metric with its value and unit. A metric a round did not
//! measure (no latency samples, no segment accounting for a peer) has no line.

use std::fmt::Write as _;
use std::path::Path;

use crate::measure::quantile;
use crate::subjects::Subject;
use crate::workloads::{Cell, Outcome, StallLength};
use crate::wpool::{self, GoResult};

/// The file's name, beside `results.csv`.
pub const FILE: &str = "rounds.csv";

pub const HEADER: &str = "workload,subject,kind,producers,consumers,segment_size,policy,stall,round,metric,value,unit";

/// The lines so far, in the order their rounds ran.
#[derive(Default)]
pub struct Rounds {
    text: String,
    lines: usize,
}

impl Rounds {
    fn line(&mut self, configuration: &str, round: &str, metric: &str, value: impl std::fmt::Display, unit: &str) {
        let _ = writeln!(self.text, "{configuration},{round},{metric},{value},{unit}");
        self.lines += 1;
    }

    /// Throughput round `round` (from 1) of `subject` at `cell`.
    pub fn throughput(&mut self, subject: Subject, cell: &Cell, round: usize, outcome: &Outcome) {
        let configuration = configuration(subject.name(), kind(subject), cell);
        let round = round.to_string();
        let ns_per_job = outcome.elapsed.as_nanos() as f64 / outcome.jobs.max(1) as f64;
        self.line(&configuration, &round, "ns_per_job", format_args!("{ns_per_job:.2}"), "ns");
        self.line(&configuration, &round, "jobs", outcome.jobs, "jobs");
        self.line(&configuration, &round, "elapsed", outcome.elapsed.as_nanos(), "ns");
        self.line(&configuration, &round, "handed_back", outcome.handed_back, "jobs");
        self.line(&configuration, &round, "latency_samples", outcome.latencies.len(), "samples");
        for (metric, q) in [("p50_latency", 0.5), ("p99_latency", 0.99)] {
            if let Some(value) = quantile(&outcome.latencies, q) {
                self.line(&configuration, &round, metric, value, "ns");
            }
        }
        if let Some(stats) = outcome.stats {
            self.line(&configuration, &round, "exhaustion_events", stats.exhaustion_events, "events");
        }
    }

    /// The memory run of `subject` at `cell`.
    pub fn memory(&mut self, subject: Subject, cell: &Cell, outcome: &Outcome) {
        let configuration = configuration(subject.name(), kind(subject), cell);
        if let Some((allocations, jobs)) = outcome.allocations {
            let per_job = allocations as f64 / jobs.max(1) as f64;
            self.line(&configuration, "memory", "allocs_per_job", format_args!("{per_job:.4}"), "allocations");
        }
        if let Some(peak) = outcome.peak_unreclaimed {
            self.line(&configuration, "memory", "peak_unreclaimed", peak, "segments");
        }
        if let Some(stats) = outcome.stats {
            self.line(&configuration, "memory", "segments_allocated", stats.segments_allocated, "segments");
            self.line(&configuration, "memory", "exhaustion_events", stats.exhaustion_events, "events");
        }
    }

    /// wpool's Go round `round` (from 1) at `cell`: Go's own numbers (b.N iterations, ns/op, B/op, allocs/op).
    pub fn go(&mut self, cell: &Cell, round: usize, result: &GoResult) {
        let configuration = configuration(wpool::SUBJECT, wpool::KIND, cell);
        let round = round.to_string();
        self.line(&configuration, &round, "ns_per_job", format_args!("{:.2}", result.ns_per_op), "ns");
        self.line(&configuration, &round, "jobs", result.iterations, "jobs");
        if let Some(bytes) = result.bytes_per_op {
            self.line(&configuration, &round, "bytes_per_job", bytes, "bytes");
        }
        if let Some(allocs) = result.allocs_per_op {
            // Go truncates allocs/op to an integer.
            self.line(&configuration, &round, "allocs_per_job", allocs, "allocations (truncated)");
        }
    }

    /// Lines written so far (without the header).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lines
    }

    pub fn text(&self) -> String {
        format!("{HEADER}\n{}", self.text)
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        std::fs::write(path, self.text()).map_err(|error| format!("{}: {error}", path.display()))
    }
}

fn kind(subject: Subject) -> &'static str {
    if subject.is_strategy() { "strategy" } else { "peer" }
}

/// The configuration columns, as `results.csv` writes them.
fn configuration(subject: &str, kind: &str, cell: &Cell) -> String {
    format!(
        "{},{subject},{kind},{},{},{},{},{}",
        cell.workload.name(),
        cell.producers,
        cell.consumers,
        cell.segment_size,
        cell.policy.name(),
        cell.stall.map(StallLength::name).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::workloads::{Policy, Workload};

    fn cell() -> Cell {
        Cell {
            workload: Workload::Stall,
            producers: 1,
            consumers: 2,
            segment_size: 64,
            policy: Policy::Grow,
            duration: Duration::from_millis(20),
            window: 256,
            stall: Some(StallLength::For(Duration::from_millis(10))),
            pin: false,
        }
    }

    #[test]
    fn a_round_is_one_line_per_metric_in_order() {
        let mut rounds = Rounds::default();
        let outcome = Outcome {
            jobs: 1000,
            elapsed: Duration::from_micros(25),
            latencies: vec![10, 20, 30],
            handed_back: 3,
            ..Outcome::default()
        };
        rounds.throughput(Subject::Hazard, &cell(), 2, &outcome);
        let memory = Outcome { allocations: Some((5, 1000)), peak_unreclaimed: Some(7), ..Outcome::default() };
        rounds.memory(Subject::Hazard, &cell(), &memory);
        let go = GoResult {
            name: "x".into(),
            iterations: 4000,
            ns_per_op: 123.0,
            bytes_per_op: Some(41.0),
            allocs_per_op: Some(1.0),
        };
        rounds.go(&cell(), 1, &go);
        let expected = "workload,subject,kind,producers,consumers,segment_size,policy,stall,round,metric,value,unit
stall,hazard,strategy,1,2,64,grow,10ms,2,ns_per_job,25.00,ns
stall,hazard,strategy,1,2,64,grow,10ms,2,jobs,1000,jobs
stall,hazard,strategy,1,2,64,grow,10ms,2,elapsed,25000,ns
stall,hazard,strategy,1,2,64,grow,10ms,2,handed_back,3,jobs
stall,hazard,strategy,1,2,64,grow,10ms,2,latency_samples,3,samples
stall,hazard,strategy,1,2,64,grow,10ms,2,p50_latency,20,ns
stall,hazard,strategy,1,2,64,grow,10ms,2,p99_latency,30,ns
stall,hazard,strategy,1,2,64,grow,10ms,memory,allocs_per_job,0.0050,allocations
stall,hazard,strategy,1,2,64,grow,10ms,memory,peak_unreclaimed,7,segments
stall,wpool (Go harness),go-harness,1,2,64,grow,10ms,1,ns_per_job,123.00,ns
stall,wpool (Go harness),go-harness,1,2,64,grow,10ms,1,jobs,4000,jobs
stall,wpool (Go harness),go-harness,1,2,64,grow,10ms,1,bytes_per_job,41,bytes
stall,wpool (Go harness),go-harness,1,2,64,grow,10ms,1,allocs_per_job,1,allocations (truncated)
";
        assert_eq!(rounds.text(), expected);
        assert_eq!(rounds.len(), 13);
    }
}
