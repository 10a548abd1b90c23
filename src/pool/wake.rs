//! How idle workers sleep and how a submit wakes one: [`Sleep`], the state under the sleep mutex, with the test
//! for the end of a drain ([`Sleep::check_finished`]), and the submitter's half of the protocol
//! ([`Shared::wake_one`]). The worker's half, the idle announcement, the second look and the wait, is in its loop
//! ([`Shared::work`] in `worker.rs`).
//!
//! # The wake-up protocol
//!
//! A worker that finds the backend empty increments `idle`, issues a fence and looks again before it sleeps; a
//! submitter pushes, issues a fence and reads `idle`. Of two such fences one comes first, so either the worker's
//! second look finds the job or the submitter sees the worker idle and leaves a wake-up token under the sleep
//! mutex, which the worker checks before waiting.
//!
//! The two fences are an asymmetric pair (`sync/asymmetric.rs`): the submitter's, taken at every submit, is
//! [`light_fence`], a compiler fence on Linux; the worker's, taken only when it is about to sleep, is
//! [`heavy_fence`], a `membarrier` system call that makes every running thread of the process execute a full
//! barrier. A submit thus checks for sleepers with one plain load and no fence (the `SeqCst` fence was a locked
//! instruction on x86-64), and a worker pays a few microseconds more on its way to a sleep that costs about 10 µs
//! to leave anyway (below, "Spinning"). Under the model checkers and elsewhere both are `SeqCst` fences, which is
//! what the loom models check; `pool_wake_fence_relaxed` weakens the submitter's to `Release`.
//!
//! [`light_fence`]: crate::sync::light_fence
//! [`heavy_fence`]: crate::sync::heavy_fence A token left for a worker that found the job on
//! its second look wakes some worker once for nothing; tokens never exceed the number of idle workers.
//!
//! A woken worker that then retires has taken a token without popping: it leaves a fresh token on its way out,
//! or the job the token announced could sit in the backend while every other worker sleeps (and a drain would end
//! over it). The shuttle model `resize_races_submit` found this.
//!
//! # Spinning
//!
//! Sleeping costs a futex wait, and waking costs the submitter a lock, a futex wake and the sleeper's trip through
//! the scheduler: about 10 µs here, against well under a microsecond to run an empty job. A worker that finds the
//! backend empty therefore looks again [`IDLE_SPINS`] times (8; 0 under the model checkers), pausing 1, 2, 4, ...
//! spin-loop hints before each look (255 in all, a few microseconds), before it announces itself idle. A worker
//! that keeps up with its submitters thus rarely sleeps, and their submits rarely take the lock; an idle pool
//! still sleeps. The backoff never yields the core: on a shared machine `sched_yield` can cost a whole time
//! slice, during which the worker is neither looking nor counted idle, so a submit would not wake anyone (a
//! first version that yielded raised the lone-job latency from 10 µs to 700 µs here).

use super::shared::{Shared, lock};
use super::{Backend, BackendKind, Envelope, Metrics, Submitter};
use crate::sync::{Condvar, Ordering, fence, light_fence};

/// Looks at an empty backend before an idle worker announces itself idle (module docs, "Spinning"): 8, and none
/// under the model checkers, where the extra looks are pops like any other and each would multiply the schedules
/// to explore without adding a new one.
const IDLE_SPINS: u32 = if cfg!(segpool_std) { 8 } else { 0 };

/// What workers wait on, under the sleep mutex.
#[derive(Default)]
pub(super) struct Sleep {
    /// Wake-ups left by submitters for idle workers.
    pub(super) wakeups: usize,
    /// Workers that must exit at their next look (resizing).
    pub(super) retire: usize,
    /// Shutdown has begun: external submits are closed and all of them are in the backend.
    pub(super) draining: bool,
    /// While draining: workers asleep after finding the backend empty.
    pub(super) drained: usize,
    /// The drain is complete (see `check_finished`): sleeping workers exit.
    pub(super) finished: bool,
    /// Workers running.
    pub(super) live: usize,
}

impl Sleep {
    /// While draining: once every live worker is asleep with no wake-up pending, no job is running, so none can
    /// submit another, and each sleeper saw the backend empty after its last job: the drain is complete.
    ///
    /// The pending-wake-up condition is for parallelism, not for correctness: a woken worker takes its token
    /// before it looks at `finished`, so it would run the announced job anyway, but alone, while the other
    /// sleepers left (a mutant without the condition survived the shuttle models for that reason).
    pub(super) fn check_finished(&mut self, wake: &Condvar) {
        if self.draining && !self.finished && self.wakeups == 0 && self.drained >= self.live {
            self.finished = true;
            wake.notify_all();
        }
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Shared<J, B, M> {
    /// After a push: wake a sleeping worker, if any (module docs, "The wake-up protocol").
    pub(super) fn wake_one(&self) {
        // The mutant: a `Release` fence, as if the fence only had to publish the job; it does not order the push
        // before the read of `idle`, so both may miss each other (a store-load reordering, visible only to loom).
        if cfg!(segpool_mutant = "pool_wake_fence_relaxed") {
            fence(Ordering::Release);
        } else {
            light_fence();
        }
        let idle = self.idle.load(Ordering::SeqCst);
        if idle > 0 && !cfg!(segpool_mutant = "pool_lost_wakeup") {
            self.pass_on_wakeup(&mut lock(&self.sleep), idle);
        }
    }

    /// Leaves a wake-up token for one of the `idle` workers, unless each already has one.
    pub(super) fn pass_on_wakeup(&self, sleep: &mut Sleep, idle: usize) {
        if sleep.wakeups < idle {
            sleep.wakeups += 1;
            self.wake.notify_one();
        }
    }

    /// Looks for work up to [`IDLE_SPINS`] times with exponential backoff; true when a look filled `batch`.
    pub(super) fn spin_for_work(&self, context: &Submitter<'_, J, B, M>, batch: &mut Vec<Envelope<J>>) -> bool {
        #[allow(clippy::reversed_empty_ranges)] // IDLE_SPINS is 0 under the model checkers
        for round in 0..IDLE_SPINS {
            for _ in 0..1u32 << round {
                std::hint::spin_loop();
            }
            if self.backend.pop_batch(&mut context.local.borrow_mut(), batch, self.batch) > 0 {
                return true;
            }
        }
        false
    }
}
