//! The workloads: what each run does, measured the same way for every subject.
//!
//! Queue workloads move `u64` values from producer threads to consumer threads through a backend; pool workloads
//! submit jobs to a [`Pool`] whose workers run one of wpool's three job bodies. Every run is closed-loop with a
//! bounded backlog: producers stop submitting while more than `window` jobs are in flight, so that a subject that
//! consumes slowly is not also charged for an ever-growing queue, and latency under load stays meaningful (it is
//! the time a job waits behind at most `window` others). Producers run for `duration`; a run ends when the last
//! accepted job is done, and is timed from a start barrier to that moment.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use segpool::pool::Backend;
use segpool::{Config, OnExhausted, Pool, QueueStats, Submit};
use sha2::{Digest, Sha256};

use crate::measure::{AllocationWindow, Clock, Padded, SAMPLE_EVERY, Samples, peak_while};
use crate::subjects::{Inspect, Kind, Scope, Subject, Visitor};

mod runs;
use runs::{pool_run, queue_run};

/// A workload of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Workload {
    /// Values through the queue alone: producers push, consumers pop in batches of 64.
    Queue,
    /// `queue` while one more handle stalls inside an operation, holding the head segment, for each of the
    /// `--stall` lengths (strategies only): what a preempted or crashed thread costs each strategy.
    Stall,
    /// Pool, empty job: the queue and the pool's hand-off are all the cost.
    Empty,
    /// Pool, SHA-256 of 8 KiB per job (wpool's I/O-free "realistic" job).
    Sha256,
    /// Pool, a CPU-bound loop of 100,000 iterations per job.
    Cpu,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Queue => "queue",
            Workload::Stall => "stall",
            Workload::Empty => "empty",
            Workload::Sha256 => "sha256",
            Workload::Cpu => "cpu",
        }
    }

    fn is_pool(self) -> bool {
        matches!(self, Workload::Empty | Workload::Sha256 | Workload::Cpu)
    }

    /// Whether `subject` takes part in this workload.
    pub fn admits(self, subject: Subject) -> bool {
        match (self, subject.scope()) {
            (Workload::Stall, _) => subject.is_strategy(),
            (Workload::Queue, Scope::PoolOnly) => false,
            (_, Scope::QueueOnly) => !self.is_pool(),
            _ => true,
        }
    }
}

/// The exhaustion policy of the segmented subjects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Allocate a segment when none is free (counted as an exhaustion event).
    Grow,
    /// Hand the value back; the producer retries (counted as handed back).
    Fail,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Grow => "grow",
            Policy::Fail => "fail",
        }
    }
}

/// How long the `stall` workload's extra handle stays inside its operation, from the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StallLength {
    /// Released after this long (0: entered and left at the start), then the handle is dropped.
    For(Duration),
    /// Released when the producers are done: a thread that never comes back.
    WholeRun,
}

/// A duration that begins with a hyphen is negative, and is named as such. The duration flags accept hyphenated
/// values only so that this message, and not clap's "unexpected argument", is what a user reads
/// (`cli::options::missing_duration` catches the flag that clap would then take for a missing value).
pub fn refuse_negative(text: &str) -> Result<(), String> {
    if text.trim_start().starts_with('-') {
        return Err(format!("{text}: durations cannot be negative"));
    }
    Ok(())
}

impl StallLength {
    /// The lengths of the stall-length experiment (the counterpart of setbench's retire-list size against the
    /// length of a delay): none, a time slice, a long preemption, most of a default run, and forever.
    pub const DEFAULT: [StallLength; 5] = [
        StallLength::For(Duration::ZERO),
        StallLength::For(Duration::from_millis(1)),
        StallLength::For(Duration::from_millis(10)),
        StallLength::For(Duration::from_millis(100)),
        StallLength::WholeRun,
    ];

    /// The spelling of the CSV and the `--stall` flag: `0ms`, `10ms`, `run`.
    pub fn name(self) -> String {
        match self {
            StallLength::For(length) => format!("{}ms", length.as_millis()),
            StallLength::WholeRun => "run".to_owned(),
        }
    }

    /// The inverse of [`StallLength::name`]: a whole number of milliseconds up to 600 s, or `run`.
    pub fn parse(text: &str) -> Result<StallLength, String> {
        if text == "run" {
            return Ok(StallLength::WholeRun);
        }
        refuse_negative(text)?;
        let millis = text
            .strip_suffix("ms")
            .and_then(|number| number.parse::<u64>().ok())
            .ok_or_else(|| format!("{text:?}: write a whole number of milliseconds (e.g. 0ms, 10ms) or `run`"))?;
        if millis > 600_000 {
            return Err(format!("{text}: at most 600000ms (600 s)"));
        }
        Ok(StallLength::For(Duration::from_millis(millis)))
    }
}

/// One configuration of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    pub workload: Workload,
    pub producers: usize,
    pub consumers: usize,
    pub segment_size: usize,
    pub policy: Policy,
    pub duration: Duration,
    pub window: u64,
    /// The `stall` workload's stall; `None` for every other workload.
    pub stall: Option<StallLength>,
    /// `--pin`: every thread of a run pinned to a core, round-robin ([`pin_thread`]).
    pub pin: bool,
}

impl Cell {
    /// Enough segments up front for a full window (plus the segments producers and consumers stand on), so that
    /// exhaustion means reclamation fell behind, not an undersized pool.
    pub fn backend_config(&self) -> Config {
        let in_flight = self.window as usize * self.producers;
        let mut segment_count = in_flight.div_ceil(self.segment_size) + 2 * (self.producers + self.consumers) + 4;
        let on_exhausted = match self.policy {
            Policy::Grow => OnExhausted::Grow,
            Policy::Fail => {
                // Limbo needs limbo_len + 2 segments to recycle under Fail (the library refuses fewer); every
                // subject gets the same pool, so that the size stays held fixed.
                segment_count = segment_count.max(Config::default().limbo_len + 2);
                OnExhausted::Fail
            }
        };
        let segment_count = segment_count.min(segpool::MAX_INITIAL_SEGMENTS);
        Config { segment_size: self.segment_size, segment_count, on_exhausted, ..Config::default() }
    }
}

/// Throughput runs measure time and latency; memory runs count allocations and sample unreclaimed segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Throughput,
    Memory,
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Jobs accepted and completed (each exactly once: checked).
    pub jobs: u64,
    pub elapsed: Duration,
    /// Sorted latency samples (ns): push to pop, or submit to the job's start.
    pub latencies: Vec<u64>,
    /// Pushes or submits handed back (and retried).
    pub handed_back: u64,
    /// Segment accounting at the end (segmented subjects).
    pub stats: Option<QueueStats>,
    /// Memory runs: allocations by every thread from the end of the warm-up to the last job's completion, and the
    /// jobs completed in that time.
    pub allocations: Option<(u64, u64)>,
    /// Memory runs: the peak of `retired_pending` (segmented subjects).
    pub peak_unreclaimed: Option<u64>,
}

/// Runs one cell for one subject.
pub fn run(subject: Subject, cell: Cell, mode: Mode, clock: Clock) -> Result<Outcome, String> {
    crate::subjects::dispatch(subject, RunVisitor { cell, mode, clock })
}

struct RunVisitor {
    cell: Cell,
    mode: Mode,
    clock: Clock,
}

impl Visitor for RunVisitor {
    type Output = Result<Outcome, String>;

    fn visit<K: Kind>(self, _subject: Subject) -> Self::Output {
        let RunVisitor { cell, mode, clock } = self;
        let outcome = match cell.workload {
            Workload::Queue | Workload::Stall => {
                let backend = K::Of::<u64>::build(&cell.backend_config()).map_err(|error| error.to_string())?;
                instrumented(mode, &backend, || queue_run(&backend, cell, mode, clock))
            }
            Workload::Empty | Workload::Sha256 | Workload::Cpu => pool_run::<K>(cell, mode, clock)?,
        };
        Ok(outcome)
    }
}

/// Runs `work` under the instruments of `mode`.
fn instrumented<B: Inspect + Sync>(mode: Mode, backend: &B, work: impl FnOnce() -> Outcome) -> Outcome {
    let mut outcome = match mode {
        Mode::Throughput => work(),
        Mode::Memory => {
            let gauge = || backend.segment_stats().map_or(0, |stats| stats.retired_pending);
            let (outcome, peak) = peak_while(gauge, work);
            Outcome { peak_unreclaimed: backend.segment_stats().map(|_| peak), ..outcome }
        }
    };
    outcome.stats = backend.segment_stats();
    outcome
}

/// With `--pin`, pins the calling thread, the run's thread number `index`, to core `index mod cores` (the
/// cores this process may use, in the order the OS lists them), so that a run's threads are spread round-robin.
/// Numbering in a queue run: producers, then consumers, then the stalled handle; in a pool run the pool's workers
/// are pinned by the pool (`Builder::pin_workers`: worker `i` on core `i mod cores`) and the producers follow them.
pub fn pin_thread(cell: &Cell, index: usize) {
    if !cell.pin {
        return;
    }
    #[cfg(feature = "affinity")]
    if let Some(cores) = core_affinity::get_core_ids().filter(|cores| !cores.is_empty())
        && core_affinity::set_for_current(cores[index % cores.len()])
    {
        return;
    }
    // `Plan::from_args` refuses --pin where it cannot work; a core that refuses a thread here is a bug to see.
    panic!("--pin: could not pin thread {index} to a core");
}

/// Whether `--pin` can work in this build and on this machine, or why not.
pub fn pinning_available() -> Result<(), String> {
    #[cfg(feature = "affinity")]
    {
        match core_affinity::get_core_ids() {
            Some(cores) if !cores.is_empty() => Ok(()),
            _ => Err("--pin: this platform does not report the cores this process may use".to_owned()),
        }
    }
    #[cfg(not(feature = "affinity"))]
    Err("--pin needs the `affinity` feature (on by default); this binary was built without it".to_owned())
}

/// Waits politely: spins briefly, then yields, so that a waiting thread does not take the core from the thread it
/// waits for when threads outnumber cores (oversubscribed configurations, or a busy machine).
fn backoff(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// The shared counters of a run, each on its own cache line.
#[derive(Default)]
struct Progress {
    /// Jobs offered and accepted, published every [`SAMPLE_EVERY`] jobs (exact once every producer is done).
    published: Padded<AtomicU64>,
    /// Jobs done (popped, or run by the pool).
    done: Padded<AtomicU64>,
    /// Producers still running.
    producers_left: Padded<AtomicUsize>,
    /// When producers stop, in [`Clock`] nanoseconds; set before the start barrier.
    deadline: Padded<AtomicU64>,
}

/// Memory runs count allocations in steady state: after a warm-up of half the run (segments grown to what the
/// strategy needs, buffers at their size), as `tests/alloc.rs` does. Returns the jobs done so far and the window.
fn count_after_warm_up(mode: Mode, cell: Cell, progress: &Progress) -> Option<(u64, AllocationWindow)> {
    (mode == Mode::Memory).then(|| {
        thread::sleep(cell.duration / 2);
        (progress.done.0.load(Ordering::Acquire), AllocationWindow::start())
    })
}

/// One producer: offers jobs until the deadline, keeping at most `window` in flight (plus the up to
/// `SAMPLE_EVERY - 1` each producer has not published yet). Every `SAMPLE_EVERY`th job carries its offer time
/// for the latency sample; the others carry 0. `offer` hands a refused job back; the producer retries it until
/// the deadline, then keeps it (never accepted, so nothing is lost). Returns (accepted, handed back).
fn produce(
    progress: &Progress,
    clock: Clock,
    window: u64,
    mut offer: impl FnMut(u64) -> Result<(), u64>,
) -> (u64, u64) {
    let deadline = progress.deadline.0.load(Ordering::Acquire);
    let (mut sent, mut handed_back) = (0u64, 0u64);
    'offering: loop {
        if sent % SAMPLE_EVERY == 0 {
            if sent > 0 {
                progress.published.0.fetch_add(SAMPLE_EVERY, Ordering::Relaxed);
            }
            if clock.now_ns() >= deadline {
                break;
            }
            let mut spins = 0;
            while progress.published.0.load(Ordering::Relaxed).saturating_sub(progress.done.0.load(Ordering::Relaxed))
                > window
            {
                backoff(&mut spins);
            }
        }
        let mut job = if sent % SAMPLE_EVERY == 0 { clock.now_ns() } else { 0 };
        while let Err(refused) = offer(job) {
            job = refused;
            handed_back += 1;
            if handed_back % SAMPLE_EVERY == 0 && clock.now_ns() >= deadline {
                break 'offering;
            }
            std::hint::spin_loop();
        }
        sent += 1;
    }
    progress.published.0.fetch_add(sent % SAMPLE_EVERY, Ordering::Relaxed);
    progress.producers_left.0.fetch_sub(1, Ordering::Release);
    (sent, handed_back)
}

/// The std tests' watchdog, for the tests below: every run there starts a pool or threads and joins them, so a
/// lost wake-up or a stuck drain fails the test instead of hanging it.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../tests/support/watchdog.rs"]
mod watchdog;

#[cfg(test)]
mod tests {
    use super::*;

    use super::watchdog;

    fn cell(workload: Workload, segment_size: usize) -> Cell {
        Cell {
            workload,
            producers: 1,
            consumers: 1,
            segment_size,
            policy: Policy::Grow,
            duration: Duration::from_millis(20),
            window: 256,
            stall: (workload == Workload::Stall).then_some(StallLength::WholeRun),
            pin: false,
        }
    }

    /// `run` itself checks exactly-once delivery (a queue run asserts it, a pool run returns an error); here every
    /// subject goes through both kinds of run and produces latency samples.
    #[test]
    fn every_subject_runs_the_queue_and_the_empty_job() {
        watchdog::bounded(|| {
            let clock = Clock::new();
            for workload in [Workload::Queue, Workload::Empty] {
                for subject in Subject::all_available().into_iter().filter(|&subject| workload.admits(subject)) {
                    let outcome = run(subject, cell(workload, 4), Mode::Throughput, clock)
                        .unwrap_or_else(|error| panic!("{workload:?} on {subject:?}: {error}"));
                    assert!(outcome.jobs > 0, "{workload:?} on {subject:?}: no job ran");
                    assert!(!outcome.latencies.is_empty(), "{workload:?} on {subject:?}: no latency sample");
                    assert_eq!(outcome.stats.is_some(), subject.is_strategy(), "segment stats for strategies only");
                }
            }
            for workload in [Workload::Sha256, Workload::Cpu] {
                let outcome = run(Subject::Hazard, cell(workload, 64), Mode::Throughput, clock).expect("runs");
                assert!(outcome.jobs > 0, "{workload:?}: no job ran");
            }
        })
    }

    /// The memory run sees what the strategies promise: a handle stalled on the head segment holds back every
    /// later retirement under Epoch, and at most a bounded few under Hazard; Leak allocates a segment per value
    /// at SegmentSize 1 once the up-front ones are used.
    #[test]
    fn memory_runs_show_the_cost_of_a_stalled_handle() {
        watchdog::bounded(|| {
            let clock = Clock::new();
            let stall = Cell { duration: Duration::from_millis(60), ..cell(Workload::Stall, 1) };
            let stalled = |subject| run(subject, stall, Mode::Memory, clock).expect("runs");
            let (epoch, hazard, leak) = (stalled(Subject::Epoch), stalled(Subject::Hazard), stalled(Subject::Leak));
            let (epoch_peak, hazard_peak) = (epoch.peak_unreclaimed.unwrap(), hazard.peak_unreclaimed.unwrap());
            assert!(
                epoch.jobs > 1_000 && hazard.jobs > 1_000,
                "runs too short to tell: {} and {}",
                epoch.jobs,
                hazard.jobs
            );
            assert!(
                epoch_peak > 500,
                "Epoch reclaims past a stalled handle? peak {epoch_peak} of {} values",
                epoch.jobs
            );
            assert!(hazard_peak < 64, "Hazard's unreclaimed segments are bounded; peak {hazard_peak}");
            assert!(leak.allocations.unwrap().0 > 0, "Leak must allocate segments once the up-front ones are used");
        })
    }
}
