//! Worker-pool benchmarks, every backend side by side in one run:
//!
//! - `pool/empty_job_1p1w`: one producer submits empty jobs to one worker; time per job (criterion).
//! - lone-job start latency: a job submitted to an idle pool (its workers asleep), from `submit` to the job's first
//!   instruction; p50 and p99 over 2,000 jobs, printed as a table before the criterion groups run.
//!
//! Run: `cargo bench --bench pool` (or `-- empty_job` for the criterion group alone).

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod suite {
    use std::hint::black_box;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use criterion::{Criterion, Throughput};
    use segpool::pool::{Backend, Envelope, MutexDeque, Segmented};
    use segpool::{Epoch, Hazard, Leak, Limbo, OnExhausted, Pool, Submit};

    /// Jobs per measured round of the throughput benchmark.
    const ROUND: u64 = 10_000;

    fn empty_job_pool<B: Backend<Envelope<u64>>>(done: &Arc<AtomicU64>) -> Pool<u64, B> {
        let done = done.clone();
        Pool::builder()
            .workers(1)
            .segment_size(64)
            .segment_count(64)
            .on_exhausted(OnExhausted::Grow)
            .handler(move |job: u64| {
                black_box(job);
                done.fetch_add(1, Ordering::Release);
            })
            .backend::<B>()
            .build()
            .expect("valid pool")
    }

    fn empty_job<B: Backend<Envelope<u64>>>(c: &mut Criterion, group: &str) {
        let done = Arc::new(AtomicU64::new(0));
        let pool = empty_job_pool::<B>(&done);
        let mut target = 0;
        let mut group = c.benchmark_group(group);
        group.throughput(Throughput::Elements(ROUND));
        group.bench_function(B::NAME, |b| {
            let submitter = pool.submitter();
            b.iter(|| {
                for job in 0..ROUND {
                    submitter.submit(job).expect("Grow accepts");
                }
                target += ROUND;
                while done.load(Ordering::Acquire) < target {
                    std::hint::spin_loop();
                }
            });
        });
        group.finish();
    }

    pub fn empty_jobs(c: &mut Criterion) {
        empty_job::<Segmented<Limbo, Envelope<u64>>>(c, "pool/empty_job_1p1w");
        empty_job::<Segmented<Hazard, Envelope<u64>>>(c, "pool/empty_job_1p1w");
        empty_job::<Segmented<Epoch, Envelope<u64>>>(c, "pool/empty_job_1p1w");
        empty_job::<Segmented<Leak, Envelope<u64>>>(c, "pool/empty_job_1p1w");
        empty_job::<MutexDeque<Envelope<u64>>>(c, "pool/empty_job_1p1w");
        #[cfg(feature = "reference")]
        {
            empty_job::<Segmented<segpool::Haphazard, Envelope<u64>>>(c, "pool/empty_job_1p1w");
            empty_job::<Segmented<segpool::CrossbeamEpoch, Envelope<u64>>>(c, "pool/empty_job_1p1w");
            empty_job::<segpool::pool::CrossbeamChannel<Envelope<u64>>>(c, "pool/empty_job_1p1w");
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        empty_job::<segpool::pool::Uring<Envelope<u64>>>(c, "pool/empty_job_1p1w");
    }

    /// p50 and p99 of the time from `submit` into an idle 2-worker pool to the start of the job.
    fn lone_job_latency<B: Backend<Envelope<u64>>>() -> (Duration, Duration) {
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

    pub fn print_latencies() {
        println!("lone-job start latency into an idle pool (2 workers, 2,000 jobs):");
        println!("| backend | p50 | p99 |");
        println!("|---|---|---|");
        let row = |name: &str, (p50, p99): (Duration, Duration)| println!("| {name} | {p50:?} | {p99:?} |");
        row("limbo", lone_job_latency::<Segmented<Limbo, Envelope<u64>>>());
        row("hazard", lone_job_latency::<Segmented<Hazard, Envelope<u64>>>());
        row("epoch", lone_job_latency::<Segmented<Epoch, Envelope<u64>>>());
        row("leak", lone_job_latency::<Segmented<Leak, Envelope<u64>>>());
        row("mutex-deque", lone_job_latency::<MutexDeque<Envelope<u64>>>());
        #[cfg(feature = "reference")]
        {
            row("haphazard", lone_job_latency::<Segmented<segpool::Haphazard, Envelope<u64>>>());
            row("crossbeam-epoch", lone_job_latency::<Segmented<segpool::CrossbeamEpoch, Envelope<u64>>>());
            row("crossbeam-channel", lone_job_latency::<segpool::pool::CrossbeamChannel<Envelope<u64>>>());
        }
        #[cfg(all(target_os = "linux", feature = "uring"))]
        row("io_uring", lone_job_latency::<segpool::pool::Uring<Envelope<u64>>>());
    }
}

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
fn main() {
    // `cargo test --benches` and `cargo bench --no-run` build this; only a real `cargo bench` measures.
    if std::env::args().any(|arg| arg == "--bench") {
        suite::print_latencies();
    }
    let mut criterion = criterion::Criterion::default().configure_from_args();
    suite::empty_jobs(&mut criterion);
    criterion.final_summary();
}

#[cfg(any(feature = "loom", feature = "shuttle"))]
fn main() {}
