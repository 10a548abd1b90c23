#![cfg(segpool_std)]
//! The pool never hangs, aborts or strands work, whatever its user does: a submit that panics, durations too long
//! to add to an `Instant`, panicking hooks and cleanups, sizes out of bounds, configurations that could never
//! recycle. Every check that would hang (or abort the process) when its property breaks is bounded
//! ([`support::within`], [`support::in_child_process`]), so a regression fails in seconds.

mod support;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use segpool::pool::{Backend, BackendKind, MutexDeque, PanicSite, Refused};
use segpool::{CancelToken, Config, ConfigError, Hazard, Limbo, OnExhausted, Pool, SubmitErrorKind, Task};
use support::{HANG_LIMIT, in_child_process, within};

thread_local! {
    /// Makes the next push of [`PanickyBackend`] on this thread panic.
    static PANIC_ON_NEXT_PUSH: Cell<bool> = const { Cell::new(false) };
}

/// A `Mutex<VecDeque>` backend whose push panics when the submitting thread asks for it: a stand-in for any panic
/// inside `submit` (a strategy's, a backend's).
struct PanickyBackend<J = ()>(MutexDeque<J>);

/// The backend kind a pool names (`Pool::builder().backend::<PanickyBackend>()`).
impl<X: 'static> BackendKind for PanickyBackend<X> {
    type Of<T: Send + 'static> = PanickyBackend<T>;
}

impl<J: Send + 'static> Backend<J> for PanickyBackend<J> {
    const NAME: &'static str = "panicky";
    type Local<'a> = ();

    fn build(config: &Config) -> Result<Self, ConfigError> {
        Ok(PanickyBackend(MutexDeque::build(config)?))
    }

    fn local(&self) {}

    fn push(&self, local: &mut (), job: J) -> Result<(), Refused<J>> {
        if PANIC_ON_NEXT_PUSH.with(|armed| armed.replace(false)) {
            panic!("the backend's push panicked");
        }
        self.0.push(local, job)
    }

    fn pop_batch(&self, local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        self.0.pop_batch(local, out, max)
    }
}

/// Item 1: a panic inside `submit` used to leave the submission gate counted, and shutdown (and Drop) spun on it
/// forever.
#[test]
fn a_panicking_submit_does_not_wedge_shutdown() {
    let report = within(HANG_LIMIT, "shutdown after a panicking submit", || {
        let pool = Pool::builder().workers(1).handler(|_: u64| {}).backend::<PanickyBackend>().build().unwrap();
        pool.submit(1).unwrap();
        PANIC_ON_NEXT_PUSH.with(|armed| armed.set(true));
        let unwound = panic::catch_unwind(AssertUnwindSafe(|| pool.submit(2)));
        assert!(unwound.is_err(), "the push was armed to panic");
        pool.submit(3).expect("the pool still accepts after a panicking submit");
        pool.shutdown(None)
    });
    assert_eq!((report.executed, report.not_run.len()), (2, 0), "{report:?}");
}

/// The same through a submitter, which owns a stripe of the submission gate: the unwinding submit leaves its stripe,
/// or shutdown waits for it forever. Each panicking submit goes through a fresh submitter, dropped right after (a
/// later submit of the same submitter would clear a stripe left set). Before that, 65 submitters held at once: 64
/// on stripes, the last on the shared count, all accepted; dropping them frees the stripes for the others.
#[test]
fn a_panicking_striped_submit_does_not_wedge_shutdown() {
    let report = within(HANG_LIMIT, "shutdown after panicking striped submits", || {
        let pool = Pool::builder().workers(1).handler(|_: u64| {}).backend::<PanickyBackend>().build().unwrap();
        let held: Vec<_> = (0..65).map(|_| pool.submitter()).collect();
        for (job, submitter) in held.iter().enumerate() {
            segpool::Submit::submit(submitter, job as u64).expect("an open pool accepts");
        }
        drop(held);
        for job in 0..3 {
            PANIC_ON_NEXT_PUSH.with(|armed| armed.set(true));
            let unwound = panic::catch_unwind(AssertUnwindSafe(|| segpool::Submit::submit(&pool.submitter(), job)));
            assert!(unwound.is_err(), "the push was armed to panic");
        }
        pool.submit(100).expect("the pool still accepts after panicking submits");
        pool.shutdown(None)
    });
    assert_eq!((report.executed, report.not_run.len()), (66, 0), "{report:?}");
}

/// Item 2: `Wait(Duration::MAX)` passed validation, then every push panicked adding it to `Instant::now()`. It
/// means "wait as long as it takes": a producer far ahead of a slow worker waits for segments, and nothing is
/// refused.
#[test]
fn wait_duration_max_waits_as_long_as_it_takes() {
    let report = within(HANG_LIMIT, "a pool under Wait(Duration::MAX)", || {
        let pool = Pool::builder()
            .workers(1)
            .segment_size(1)
            .segment_count(2)
            .on_exhausted(OnExhausted::Wait(Duration::MAX))
            .handler(|_: u64| thread::sleep(Duration::from_micros(200)))
            .strategy::<Hazard>()
            .build()
            .expect("Duration::MAX is a valid wait");
        let submitter = pool.submitter();
        for job in 0..200 {
            segpool::Submit::submit(&submitter, job).expect("a submit under Wait(MAX) is never refused");
        }
        drop(submitter);
        let stats = pool.backend().queue().stats();
        assert!(stats.waits > 0, "two one-slot segments cannot hold 200 jobs without waiting: {stats:?}");
        assert_eq!(stats.wait_timeouts, 0, "{stats:?}");
        pool.shutdown(None)
    });
    assert_eq!((report.executed, report.not_run.len()), (200, 0), "{report:?}");
}

/// The same at the queue: a push under `Wait(Duration::MAX)` blocks until a segment is freed, then succeeds.
#[test]
fn a_queue_push_under_wait_duration_max_waits_for_a_segment() {
    within(HANG_LIMIT, "a push under Wait(Duration::MAX)", || {
        let config = segpool::Config {
            segment_size: 1,
            segment_count: 2,
            on_exhausted: OnExhausted::Wait(Duration::MAX),
            ..segpool::Config::default()
        };
        let queue = segpool::SegQueue::<u64, Hazard>::with_config(config).unwrap();
        queue.push(0).unwrap();
        queue.push(1).unwrap(); // the second segment: the pool is now empty
        thread::scope(|scope| {
            let pusher = scope.spawn(|| queue.push(2));
            thread::sleep(Duration::from_millis(50));
            // The second pop unlinks and retires the first segment, which the waiting push then gets.
            assert_eq!((queue.pop(), queue.pop()), (Some(0), Some(1)));
            assert_eq!(pusher.join().unwrap().map_err(|error| error.kind()), Ok(()));
        });
        assert_eq!((queue.pop(), queue.pop()), (Some(2), None));
        assert_eq!(queue.stats().wait_timeouts, 0);
    });
}

/// Item 3: `shutdown(Some(Duration::MAX))` panicked after closing the gate, and Drop then skipped its drain.
#[test]
fn shutdown_with_duration_max_drains_everything() {
    let report = within(HANG_LIMIT, "shutdown(Some(Duration::MAX))", || {
        let pool = Pool::builder().workers(2).handler(|_: u64| {}).strategy::<Hazard>().build().unwrap();
        for job in 0..1_000 {
            pool.submit(job).unwrap();
        }
        panic::catch_unwind(AssertUnwindSafe(|| pool.shutdown(Some(Duration::MAX))))
            .expect("a deadline too far for an Instant is no deadline, not a panic")
    });
    assert_eq!((report.executed, report.not_run.len(), report.deadline_passed), (1_000, 0, false), "{report:?}");
}

/// Item 4a: a panicking panic hook used to kill its worker: the rest of the batch vanished and shutdown hung.
#[test]
fn a_panicking_panic_hook_kills_no_worker() {
    let report = within(HANG_LIMIT, "a pool whose panic hook panics", || {
        // One worker, so that a worker killed by the hook would leave nobody to run the rest.
        let pool = Pool::builder()
            .workers(1)
            .handler(|job: u64| assert!(job.is_multiple_of(2), "odd job {job}"))
            .on_panic(|report| panic!("the panic hook panicked on {:?}", report.message))
            .strategy::<Hazard>()
            .build()
            .unwrap();
        for job in 0..100 {
            pool.submit(job).unwrap();
        }
        // Every job is accounted for before shutdown: a dead worker would leave jobs queued (or lost).
        while !pool.backend().queue().is_empty() {
            thread::yield_now();
        }
        assert_eq!(pool.workers(), 1);
        pool.shutdown(None)
    });
    assert_eq!((report.executed, report.panicked, report.not_run.len()), (50, 50, 0), "{report:?}");
    assert_eq!(report.hook_panics, 50, "{report:?}");
}

/// Item 4b: a panicking cancellation hook, and a panic hook that sees it, reported at its site.
#[test]
fn a_panicking_cancellation_hook_kills_no_worker() {
    let sites = Arc::new(Mutex::new(Vec::new()));
    let report = {
        let sites = sites.clone();
        within(HANG_LIMIT, "a pool whose cancellation hook panics", move || {
            let pool = Pool::builder()
                .workers(1)
                .handler(|_: u64| {})
                .on_cancelled(|job| panic!("the cancellation hook panicked on {job}"))
                .on_panic(move |report| sites.lock().unwrap().push(report.site))
                .strategy::<Hazard>()
                .build()
                .unwrap();
            let token = CancelToken::new();
            token.cancel();
            for job in 0..100u64 {
                if job.is_multiple_of(2) { pool.submit_cancellable(job, &token) } else { pool.submit(job) }.unwrap();
            }
            pool.shutdown(None)
        })
    };
    assert_eq!((report.executed, report.cancelled, report.not_run.len()), (50, 50, 0), "{report:?}");
    assert_eq!(report.hook_panics, 50, "{report:?}");
    assert_eq!(*sites.lock().unwrap(), vec![PanicSite::OnCancelled; 50]);
}

/// Item 4c: a cancelled task whose cleanup panics (the cleanup runs in the cancellation hook).
#[test]
fn a_panicking_cleanup_of_a_cancelled_task_kills_no_worker() {
    let ran = Arc::new(AtomicUsize::new(0));
    let report = {
        let ran = ran.clone();
        within(HANG_LIMIT, "a cancelled task whose cleanup panics", move || {
            let pool = Pool::closures().workers(1).build().unwrap();
            let token = CancelToken::new();
            token.cancel();
            for _ in 0..20 {
                let task = Task::new(|| unreachable!("cancelled")).cleanup(|| panic!("the cleanup panicked"));
                pool.submit_cancellable(task, &token).unwrap();
                let ran = ran.clone();
                pool.execute(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            }
            pool.shutdown(None)
        })
    };
    assert_eq!(ran.load(Ordering::Relaxed), 20);
    assert_eq!((report.executed, report.cancelled, report.hook_panics), (20, 20, 20), "{report:?}");
}

/// Item 4d: a task whose body and cleanup both panic. The cleanup used to run while the body's panic unwound, and
/// a panic during unwinding aborts the process: run in a child process, so that a regression fails this test
/// instead of killing the test binary.
#[test]
fn a_task_whose_body_and_cleanup_panic_aborts_nothing() {
    in_child_process("a_task_whose_body_and_cleanup_panic_aborts_nothing", HANG_LIMIT, || {
        let cleaned = Arc::new(AtomicUsize::new(0));
        let pool = Pool::closures().workers(1).build().unwrap();
        for _ in 0..10 {
            let cleaned = cleaned.clone();
            let task = Task::new(|| panic!("the body panicked")).cleanup(move || {
                cleaned.fetch_add(1, Ordering::Relaxed);
                panic!("the cleanup panicked too");
            });
            pool.submit(task).unwrap();
        }
        pool.execute(|| {}).unwrap();
        let report = pool.shutdown(None);
        assert_eq!((report.executed, report.panicked), (1, 10), "{report:?}");
        assert_eq!(cleaned.load(Ordering::Relaxed), 10);
    });
}

/// Items 5 and 6, 8 at the pool: sizes beyond their bounds are refused at build time, naming the setting (a huge
/// batch used to panic or abort in every worker, and shutdown then hung).
#[test]
fn out_of_bounds_settings_are_refused() {
    within(HANG_LIMIT, "building pools with out-of-bounds settings", || {
        let field = |result: Result<Pool<u64>, ConfigError>| result.err().map(|error| error.field());
        let builder = || Pool::builder().handler(|_: u64| {});
        assert_eq!(field(builder().batch(usize::MAX).build()), Some("batch"));
        assert_eq!(field(builder().batch(1 << 40).build()), Some("batch"));
        assert_eq!(field(builder().batch(segpool::pool::MAX_BATCH + 1).build()), Some("batch"));
        assert_eq!(field(builder().batch(0).build()), Some("batch"));
        assert_eq!(field(builder().workers(usize::MAX).build()), Some("workers"));
        assert_eq!(field(builder().workers(segpool::pool::MAX_WORKERS + 1).build()), Some("workers"));
        assert_eq!(field(builder().limbo_len(usize::MAX).build()), Some("limbo_len"));
        assert_eq!(field(builder().segment_count(usize::MAX).build()), Some("segment_count"));
        assert_eq!(field(builder().thread_name("nul\0byte").build()), Some("thread_name"));
        assert_eq!(field(builder().segment_count(1).on_exhausted(OnExhausted::Fail).build()), Some("segment_count"));
        // The largest batch is accepted, and a pool with it runs jobs.
        let pool = builder().workers(1).batch(segpool::pool::MAX_BATCH).build().expect("the bound is inclusive");
        pool.submit(1).unwrap();
        assert_eq!(pool.shutdown(None).executed, 1);
    });
}

/// Item 7: a Limbo pool under `Fail` with the builder's defaults (limbo 512, 32 segments) stopped accepting work
/// for good after 2,048 jobs. Now it is refused, naming both settings; one that can recycle runs forever.
#[test]
fn a_limbo_pool_that_could_never_recycle_is_refused() {
    within(HANG_LIMIT, "Limbo pools under Fail", || {
        let refused = Pool::builder()
            .handler(|_: u64| {})
            .on_exhausted(OnExhausted::Fail)
            .strategy::<Limbo>()
            .build()
            .expect_err("32 segments cannot feed a 512-entry limbo under Fail");
        assert_eq!(refused.field(), "segment_count");
        assert!(refused.to_string().contains("limbo_len"), "{refused}");
        // Live: segment_count >= limbo_len + 2. Many times the pool's capacity passes through it.
        let pool = Pool::builder()
            .workers(1)
            .segment_size(4)
            .segment_count(10)
            .limbo_len(8)
            .on_exhausted(OnExhausted::Fail)
            .handler(|_: u64| {})
            .strategy::<Limbo>()
            .build()
            .expect("segment_count = limbo_len + 2 is live");
        let submitter = pool.submitter();
        let mut refusals = 0u64;
        for job in 0..5_000 {
            let mut job = job;
            loop {
                match segpool::Submit::submit(&submitter, job) {
                    Ok(()) => break,
                    Err(error) => {
                        assert_eq!(error.kind(), SubmitErrorKind::Exhausted);
                        refusals += 1;
                        job = error.into_inner();
                        thread::yield_now();
                    }
                }
            }
        }
        drop(submitter);
        let report = pool.shutdown(None);
        assert_eq!(report.executed, 5_000, "{report:?} after {refusals} transient refusals");
    });
}

/// Handed-back tasks can be told apart, run or cancelled; dropping one runs its cleanup, once.
#[test]
fn handed_back_tasks_can_be_run_cancelled_or_dropped() {
    within(HANG_LIMIT, "handed-back tasks", || {
        let cleaned = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let task = |label: &str| {
            let (cleaned, ran) = (cleaned.clone(), ran.clone());
            Task::new(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .cleanup(move || {
                cleaned.fetch_add(1, Ordering::Relaxed);
            })
            .with_label(label)
        };
        let pool = Pool::closures().workers(1).build().unwrap();
        pool.shutdown(None);
        let refused = pool.submit(task("first")).expect_err("closed");
        assert_eq!(refused.kind(), SubmitErrorKind::Closed);
        let first = refused.into_inner();
        assert_eq!(first.label(), Some("first"));
        assert!(format!("{first:?}").contains("first"), "{first:?}");
        first.run();
        assert_eq!((ran.load(Ordering::Relaxed), cleaned.load(Ordering::Relaxed)), (1, 1));
        pool.submit(task("second")).unwrap_err().into_inner().cancel();
        assert_eq!((ran.load(Ordering::Relaxed), cleaned.load(Ordering::Relaxed)), (1, 2));
        drop(pool.submit(task("third")).unwrap_err());
        assert_eq!((ran.load(Ordering::Relaxed), cleaned.load(Ordering::Relaxed)), (1, 3));
        // A task run outside a pool has nowhere to submit to: its submits come back.
        Task::with_context(|context| {
            let back = context.submit(Task::new(|| {})).expect_err("no pool");
            assert_eq!(back.kind(), SubmitErrorKind::Closed);
        })
        .run();
    });
}

/// The tasks a shutdown with a passed deadline hands back are the ones that did not run, and their cleanups run
/// when the report is dropped.
#[test]
fn tasks_not_run_at_shutdown_still_clean_up() {
    within(HANG_LIMIT, "a shutdown whose deadline passes", || {
        let cleaned = Arc::new(AtomicUsize::new(0));
        let pool = Pool::closures().workers(1).batch(1).build().unwrap();
        let (started, release) = (Arc::new(std::sync::Barrier::new(2)), Arc::new(std::sync::Barrier::new(2)));
        {
            let (started, release) = (started.clone(), release.clone());
            pool.execute(move || {
                started.wait();
                release.wait();
            })
            .unwrap();
        }
        for index in 0..10 {
            let cleaned = cleaned.clone();
            let task = Task::new(|| {}).cleanup(move || {
                cleaned.fetch_add(1, Ordering::Relaxed);
            });
            pool.submit(task.with_label(format!("queued {index}"))).unwrap();
        }
        started.wait();
        let releaser = {
            let release = release.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(100));
                release.wait();
            })
        };
        let report = pool.shutdown(Some(Duration::from_millis(20)));
        releaser.join().unwrap();
        assert!(report.deadline_passed, "{report:?}");
        assert_eq!(report.executed + report.not_run.len() as u64, 11, "{report:?}");
        let labels: Vec<_> = report.not_run.iter().filter_map(|task| task.label().map(str::to_owned)).collect();
        assert_eq!(labels.len(), report.not_run.len(), "every handed-back task carries its label");
        let handed_back = report.not_run.len();
        drop(report);
        assert_eq!(cleaned.load(Ordering::Relaxed), 10, "run or handed back and dropped: each cleans up once");
        assert!(handed_back > 0);
    });
}

/// Every refusal reason reaches the submitter: a submit that waited out `OnExhausted::Wait` says `TimedOut` (it
/// used to be folded into `Exhausted` on the way from the queue).
#[test]
fn a_timed_out_wait_reaches_the_submitter_as_timed_out() {
    within(HANG_LIMIT, "a submit that times out", || {
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let blocked = Mutex::new(blocked);
        let pool = Pool::builder()
            .workers(1)
            .segment_size(1)
            .segment_count(2)
            .on_exhausted(OnExhausted::Wait(Duration::from_millis(5)))
            .handler(move |_: u64| blocked.lock().unwrap().recv().unwrap())
            .strategy::<Hazard>()
            .build()
            .unwrap();
        // The worker blocks in job 0; jobs 1 and 2 fill the second segment and find no third (the first is not
        // unlinked until the worker pops again).
        let mut outcomes = Vec::new();
        for job in 0..3 {
            outcomes.push(pool.submit(job).map_err(|error| error.kind()));
            thread::sleep(Duration::from_millis(10)); // let the worker take job 0 first
        }
        assert_eq!(outcomes[0], Ok(()));
        assert!(outcomes.contains(&Err(SubmitErrorKind::TimedOut)), "{outcomes:?}");
        assert!(!outcomes.contains(&Err(SubmitErrorKind::Exhausted)), "{outcomes:?}");
        for _ in 0..3 {
            let _ = release.send(());
        }
        pool.shutdown(None);
    });
}

/// The builder takes the queue's `Config` whole, and validates it for the chosen strategy like `SegQueue` does.
#[test]
fn the_builder_takes_the_queue_config_whole() {
    let config = Config { segment_size: 4, segment_count: 9, limbo_len: 8, on_exhausted: OnExhausted::Fail };
    let refused = Pool::builder().config(config.clone()).handler(|_: u64| {}).strategy::<Limbo>().build();
    assert_eq!(refused.err(), config.validate_for::<Limbo>().err(), "the same refusal as the queue's");
    let live = Config { segment_count: 10, ..config };
    let pool = Pool::builder().workers(1).config(live.clone()).handler(|_: u64| {}).strategy::<Limbo>().build();
    let pool = pool.expect("limbo_len + 2 segments are live");
    assert_eq!(pool.backend().queue().config(), &live);
    assert_eq!(pool.shutdown(None).executed, 0);
}
