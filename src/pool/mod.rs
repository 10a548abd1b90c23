//! A worker pool on any [`Backend`]: the same pool around every queue and reclamation strategy, so that a
//! comparison changes one type parameter.
//!
//! What the pool promises (wpool's README promises most of these; its code breaks several):
//!
//! - **Nothing is dropped.** [`Pool::submit`] hands the job back when the pool is closed or the backend refuses it
//!   ([`SubmitError`]). [`Pool::shutdown`] stops accepting, drains every accepted job until its deadline, and
//!   hands back every job that did not run ([`ShutdownReport::not_run`]). Dropping the pool drains it completely.
//! - **Idle workers sleep.** Workers take contiguous batches from the backend and park on a condition variable
//!   when it is empty: no ticker, no spinning. A submit wakes one sleeping worker if there is one.
//! - **A panic in user code costs one job, never a worker**: a panicking job is caught, counted and passed to the
//!   panic hook; a panic in the cancellation hook (a [`Task`]'s cleanup runs there), in the panic hook itself or in
//!   the metrics sink is caught on the worker and counted in [`ShutdownReport::hook_panics`]. A submit that
//!   panics (in the backend, say) leaves the submission gate as it found it, so shutdown still completes.
//! - **Cancelled jobs are skipped but cleaned up**: a job submitted with a [`CancelToken`] that is cancelled before
//!   the job starts goes to the cancellation hook instead of the handler, and is counted.
//! - **Every setting has a bound** that [`Builder::build`] checks, naming it: `workers` up to [`MAX_WORKERS`],
//!   `batch` up to [`MAX_BATCH`], the queue's sizes as [`Config::validate_for`](crate::Config::validate_for)
//!   says (which also refuses a queue that could never recycle, such as Limbo with fewer than `limbo_len + 2`
//!   segments under `Fail`). Durations too long to add to an `Instant` (`Duration::MAX`) mean "no limit", in
//!   `OnExhausted::Wait` and in [`Pool::shutdown`].
//! - **Resizing** ([`Pool::add_workers`], [`Pool::retire_workers`]) loses no job: a retiring worker leaves between
//!   batches.
//! - **Metrics** go through the [`Metrics`] trait, statically dispatched; [`NoMetrics`] compiles to nothing.
//!
//! Submitting from inside a job goes through the [`Submit`] context the handler receives.
//!
//! ```
//! # #[cfg(not(any(feature = "loom", feature = "shuttle")))] {
//! use segpool::{Hazard, OnExhausted, Pool};
//!
//! let pool = Pool::builder()
//!     .workers(2)
//!     .on_exhausted(OnExhausted::Fail) // a full queue hands the job back
//!     .handler(|job: u64| assert!(job < 100))
//!     .strategy::<Hazard>()
//!     .build()?;
//! for job in 0..10 {
//!     if let Err(refused) = pool.submit(job) {
//!         let _job = refused.into_inner(); // closed or exhausted: the job comes back
//!     }
//! }
//! let report = pool.shutdown(Some(std::time::Duration::from_secs(5)));
//! assert_eq!(report.executed + report.not_run.len() as u64, 10);
//! # }
//! # Ok::<(), segpool::ConfigError>(())
//! ```
//!
//! ## The wake-up protocol
//!
//! A worker that finds the backend empty increments `idle`, issues a `SeqCst` fence and looks again before it
//! sleeps; a submitter pushes, issues a `SeqCst` fence and reads `idle`. Of two such fences one comes first, so
//! either the worker's second look finds the job or the submitter sees the worker idle and leaves a wake-up token
//! under the sleep mutex, which the worker checks before waiting. A token left for a worker that found the job on
//! its second look wakes some worker once for nothing; tokens never exceed the number of idle workers.
//!
//! A woken worker that then retires has taken a token without popping: it leaves a fresh token on its way out,
//! or the job the token announced could sit in the backend while every other worker sleeps (and a drain would end
//! over it). The shuttle model `resize_races_submit` found this.
//!
//! ## Spinning
//!
//! Sleeping costs a futex wait, and waking costs the submitter a lock, a futex wake and the sleeper's trip through
//! the scheduler: about 10 µs here, against well under a microsecond to run an empty job. A worker that finds the
//! backend empty therefore looks again [`IDLE_SPINS`] times (8; 0 under the model checkers), pausing 1, 2, 4, ...
//! spin-loop hints before each look (255 in all, a few microseconds), before it announces itself idle. A worker
//! that keeps up with its submitters thus rarely sleeps, and their submits rarely take the lock; an idle pool
//! still sleeps. The backoff never yields the core: on a shared machine `sched_yield` can cost a whole time
//! slice, during which the worker is neither looking nor counted idle, so a submit would not wake anyone (a
//! first version that yielded raised the lone-job latency from 10 µs to 700 µs here).
//!
//! [`IDLE_SPINS`]: crate::sync::IDLE_SPINS
//!
//! ## Shutdown
//!
//! The submission gate counts submitters inside `submit` and has a closed bit; a submit leaves it through a drop
//! guard, so that one unwinding from a panic is uncounted too. Shutdown sets the bit, waits for the count to reach
//! zero (so every accepted job is in the backend), then tells workers to exit once the backend is empty. At the
//! deadline it tells them to stop after their current job; each hands back the rest of its batch. The jobs still
//! in the backend are then taken out and handed back.

mod backend;
mod pinning;
mod task;

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

#[cfg(all(feature = "reference", not(any(feature = "loom", feature = "shuttle"))))]
pub use backend::CrossbeamChannel;
#[cfg(all(windows, feature = "iocp", not(any(feature = "loom", feature = "shuttle"))))]
pub use backend::Iocp;
#[cfg(all(target_os = "linux", feature = "uring", not(any(feature = "loom", feature = "shuttle"))))]
pub use backend::Uring;
pub use backend::{Backend, BackendConfig, MutexDeque, RefusalKind, Refused, Segmented};
pub use task::Task;

use crate::config::deadline_after;
use crate::segment::CachePadded;
use crate::sync::{
    Arc, AtomicBool, AtomicU64, AtomicUsize, Condvar, IDLE_SPINS, Mutex, MutexGuard, Ordering, fence, thread,
};
use crate::{ConfigError, Hazard, OnExhausted};
use pinning::Pinning;

/// Jobs a worker takes from the backend at once, unless the builder says otherwise.
pub const DEFAULT_BATCH: usize = 64;

/// Largest [`Builder::batch`]: a worker keeps room for a whole batch, and more jobs than this in one batch only
/// delay the jobs behind them (the segmented backend hands out at most one segment's run per batch anyway).
pub const MAX_BATCH: usize = 1 << 16;

/// Largest [`Builder::workers`], and the most workers [`Pool::add_workers`] lets a pool have.
pub const MAX_WORKERS: usize = 1 << 12;

/// The closed bit of the submission gate; the bits below count submitters inside `submit`.
const CLOSED: u64 = 1 << 63;

/// A flag that cancels the jobs submitted with it, if they have not started yet.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every job carrying this token that has not started.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Pool events, for a metrics sink. Every method defaults to doing nothing, so a sink implements only what it
/// records, and [`NoMetrics`] costs nothing (the pool is generic over the sink: static dispatch).
pub trait Metrics: Send + Sync + 'static {
    /// A job was accepted.
    fn submitted(&self) {}
    /// A submit was refused (closed pool or exhausted backend); the job went back to the caller.
    fn refused(&self) {}
    /// A worker took a batch of `len` jobs.
    fn batch(&self, len: usize) {
        let _ = len;
    }
    /// A job ran to completion.
    fn executed(&self) {}
    /// A job panicked.
    fn panicked(&self) {}
    /// A job was cancelled before it started.
    fn cancelled(&self) {}
}

/// The metrics sink that records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {}

/// A metrics sink with one atomic counter per event.
#[derive(Debug, Default)]
pub struct CountingMetrics {
    submitted: AtomicU64,
    refused: AtomicU64,
    batches: AtomicU64,
    executed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
}

/// A snapshot of [`CountingMetrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Jobs accepted.
    pub submitted: u64,
    /// Submits refused.
    pub refused: u64,
    /// Batches taken by workers.
    pub batches: u64,
    /// Jobs that ran to completion.
    pub executed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs cancelled before they started.
    pub cancelled: u64,
}

impl CountingMetrics {
    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            submitted: read(&self.submitted),
            refused: read(&self.refused),
            batches: read(&self.batches),
            executed: read(&self.executed),
            panicked: read(&self.panicked),
            cancelled: read(&self.cancelled),
        }
    }
}

impl Metrics for CountingMetrics {
    fn submitted(&self) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }
    fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
    fn batch(&self, _len: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
    }
    fn executed(&self) {
        self.executed.fetch_add(1, Ordering::Relaxed);
    }
    fn panicked(&self) {
        self.panicked.fetch_add(1, Ordering::Relaxed);
    }
    fn cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }
}

/// Submitting jobs: the pool itself, and the context a running job receives (so jobs can submit jobs).
pub trait Submit<J> {
    /// Submits `job`, or hands it back.
    fn submit(&self, job: J) -> Result<(), SubmitError<J>>;
    /// Submits `job` with a cancellation token, or hands it back.
    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>>;
}

/// Why a submit handed its job back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitErrorKind {
    /// The pool is shutting down or shut down.
    Closed,
    /// The backend refused the job (for the segmented queue: its segment pool is exhausted).
    Exhausted,
}

/// A submit that could not proceed; it holds the job.
pub struct SubmitError<J> {
    kind: SubmitErrorKind,
    job: J,
}

impl<J> SubmitError<J> {
    pub(crate) fn new(kind: SubmitErrorKind, job: J) -> Self {
        SubmitError { kind, job }
    }

    /// Why.
    pub fn kind(&self) -> SubmitErrorKind {
        self.kind
    }

    /// The job, untouched.
    pub fn into_inner(self) -> J {
        self.job
    }
}

impl<J> fmt::Debug for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitError").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl<J> fmt::Display for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SubmitErrorKind::Closed => f.write_str("the pool is closed; the job was handed back"),
            SubmitErrorKind::Exhausted => f.write_str("the queue is exhausted; the job was handed back"),
        }
    }
}

impl<J> std::error::Error for SubmitError<J> {}

/// A panic the panic hook is told about.
#[derive(Debug)]
pub struct PanicReport {
    /// The worker's index (in spawn order).
    pub worker: usize,
    /// Where the panic happened.
    pub site: PanicSite,
    /// The panic message, if it was a string.
    pub message: Option<String>,
}

/// Where a panic reported to the panic hook happened. Either way the worker goes on with the next job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicSite {
    /// In the handler, running a job (counted in [`ShutdownReport::panicked`]).
    Job,
    /// In the cancellation hook, for a cancelled job (which still counts as cancelled; a [`Task`]'s cleanup runs
    /// there).
    OnCancelled,
}

/// What [`Pool::shutdown`] did.
pub struct ShutdownReport<J> {
    /// Jobs that ran to completion over the pool's life.
    pub executed: u64,
    /// Jobs that panicked over the pool's life.
    pub panicked: u64,
    /// Jobs cancelled over the pool's life.
    pub cancelled: u64,
    /// Panics caught outside jobs over the pool's life: in the cancellation hook, the panic hook or the metrics
    /// sink. Each was caught on its worker, which went on working.
    pub hook_panics: u64,
    /// Accepted jobs that did not run because the deadline passed, in no particular order.
    pub not_run: Vec<J>,
    /// Whether the deadline passed before the backend was drained.
    pub deadline_passed: bool,
}

impl<J> fmt::Debug for ShutdownReport<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownReport")
            .field("executed", &self.executed)
            .field("panicked", &self.panicked)
            .field("cancelled", &self.cancelled)
            .field("hook_panics", &self.hook_panics)
            .field("not_run", &self.not_run.len())
            .field("deadline_passed", &self.deadline_passed)
            .finish()
    }
}

/// A job as the backend stores it: the job and its cancellation token, if any. Backends are written for
/// `Envelope<J>`; only the pool opens one.
pub struct Envelope<J> {
    job: J,
    token: Option<CancelToken>,
}

type Handler<J> = Box<dyn Fn(J, &dyn Submit<J>) + Send + Sync>;
type CancelHook<J> = Box<dyn Fn(J) + Send + Sync>;
type PanicHook = Box<dyn Fn(&PanicReport) + Send + Sync>;

/// Builds a [`Pool`]. Start from [`Pool::builder`] (typed jobs) or [`Pool::closures`] (boxed closures).
pub struct Builder<J, B = Segmented<Hazard, Envelope<J>>, M = NoMetrics> {
    workers: usize,
    thread_name: String,
    batch: usize,
    pin_workers: bool,
    backend: BackendConfig,
    handler: Option<Handler<J>>,
    on_cancelled: Option<CancelHook<J>>,
    on_panic: Option<PanicHook>,
    metrics: M,
    _backend: PhantomData<fn() -> B>,
}

impl<J: Send + 'static> Builder<J> {
    fn new() -> Self {
        Builder {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            thread_name: "segpool-worker".to_owned(),
            batch: DEFAULT_BATCH,
            pin_workers: false,
            backend: BackendConfig::default(),
            handler: None,
            on_cancelled: None,
            on_panic: None,
            metrics: NoMetrics,
            _backend: PhantomData,
        }
    }
}

impl Builder<Task> {
    fn closures() -> Self {
        Builder::new()
            .handler_with_context(|task: Task, context: &dyn Submit<Task>| task.run_with(context))
            .on_cancelled(Task::cancel)
    }
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Builder<J, B, M> {
    /// Number of worker threads (default: the machine's parallelism), `1..=MAX_WORKERS`.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Worker threads are named `<prefix>-<index>` (default prefix `segpool-worker`).
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// Most jobs a worker takes from the backend at once (default [`DEFAULT_BATCH`]), `1..=MAX_BATCH`.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Pins worker `i` to core `i mod cores` (default off; needs the `affinity` feature, on by default). Workers
    /// added later are pinned the same way.
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin_workers = pin;
        self
    }

    /// Jobs per segment of a segmented backend.
    pub fn segment_size(mut self, segment_size: usize) -> Self {
        self.backend.segment_size = segment_size;
        self
    }

    /// Segments a segmented backend allocates up front.
    pub fn segment_count(mut self, segment_count: usize) -> Self {
        self.backend.segment_count = segment_count;
        self
    }

    /// Limbo only: retirements a segment waits in the limbo before reuse (see [`Config::limbo_len`]). Under `Fail`
    /// and `Wait` Limbo needs `segment_count >= limbo_len + 2`, which the builder checks.
    ///
    /// [`Config::limbo_len`]: crate::Config::limbo_len
    pub fn limbo_len(mut self, limbo_len: usize) -> Self {
        self.backend.limbo_len = limbo_len;
        self
    }

    /// What a segmented backend does when its segment pool is empty (`Fail`: the submit hands the job back).
    pub fn on_exhausted(mut self, on_exhausted: OnExhausted) -> Self {
        self.backend.on_exhausted = on_exhausted;
        self
    }

    /// The function every job is passed to.
    pub fn handler(self, handler: impl Fn(J) + Send + Sync + 'static) -> Self {
        self.handler_with_context(move |job, _context| handler(job))
    }

    /// The function every job is passed to, with a context for submitting more jobs.
    pub fn handler_with_context(mut self, handler: impl Fn(J, &dyn Submit<J>) + Send + Sync + 'static) -> Self {
        self.handler = Some(Box::new(handler));
        self
    }

    /// What happens to a job cancelled before it started (default: it is dropped).
    pub fn on_cancelled(mut self, hook: impl Fn(J) + Send + Sync + 'static) -> Self {
        self.on_cancelled = Some(Box::new(hook));
        self
    }

    /// Called, on the worker, for every job that panicked.
    pub fn on_panic(mut self, hook: impl Fn(&PanicReport) + Send + Sync + 'static) -> Self {
        self.on_panic = Some(Box::new(hook));
        self
    }

    /// The queue the pool runs on.
    pub fn backend<B2: Backend<Envelope<J>>>(self) -> Builder<J, B2, M> {
        Builder {
            workers: self.workers,
            thread_name: self.thread_name,
            batch: self.batch,
            pin_workers: self.pin_workers,
            backend: self.backend,
            handler: self.handler,
            on_cancelled: self.on_cancelled,
            on_panic: self.on_panic,
            metrics: self.metrics,
            _backend: PhantomData,
        }
    }

    /// The segmented queue with reclamation strategy `R` (shorthand for `backend::<Segmented<R, _>>()`).
    pub fn strategy<R: crate::Reclaim>(self) -> Builder<J, Segmented<R, Envelope<J>>, M> {
        self.backend()
    }

    /// The metrics sink.
    pub fn metrics<M2: Metrics>(self, metrics: M2) -> Builder<J, B, M2> {
        Builder {
            workers: self.workers,
            thread_name: self.thread_name,
            batch: self.batch,
            pin_workers: self.pin_workers,
            backend: self.backend,
            handler: self.handler,
            on_cancelled: self.on_cancelled,
            on_panic: self.on_panic,
            metrics,
            _backend: PhantomData,
        }
    }

    /// Starts the workers. An invalid setting is rejected with an error naming it.
    pub fn build(self) -> Result<Pool<J, B, M>, ConfigError> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(ConfigError::new("workers", format!("is {} but must be in 1..={MAX_WORKERS}", self.workers)));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(ConfigError::new("batch", format!("is {} but must be in 1..={MAX_BATCH}", self.batch)));
        }
        if self.thread_name.contains('\0') {
            return Err(ConfigError::new(
                "thread_name",
                "must not contain a NUL byte (the OS cannot name a thread so)",
            ));
        }
        let Some(handler) = self.handler else {
            return Err(ConfigError::new("handler", "is required (Builder::handler)"));
        };
        let pinning = Pinning::new(self.pin_workers)?;
        let backend = B::build(&self.backend)?;
        let shared = Arc::new(Shared {
            pinning,
            backend,
            handler,
            on_cancelled: self.on_cancelled,
            on_panic: self.on_panic,
            metrics: self.metrics,
            thread_name: self.thread_name,
            batch: self.batch,
            gate: CachePadded(AtomicU64::new(0)),
            idle: CachePadded(AtomicUsize::new(0)),
            retire_hint: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sleep: Mutex::new(Sleep::default()),
            wake: Condvar::new(),
            exited: Condvar::new(),
            counts: CachePadded(Counts::default()),
            leftovers: Mutex::new(Vec::new()),
        });
        let pool = Pool { shared, workers: Mutex::new(Vec::new()), spawned: AtomicUsize::new(0) };
        if let Err(error) = pool.spawn_workers(self.workers) {
            // Dropping the pool shuts down the workers that did start.
            return Err(ConfigError::new("workers", format!("the OS refused to start a worker thread: {error}")));
        }
        Ok(pool)
    }
}

/// What workers wait on, under the sleep mutex.
#[derive(Default)]
struct Sleep {
    /// Wake-ups left by submitters for idle workers.
    wakeups: usize,
    /// Workers that must exit at their next look (resizing).
    retire: usize,
    /// Shutdown has begun: external submits are closed and all of them are in the backend.
    draining: bool,
    /// While draining: workers asleep after finding the backend empty.
    drained: usize,
    /// The drain is complete (see `check_finished`): sleeping workers exit.
    finished: bool,
    /// Workers running.
    live: usize,
}

/// One worker's job counts, kept in the worker and added to [`Shared::counts`] when it exits: the counts are read
/// only by [`Pool::shutdown`], after it joined every worker. (They were added to the shared counters after every
/// batch: three locked RMWs per batch, which at one producer and one worker is often one job.)
#[derive(Default)]
struct Tally {
    executed: u64,
    panicked: u64,
    cancelled: u64,
    hook_panics: u64,
}

/// The pool's job counters (see `Shared::counts`).
#[derive(Default)]
struct Counts {
    executed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    hook_panics: AtomicU64,
}

struct Shared<J, B, M> {
    pinning: Pinning,
    backend: B,
    handler: Handler<J>,
    on_cancelled: Option<CancelHook<J>>,
    on_panic: Option<PanicHook>,
    metrics: M,
    thread_name: String,
    batch: usize,
    // Layout: the words written often are each on their own cache lines (`CachePadded`), away from the flags
    // workers read at every job (`stop`, `retire_hint`) and from each other. Unpadded, every submit's two RMWs
    // on `gate` invalidated the line the worker reads `stop` from after each job, and the worker's per-batch
    // counter updates invalidated the line the submitter reads `idle` from (false sharing).
    /// `CLOSED` bit | submitters inside `submit`. Written twice per external submit.
    gate: CachePadded<AtomicU64>,
    /// Workers that found the backend empty and may be asleep (module docs). Read at every submit, written when
    /// a worker goes idle or wakes.
    idle: CachePadded<AtomicUsize>,
    /// Non-zero while `Sleep::retire` may be: lets workers skip the mutex on the fast path.
    retire_hint: AtomicUsize,
    /// The deadline passed: workers stop after their current job.
    stop: AtomicBool,
    sleep: Mutex<Sleep>,
    /// Idle workers wait here.
    wake: Condvar,
    /// Shutdown waits here for workers to exit.
    exited: Condvar,
    /// Jobs run, panicked and cancelled: each worker adds its [`Tally`] as it exits.
    counts: CachePadded<Counts>,
    /// Jobs workers took but did not run because the deadline passed.
    leftovers: Mutex<Vec<Envelope<J>>>,
}

/// One external submit inside the submission gate; leaving it (the drop) uncounts the submit, also when the submit
/// unwinds from a panicking push or metrics sink: a count left behind would make shutdown wait for it forever.
struct GateEntry<'g>(&'g AtomicU64);

impl Drop for GateEntry<'_> {
    fn drop(&mut self) {
        if cfg!(segpool_mutant = "pool_gate_leaks_on_unwind") && std::thread::panicking() {
            return;
        }
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while a pool mutex is held (jobs run outside them), so poison carries no meaning.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Shared<J, B, M> {
    /// Submits through `local`. `from_job`: the submit comes from a running job, which may still submit while
    /// the pool drains (its worker is busy, so the drain cannot finish before the new job is in the backend), but
    /// not after the deadline.
    fn submit(&self, local: &mut B::Local<'_>, envelope: Envelope<J>, from_job: bool) -> Result<(), SubmitError<J>> {
        let (closed, inside) = if from_job {
            (self.stop.load(Ordering::Acquire), None)
        } else {
            // SeqCst with the shutdown's `fetch_or`: a submit either sees the closed bit or is counted before
            // shutdown waits for the count to reach zero.
            let closed = self.gate.fetch_add(1, Ordering::SeqCst) & CLOSED != 0;
            (closed, Some(GateEntry(&self.gate)))
        };
        if closed {
            drop(inside);
            self.metrics.refused();
            return Err(SubmitError { kind: SubmitErrorKind::Closed, job: envelope.job });
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
            };
            SubmitError { kind, job: refused.job.job }
        })
    }

    /// After a push: wake a sleeping worker, if any (module docs, "The wake-up protocol").
    fn wake_one(&self) {
        fence(Ordering::SeqCst);
        let idle = self.idle.load(Ordering::SeqCst);
        if idle > 0 && !cfg!(segpool_mutant = "pool_lost_wakeup") {
            self.pass_on_wakeup(&mut lock(&self.sleep), idle);
        }
    }

    /// Leaves a wake-up token for one of the `idle` workers, unless each already has one.
    fn pass_on_wakeup(&self, sleep: &mut Sleep, idle: usize) {
        if sleep.wakeups < idle {
            sleep.wakeups += 1;
            self.wake.notify_one();
        }
    }

    /// Looks for work up to [`IDLE_SPINS`] times with exponential backoff; true when a look filled `batch`.
    fn spin_for_work(&self, context: &WorkerContext<'_, J, B, M>, batch: &mut Vec<Envelope<J>>) -> bool {
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

    fn worker(&self, index: usize) {
        let mut exit = WorkerExit { shared: self, tally: Tally::default(), retired: false };
        exit.retired = self.work(index, &mut exit.tally);
    }

    /// The worker's loop; returns whether it left because it was retired.
    fn work(&self, index: usize, tally: &mut Tally) -> bool {
        self.pinning.apply(index);
        let context = WorkerContext { shared: self, local: std::cell::RefCell::new(self.backend.local()) };
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
            // Empty: look again a few times, backing off, before the costly sleep (module docs, "Spinning").
            if self.spin_for_work(&context, &mut batch) {
                self.run_batch(index, &mut batch, &context, tally);
                continue;
            }
            // Still empty: announce idleness, look again, then sleep (module docs).
            self.idle.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
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
struct WorkerExit<'s, J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> {
    shared: &'s Shared<J, B, M>,
    tally: Tally,
    retired: bool,
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Drop for WorkerExit<'_, J, B, M> {
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

impl Sleep {
    /// While draining: once every live worker is asleep with no wake-up pending, no job is running, so none can
    /// submit another, and each sleeper saw the backend empty after its last job: the drain is complete.
    ///
    /// The pending-wake-up condition is for parallelism, not for correctness: a woken worker takes its token
    /// before it looks at `finished`, so it would run the announced job anyway, but alone, while the other
    /// sleepers left (a mutant without the condition survived the shuttle models for that reason).
    fn check_finished(&mut self, wake: &Condvar) {
        if self.draining && !self.finished && self.wakeups == 0 && self.drained >= self.live {
            self.finished = true;
            wake.notify_all();
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// What a running job submits through: its worker's backend state.
struct WorkerContext<'s, J: Send + 'static, B: Backend<Envelope<J>>, M> {
    shared: &'s Shared<J, B, M>,
    local: std::cell::RefCell<B::Local<'s>>,
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Submit<J> for WorkerContext<'_, J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: None }, true)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: Some(token.clone()) }, true)
    }
}

/// A worker pool: typed jobs `J` passed to one handler, on backend `B`, reporting to metrics sink `M`.
///
/// Build one with [`Pool::builder`] or [`Pool::closures`]. Share it by reference (it is `Sync`) or in an `Arc`.
pub struct Pool<J: Send + 'static, B: Backend<Envelope<J>> = Segmented<Hazard, Envelope<J>>, M: Metrics = NoMetrics> {
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

impl<B: Backend<Envelope<Task>>, M: Metrics> Pool<Task, B, M> {
    /// Runs `f` on a worker, or hands it back (as a [`Task`]) if the pool cannot take it.
    pub fn execute(&self, f: impl FnOnce() + Send + 'static) -> Result<(), SubmitError<Task>> {
        self.submit(Task::new(f))
    }
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Pool<J, B, M> {
    /// Starts `count` workers, or as many as the OS allows: the error is the OS's refusal of the next one.
    fn spawn_workers(&self, count: usize) -> std::io::Result<()> {
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
        self.shared.submit(&mut self.shared.backend.local(), Envelope { job, token: None }, false)
    }

    /// Submits `job` with a cancellation token: if the token is cancelled before the job starts, the job goes to
    /// the cancellation hook instead of the handler.
    pub fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.shared.backend.local(), Envelope { job, token: Some(token.clone()) }, false)
    }

    /// A submitter that keeps this thread's backend state between submits (cheaper than [`Submit::submit`] on
    /// the pool, which sets it up for every job).
    pub fn submitter(&self) -> Submitter<'_, J, B, M> {
        Submitter { shared: &self.shared, local: std::cell::RefCell::new(self.shared.backend.local()) }
    }

    /// The backend, for its statistics.
    pub fn backend(&self) -> &B {
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
        if self.shared.gate.load(Ordering::SeqCst) & CLOSED != 0 {
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
        let already = shared.gate.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED != 0;
        // Every submit that got past the gate finishes its push before we drain. (A submit waiting for a segment
        // under `OnExhausted::Wait` ends by its own timeout, or when the working pool frees one.)
        let mut spins = 0u32;
        while shared.gate.load(Ordering::SeqCst) != CLOSED && !cfg!(segpool_mutant = "pool_shutdown_ignores_gate") {
            if spins < 64 {
                spins += 1;
                crate::sync::spin_hint();
            } else {
                thread::yield_now();
            }
        }
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
        while shared.backend.pop_batch(&mut local, &mut batch, usize::MAX) > 0 {
            not_run.extend(batch.drain(..).map(|envelope| envelope.job));
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

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Submit<J> for Pool<J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        Pool::submit(self, job)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        Pool::submit_cancellable(self, job, token)
    }
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Drop for Pool<J, B, M> {
    /// Like `shutdown(None)`: every accepted job runs before the workers are joined. Also after an earlier
    /// shutdown, which may have been cut short (a deadline, a panic in the caller's thread): workers still running
    /// are waited for and joined, and jobs still queued are dropped (a [`Task`]'s cleanup then runs).
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> fmt::Debug for Pool<J, B, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("backend", &B::NAME).field("workers", &self.workers()).finish_non_exhaustive()
    }
}

/// Submits to a pool from one thread, keeping that thread's backend state (see [`Pool::submitter`]).
pub struct Submitter<'p, J: Send + 'static, B: Backend<Envelope<J>>, M> {
    shared: &'p Shared<J, B, M>,
    local: std::cell::RefCell<B::Local<'p>>,
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Submit<J> for Submitter<'_, J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: None }, false)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: Some(token.clone()) }, false)
    }
}
