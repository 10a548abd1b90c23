//! Shuttle models of the worker pool when things go wrong: shutdown deadlines, cancellation tokens, panicking
//! jobs and panicking hooks, on the segmented backend (Limbo, Hazard, Epoch) and the `Mutex<VecDeque>` baseline.
//!
//! - `deadline_*`: shutdown with a deadline while two threads submit and the jobs (slow: each yields twice, and
//!   those below 10 submit a child) run. Every accepted job, children included, either ran or is in `not_run`,
//!   exactly once; `executed` counts the runs; `deadline_passed` is true with a zero deadline, false (and nothing
//!   handed back) with a deadline an hour away.
//! - `cancel_*`: `Task`s with `CancelToken`s, one token cancelled before its jobs are submitted, one by a thread
//!   racing the workers, and a thread submitting while the pool shuts down. Each task ends exactly one way (ran on
//!   the pool, went to `on_cancelled`, or handed back), a job whose token was cancelled before it was submitted
//!   never runs, its cleanup runs exactly once whatever became of it (the handed-back tasks are run, cancelled or
//!   dropped by their receiver), and `executed` and `cancelled` count exactly.
//! - `panics`: jobs that panic, an `on_cancelled` hook and an `on_panic` hook that always panic, and a metrics sink
//!   that panics on every executed and cancelled job, while two threads submit and the pool shuts down without
//!   deadline. No worker dies (a panic escaping a worker fails the schedule under shuttle), every accepted job was
//!   run, panicked or cancelled, and `executed`, `panicked`, `cancelled` and `hook_panics` are exact.
//!
//! Time under shuttle: a condition variable's `wait_timeout` never times out, and `Instant` is the wall clock, so
//! a deadline is only deterministic if it has passed before shutdown looks (zero) or cannot pass while a schedule
//! runs (an hour): the models use those two and nothing in between, so no check depends on wall-clock luck. With
//! a zero deadline the race is between the workers' jobs and the stop flag: a worker stops after its current job
//! and hands the rest of its batch back, the backend may still hold several segments' worth, and children are
//! refused once the flag is up.
//!
//! A broken property fails a schedule, never hangs it: a lost job or a skipped cleanup fails an assertion, a dead
//! worker is a panic shuttle reports, a drain that never ends is a deadlock shuttle reports. Expected panics are
//! printed by shuttle's panic hook ("test panicked in task") but caught; only a panic out of a task fails.
//!
//! Run: `cargo test --release --features shuttle --test shuttle_pool_faults` (20 models, 1,000 PCT schedules of
//! depth 3 each by default, 5 s here on the shared 2-core machine; `SEGPOOL_SHUTTLE_*` as for the other suites).
//! Size: 2 workers, batch 2, segments of 2 jobs; the main thread and 2 more besides the workers; 8 to 16 jobs per
//! schedule (children included).
//!
//! Seeded mutants these kill (10 of 10 runs each): `pool_shutdown_hands_back_one_batch` (the segmented
//! `deadline_zero` and `cancel_and_deadline_zero` models: at the deadline the backend holds more than one
//! segment's run; on `MutexDeque` one pop takes everything, so there it is equivalent), `pool_cancel_skips_cleanup`
//! (every `cancel_*` model), `pool_hooks_uncaught` (every `panics` model, in its first schedule).
#![cfg(feature = "shuttle")]

#[path = "../support/mod.rs"]
mod support;

use std::sync::Mutex as PlainMutex;
use std::time::Duration;

use segpool::pool::{BackendKind, Metrics, MutexDeque, PanicReport, PanicSite, Segmented};
use segpool::sync::{Arc, thread};
use segpool::{CancelToken, OnExhausted, Pool, Submit, Task};

/// Bookkeeping for the checks, in a std mutex: invisible to shuttle's scheduler, which is fine because it is never
/// held across a scheduling point (nor while anything panics).
type Book<T> = std::sync::Arc<PlainMutex<T>>;

/// A deadline that cannot pass while a schedule runs (wall clock: a schedule takes microseconds).
const FAR: Duration = Duration::from_secs(3600);

fn lock<T>(book: &Book<T>) -> std::sync::MutexGuard<'_, T> {
    book.lock().expect("no check panics while holding the book")
}

/// Job ids: below 10 a job submits a child (`id + 100`).
#[derive(Default)]
struct Runs {
    ran: Vec<u32>,
    children: Vec<u32>,
}

/// Shutdown with `deadline` races two submitting threads and slow jobs.
fn deadline_races_submits<B: BackendKind>(deadline: Duration) {
    segpool::sync::model(move || {
        let book = Book::<Runs>::default();
        let pool = {
            let book = book.clone();
            Pool::builder()
                .workers(2)
                .batch(2)
                .segment_size(2)
                .segment_count(4)
                .on_exhausted(OnExhausted::Grow)
                .handler_with_context(move |job: u32, context: &dyn Submit<u32>| {
                    lock(&book).ran.push(job);
                    // Slow: the deadline may land while a worker is here, with the rest of its batch waiting.
                    thread::yield_now();
                    thread::yield_now();
                    if job < 10 {
                        match context.submit(job + 100) {
                            Ok(()) => lock(&book).children.push(job + 100),
                            // Refused once the deadline passed: the child comes back and is not accepted.
                            Err(refused) => assert_eq!(refused.into_inner(), job + 100, "a refused child comes back"),
                        }
                    }
                })
                .backend::<B>()
                .build()
                .expect("valid pool")
        };
        let pool = Arc::new(pool);
        // Queued before the race, so that at the deadline the backend may hold several segments' worth.
        let mut accepted: Vec<u32> = (0..4).inspect(|&job| pool.submit(job).expect("an open pool accepts")).collect();
        let submitters: Vec<_> = (0..2u32)
            .map(|t| {
                let pool = pool.clone();
                thread::spawn(move || {
                    // Thread 1 through a submitter, on its own gate stripe; thread 0 through the shared count.
                    let submitter = (t == 1).then(|| pool.submitter());
                    let mut accepted = Vec::new();
                    for job in [4 + 2 * t, 5 + 2 * t] {
                        let outcome = match &submitter {
                            Some(submitter) => submitter.submit(job),
                            None => pool.submit(job),
                        };
                        match outcome {
                            Ok(()) => accepted.push(job),
                            Err(refused) => assert_eq!(refused.into_inner(), job, "a refused job comes back"),
                        }
                    }
                    accepted
                })
            })
            .collect();
        let report = pool.shutdown(Some(deadline));
        accepted.extend(submitters.into_iter().flat_map(|s| s.join().unwrap()));
        let runs = lock(&book);
        let mut expected: Vec<u32> = accepted.iter().chain(&runs.children).copied().collect();
        expected.sort_unstable();
        let mut seen: Vec<u32> = runs.ran.iter().chain(&report.not_run).copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, expected, "an accepted job neither ran nor was handed back, or both, or twice: {report:?}");
        assert_eq!(report.executed, runs.ran.len() as u64, "{report:?}");
        assert!(report.deadline_passed || report.not_run.is_empty(), "handed back before the deadline: {report:?}");
        // Zero has passed by the time shutdown looks, in every schedule; an hour never passes within one.
        assert_eq!(report.deadline_passed, deadline.is_zero(), "{report:?}");
    });
}

/// What became of each task (index = task id).
#[derive(Default)]
struct Fates {
    /// The body ran on a worker.
    on_pool: [u32; TASKS],
    /// The body ran on the thread that got the task back.
    by_receiver: [u32; TASKS],
    /// `on_cancelled` got it.
    hooked: [u32; TASKS],
    cleanups: [u32; TASKS],
    /// Set once the pool handed its tasks back: a body running after this runs on the receiver.
    handing_back: bool,
}

const TASKS: usize = 8;

/// Tasks 0, 1: token cancelled before they are submitted; 2, 3, 4: token cancelled by a thread racing the
/// workers; 5: that token, submitted after the cancelling thread ended; 6, 7: no token, from a thread racing
/// shutdown.
fn task(id: usize, fates: &Book<Fates>) -> Task {
    let (body, cleanup) = (fates.clone(), fates.clone());
    Task::new(move || {
        let mut fates = lock(&body);
        if fates.handing_back {
            fates.by_receiver[id] += 1
        } else {
            fates.on_pool[id] += 1
        }
        drop(fates);
        thread::yield_now(); // a scheduling point inside the job, for the canceller and shutdown
    })
    .cleanup(move || lock(&cleanup).cleanups[id] += 1)
    .with_label(id.to_string())
}

fn id_of(task: &Task) -> usize {
    task.label().and_then(|label| label.parse().ok()).expect("every task is labelled with its id")
}

/// Cancellation racing the workers and shutdown with `deadline` (`None`: drain everything).
fn cancel_races_workers<B: BackendKind>(deadline: Option<Duration>) {
    segpool::sync::model(move || {
        let fates = Book::<Fates>::default();
        let pool = {
            let fates = fates.clone();
            Pool::closures()
                .workers(2)
                .batch(2)
                .segment_size(2)
                .segment_count(4)
                .on_exhausted(OnExhausted::Grow)
                .on_cancelled(move |task: Task| {
                    lock(&fates).hooked[id_of(&task)] += 1;
                    task.cancel(); // the closures pool's own hook: runs the cleanup
                })
                .backend::<B>()
                .build()
                .expect("valid pool")
        };
        let pool = Arc::new(pool);
        let (early, raced) = (CancelToken::new(), CancelToken::new());
        early.cancel();
        for id in 0..2 {
            pool.submit_cancellable(task(id, &fates), &early).expect("an open pool accepts");
        }
        for id in 2..5 {
            pool.submit_cancellable(task(id, &fates), &raced).expect("an open pool accepts");
        }
        let canceller = {
            let raced = raced.clone();
            thread::spawn(move || raced.cancel())
        };
        let racer = {
            let (pool, fates) = (pool.clone(), fates.clone());
            thread::spawn(move || {
                (6..8).filter_map(|id| pool.submit(task(id, &fates)).err().map(|e| e.into_inner())).collect::<Vec<_>>()
            })
        };
        canceller.join().unwrap();
        pool.submit_cancellable(task(5, &fates), &raced).expect("an open pool accepts");
        let mut report = pool.shutdown(deadline);
        let mut handed_back = racer.join().unwrap();
        handed_back.extend(std::mem::take(&mut report.not_run));
        drop(pool); // the last handle: the pool is gone, and whatever it still held with it
        lock(&fates).handing_back = true;
        let mut returned = [0u32; TASKS];
        for task in handed_back {
            let id = id_of(&task);
            returned[id] += 1;
            // The receiver's choice: a cancelled token's task is cancelled, the others run, cancelled or dropped.
            match id % 3 {
                _ if id < 2 || id == 5 => task.cancel(),
                0 => task.run(),
                1 => task.cancel(),
                _ => drop(task),
            }
        }
        let fates = lock(&fates);
        for (id, returned) in returned.into_iter().enumerate() {
            let ends = fates.on_pool[id] + fates.hooked[id] + returned;
            assert_eq!(ends, 1, "task {id} ended {ends} ways (ran, cancelled, handed back): {report:?}");
            assert_eq!(fates.cleanups[id], 1, "task {id}'s cleanup ran {} times: {report:?}", fates.cleanups[id]);
            if id < 2 || id == 5 {
                assert_eq!(fates.on_pool[id], 0, "task {id}'s token was cancelled before it was submitted");
            }
        }
        assert_eq!(report.executed, u64::from(fates.on_pool.iter().sum::<u32>()), "{report:?}");
        assert_eq!(report.cancelled, u64::from(fates.hooked.iter().sum::<u32>()), "{report:?}");
        assert_eq!(report.deadline_passed, deadline.is_some(), "{report:?}");
    });
}

/// A metrics sink that panics on every executed and every cancelled job (not on `panicked`, `batch` or the
/// submit side: a sink panicking in `submitted` panics the submitter, which `tests/pool_robustness.rs` covers).
struct PanickySink;

impl Metrics for PanickySink {
    fn executed(&self) {
        panic!("the metrics sink panicked on `executed`");
    }
    fn cancelled(&self) {
        panic!("the metrics sink panicked on `cancelled`");
    }
}

/// What the hooks and the handler saw.
#[derive(Default)]
struct Seen {
    ran: Vec<u32>,
    panicked: Vec<u32>,
    hooked: Vec<u32>,
    reports: Vec<PanicSite>,
}

/// A job's kind: `id % 3 == 0` panics, `1` runs, `2` is submitted with a cancelled token.
fn submit_kind<B: BackendKind>(pool: &Pool<u32, B, PanickySink>, id: u32, cancelled: &CancelToken) -> bool {
    let outcome = if id % 3 == 2 { pool.submit_cancellable(id, cancelled) } else { pool.submit(id) };
    outcome.map_err(|refused| assert_eq!(refused.into_inner(), id, "a refused job comes back")).is_ok()
}

/// Panicking jobs, hooks and metrics sink while two threads submit and the pool shuts down without deadline.
fn panics<B: BackendKind>() {
    segpool::sync::model(|| {
        let seen = Book::<Seen>::default();
        let pool = {
            let (handler, hook, reporter) = (seen.clone(), seen.clone(), seen.clone());
            Pool::builder()
                .workers(2)
                .batch(2)
                .segment_size(2)
                .segment_count(4)
                .on_exhausted(OnExhausted::Grow)
                .handler(move |job: u32| {
                    if job.is_multiple_of(3) {
                        lock(&handler).panicked.push(job);
                        panic!("job {job} panicked");
                    }
                    lock(&handler).ran.push(job);
                })
                .on_cancelled(move |job: u32| {
                    lock(&hook).hooked.push(job);
                    panic!("the cancellation hook panicked on job {job}");
                })
                .on_panic(move |report: &PanicReport| {
                    lock(&reporter).reports.push(report.site);
                    panic!("the panic hook panicked");
                })
                .metrics(PanickySink)
                .backend::<B>()
                .build()
                .expect("valid pool")
        };
        let pool = Arc::new(pool);
        let cancelled = CancelToken::new();
        cancelled.cancel();
        // One of each kind first, so that every schedule has a panicking job, hook and sink before later jobs.
        let mut accepted: Vec<u32> = (0..3).filter(|&id| submit_kind(&pool, id, &cancelled)).collect();
        let submitters: Vec<_> = (0..2u32)
            .map(|t| {
                let (pool, cancelled) = (pool.clone(), cancelled.clone());
                thread::spawn(move || {
                    (3 + 3 * t..6 + 3 * t).filter(|&id| submit_kind(&pool, id, &cancelled)).collect::<Vec<_>>()
                })
            })
            .collect();
        let report = pool.shutdown(None);
        accepted.extend(submitters.into_iter().flat_map(|s| s.join().unwrap()));
        assert!(accepted.len() >= 3, "the first three were submitted to an open pool");
        let seen = lock(&seen);
        let of_kind = |kind| {
            let mut jobs: Vec<u32> = accepted.iter().copied().filter(|id| id % 3 == kind).collect();
            jobs.sort_unstable();
            jobs
        };
        let sorted = |jobs: &[u32]| {
            let mut jobs = jobs.to_vec();
            jobs.sort_unstable();
            jobs
        };
        // Every accepted job ran (a dead worker would leave some behind, or fail the schedule by its panic).
        assert!(report.not_run.is_empty() && !report.deadline_passed, "{report:?}");
        assert_eq!(sorted(&seen.panicked), of_kind(0), "panicking jobs: {report:?}");
        assert_eq!(sorted(&seen.ran), of_kind(1), "plain jobs: {report:?}");
        assert_eq!(sorted(&seen.hooked), of_kind(2), "cancelled jobs: {report:?}");
        let (panicked, executed, cancelled) = (of_kind(0).len(), of_kind(1).len(), of_kind(2).len());
        let sites = |site| seen.reports.iter().filter(|&&s| s == site).count();
        assert_eq!((sites(PanicSite::Job), sites(PanicSite::OnCancelled)), (panicked, cancelled), "{report:?}");
        assert_eq!(
            (report.executed, report.panicked, report.cancelled),
            (executed as u64, panicked as u64, cancelled as u64),
            "{report:?}"
        );
        // Caught outside jobs: the sink on each executed job; the panic hook on each panicked job; the sink, the
        // cancellation hook and the panic hook (told of the hook's panic) on each cancelled job.
        assert_eq!(report.hook_panics, (executed + panicked + 3 * cancelled) as u64, "{report:?}");
    });
}

/// The models of one backend.
macro_rules! fault_models {
    ($backend:ty) => {
        #[test]
        fn deadline_zero() {
            super::deadline_races_submits::<$backend>(Duration::ZERO);
        }

        #[test]
        fn deadline_far() {
            super::deadline_races_submits::<$backend>(FAR);
        }

        #[test]
        fn cancel_and_drain() {
            super::cancel_races_workers::<$backend>(None);
        }

        #[test]
        fn cancel_and_deadline_zero() {
            super::cancel_races_workers::<$backend>(Some(Duration::ZERO));
        }

        #[test]
        fn panics() {
            super::panics::<$backend>();
        }
    };
}

// The segmented backend with every strategy that reuses segments (`limbo`, `hazard`, `epoch`), then the baseline.
support::for_each_strategy! {
    |R| if recycles {
        fault_models!(Segmented<R>);
    }
}

mod mutex_deque {
    use super::*;

    fault_models!(MutexDeque);
}
