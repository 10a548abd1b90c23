//! [`Builder`]: a pool's settings, each checked against its bound when the pool is built ([`Builder::build`]).

use std::marker::PhantomData;

use super::pinning::Pinning;
use super::shared::{CancelHook, Handler, PanicHook, Queue, Shared};
use super::{Backend, BackendKind, Envelope, Metrics, NoMetrics, PanicReport, Pool, Segmented, Submit, Task};
use crate::sync::Arc;
use crate::{Config, ConfigError, Hazard, OnExhausted};

/// Jobs a worker takes from the backend at once, unless the builder says otherwise.
pub const DEFAULT_BATCH: usize = 64;

/// Largest [`Builder::batch`]: a worker keeps room for a whole batch, and more jobs than this in one batch only
/// delay the jobs behind them (the segmented backend hands out at most one segment's run per batch anyway).
pub const MAX_BATCH: usize = 1 << 16;

/// Largest [`Builder::workers`], and the most workers [`Pool::add_workers`] lets a pool have.
pub const MAX_WORKERS: usize = 1 << 12;

/// Builds a [`Pool`]. Start from [`Pool::builder`] (typed jobs) or [`Pool::closures`] (boxed closures).
pub struct Builder<J, B = Segmented<Hazard>, M = NoMetrics> {
    workers: usize,
    thread_name: String,
    batch: usize,
    pin_workers: bool,
    /// The queue configuration the backend is built from.
    queue: Config,
    handler: Option<Handler<J>>,
    on_cancelled: Option<CancelHook<J>>,
    on_panic: Option<PanicHook>,
    metrics: M,
    _backend: PhantomData<fn() -> B>,
}

impl<J: Send + 'static> Builder<J> {
    pub(super) fn new() -> Self {
        Builder {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            thread_name: "segpool-worker".to_owned(),
            batch: DEFAULT_BATCH,
            pin_workers: false,
            queue: Config::default(),
            handler: None,
            on_cancelled: None,
            on_panic: None,
            metrics: NoMetrics,
            _backend: PhantomData,
        }
    }
}

impl Builder<Task> {
    pub(super) fn closures() -> Self {
        Builder::new()
            .handler_with_context(|task: Task, context: &dyn Submit<Task>| task.run_with(context))
            .on_cancelled(Task::cancel)
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Builder<J, B, M> {
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

    /// The whole queue configuration at once (the backend is built from it; the setters below change one field).
    pub fn config(mut self, config: Config) -> Self {
        self.queue = config;
        self
    }

    /// Jobs per segment of a segmented backend.
    pub fn segment_size(mut self, segment_size: usize) -> Self {
        self.queue.segment_size = segment_size;
        self
    }

    /// Segments a segmented backend allocates up front.
    pub fn segment_count(mut self, segment_count: usize) -> Self {
        self.queue.segment_count = segment_count;
        self
    }

    /// Limbo only: retirements a segment waits in the limbo before reuse (see [`Config::limbo_len`]). Under `Fail`
    /// and `Wait` Limbo needs `segment_count >= limbo_len + 2`, which the builder checks.
    ///
    /// [`Config::limbo_len`]: crate::Config::limbo_len
    pub fn limbo_len(mut self, limbo_len: usize) -> Self {
        self.queue.limbo_len = limbo_len;
        self
    }

    /// What a segmented backend does when its segment arena is empty (`Fail`: the submit hands the job back).
    pub fn on_exhausted(mut self, on_exhausted: OnExhausted) -> Self {
        self.queue.on_exhausted = on_exhausted;
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
    pub fn backend<B2: BackendKind>(self) -> Builder<J, B2, M> {
        self.retyped(|metrics| metrics)
    }

    /// The segmented queue with reclamation strategy `R` (shorthand for `backend::<Segmented<R, _>>()`).
    pub fn strategy<R: crate::Reclaim>(self) -> Builder<J, Segmented<R>, M> {
        self.backend()
    }

    /// The metrics sink.
    pub fn metrics<M2: Metrics>(self, metrics: M2) -> Builder<J, B, M2> {
        self.retyped(|_| metrics)
    }

    /// Every setting moved into a builder of other type parameters, the metrics sink through `metrics`.
    fn retyped<B2, M2>(self, metrics: impl FnOnce(M) -> M2) -> Builder<J, B2, M2> {
        Builder {
            workers: self.workers,
            thread_name: self.thread_name,
            batch: self.batch,
            pin_workers: self.pin_workers,
            queue: self.queue,
            handler: self.handler,
            on_cancelled: self.on_cancelled,
            on_panic: self.on_panic,
            metrics: metrics(self.metrics),
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
        let backend = <Queue<J, B> as Backend<Envelope<J>>>::build(&self.queue)?;
        let shared = Arc::new(Shared::new(
            pinning,
            backend,
            handler,
            self.on_cancelled,
            self.on_panic,
            self.metrics,
            self.thread_name,
            self.batch,
        ));
        let pool = Pool::new(shared);
        if let Err(error) = pool.spawn_workers(self.workers) {
            // Dropping the pool shuts down the workers that did start.
            return Err(ConfigError::new("workers", format!("the OS refused to start a worker thread: {error}")));
        }
        Ok(pool)
    }
}
