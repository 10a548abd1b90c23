#![cfg(segpool_std)]
//! The worker pool's promises, for every backend: exactly-once execution under many producers and jobs that
//! submit jobs, submits handed back when closed or exhausted, draining shutdown with a deadline that hands back
//! what did not run, panics and cancellations counted, resizing without losing jobs, idle workers woken.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use segpool::pool::{BackendKind, CountingMetrics, MutexDeque, Segmented};
use segpool::{CancelToken, Hazard, OnExhausted, Pool, SubmitErrorKind, Task};

/// Values that every test can check for exactly-once execution.
#[derive(Default)]
struct Ledger {
    seen: Mutex<Vec<u64>>,
}

impl Ledger {
    fn record(&self, value: u64) {
        self.seen.lock().unwrap().push(value);
    }

    /// Asserts that exactly `expected` ran, each once.
    fn assert_exactly(&self, expected: impl IntoIterator<Item = u64>) {
        let mut seen = self.seen.lock().unwrap().clone();
        let count = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), count, "a job ran twice");
        let expected: Vec<u64> = expected.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        assert_eq!(seen, expected, "jobs lost or invented");
    }
}

/// `PRODUCERS` threads submit `per_producer` jobs each; every job below `CHILDREN` also submits a child job from
/// inside the handler (value + 1,000,000). All must run exactly once, and shutdown must report them all.
fn exactly_once<B: BackendKind>(segment_size: usize) {
    const PRODUCERS: u64 = 3;
    const CHILDREN: u64 = 100;
    let per_producer: u64 = if segment_size == 1 { 2_000 } else { 10_000 };
    let ledger = Arc::new(Ledger::default());
    let pool = {
        let ledger = ledger.clone();
        Pool::builder()
            .workers(3)
            .segment_size(segment_size)
            .segment_count(16)
            .on_exhausted(OnExhausted::Grow)
            .handler_with_context(move |value: u64, context| {
                ledger.record(value);
                if value < CHILDREN {
                    context.submit(value + 1_000_000).expect("an open pool under Grow accepts");
                }
            })
            .backend::<B>()
            .build()
            .expect("valid pool")
    };
    thread::scope(|scope| {
        for producer in 0..PRODUCERS {
            let pool = &pool;
            scope.spawn(move || {
                let submitter = pool.submitter();
                for i in 0..per_producer {
                    segpool::Submit::submit(&submitter, producer * per_producer + i).expect("Grow accepts");
                }
            });
        }
    });
    let report = pool.shutdown(None);
    let total = PRODUCERS * per_producer;
    assert!(report.not_run.is_empty() && !report.deadline_passed, "{report:?}");
    assert_eq!(report.executed, total + CHILDREN, "{report:?}");
    ledger.assert_exactly((0..total).chain((0..CHILDREN).map(|v| v + 1_000_000)));
}

/// Submits to a closed pool are handed back, with their job.
fn closed_pool_hands_jobs_back<B: BackendKind>() {
    let pool = Pool::builder().workers(1).handler(|_: u64| ()).backend::<B>().build().unwrap();
    pool.shutdown(None);
    let error = pool.submit(42).expect_err("a shut-down pool refuses");
    assert_eq!(error.kind(), SubmitErrorKind::Closed);
    assert_eq!(error.into_inner(), 42);
}

/// With a deadline, shutdown runs what it can, stops the workers after their current job, and hands back every
/// accepted job that did not run: ran + handed back = accepted.
fn deadline_hands_back_what_did_not_run<B: BackendKind>() {
    let ran = Arc::new(AtomicU64::new(0));
    let pool = {
        let ran = ran.clone();
        Pool::builder()
            .workers(2)
            .batch(4)
            .on_exhausted(OnExhausted::Grow)
            .handler(move |_: u64| {
                thread::sleep(Duration::from_millis(2));
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .backend::<B>()
            .build()
            .unwrap()
    };
    const JOBS: u64 = 400; // 2 workers x 2 ms: 400 ms of work, far more than the 20 ms deadline
    for value in 0..JOBS {
        pool.submit(value).unwrap();
    }
    let report = pool.shutdown(Some(Duration::from_millis(20)));
    assert!(report.deadline_passed, "{report:?}");
    assert_eq!(report.executed, ran.load(Ordering::Relaxed));
    assert_eq!(report.executed + report.not_run.len() as u64, JOBS, "{report:?}");
    assert!(!report.not_run.is_empty());
    let mut handed_back = report.not_run.clone();
    handed_back.sort_unstable();
    handed_back.dedup();
    assert_eq!(handed_back.len(), report.not_run.len(), "a job handed back twice");
}

/// A panicking job is counted and reported; the worker goes on with the next job.
fn panics_are_counted_and_workers_survive<B: BackendKind>() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let metrics = CountingMetrics::default();
    let pool = {
        let reports = reports.clone();
        Pool::builder()
            .workers(1)
            .handler(|value: u64| assert!(!value.is_multiple_of(3), "job {value} fails"))
            .on_panic(move |report| reports.lock().unwrap().push(report.message.clone()))
            .metrics(metrics)
            .backend::<B>()
            .build()
            .unwrap()
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| ())); // the expected panics would clutter the output
    for value in 0..30 {
        pool.submit(value).unwrap();
    }
    let report = pool.shutdown(None);
    std::panic::set_hook(hook);
    assert_eq!((report.executed, report.panicked), (20, 10), "{report:?}");
    let snapshot = pool.metrics().snapshot();
    assert_eq!((snapshot.submitted, snapshot.executed, snapshot.panicked), (30, 20, 10));
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 10);
    assert!(reports.iter().all(|m| m.as_deref().is_some_and(|m| m.contains("fails"))), "{reports:?}");
}

/// Jobs whose token is cancelled before they start go to the cancellation hook, not the handler.
fn cancelled_jobs_are_skipped_and_cleaned_up<B: BackendKind>() {
    let ran = Arc::new(Ledger::default());
    let cleaned = Arc::new(Ledger::default());
    let gate = Arc::new(Barrier::new(2));
    let pool = {
        let (ran, cleaned, gate) = (ran.clone(), cleaned.clone(), gate.clone());
        Pool::builder()
            .workers(1)
            .handler(move |value: u64| {
                if value == 0 {
                    gate.wait(); // hold the only worker until the tokens are cancelled
                }
                ran.record(value);
            })
            .on_cancelled(move |value| cleaned.record(value))
            .backend::<B>()
            .build()
            .unwrap()
    };
    let token = CancelToken::new();
    pool.submit(0).unwrap();
    for value in 1..=10u64 {
        if value.is_multiple_of(2) {
            pool.submit_cancellable(value, &token).unwrap();
        } else {
            pool.submit(value).unwrap();
        }
    }
    token.cancel();
    gate.wait();
    let report = pool.shutdown(None);
    assert_eq!((report.executed, report.cancelled), (6, 5), "{report:?}");
    ran.assert_exactly([0, 1, 3, 5, 7, 9]);
    cleaned.assert_exactly([2, 4, 6, 8, 10]);
}

/// Workers added and retired while jobs flow: every job runs exactly once and the worker count follows.
fn resizing_loses_nothing<B: BackendKind>() {
    let ledger = Arc::new(Ledger::default());
    let pool = {
        let ledger = ledger.clone();
        Pool::builder()
            .workers(1)
            .on_exhausted(OnExhausted::Grow)
            .handler(move |value: u64| ledger.record(value))
            .backend::<B>()
            .build()
            .unwrap()
    };
    for round in 0..10u64 {
        for i in 0..500 {
            pool.submit(round * 500 + i).unwrap();
        }
        if round.is_multiple_of(2) {
            assert!(pool.add_workers(3));
        } else {
            assert_eq!(pool.retire_workers(3), 3);
        }
    }
    let report = pool.shutdown(None);
    assert_eq!(report.executed, 5_000, "{report:?}");
    ledger.assert_exactly(0..5_000);
    assert!(!pool.add_workers(1), "a shut-down pool takes no workers");
}

/// Idle workers sleep and a lone job still runs: submit to an idle pool several times, waiting for each. (A
/// lost wake-up would leave a job in the backend with every worker asleep: the receive would time out.)
fn lone_jobs_wake_an_idle_pool<B: BackendKind>() {
    let (done, finished) = mpsc::channel();
    let done = Mutex::new(done);
    let pool = Pool::builder()
        .workers(2)
        .handler(move |value: u64| done.lock().unwrap().send(value).unwrap())
        .backend::<B>()
        .build()
        .unwrap();
    for value in 0..50u64 {
        if value.is_multiple_of(10) {
            thread::sleep(Duration::from_millis(5)); // let the workers fall asleep
        }
        pool.submit(value).unwrap();
        let got = finished.recv_timeout(Duration::from_secs(10)).expect("a lone job never ran: lost wake-up");
        assert_eq!(got, value);
    }
}

/// One worker runs one job that submits `children` jobs under `Grow`: more than a bounded backend holds at once,
/// with no other worker to make room (the io_uring backend once blocked here for good when its ring filled up).
fn one_job_fans_out<B: BackendKind>(children: u64) {
    let ledger = Arc::new(Ledger::default());
    let pool = {
        let ledger = ledger.clone();
        Pool::builder()
            .workers(1)
            .on_exhausted(OnExhausted::Grow)
            .handler_with_context(move |job: u64, context: &dyn segpool::Submit<u64>| {
                ledger.record(job);
                if job == 0 {
                    for child in 1..=children {
                        context.submit(child).expect("Grow accepts every job");
                    }
                }
            })
            .backend::<B>()
            .build()
            .expect("valid pool")
    };
    pool.submit(0).unwrap();
    let report = pool.shutdown(None);
    assert!(report.not_run.is_empty(), "{report:?}");
    assert_eq!(report.executed, children + 1);
    ledger.assert_exactly(0..=children);
}

/// The tests of one backend.
macro_rules! backend_tests {
    ($backend:ty) => {
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn exactly_once_segment_size_1() {
            crate::support::bounded(|| super::exactly_once::<$backend>(1));
        }
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn exactly_once_segment_size_64() {
            crate::support::bounded(|| super::exactly_once::<$backend>(64));
        }
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn exactly_once_segment_size_1024() {
            crate::support::bounded(|| super::exactly_once::<$backend>(1024));
        }
        #[test]
        fn closed_pool_hands_jobs_back() {
            crate::support::bounded(|| super::closed_pool_hands_jobs_back::<$backend>());
        }
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn deadline_hands_back_what_did_not_run() {
            crate::support::bounded(|| super::deadline_hands_back_what_did_not_run::<$backend>());
        }
        #[test]
        fn panics_are_counted_and_workers_survive() {
            crate::support::bounded(|| super::panics_are_counted_and_workers_survive::<$backend>());
        }
        #[test]
        fn cancelled_jobs_are_skipped_and_cleaned_up() {
            crate::support::bounded(|| super::cancelled_jobs_are_skipped_and_cleaned_up::<$backend>());
        }
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn resizing_loses_nothing() {
            crate::support::bounded(|| super::resizing_loses_nothing::<$backend>());
        }
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn one_job_fans_out_to_20_000() {
            crate::support::bounded(|| super::one_job_fans_out::<$backend>(20_000));
        }
        #[test]
        #[cfg_attr(miri, ignore = "thousands of jobs, or timing: too slow for Miri")]
        fn lone_jobs_wake_an_idle_pool() {
            crate::support::bounded(|| super::lone_jobs_wake_an_idle_pool::<$backend>());
        }
    };
}

/// A module of [`backend_tests!`] for each backend named.
macro_rules! backend_suite {
    ($($module:ident => $backend:ty),* $(,)?) => {$(
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            backend_tests!($backend);
        }
    )*};
}

// The segmented backend with every strategy (`limbo`, `leak`, ..., `crossbeam_epoch`), then the other backends.
support::for_each_strategy! {
    |R| {
        backend_tests!(Segmented<R>);
    }
}

backend_suite! {
    mutex_deque => MutexDeque,
}

#[cfg(feature = "reference")]
backend_suite! {
    crossbeam_channel => segpool::pool::CrossbeamChannel,
}

#[cfg(all(windows, feature = "iocp"))]
backend_suite! {
    iocp => segpool::pool::Iocp,
}

#[cfg(all(target_os = "linux", feature = "uring", not(miri)))] // Miri cannot make io_uring system calls
backend_suite! {
    uring => segpool::pool::Uring,
}

/// Under `Fail`, a submit that finds the segment arena exhausted hands its job back; nothing accepted is lost.
#[test]
fn exhausted_segments_hand_jobs_back() {
    support::bounded(|| {
        let release = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = {
            let (release, ran) = (release.clone(), ran.clone());
            Pool::builder()
                .workers(1)
                .segment_size(1)
                .segment_count(4)
                .on_exhausted(OnExhausted::Fail)
                .handler(move |_: u64| {
                    while !release.load(Ordering::Acquire) {
                        thread::yield_now(); // the worker is busy, so the queue fills
                    }
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .strategy::<Hazard>()
                .build()
                .unwrap()
        };
        let mut accepted = 0u64;
        let mut refused = Vec::new();
        for value in 0..20 {
            match pool.submit(value) {
                Ok(()) => accepted += 1,
                Err(error) => {
                    assert_eq!(error.kind(), SubmitErrorKind::Exhausted);
                    refused.push(error.into_inner());
                }
            }
        }
        assert!(!refused.is_empty(), "4 segments of 1 slot must run out with the only worker busy");
        release.store(true, Ordering::Release);
        let report = pool.shutdown(None);
        assert_eq!(report.executed, accepted);
        assert_eq!(accepted + refused.len() as u64, 20);
        assert_eq!(ran.load(Ordering::Relaxed) as u64, accepted);
    })
}

/// Boxed closures: run, submit more from inside, clean up after themselves (also when cancelled).
#[test]
fn closures_run_submit_and_clean_up() {
    support::bounded(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let cleaned = Arc::new(AtomicUsize::new(0));
        let pool = Pool::closures().workers(2).on_exhausted(OnExhausted::Grow).build().unwrap();
        for _ in 0..100 {
            let (ran, cleaned) = (ran.clone(), cleaned.clone());
            let (ran2, cleaned2) = (ran.clone(), cleaned.clone());
            let task = Task::with_context(move |context| {
                ran.fetch_add(1, Ordering::Relaxed);
                context
                    .submit(Task::new(move || {
                        ran2.fetch_add(1, Ordering::Relaxed);
                    }))
                    .unwrap();
            })
            .cleanup(move || {
                cleaned.fetch_add(1, Ordering::Relaxed);
            });
            pool.submit(task).unwrap();
            let _ = cleaned2;
        }
        let token = CancelToken::new();
        token.cancel();
        let cleaned_on_cancel = cleaned.clone();
        pool.submit_cancellable(
            Task::new(|| panic!("cancelled: must not run")).cleanup(move || {
                cleaned_on_cancel.fetch_add(1_000, Ordering::Relaxed);
            }),
            &token,
        )
        .unwrap();
        pool.execute({
            let ran = ran.clone();
            move || {
                ran.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap();
        let report = pool.shutdown(None);
        assert_eq!((report.executed, report.cancelled, report.panicked), (201, 1, 0), "{report:?}");
        assert_eq!(ran.load(Ordering::Relaxed), 201);
        assert_eq!(cleaned.load(Ordering::Relaxed), 100 + 1_000);
    })
}

/// Invalid settings are rejected with the field's name.
#[test]
fn invalid_settings_name_their_field() {
    let error = Pool::builder().workers(0).handler(|_: u64| ()).build().unwrap_err();
    assert_eq!(error.field(), "workers");
    let error = Pool::builder().batch(0).handler(|_: u64| ()).build().unwrap_err();
    assert_eq!(error.field(), "batch");
    let error = Pool::<u64>::builder().build().unwrap_err();
    assert_eq!(error.field(), "handler");
    let error = Pool::builder().segment_size(0).handler(|_: u64| ()).build().unwrap_err();
    assert_eq!(error.field(), "segment_size");
}

/// Dropping a pool without shutdown runs every accepted job first.
#[test]
#[cfg_attr(miri, ignore = "1,000 jobs: slow under Miri; closures_run_submit_and_clean_up drains at Miri scale")]
fn drop_drains() {
    support::bounded(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        {
            let ran = ran.clone();
            let pool = Pool::builder()
                .workers(2)
                .on_exhausted(OnExhausted::Grow)
                .handler(move |_: u64| {
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .build()
                .unwrap();
            for value in 0..1_000 {
                pool.submit(value).unwrap();
            }
        }
        assert_eq!(ran.load(Ordering::Relaxed), 1_000);
    })
}

/// An idle pool's workers sleep: over 200 ms, their CPU time (read per thread from /proc) stays far below the
/// wall time. (A ratio measured in one run, not a time limit: a spinning worker would burn ~100% of a core.)
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(miri, ignore = "reads /proc, which Miri's isolation hides")]
fn idle_workers_sleep() {
    support::bounded(|| {
        /// CPU time of this process's threads whose name starts with `prefix`.
        fn threads_cpu(prefix: &str) -> (usize, Duration) {
            let mut threads = 0;
            let mut ticks = 0;
            for task in std::fs::read_dir("/proc/self/task").unwrap() {
                let path = task.unwrap().path();
                let Ok(name) = std::fs::read_to_string(path.join("comm")) else { continue };
                if !name.starts_with(prefix) {
                    continue;
                }
                let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
                let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
                ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
                threads += 1;
            }
            (threads, Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
        }
        let pool = Pool::builder().workers(2).thread_name("idle-check").handler(|_: u64| ()).build().unwrap();
        pool.submit(1).unwrap();
        thread::sleep(Duration::from_millis(20));
        let (threads, before) = threads_cpu("idle-check");
        assert_eq!(threads, 2, "the workers were not found by name");
        let began = std::time::Instant::now();
        thread::sleep(Duration::from_millis(300));
        let used = threads_cpu("idle-check").1 - before;
        let ratio = used.as_secs_f64() / began.elapsed().as_secs_f64();
        assert!(ratio < 0.2, "two idle workers used {used:?} of CPU in {:?}", began.elapsed());
    })
}

/// The CPU sets the pool's workers run on, as each job sees its own thread's affinity.
#[cfg(all(feature = "affinity", target_os = "linux"))]
fn worker_cpu_sets(pin: bool) -> Vec<usize> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let pool = {
        let seen = seen.clone();
        Pool::builder()
            .workers(2)
            .pin_workers(pin)
            .handler(move |_job: u64| {
                // On Linux, core_affinity lists the cores in the calling thread's affinity mask.
                let cores = core_affinity::get_core_ids().map_or(0, |cores| cores.len());
                seen.lock().unwrap().push(cores);
            })
            .build()
            .expect("valid pool")
    };
    for job in 0..64 {
        pool.submit(job).unwrap();
    }
    assert!(pool.shutdown(None).not_run.is_empty());
    seen.lock().unwrap().clone()
}

/// Pinned workers each run on exactly one core; unpinned ones on every core the process may use.
#[test]
#[cfg(all(feature = "affinity", target_os = "linux"))]
#[cfg_attr(miri, ignore = "sched_getaffinity is a system call Miri does not support")]
fn pinned_workers_run_on_one_core() {
    support::bounded(|| {
        let cores = core_affinity::get_core_ids().expect("Linux reports the process's cores").len();
        assert!(worker_cpu_sets(true).iter().all(|&seen| seen == 1), "a pinned worker ran on more than one core");
        assert!(worker_cpu_sets(false).iter().all(|&seen| seen == cores), "an unpinned worker was restricted");
    })
}
