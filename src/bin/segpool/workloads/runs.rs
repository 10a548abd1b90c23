//! The two closed-loop runs, queue and pool, and the job bodies the pool runs (see the parent module's docs).

use super::*;

/// What [`start_and_join`] saw: when the run started, the memory run's window, and the producers' totals.
struct Started {
    start: Instant,
    counting: Option<(u64, AllocationWindow)>,
    jobs: u64,
    handed_back: u64,
}

/// Sets the producers' deadline, releases them (the second barrier), opens a memory run's counting window after
/// the warm-up, and waits for every producer: the part both kinds of run share.
fn start_and_join(
    barrier: &Barrier,
    progress: &Progress,
    cell: Cell,
    mode: Mode,
    clock: Clock,
    producers: Vec<thread::ScopedJoinHandle<'_, (u64, u64)>>,
) -> Started {
    progress.deadline.0.store(clock.now_ns() + cell.duration.as_nanos() as u64, Ordering::Release);
    barrier.wait();
    let start = Instant::now();
    let counting = count_after_warm_up(mode, cell, progress);
    let (mut jobs, mut handed_back) = (0, 0);
    for producer in producers {
        let (sent, refused) = producer.join().expect("producer panicked");
        jobs += sent;
        handed_back += refused;
    }
    Started { start, counting, jobs, handed_back }
}

/// Producers push until the deadline; consumers pop in batches until every pushed value is popped.
pub(super) fn queue_run<B: Backend<u64> + Inspect>(backend: &B, cell: Cell, mode: Mode, clock: Clock) -> Outcome {
    let stalled = cell.stall.filter(|_| cell.workload == Workload::Stall);
    let barrier = Barrier::new(cell.producers + cell.consumers + 1 + usize::from(stalled.is_some()));
    let progress = Progress::default();
    progress.producers_left.0.store(cell.producers, Ordering::Relaxed);
    let release_stall = AtomicBool::new(false);
    thread::scope(|scope| {
        if let Some(length) = stalled {
            let (barrier, release_stall) = (&barrier, &release_stall);
            scope.spawn(move || {
                pin_thread(&cell, cell.producers + cell.consumers);
                backend.stall_until(barrier, release_stall, length)
            });
        }
        let producers: Vec<_> = (0..cell.producers)
            .map(|index| {
                let (progress, barrier) = (&progress, &barrier);
                scope.spawn(move || {
                    pin_thread(&cell, index);
                    let mut local = backend.local();
                    barrier.wait(); // set up
                    barrier.wait(); // go
                    produce(progress, clock, cell.window, |value| {
                        backend.push(&mut local, value).map_err(|refused| refused.job)
                    })
                })
            })
            .collect();
        let consumers: Vec<_> = (0..cell.consumers)
            .map(|index| {
                let (progress, barrier) = (&progress, &barrier);
                scope.spawn(move || {
                    pin_thread(&cell, cell.producers + index);
                    let mut local = backend.local();
                    let mut batch = Vec::with_capacity(64);
                    let mut latencies = Vec::with_capacity(1 << 16);
                    barrier.wait(); // set up
                    barrier.wait(); // go
                    let mut spins = 0;
                    loop {
                        batch.clear();
                        let n = backend.pop_batch(&mut local, &mut batch, 64) as u64;
                        if n == 0 {
                            // Done once every producer is done and everything they pushed is popped.
                            if progress.producers_left.0.load(Ordering::Acquire) == 0
                                && progress.done.0.load(Ordering::Acquire)
                                    == progress.published.0.load(Ordering::Acquire)
                            {
                                break;
                            }
                            backoff(&mut spins);
                            continue;
                        }
                        spins = 0;
                        let now = clock.now_ns();
                        for &value in &batch {
                            if value != 0 && latencies.len() < latencies.capacity() {
                                latencies.push(now - value);
                            }
                        }
                        progress.done.0.fetch_add(n, Ordering::AcqRel);
                    }
                    latencies
                })
            })
            .collect();
        barrier.wait(); // every thread has allocated what it needs
        let Started { start, counting, jobs, handed_back } =
            start_and_join(&barrier, &progress, cell, mode, clock, producers);
        let mut latencies = Vec::new();
        for consumer in consumers {
            latencies.extend(consumer.join().expect("consumer panicked"));
        }
        let elapsed = start.elapsed();
        let allocations = counting.map(|(done_before, window)| (window.stop(), jobs - done_before));
        release_stall.store(true, Ordering::Release);
        assert_eq!(progress.done.0.load(Ordering::Acquire), jobs, "every pushed value is popped exactly once");
        latencies.sort_unstable();
        Outcome { jobs, elapsed, latencies, handed_back, allocations, ..Outcome::default() }
    })
}

/// wpool's three job bodies.
fn job_body(workload: Workload, job: u64) {
    static BUFFER: [u8; 8192] = [0x5a; 8192];
    match workload {
        Workload::Sha256 => {
            black_box(Sha256::digest(black_box(&BUFFER)));
        }
        Workload::Cpu => {
            let mut x = black_box(job);
            for _ in 0..100_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            }
            black_box(x);
        }
        _ => {
            black_box(job);
        }
    }
}

/// Producers submit through their own `Submitter` until the deadline; the pool's workers run the job body.
pub(super) fn pool_run<K: Kind>(cell: Cell, mode: Mode, clock: Clock) -> Result<Outcome, String> {
    let progress = Arc::new(Progress::default());
    progress.producers_left.0.store(cell.producers, Ordering::Relaxed);
    let samples = Arc::new(Samples::with_capacity(1 << 16));
    let config = cell.backend_config();
    let pool = {
        let (progress, samples, workload) = (progress.clone(), samples.clone(), cell.workload);
        Pool::builder()
            .workers(cell.consumers)
            .segment_size(config.segment_size)
            .segment_count(config.segment_count)
            .on_exhausted(config.on_exhausted)
            .pin_workers(cell.pin)
            .handler(move |job: u64| {
                if job != 0 {
                    samples.record(clock.now_ns() - job);
                }
                job_body(workload, job);
                // Release: the latency sample above is visible to whoever sees this count.
                progress.done.0.fetch_add(1, Ordering::Release);
            })
            .backend::<K::Pool>()
            .build()
            .map_err(|error| error.to_string())?
    };
    let barrier = Barrier::new(cell.producers + 1);
    let mut outcome = instrumented(mode, pool.backend(), || {
        thread::scope(|scope| {
            let producers: Vec<_> = (0..cell.producers)
                .map(|index| {
                    let (progress, barrier, pool) = (&progress, &barrier, &pool);
                    scope.spawn(move || {
                        pin_thread(&cell, cell.consumers + index);
                        let submitter = pool.submitter();
                        barrier.wait(); // set up
                        barrier.wait(); // go
                        produce(progress, clock, cell.window, |job| {
                            submitter.submit(job).map_err(|refused| refused.into_inner())
                        })
                    })
                })
                .collect();
            barrier.wait(); // every producer has its submitter
            let Started { start, counting, jobs, handed_back } =
                start_and_join(&barrier, &progress, cell, mode, clock, producers);
            let mut spins = 0;
            while progress.done.0.load(Ordering::Acquire) < jobs {
                backoff(&mut spins);
            }
            let elapsed = start.elapsed();
            let allocations = counting.map(|(done_before, window)| (window.stop(), jobs - done_before));
            Outcome { jobs, elapsed, handed_back, allocations, ..Outcome::default() }
        })
    });
    let report = pool.shutdown(None);
    let ran = progress.done.0.load(Ordering::Acquire);
    if ran != outcome.jobs || !report.not_run.is_empty() {
        return Err(format!("{} jobs accepted, {ran} ran, {} not run at shutdown", outcome.jobs, report.not_run.len()));
    }
    outcome.latencies = samples.sorted();
    Ok(outcome)
}
