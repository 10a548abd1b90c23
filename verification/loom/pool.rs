//! Loom models of the worker pool on the segmented backend: the wake-up protocol, the shutdown gate and a retiring
//! worker's token, exhaustive within a preemption bound and under loom's weak memory model (shuttle makes every
//! atomic `SeqCst`, so only these models can see a fence that is too weak: `pool_wake_fence_relaxed`).
//!
//! - [`submit_races_idle`]: a worker that just started finds the backend empty and goes to sleep while the main
//!   thread submits one job and waits for it to run; then a full drain. A lost wake-up leaves both threads
//!   blocked: loom reports a deadlock. 2 threads.
//! - [`submit_races_shutdown`]: a thread submits one job while the main thread shuts the pool down (no deadline).
//!   A refused submit gets its job back; an accepted job runs exactly once; the report hands nothing back (an
//!   accepted job left in the backend after the drain). 3 threads (main, submitter, one worker).
//! - [`striped_submit_races_shutdown`]: the same through a [`Submitter`](segpool::pool::Submitter), which owns
//!   a stripe of the gate (`src/pool/gate.rs`): the Dekker handshake of the striped entry against shutdown's
//!   scan. 3 threads.
//! - [`retire_races_submit`]: two workers going idle while the main thread submits one job, retires one worker
//!   and waits for the job; then a full drain. A woken worker that then retires must pass its wake-up token on,
//!   or the job sits in the backend while the other worker sleeps (a deadlock). 3 threads (main, two workers).
//!
//! Strategies: Limbo, Hazard, Epoch, HazardEras, Ibr and Hyaline, the facade strategies that recycle segments (`Leak`
//! never recycles and is the same backend code with less in it; the reference adapters are std only). The queue:
//! SegmentSize 2, 2 segments, `Grow`, one job per model, so no segment is ever retired: the models are about the
//! pool's protocol, which is the same over every backend, not the queue's (`loom_queue` checks that). The
//! `Mutex<VecDeque>` backend is left out on purpose: its lock orders a push before any later pop and a pop before
//! any later push, which hides exactly the store-load reordering the wake-up fences exist for.
//!
//! Bounds: at most 3 threads (main included), one job, no deadline; preemption bound [`PREEMPTIONS`] (3) for the
//! first two models and [`retire_preemptions`] (2 with Limbo, 1 with the others) for the third, unless
//! `LOOM_MAX_PREEMPTIONS` overrides them. The idle spin (`IDLE_SPINS` in `src/pool/wake.rs`) is already 0 under the
//! model checkers, so a worker announces itself idle after one empty look: the extra looks would only be more
//! pops of an empty queue, multiplying the schedules without adding one in which the protocol differs.
//!
//! Time here (`--release`, each model alone, on the shared 2-core machine): `submit_races_idle` 0.1 / 0.4 / 0.2 s
//! (Limbo / Hazard / Epoch), `submit_races_shutdown` 0.2 / 7.7 / 3.6 s, `striped_submit_races_shutdown` 0.3 / 5.2 /
//! 3.4 s, `retire_races_submit` 2.4 / 3.1 / 2.3 s; the whole file (7 strategies) 63 s with one test thread. The
//! striped model finds `pool_stripe_enter_no_fence` and `pool_shutdown_skips_stripes` in its first executions
//! (under 0.1 s each).
//! Run: `cargo test --release --features loom --test loom_pool`.
#![cfg(feature = "loom")]

#[path = "../support/mod.rs"]
mod support;

use std::ops::Deref;
use std::sync::Mutex as PlainMutex;

use segpool::pool::{BackendKind, Segmented, Submit};
use segpool::sync::{Arc, Condvar, Mutex, thread};
use segpool::{Config, OnExhausted, Pool, Reclaim};

/// Preemption bound of [`submit_races_idle`] and [`submit_races_shutdown`] (2 and 3 threads): the larger takes
/// about 7 s with Hazard at this bound.
const PREEMPTIONS: usize = 3;

/// Preemption bound of [`retire_races_submit`] with strategy `R`: 2 with Limbo, 1 with Hazard and Epoch. At bound 2
/// its three threads and final drain cost minutes with Hazard (150 s here) and Epoch (70 s), against 7 s with
/// Limbo, whose push and pop take the fewest atomic steps. The path under test (a worker takes a token, then a
/// retirement, and passes the token on as it leaves) is the pool's and the same over every backend, so one
/// strategy at bound 2 covers it; the interleaving that strands a job under `pool_retire_swallows_wakeup` (both
/// workers asleep before the submit) needs bound 2 (measured: bound 1 misses it; `LOOM_MAX_PREEMPTIONS=2` finds it
/// with Hazard in 63 s and with Epoch in 51 s here).
fn retire_preemptions<R: Reclaim>() -> usize {
    if R::NAME == "limbo" { 2 } else { 1 }
}

/// Jobs that ran, for the final checks (std bookkeeping, invisible to loom: never held across a loom operation),
/// and a loom-visible count of them that a thread can wait on, so that a lost wake-up blocks it.
#[derive(Default)]
struct Ran {
    jobs: PlainMutex<Vec<u32>>,
    count: Mutex<usize>,
    changed: Condvar,
}

impl Ran {
    fn record(&self, job: u32) {
        self.jobs.lock().unwrap().push(job);
        *self.count.lock().unwrap() += 1;
        self.changed.notify_all();
    }

    /// Blocks until `n` jobs ran: forever (a loom deadlock) if a wake-up was lost.
    fn wait_for(&self, n: usize) {
        let mut count = self.count.lock().unwrap();
        while *count < n {
            count = self.changed.wait(count).unwrap();
        }
    }

    fn sorted(&self) -> Vec<u32> {
        let mut jobs = self.jobs.lock().unwrap().clone();
        jobs.sort_unstable();
        jobs
    }
}

/// Owns a model's loom objects and forgets them if the model panics. When loom reports a failure (a deadlock, a
/// failed check) it unwinds the model after its execution is gone; dropping a loom object then panics again, and
/// a panic during unwinding aborts the whole test binary (the pool's drop even shuts the pool down, which waits).
/// Forgetting them turns the abort into an ordinary test failure, so the other models in the binary still run.
/// (Not always: when the last thread to block is a worker, loom unwinds the worker, whose exit guard locks the
/// sleep mutex, and the binary aborts anyway; the test still fails, with loom's deadlock message first.)
struct KeepOnPanic<T>(Option<T>);

impl<T> KeepOnPanic<T> {
    fn new(value: T) -> Self {
        KeepOnPanic(Some(value))
    }
}

impl<T> Deref for KeepOnPanic<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_ref().expect("taken only in drop")
    }
}

impl<T> Drop for KeepOnPanic<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

/// Stack of the loom thread each model runs on ([`model`]).
const MODEL_STACK: usize = 256 << 10;

/// Runs `body` under loom within `preemptions`, on a loom thread with a [`MODEL_STACK`] stack that the model's
/// main thread only spawns and joins. Loom runs the main thread on a 32 KiB coroutine stack, and the unoptimised
/// build (`cargo test --features loom`, as CI runs it) overflows it while building a pool on HazardEras or Ibr:
/// `Builder::build` and the backend's `build` move the queue by value through frames of 7 and 12 KiB there
/// (measured with gdb: 32.3 KiB in all at the overflow). Waiting in `join` is not a preemption, so the schedules
/// are those of the body on the main thread.
fn model<F: Fn() + Sync + Send + 'static>(preemptions: usize, body: F) {
    let body = std::sync::Arc::new(body);
    segpool::sync::model_with_bound(preemptions, move || {
        let body = body.clone();
        thread::Builder::new()
            .stack_size(MODEL_STACK)
            .spawn(move || body())
            .expect("loom spawns the model thread")
            .join()
            .unwrap();
    });
}

fn pool<B: BackendKind>(ran: &Arc<Ran>, workers: usize) -> Pool<u32, B> {
    let ran = ran.clone();
    Pool::builder()
        .workers(workers)
        .batch(1)
        .config(Config { segment_size: 2, segment_count: 2, on_exhausted: OnExhausted::Grow, limbo_len: 1 })
        .handler(move |job: u32| ran.record(job))
        .backend::<B>()
        .build()
        .expect("valid pool")
}

/// One worker going idle while the main thread submits one job and waits for it to run; then a full drain.
/// Kills `pool_lost_wakeup` and `pool_wake_fence_relaxed` (a deadlock).
fn submit_races_idle<R: Reclaim>() {
    model(PREEMPTIONS, || {
        let ran = KeepOnPanic::new(Arc::new(Ran::default()));
        let pool = KeepOnPanic::new(pool::<Segmented<R>>(&ran, 1));
        pool.submit(7).expect("an open pool under Grow accepts");
        ran.wait_for(1);
        let report = pool.shutdown(None);
        assert!(report.not_run.is_empty() && report.executed == 1, "{report:?}");
        assert_eq!(ran.sorted(), [7]);
    });
}

/// A thread submits one job while the main thread shuts the pool down without a deadline. Kills
/// `pool_shutdown_ignores_gate` (the accepted job never ran), `pool_lost_wakeup` and `pool_wake_fence_relaxed`
/// (the drain ended with the job in the backend, handed back).
fn submit_races_shutdown<R: Reclaim>() {
    submit_through_races_shutdown::<R>(false);
}

/// The race of [`submit_races_shutdown`], the submit through the pool (`striped` false: the shared gate counter)
/// or through a `Submitter` (`striped`: its own gate stripe).
fn submit_through_races_shutdown<R: Reclaim>(striped: bool) {
    model(PREEMPTIONS, move || {
        let ran = KeepOnPanic::new(Arc::new(Ran::default()));
        let pool = KeepOnPanic::new(Arc::new(pool::<Segmented<R>>(&ran, 1)));
        let submitter = {
            let pool = KeepOnPanic::new(Arc::clone(&pool));
            thread::spawn(move || {
                let outcome = if striped { pool.submitter().submit(7) } else { pool.submit(7) };
                match outcome {
                    Ok(()) => true,
                    Err(refused) => {
                        assert_eq!(refused.into_inner(), 7, "a refused job must come back");
                        false
                    }
                }
            })
        };
        let report = pool.shutdown(None);
        let accepted = submitter.join().unwrap();
        assert!(report.not_run.is_empty() && !report.deadline_passed, "{report:?}");
        let expected: &[u32] = if accepted { &[7] } else { &[] };
        assert_eq!(ran.sorted(), expected, "an accepted job must run once, a refused one never");
        assert_eq!(report.executed, u64::from(accepted), "{report:?}");
    });
}

/// [`submit_races_shutdown`] through a submitter that owns a gate stripe. Kills `pool_stripe_enter_no_fence` (the
/// submitter reads `closed` before its stripe store is visible, shutdown scans the stripe before it: the job is
/// pushed after the drain began and handed back or never run), `pool_shutdown_skips_stripes` and
/// `pool_shutdown_ignores_gate`.
fn striped_submit_races_shutdown<R: Reclaim>() {
    submit_through_races_shutdown::<R>(true);
}

/// Two workers going idle while the main thread submits one job, retires one worker and waits for the job; then a
/// full drain. The retirement races the submit's wake-up: the worker woken by the token may be the one that
/// retires, and must then pass the token on to the other. Kills `pool_retire_swallows_wakeup` (with Limbo, at
/// bound 2) and `pool_wake_fence_relaxed` (a deadlock). `pool_lost_wakeup` survives it: the retirement's
/// `notify_all` wakes both workers, and the one that stays finds the job.
fn retire_races_submit<R: Reclaim>() {
    model(retire_preemptions::<R>(), || {
        let ran = KeepOnPanic::new(Arc::new(Ran::default()));
        let pool = KeepOnPanic::new(pool::<Segmented<R>>(&ran, 2));
        pool.submit(7).expect("an open pool under Grow accepts");
        assert_eq!(pool.retire_workers(1), 1);
        ran.wait_for(1);
        let report = pool.shutdown(None);
        assert!(report.not_run.is_empty() && report.executed == 1, "{report:?}");
        assert_eq!(ran.sorted(), [7]);
        assert_eq!(pool.workers(), 0);
    });
}

support::for_each_strategy! {
    |R| if recycles {
        #[test]
        fn submit_races_idle() {
            super::submit_races_idle::<R>();
        }

        #[test]
        fn submit_races_shutdown() {
            super::submit_races_shutdown::<R>();
        }

        #[test]
        fn striped_submit_races_shutdown() {
            super::striped_submit_races_shutdown::<R>();
        }

        #[test]
        fn retire_races_submit() {
            super::retire_races_submit::<R>();
        }
    }
}
