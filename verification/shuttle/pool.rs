//! Shuttle models of the worker pool: submits racing shutdown, jobs submitting jobs while the pool drains, and
//! workers retiring while jobs flow, on the segmented backend (Hazard, Epoch, Limbo) and the `Mutex<VecDeque>`
//! baseline; and a submit whose push panics while the pool shuts down ([`panicking_submit_races_shutdown`], on a
//! backend whose first push panics: the submission gate must be left as it was found, or shutdown waits for that
//! submit for ever, which shuttle reports when the schedule passes its step limit).
//!
//! Every model checks, in every schedule: each accepted job ran exactly once (a submit that returned `Ok` is an
//! accepted job; one that returned `Err` got its job back and the job never runs), shutdown without a deadline
//! hands nothing back, and shutdown returns (a lost wake-up or a drain that never finishes would hang the schedule,
//! which shuttle reports as a deadlock).
//!
//! Run: `cargo test --release --features shuttle --test shuttle_pool`; the search is set as for the other
//! shuttle suites (`SEGPOOL_SHUTTLE_ITERATIONS`, `SEGPOOL_SHUTTLE_SCHEDULER`, replay on failure). Size: 2 workers,
//! 2 submitting threads × 3 jobs (each job below 10 submits one child; one thread submits through the pool, the
//! other through a `Submitter`, on its own stripe of the submission gate), the main thread shutting down meanwhile.
#![cfg(feature = "shuttle")]

#[path = "../support/mod.rs"]
mod support;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex as PlainMutex;
use std::sync::atomic::{AtomicBool as PlainBool, Ordering as PlainOrdering};

use segpool::pool::{Backend, BackendKind, MutexDeque, Refused, Segmented};
use segpool::sync::{Arc, thread};
use segpool::{Config, ConfigError, OnExhausted, Pool, Submit};

/// The jobs that ran, in a std mutex: bookkeeping for the check, invisible to shuttle's scheduler is fine here
/// because it is never held across a scheduling point.
type Ran = std::sync::Arc<PlainMutex<Vec<u32>>>;

fn pool<B: BackendKind>(ran: &Ran, workers: usize) -> Pool<u32, B> {
    let ran = ran.clone();
    Pool::builder()
        .workers(workers)
        .batch(2)
        .segment_size(2)
        .segment_count(4)
        .on_exhausted(OnExhausted::Grow)
        .handler_with_context(move |job: u32, context: &dyn Submit<u32>| {
            ran.lock().unwrap().push(job);
            if job < 10 {
                // A child; refused only after a deadline, and there is none here.
                context.submit(job + 100).expect("jobs may submit while the pool drains");
            }
        })
        .backend::<B>()
        .build()
        .expect("valid pool")
}

/// Asserts that `ran` holds exactly the accepted jobs and the children of those below 10.
fn assert_ran_exactly(ran: &Ran, accepted: &[u32]) {
    let mut expected: Vec<u32> =
        accepted.iter().flat_map(|&job| [job].into_iter().chain((job < 10).then_some(job + 100))).collect();
    expected.sort_unstable();
    let mut seen = ran.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, expected, "accepted jobs lost, duplicated or invented");
}

/// Two threads submit while the main thread shuts the pool down.
fn submit_races_shutdown<B: BackendKind>() {
    segpool::sync::model(|| {
        let ran = Ran::default();
        let pool = Arc::new(pool::<B>(&ran, 2));
        let submitters: Vec<_> = (0..2u32)
            .map(|t| {
                let pool = pool.clone();
                thread::spawn(move || {
                    // Thread 1 through a submitter, on its own gate stripe; thread 0 through the shared count.
                    let submitter = (t == 1).then(|| pool.submitter());
                    let mut accepted = Vec::new();
                    for i in 0..3 {
                        let job = t * 5 + i;
                        let outcome = match &submitter {
                            Some(submitter) => submitter.submit(job),
                            None => pool.submit(job),
                        };
                        match outcome {
                            Ok(()) => accepted.push(job),
                            Err(refused) => assert_eq!(refused.into_inner(), job, "a refused job must come back"),
                        }
                    }
                    accepted
                })
            })
            .collect();
        let report = pool.shutdown(None);
        let accepted: Vec<u32> = submitters.into_iter().flat_map(|s| s.join().unwrap()).collect();
        assert!(report.not_run.is_empty() && !report.deadline_passed, "{report:?}");
        assert_ran_exactly(&ran, &accepted);
        let children = accepted.iter().filter(|&&job| job < 10).count() as u64;
        assert_eq!(report.executed, accepted.len() as u64 + children, "{report:?}");
    });
}

/// Schedules of [`resize_races_submit`]: a retiring worker that swallows its wake-up token
/// (`pool_retire_swallows_wakeup`) was found in 8 and 9 of 10 runs with 1,000 fresh schedules, in 10 of 10 with
/// 4,000 (0.7 s a run for every backend's model).
const RESIZE_ITERATIONS: usize = 4 * segpool::sync::DEFAULT_ITERATIONS;

/// Workers retire and are added while a thread submits; then a full drain.
fn resize_races_submit<B: BackendKind>() {
    segpool::sync::model_with_iterations(RESIZE_ITERATIONS, || {
        let ran = Ran::default();
        let pool = Arc::new(pool::<B>(&ran, 2));
        let submitter = {
            let pool = pool.clone();
            thread::spawn(move || {
                for job in 0..4 {
                    pool.submit(job).expect("an open pool under Grow accepts");
                }
            })
        };
        pool.retire_workers(1);
        assert!(pool.add_workers(1));
        pool.retire_workers(1);
        submitter.join().unwrap();
        let report = pool.shutdown(None);
        assert!(report.not_run.is_empty(), "{report:?}");
        assert_ran_exactly(&ran, &[0, 1, 2, 3]);
    });
}

/// A `Mutex<VecDeque>` backend whose first push panics: a stand-in for any panic inside `submit` (a strategy's, a
/// backend's). The flag is std bookkeeping: shuttle runs one task at a time, so no schedule depends on it.
struct FirstPushPanics<J = ()> {
    inner: MutexDeque<J>,
    armed: PlainBool,
}

impl<X: 'static> BackendKind for FirstPushPanics<X> {
    type Of<T: Send + 'static> = FirstPushPanics<T>;
}

impl<J: Send + 'static> Backend<J> for FirstPushPanics<J> {
    const NAME: &'static str = "first-push-panics";
    type Local<'a> = ();

    fn build(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self { inner: MutexDeque::build(config)?, armed: PlainBool::new(true) })
    }

    fn local(&self) {}

    fn push(&self, local: &mut (), job: J) -> Result<(), Refused<J>> {
        if self.armed.swap(false, PlainOrdering::Relaxed) {
            panic!("the backend's first push panics");
        }
        self.inner.push(local, job)
    }

    fn pop_batch(&self, local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        self.inner.pop_batch(local, out, max)
    }
}

/// A thread whose first submit panics (in the backend's push) and whose second is accepted or refused, while the
/// main thread shuts the pool down: shutdown ends, the accepted job ran, a refused one came back. `striped`: the
/// first submit goes through a submitter (a stripe of the gate, `src/pool/gate.rs`), the second through the pool.
fn panicking_submit_races_shutdown(striped: bool) {
    segpool::sync::model(move || {
        let ran = Ran::default();
        let pool = Arc::new(pool::<FirstPushPanics>(&ran, 1));
        let submitter = {
            let pool = pool.clone();
            thread::spawn(move || {
                // Striped: the panicking submit goes through a submitter, on its own gate stripe, which is then
                // dropped; the second through the pool. (Had the second gone through the same submitter, its entry
                // would have cleared a stripe the unwinding submit left set, hiding that leak.)
                let submit_first = |job| match striped {
                    true => pool.submitter().submit(job),
                    false => pool.submit(job),
                };
                let unwound = panic::catch_unwind(AssertUnwindSafe(|| submit_first(20)));
                let first_refused = match unwound {
                    Err(_) => false,
                    // Refused before the push (the gate was already closed): the job came back, nothing ran.
                    Ok(result) => {
                        assert_eq!(result.expect_err("the first push panics").into_inner(), 20);
                        true
                    }
                };
                // Striped, the second submit may be accepted after the first was refused (shutdown stores `closed`
                // before it sets the count's closed bit), and its push is then the first: it panics.
                match panic::catch_unwind(AssertUnwindSafe(|| pool.submit(21))) {
                    Ok(result) => result.is_ok(),
                    Err(_) => {
                        assert!(striped && first_refused, "only the backend's first push panics");
                        false
                    }
                }
            })
        };
        let report = pool.shutdown(None);
        let accepted = submitter.join().unwrap();
        assert!(report.not_run.is_empty(), "{report:?}");
        assert_ran_exactly(&ran, if accepted { &[21] } else { &[] });
    });
}

#[test]
fn first_push_panics_submit_races_shutdown() {
    panicking_submit_races_shutdown(false);
}

#[test]
fn first_push_panics_striped_submit_races_shutdown() {
    panicking_submit_races_shutdown(true);
}

/// The models of one backend.
macro_rules! pool_models {
    ($backend:ty) => {
        #[test]
        fn submit_races_shutdown() {
            super::submit_races_shutdown::<$backend>();
        }

        #[test]
        fn resize_races_submit() {
            super::resize_races_submit::<$backend>();
        }
    };
}

// The segmented backend with every strategy that reuses segments (`limbo`, `hazard`, `epoch`), then the baseline.
support::for_each_strategy! {
    |R| if recycles {
        pool_models!(Segmented<R>);
    }
}

mod mutex_deque {
    use super::*;

    pool_models!(MutexDeque);
}
