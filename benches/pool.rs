//! Worker-pool benchmarks: every backend side by side, on the three workloads of the Go project wpool.
//!
//! Workloads (typed `u64` jobs submitted through `Pool::submitter`, not boxed closures, so no allocation per job on
//! the backends that promise none; jobs per measured round in brackets):
//!
//! - `empty` (10,000): the handler does nothing but count the job, so the time is the pool's own cost per job.
//! - `sha256` (1,000): SHA-256 of one shared, static 8 KiB buffer (about 10 µs a job on the 2-core development
//!   machine).
//! - `cpu` (200): a 100,000-step linear congruential generator, each step through `black_box` so that the optimiser
//!   can neither fold nor shorten the loop.
//!
//! Each runs with 1 or 2 producers and 1, 2 or 4 workers (4 workers oversubscribe a 2-core machine), in groups
//! named `pool/<workload>/<P>p<W>w` (e.g. `pool/empty/1p1w`), one criterion function per backend, named by
//! `Backend::NAME`. One criterion iteration is one round: the producers meet at a `std::sync::Barrier`, submit
//! their share of the round flat out, and the clock runs from the barrier until the handler has counted the round's
//! last job. Throughput is reported per job, so criterion's `elem/s` is jobs per second, and ns/job is its time
//! divided by the jobs per round. Pools use `OnExhausted::Grow`, so a producer that outruns the workers builds a
//! backlog instead of being refused; rounds are bounded, so it is bounded too. Every job, on every backend, also
//! pays the completion count: one atomic add on a counter shared by the workers. (`io_uring` queues jobs beyond its
//! ring's completion queue, 8,192, in an in-process deque, so its `empty` rounds partly measure that deque when the
//! producers run ahead.) A pool lives for one criterion function, so `leak`, which takes a fresh segment for every
//! 64 jobs and never reuses one, holds all of its segments until the function ends: about 400 MB resident at the end
//! of `pool/empty/1p1w/leak`.
//!
//! Before the criterion groups, a real run (`cargo bench`, not `cargo test --benches` or `--no-run`) prints the
//! lone-job start latency: a job submitted to an idle 2-worker pool (its workers asleep), from `submit` to the job's
//! first instruction; p50 and p99 over 2,000 jobs.
//!
//! Run: `cargo bench --bench pool` (several minutes: 18 groups of up to 9 backends, plus the latency table), or a
//! subset by criterion's filter, a regular expression on the names: `cargo bench --bench pool -- pool/empty/1p1w`,
//! `-- 'pool/sha256/.p2w'`, `-- 'pool/cpu/.*/hazard'`. Shorter measurements: `-- --warm-up-time 0.1
//! --measurement-time 0.3 pool/empty`.

#[cfg(segpool_std)]
mod suite {
    use std::hint::black_box;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};
    use std::thread::{self, Thread};
    use std::time::{Duration, Instant};

    use criterion::measurement::WallTime;
    use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
    use segpool::pool::{BackendKind, MutexDeque, Segmented};
    use segpool::{Epoch, Hazard, HazardEras, Hyaline, Ibr, Leak, Limbo, OnExhausted, Pool, Qsbr, Submit};
    use sha2::{Digest, Sha256};

    /// Something to do with each backend type. Generic methods cannot be closures, hence a trait.
    trait Visit {
        fn visit<B: BackendKind>(&mut self);
    }

    /// The one list of backends, used by every workload and by the latency table.
    fn for_each_backend(visitor: &mut impl Visit) {
        visitor.visit::<Segmented<Limbo>>();
        visitor.visit::<Segmented<Hazard>>();
        visitor.visit::<Segmented<Epoch>>();
        visitor.visit::<Segmented<HazardEras>>();
        visitor.visit::<Segmented<Ibr>>();
        visitor.visit::<Segmented<Qsbr>>();
        visitor.visit::<Segmented<Hyaline>>();
        visitor.visit::<Segmented<Leak>>();
        visitor.visit::<MutexDeque>();
        #[cfg(feature = "reference")]
        {
            visitor.visit::<Segmented<segpool::Haphazard>>();
            visitor.visit::<Segmented<segpool::FastSmr>>();
            visitor.visit::<Segmented<segpool::Seize>>();
            visitor.visit::<Segmented<segpool::CrossbeamEpoch>>();
            visitor.visit::<segpool::pool::CrossbeamChannel>();
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        visitor.visit::<segpool::pool::Uring>();
        #[cfg(all(windows, feature = "iocp"))]
        visitor.visit::<segpool::pool::Iocp>();
    }

    /// What a job does. A trait (not a function pointer) so that the handler is monomorphised per workload: an
    /// indirect call would be a visible part of an empty job's cost.
    trait Workload: 'static {
        const NAME: &'static str;
        /// Jobs per measured round: enough that a round is much longer than a worker's wake-up (~10 µs), few enough
        /// that 10 samples of the slow workloads fit the 1 s measurement.
        const ROUND: u64;
        /// Criterion's default, `Auto`, takes 1 + 2 + ... + 10 = 55 rounds at least (linear sampling) unless that
        /// would exceed twice the measurement time.
        const SAMPLING: SamplingMode = SamplingMode::Auto;
        fn run(job: u64);
    }

    struct Empty;
    impl Workload for Empty {
        const NAME: &'static str = "empty";
        const ROUND: u64 = 10_000;
        fn run(job: u64) {
            black_box(job);
        }
    }

    /// The buffer every `sha256` job hashes; shared and read-only, so workers contend on nothing but the pool.
    static BUFFER: [u8; 8192] = {
        let mut buffer = [0; 8192];
        let mut i = 0;
        while i < buffer.len() {
            buffer[i] = (i * 31 % 251) as u8;
            i += 1;
        }
        buffer
    };

    struct Sha;
    impl Workload for Sha {
        const NAME: &'static str = "sha256";
        const ROUND: u64 = 1_000;
        fn run(_job: u64) {
            // black_box on the input too: the buffer is a constant, and a digest of a constant could be hoisted.
            black_box(Sha256::digest(black_box(&BUFFER[..])));
        }
    }

    struct Cpu;
    impl Workload for Cpu {
        const NAME: &'static str = "cpu";
        const ROUND: u64 = 200;
        /// A round is 20 to 40 ms here, so linear sampling's 55 rounds overran the 1 s measurement on every
        /// backend (criterion warned, and the suite took about 40 s longer); flat sampling runs the same number of
        /// rounds in each sample, 10 samples in 1 s.
        const SAMPLING: SamplingMode = SamplingMode::Flat;
        fn run(job: u64) {
            let mut x = job;
            for _ in 0..100_000 {
                // Knuth's MMIX constants. black_box each step: otherwise nothing keeps the compiler from
                // computing the 100,000 steps in closed form or dropping them (the result is never used).
                x = black_box(x).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            }
            black_box(x);
        }
    }

    /// Jobs completed, counted by the handler, and who to wake when a round is complete.
    struct Completions {
        done: AtomicU64,
        /// `done` at which the current round is complete.
        target: AtomicU64,
        /// The thread that times the rounds. It parks rather than spins while the workers finish, because on a
        /// 2-core machine a spinning timer would take a core from the workers it is waiting for.
        timer: Thread,
    }

    impl Completions {
        fn count(&self) {
            // The job that reaches the target is the round's last (rounds do not overlap: the next target is set
            // only after this round completed), so exactly one job per round unparks the timer.
            if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.target.load(Ordering::Acquire) {
                self.timer.unpark();
            }
        }

        fn wait_for(&self, target: u64) {
            // `park` may return spuriously, or at once on a token left by a previous round's unpark; recheck.
            while self.done.load(Ordering::Acquire) < target {
                thread::park();
            }
        }
    }

    /// One criterion group: `W`orkload, `producers`, `workers`; one function per backend.
    struct Throughputs<'g, 'c, W> {
        group: &'g mut BenchmarkGroup<'c, WallTime>,
        producers: u64,
        workers: usize,
        workload: std::marker::PhantomData<W>,
    }

    impl<W: Workload> Visit for Throughputs<'_, '_, W> {
        fn visit<B: BackendKind>(&mut self) {
            let (producers, workers) = (self.producers, self.workers);
            let share = W::ROUND / producers;
            // Built on first use, so that a filtered-out function builds nothing (criterion skips the closure), and
            // once per function, not per sample (criterion calls the closure for every sample): the pool keeps its
            // grown segments and warm threads between samples, as a long-running pool would.
            let mut pool: Option<(Pool<u64, B>, Arc<Completions>)> = None;
            self.group.bench_function(B::NAME, |b| {
                let (pool, completions) = pool.get_or_insert_with(|| {
                    let completions = Arc::new(Completions {
                        done: AtomicU64::new(0),
                        target: AtomicU64::new(u64::MAX),
                        timer: thread::current(),
                    });
                    let counter = completions.clone();
                    let pool = Pool::builder()
                        .workers(workers)
                        .segment_size(64)
                        .segment_count(64)
                        .on_exhausted(OnExhausted::Grow)
                        .handler(move |job: u64| {
                            W::run(job);
                            counter.count();
                        })
                        .backend::<B>()
                        .build()
                        .expect("valid pool");
                    (pool, completions)
                });
                let (pool, completions) = (&*pool, &**completions);
                b.iter_custom(|rounds| {
                    // The timing thread is producer 0; the others run for all `rounds` of this sample, so thread
                    // start-up stays outside the clock. Each round starts at the barrier, all producers at once.
                    let barrier = Barrier::new(producers as usize);
                    thread::scope(|scope| {
                        for _ in 1..producers {
                            scope.spawn(|| {
                                let submitter = pool.submitter();
                                for _ in 0..rounds {
                                    barrier.wait();
                                    for job in 0..share {
                                        submitter.submit(job).expect("Grow accepts");
                                    }
                                }
                            });
                        }
                        let submitter = pool.submitter();
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..rounds {
                            let target = completions.done.load(Ordering::Acquire) + W::ROUND;
                            completions.target.store(target, Ordering::Release);
                            barrier.wait();
                            let start = Instant::now();
                            for job in 0..share {
                                submitter.submit(job).expect("Grow accepts");
                            }
                            completions.wait_for(target);
                            elapsed += start.elapsed();
                        }
                        elapsed
                    })
                });
            });
        }
    }

    fn workload<W: Workload>(c: &mut Criterion) {
        for producers in [1, 2] {
            for workers in [1, 2, 4] {
                let mut group = c.benchmark_group(format!("pool/{}/{producers}p{workers}w", W::NAME));
                // Warm-up, measurement time and sample size: see `criterion()`.
                group.throughput(Throughput::Elements(W::ROUND));
                group.sampling_mode(W::SAMPLING);
                let mut visitor =
                    Throughputs::<W> { group: &mut group, producers, workers, workload: std::marker::PhantomData };
                for_each_backend(&mut visitor);
                group.finish();
            }
        }
    }

    /// Criterion with this suite's defaults: short (300 ms warm-up, 1 s measurement, 10 samples), so that the whole
    /// suite stays in minutes (18 groups of up to 9 backends). Set before `configure_from_args`, so that
    /// `--warm-up-time`, `--measurement-time` and `--sample-size` still override them; the same settings on each
    /// group would win over the command line.
    pub fn criterion() -> Criterion {
        Criterion::default()
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10)
            .configure_from_args()
    }

    pub fn workloads(c: &mut Criterion) {
        workload::<Empty>(c);
        workload::<Sha>(c);
        workload::<Cpu>(c);
    }

    /// p50 and p99 of the time from `submit` into an idle 2-worker pool to the start of the job.
    fn lone_job_latency<B: BackendKind>() -> (Duration, Duration) {
        const JOBS: usize = 2_000;
        let origin = Instant::now();
        let started = Arc::new(AtomicU64::new(u64::MAX));
        let pool = {
            let started = started.clone();
            Pool::builder()
                .workers(2)
                .handler(move |_: u64| started.store(origin.elapsed().as_nanos() as u64, Ordering::Release))
                .backend::<B>()
                .build()
                .expect("valid pool")
        };
        let mut latencies = Vec::with_capacity(JOBS);
        for job in 0..JOBS as u64 {
            std::thread::sleep(Duration::from_micros(300)); // long enough for the workers to fall asleep
            started.store(u64::MAX, Ordering::Release);
            let submitted = origin.elapsed().as_nanos() as u64;
            pool.submit(job).expect("an open pool accepts");
            let start = loop {
                let start = started.load(Ordering::Acquire);
                if start != u64::MAX {
                    break start;
                }
                std::hint::spin_loop();
            };
            latencies.push(Duration::from_nanos(start.saturating_sub(submitted)));
        }
        latencies.sort_unstable();
        (latencies[JOBS / 2], latencies[JOBS * 99 / 100])
    }

    struct LatencyRow;
    impl Visit for LatencyRow {
        fn visit<B: BackendKind>(&mut self) {
            let (p50, p99) = lone_job_latency::<B>();
            println!("| {} | {p50:?} | {p99:?} |", B::NAME);
        }
    }

    pub fn print_latencies() {
        println!("lone-job start latency into an idle pool (2 workers, 2,000 jobs):");
        println!("| backend | p50 | p99 |");
        println!("|---|---|---|");
        for_each_backend(&mut LatencyRow);
    }
}

#[cfg(segpool_std)]
fn main() {
    // `cargo test --benches` and `cargo bench --no-run` build this; only a real `cargo bench` measures.
    if std::env::args().any(|arg| arg == "--bench") {
        suite::print_latencies();
    }
    let mut criterion = suite::criterion();
    suite::workloads(&mut criterion);
    criterion.final_summary();
}

/// Under a model-checker feature the pool's primitives only work inside a model: nothing to measure.
#[cfg(not(segpool_std))]
fn main() {}
