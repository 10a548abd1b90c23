//! [`Pool`], the handle a user holds: it starts the workers, submits, resizes, and shuts the pool down.
//!
//! # Shutdown
//!
//! The submission gate (`gate.rs`) knows which external submits are inside `submit`: a submitter's own stripe
//! flag, or a shared count for submits without one; a submit leaves it through a drop guard, so that one
//! unwinding from a panic leaves too. Shutdown closes it, waits until no submit is inside (so every accepted job
//! is in the backend), then tells workers to exit once the backend is empty. At the
//! deadline it tells them to stop after their current job; each hands back the rest of its batch. The jobs still
//! in the backend are then taken out and handed back.

use std::fmt;
use std::time::{Duration, Instant};

use super::gate::Admission;
use super::shared::{Queue, Shared, lock};
use super::{
    Backend, BackendKind, Builder, CancelToken, Envelope, MAX_WORKERS, Metrics, NoMetrics, Segmented, ShutdownReport,
    Submit, SubmitError, Submitter, Task,
};
use crate::Hazard;
use crate::config::deadline_after;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering, thread};

/// A worker pool: typed jobs `J` passed to one handler, on backend `B`, reporting to metrics sink `M`.
///
/// Build one with [`Pool::builder`] or [`Pool::closures`]. Share it by reference (it is `Sync`) or in an `Arc`.
pub struct Pool<J: Send + 'static, B: BackendKind = Segmented<Hazard>, M: Metrics = NoMetrics> {
    shared: Arc<Shared<J, B, M>>,
    workers: Mutex<Vec<thread::JoinHandle<()>>>,
    spawned: AtomicUsize,
}

impl<J: Send + 'static> Pool<J> {
    /// A builder for a pool of typed jobs; set the handler with [`Builder::handler`].
    pub fn builder() -> Builder<J> {
        Builder::new()
    }
}

impl Pool<Task> {
    /// A builder for a pool of boxed closures ([`Task`]); submit with [`Pool::execute`].
    pub fn closures() -> Builder<Task> {
        Builder::closures()
    }
}

impl<B: BackendKind, M: Metrics> Pool<Task, B, M> {
    /// Runs `f` on a worker, or hands it back (as a [`Task`]) if the pool cannot take it.
    pub fn execute(&self, f: impl FnOnce() + Send + 'static) -> Result<(), SubmitError<Task>> {
        self.submit(Task::new(f))
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Pool<J, B, M> {
    /// A pool on `shared` with no worker yet ([`Builder::build`] then starts them).
    pub(super) fn new(shared: Arc<Shared<J, B, M>>) -> Self {
        Pool { shared, workers: Mutex::new(Vec::new()), spawned: AtomicUsize::new(0) }
    }

    /// Starts `count` workers, or as many as the OS allows: the error is the OS's refusal of the next one.
    pub(super) fn spawn_workers(&self, count: usize) -> std::io::Result<()> {
        let mut workers = lock(&self.workers);
        for _ in 0..count {
            let index = self.spawned.fetch_add(1, Ordering::Relaxed);
            let shared = Arc::clone(&self.shared);
            let name = format!("{}-{index}", shared.thread_name);
            // Counted before it starts, so that a worker that exits at once cannot take `live` below zero; and
            // uncounted if it does not start, or shutdown would wait for it forever.
            lock(&self.shared.sleep).live += 1;
            match thread::Builder::new().name(name).spawn(move || shared.worker(index)) {
                Ok(worker) => workers.push(worker),
                Err(error) => {
                    let mut sleep = lock(&self.shared.sleep);
                    sleep.live -= 1;
                    sleep.check_finished(&self.shared.wake);
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Submits `job`, or hands it back: when the pool is shutting down, or the backend refuses it.
    pub fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.shared.backend.local(), Envelope { job, token: None }, Admission::Counted)
    }

    /// Submits `job` with a cancellation token: if the token is cancelled before the job starts, the job goes to
    /// the cancellation hook instead of the handler.
    pub fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(
            &mut self.shared.backend.local(),
            Envelope { job, token: Some(token.clone()) },
            Admission::Counted,
        )
    }

    /// A submitter that keeps this thread's backend state between submits (cheaper than [`Submit::submit`] on
    /// the pool, which sets it up for every job).
    pub fn submitter(&self) -> Submitter<'_, J, B, M> {
        Submitter::external(&self.shared)
    }

    /// The backend, for its statistics.
    pub fn backend(&self) -> &Queue<J, B> {
        &self.shared.backend
    }

    /// The metrics sink.
    pub fn metrics(&self) -> &M {
        &self.shared.metrics
    }

    /// Workers running now (retired workers leave between batches).
    pub fn workers(&self) -> usize {
        lock(&self.shared.sleep).live
    }

    /// Adds `count` workers. Refused (with `false`) once shutdown has begun, or if the pool would have more than
    /// [`MAX_WORKERS`]; `false` too if the OS refused a thread, in which case the workers started before stay.
    pub fn add_workers(&self, count: usize) -> bool {
        if self.shared.gate.is_closed() {
            return false;
        }
        if self.workers().saturating_add(count) > MAX_WORKERS {
            return false;
        }
        self.spawn_workers(count).is_ok()
    }

    /// Asks `count` workers to leave after their current batch, keeping at least one; returns how many will
    /// leave. Their jobs stay in the backend for the others.
    pub fn retire_workers(&self, count: usize) -> usize {
        let mut sleep = lock(&self.shared.sleep);
        let leaving = count.min(sleep.live.saturating_sub(sleep.retire + 1));
        sleep.retire += leaving;
        self.shared.retire_hint.fetch_add(leaving, Ordering::Release);
        self.shared.wake.notify_all();
        leaving
    }

    /// Stops accepting jobs, runs every accepted job until `deadline` (`None`: all of them), and reports. Jobs
    /// that did not run are handed back in the report. Calling it again returns an empty report.
    pub fn shutdown(&self, deadline: Option<Duration>) -> ShutdownReport<J> {
        let shared = &*self.shared;
        // Before the gate closes, and without overflow: nothing after the close may panic, or the workers would
        // never be joined. A deadline too far to be an `Instant` is no deadline.
        let deadline = deadline.and_then(deadline_after);
        // Every submit that got past the gate finishes its push before we drain.
        let already = shared.gate.close();
        let mut deadline_passed = false;
        {
            let mut sleep = lock(&shared.sleep);
            sleep.draining = true;
            sleep.check_finished(&shared.wake);
            shared.wake.notify_all();
            while sleep.live > 0 {
                match deadline {
                    None => sleep = shared.exited.wait(sleep).unwrap_or_else(|poisoned| poisoned.into_inner()),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            deadline_passed = true;
                            shared.stop.store(true, Ordering::Release);
                            shared.wake.notify_all();
                            // Workers finish the job they are running (it cannot be interrupted), then leave.
                            while sleep.live > 0 {
                                sleep = shared.exited.wait(sleep).unwrap_or_else(|poisoned| poisoned.into_inner());
                            }
                            break;
                        }
                        sleep = shared
                            .exited
                            .wait_timeout(sleep, deadline - now)
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .0;
                    }
                }
            }
        }
        for worker in lock(&self.workers).drain(..) {
            // Every panic of user code is caught on the worker (`run_one`), so only a panicking backend ends one
            // with an error here; its panic was printed on that thread. Shutdown goes on: the report matters more.
            let _ = worker.join();
        }
        let mut not_run: Vec<J> = lock(&shared.leftovers).drain(..).map(|envelope| envelope.job).collect();
        let mut local = shared.backend.local();
        let mut batch = Vec::new();
        // A loop: one pop is not "everything" (the segmented backend hands out one segment's run per batch).
        while shared.backend.pop_batch(&mut local, &mut batch, usize::MAX) > 0 {
            not_run.extend(batch.drain(..).map(|envelope| envelope.job));
            if cfg!(segpool_mutant = "pool_shutdown_hands_back_one_batch") {
                // Mutant: the hand-back takes one batch, as if a pop of `usize::MAX` emptied the backend; the jobs
                // of the other segments stay behind and are dropped with the pool, never handed back.
                break;
            }
        }
        if already {
            return ShutdownReport { executed: 0, panicked: 0, cancelled: 0, hook_panics: 0, not_run, deadline_passed };
        }
        ShutdownReport {
            executed: shared.counts.executed.load(Ordering::Relaxed),
            panicked: shared.counts.panicked.load(Ordering::Relaxed),
            cancelled: shared.counts.cancelled.load(Ordering::Relaxed),
            hook_panics: shared.counts.hook_panics.load(Ordering::Relaxed),
            not_run,
            deadline_passed,
        }
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Submit<J> for Pool<J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        Pool::submit(self, job)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        Pool::submit_cancellable(self, job, token)
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Drop for Pool<J, B, M> {
    /// Like `shutdown(None)`: every accepted job runs before the workers are joined. Also after an earlier
    /// shutdown, which may have been cut short (a deadline, a panic in the caller's thread): workers still running
    /// are waited for and joined, and jobs still queued are dropped (a [`Task`]'s cleanup then runs).
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> fmt::Debug for Pool<J, B, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("backend", &<Queue<J, B> as Backend<Envelope<J>>>::NAME)
            .field("workers", &self.workers())
            .finish_non_exhaustive()
    }
}
