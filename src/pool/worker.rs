//! A worker's life: its loop ([`Shared::work`]: take a batch, run it, look again, sleep), running jobs with every
//! panic of user code caught ([`Shared::run_one`]), and its way out ([`WorkerExit`]), taken also by a worker that
//! unwinds.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use super::shared::{Shared, lock};
use super::{Backend, BackendKind, CancelToken, Envelope, Metrics, PanicReport, PanicSite, Submit, Submitter};
use crate::sync::{Ordering, heavy_fence};

/// One worker's job counts, kept in the worker and added to [`Shared::counts`] when it exits: the counts are read
/// only by [`Pool::shutdown`], after it joined every worker. (They were added to the shared counters after every
/// batch: three locked RMWs per batch, which at one producer and one worker is often one job.)
///
/// [`Pool::shutdown`]: super::Pool::shutdown
#[derive(Default)]
pub(super) struct Tally {
    executed: u64,
    panicked: u64,
    cancelled: u64,
    hook_panics: u64,
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Shared<J, B, M> {
    /// Takes a retirement request, if there is one.
    fn take_retirement(&self) -> bool {
        if self.retire_hint.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut sleep = lock(&self.sleep);
        if sleep.retire == 0 {
            return false;
        }
        sleep.retire -= 1;
        self.retire_hint.fetch_sub(1, Ordering::Release);
        true
    }

    /// Runs a batch; with the deadline passed, hands back what is left of it instead.
    fn run_batch(&self, worker: usize, batch: &mut Vec<Envelope<J>>, context: &dyn Submit<J>, tally: &mut Tally) {
        let len = batch.len();
        self.catching(tally, || self.metrics.batch(len));
        let mut jobs = batch.drain(..);
        for envelope in jobs.by_ref() {
            self.run_one(worker, envelope, context, tally);
            if self.stop.load(Ordering::Acquire) {
                break;
            }
        }
        let rest: Vec<_> = jobs.collect();
        if !rest.is_empty() {
            lock(&self.leftovers).extend(rest);
        }
    }

    /// Runs one job, or its cancellation hook if its token was cancelled. Every panic of user code is caught here:
    /// the job's, the hooks' and the metrics sink's, so none can end the worker or strand the rest of its batch.
    fn run_one(&self, worker: usize, envelope: Envelope<J>, context: &dyn Submit<J>, tally: &mut Tally) {
        let Envelope { job, token } = envelope;
        if token.as_ref().is_some_and(CancelToken::is_cancelled) {
            tally.cancelled += 1;
            self.catching(tally, || self.metrics.cancelled());
            if let Some(hook) = &self.on_cancelled {
                let hooked = if cfg!(segpool_mutant = "pool_hooks_uncaught") {
                    hook(job);
                    Ok(())
                } else {
                    panic::catch_unwind(AssertUnwindSafe(|| hook(job)))
                };
                if let Err(payload) = hooked {
                    tally.hook_panics += 1;
                    self.report_panic(worker, PanicSite::OnCancelled, payload, tally);
                }
            }
            return;
        }
        match panic::catch_unwind(AssertUnwindSafe(|| (self.handler)(job, context))) {
            Ok(()) => {
                tally.executed += 1;
                self.catching(tally, || self.metrics.executed());
            }
            Err(payload) => {
                tally.panicked += 1;
                self.catching(tally, || self.metrics.panicked());
                self.report_panic(worker, PanicSite::Job, payload, tally);
            }
        }
    }

    /// Passes a caught panic to the panic hook.
    fn report_panic(&self, worker: usize, site: PanicSite, payload: Box<dyn Any + Send>, tally: &mut Tally) {
        let message = panic_message(payload.as_ref());
        // The payload is user data, and its drop is user code too.
        self.catching(tally, move || drop(payload));
        if let Some(hook) = &self.on_panic {
            self.catching(tally, || hook(&PanicReport { worker, site, message }));
        }
    }

    /// Runs user code outside a job (a hook, the metrics sink), catching and counting its panic.
    fn catching(&self, tally: &mut Tally, f: impl FnOnce()) {
        if cfg!(segpool_mutant = "pool_hooks_uncaught") {
            return f();
        }
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            tally.hook_panics += 1;
            // Even the payload's drop is user code.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }

    /// Adds a worker's tally to the shared counts, once, as it exits.
    fn flush(&self, tally: Tally) {
        if tally.executed > 0 {
            self.counts.executed.fetch_add(tally.executed, Ordering::Relaxed);
        }
        if tally.panicked > 0 {
            self.counts.panicked.fetch_add(tally.panicked, Ordering::Relaxed);
        }
        if tally.cancelled > 0 {
            self.counts.cancelled.fetch_add(tally.cancelled, Ordering::Relaxed);
        }
        if tally.hook_panics > 0 {
            self.counts.hook_panics.fetch_add(tally.hook_panics, Ordering::Relaxed);
        }
    }

    /// A worker thread's body: [`Self::work`] inside its way out.
    pub(super) fn worker(&self, index: usize) {
        let mut exit = WorkerExit { shared: self, tally: Tally::default(), retired: false };
        exit.retired = self.work(index, &mut exit.tally);
    }

    /// The worker's loop; returns whether it left because it was retired.
    fn work(&self, index: usize, tally: &mut Tally) -> bool {
        self.pinning.apply(index);
        let context = Submitter::for_worker(self);
        let mut batch = Vec::with_capacity(self.batch);
        let mut retired = false;
        'work: loop {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            if self.take_retirement() {
                retired = true;
                break;
            }
            if self.backend.pop_batch(&mut context.local.borrow_mut(), &mut batch, self.batch) > 0 {
                self.run_batch(index, &mut batch, &context, tally);
                continue;
            }
            // Empty: look again a few times, backing off, before the costly sleep (`wake.rs`, "Spinning").
            if self.spin_for_work(&context, &mut batch) {
                self.run_batch(index, &mut batch, &context, tally);
                continue;
            }
            // Still empty: announce idleness, look again, then sleep (`wake.rs`, "The wake-up protocol").
            self.idle.fetch_add(1, Ordering::SeqCst);
            heavy_fence();
            if self.backend.pop_batch(&mut context.local.borrow_mut(), &mut batch, self.batch) > 0 {
                self.idle.fetch_sub(1, Ordering::SeqCst);
                self.run_batch(index, &mut batch, &context, tally);
                continue;
            }
            // Before sleeping, hand the strategy's per-thread leftovers to the others (Backend::park).
            self.backend.park(&mut context.local.borrow_mut());
            let mut sleep = lock(&self.sleep);
            let mut counted_drained = false;
            loop {
                if sleep.wakeups > 0 {
                    sleep.wakeups -= 1;
                    break;
                }
                if sleep.retire > 0 || self.stop.load(Ordering::Acquire) {
                    break;
                }
                if sleep.draining {
                    if !counted_drained {
                        counted_drained = true;
                        sleep.drained += 1;
                        sleep.check_finished(&self.wake);
                    }
                    if sleep.finished {
                        drop(sleep);
                        self.idle.fetch_sub(1, Ordering::SeqCst);
                        break 'work;
                    }
                }
                sleep = self.wake.wait(sleep).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if counted_drained {
                sleep.drained -= 1;
            }
            drop(sleep);
            self.idle.fetch_sub(1, Ordering::SeqCst);
        }
        retired
    }
}

/// A worker's way out, as a drop guard, so that it is taken also if the worker unwinds (only a panicking backend
/// can make it: every panic of user code is caught in `run_one`): shutdown waits for `live` to reach zero.
struct WorkerExit<'s, J: Send + 'static, B: BackendKind, M: Metrics> {
    shared: &'s Shared<J, B, M>,
    tally: Tally,
    retired: bool,
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Drop for WorkerExit<'_, J, B, M> {
    fn drop(&mut self) {
        let shared = self.shared;
        // Before `live` drops: shutdown reads the counts only after joining every worker.
        shared.flush(std::mem::take(&mut self.tally));
        let mut sleep = lock(&shared.sleep);
        sleep.live -= 1;
        let dying = std::thread::panicking();
        if (self.retired || dying) && !cfg!(segpool_mutant = "pool_retire_swallows_wakeup") {
            // This worker may have taken the wake-up token of a job it will now never pop: pass it on.
            let idle = shared.idle.load(Ordering::SeqCst);
            shared.pass_on_wakeup(&mut sleep, idle);
        }
        sleep.check_finished(&shared.wake);
        shared.exited.notify_all();
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}
