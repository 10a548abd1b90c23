//! The state workers and submitters share ([`Shared`], one per pool, behind an `Arc`), and the submit path every
//! submit takes ([`Shared::submit`]) through the submission gate.
//!
//! The gate ([`Gate`]) is in `gate.rs`, with the argument that shutdown never misses a submit it did not refuse;
//! what shutdown does after closing it is in `lifecycle.rs`'s module docs, "Shutdown".

use super::gate::{Admission, Gate};
use super::pinning::Pinning;
use super::wake::Sleep;
use super::{Backend, BackendKind, Envelope, Metrics, PanicReport, RefusalKind, Submit, SubmitError, SubmitErrorKind};
use crate::cache_padded::CachePadded;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};

pub(super) type Handler<J> = Box<dyn Fn(J, &dyn Submit<J>) + Send + Sync>;
pub(super) type CancelHook<J> = Box<dyn Fn(J) + Send + Sync>;
pub(super) type PanicHook = Box<dyn Fn(&PanicReport) + Send + Sync>;

/// The pool's job counters (see `Shared::counts`).
#[derive(Default)]
pub(super) struct Counts {
    pub(super) executed: AtomicU64,
    pub(super) panicked: AtomicU64,
    pub(super) cancelled: AtomicU64,
    pub(super) hook_panics: AtomicU64,
}

/// The state one pool's workers and submitters share.
/// The backend a pool on backend kind `B` stores its envelopes in.
pub(super) type Queue<J, B> = <B as BackendKind>::Of<Envelope<J>>;

/// A thread's state in that backend.
pub(super) type Local<'a, J, B> = <Queue<J, B> as Backend<Envelope<J>>>::Local<'a>;

pub(super) struct Shared<J: Send + 'static, B: BackendKind, M> {
    pub(super) pinning: Pinning,
    pub(super) backend: Queue<J, B>,
    pub(super) handler: Handler<J>,
    pub(super) on_cancelled: Option<CancelHook<J>>,
    pub(super) on_panic: Option<PanicHook>,
    pub(super) metrics: M,
    pub(super) thread_name: String,
    pub(super) batch: usize,
    // Layout: the words written often are each on their own cache lines (`CachePadded`, also inside `Gate`), away
    // from the flags workers read at every job (`stop`, `retire_hint`) and from each other. Unpadded, every
    // submit's two RMWs on the gate invalidated the line the worker reads `stop` from after each job, and the
    // worker's per-batch counter updates invalidated the line the submitter reads `idle` from (false sharing).
    /// The submission gate (`gate.rs`). Written twice per external submit, on the submitter's own stripe when it
    /// has one.
    pub(super) gate: Gate,
    /// Workers that found the backend empty and may be asleep (`wake.rs`'s module docs). Read at every submit,
    /// written when a worker goes idle or wakes.
    pub(super) idle: CachePadded<AtomicUsize>,
    /// Non-zero while `Sleep::retire` may be: lets workers skip the mutex on the fast path.
    pub(super) retire_hint: AtomicUsize,
    /// The deadline passed: workers stop after their current job.
    pub(super) stop: AtomicBool,
    pub(super) sleep: Mutex<Sleep>,
    /// Idle workers wait here.
    pub(super) wake: Condvar,
    /// Shutdown waits here for workers to exit.
    pub(super) exited: Condvar,
    /// Jobs run, panicked and cancelled: each worker adds its [`Tally`] as it exits.
    ///
    /// [`Tally`]: super::worker::Tally
    pub(super) counts: CachePadded<Counts>,
    /// Jobs workers took but did not run because the deadline passed.
    pub(super) leftovers: Mutex<Vec<Envelope<J>>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while a pool mutex is held (jobs run outside them), so poison carries no meaning.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Shared<J, B, M> {
    /// The state of a pool that has no worker yet, from the builder's settings.
    #[allow(clippy::too_many_arguments)] // the builder's settings, one by one, as `Builder::build` checked them
    pub(super) fn new(
        pinning: Pinning,
        backend: Queue<J, B>,
        handler: Handler<J>,
        on_cancelled: Option<CancelHook<J>>,
        on_panic: Option<PanicHook>,
        metrics: M,
        thread_name: String,
        batch: usize,
    ) -> Self {
        // Before any submit: the gate's light fence is a compiler fence only once the process is registered.
        crate::sync::prepare_asymmetric_fences();
        Shared {
            pinning,
            backend,
            handler,
            on_cancelled,
            on_panic,
            metrics,
            thread_name,
            batch,
            gate: Gate::default(),
            idle: CachePadded(AtomicUsize::new(0)),
            retire_hint: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sleep: Mutex::new(Sleep::default()),
            wake: Condvar::new(),
            exited: Condvar::new(),
            counts: CachePadded(Counts::default()),
            leftovers: Mutex::new(Vec::new()),
        }
    }

    /// Submits through `local`, admitted as `admission` says. A submit from a running job ([`Admission::Job`])
    /// may still submit while the pool drains (its worker is busy, so the drain cannot finish before the new job
    /// is in the backend), but not after the deadline; an external one goes through the gate.
    pub(super) fn submit(
        &self,
        local: &mut Local<'_, J, B>,
        envelope: Envelope<J>,
        admission: Admission,
    ) -> Result<(), SubmitError<J>> {
        let (closed, inside) = if admission == Admission::Job {
            (self.stop.load(Ordering::Acquire), None)
        } else {
            match self.gate.enter(admission) {
                Some(entry) => (false, Some(entry)),
                None => (true, None),
            }
        };
        if closed {
            self.metrics.refused();
            return Err(SubmitError::new(SubmitErrorKind::Closed, envelope.job));
        }
        let pushed = self.backend.push(local, envelope);
        if pushed.is_ok() {
            // Before leaving the gate: once shutdown sees the gate empty, every accepted job has its wake-up.
            // And before the metrics call, which is user code: had it panicked first, the job would sit unannounced.
            self.wake_one();
            self.metrics.submitted();
        }
        drop(inside);
        pushed.map_err(|refused| {
            self.metrics.refused();
            let kind = match refused.kind {
                RefusalKind::Exhausted => SubmitErrorKind::Exhausted,
                RefusalKind::TimedOut => SubmitErrorKind::TimedOut,
            };
            SubmitError::new(kind, refused.job.job)
        })
    }
}
