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
//! # #[cfg(segpool_std)] {
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
//! ## Where things are
//!
//! One file per concept. The modules are private: read their docs in the source, or with `cargo doc
//! --document-private-items`.
//!
//! - `builder.rs`: [`Builder`] and the bounds it checks ([`MAX_WORKERS`], [`MAX_BATCH`], [`DEFAULT_BATCH`]).
//! - `lifecycle.rs`: [`Pool`]: starting workers, submitting, resizing, and shutdown; its module docs say how
//!   shutdown drains the pool ("Shutdown").
//! - `submitter.rs`: the [`Submit`] trait and [`Submitter`], the one submit context of both a submitting thread
//!   and a running job.
//! - `shared.rs`: the state workers and submitters share, and the submit path through the submission gate.
//! - `gate.rs`: the submission gate, a stripe per submitter and a shared count for the other submits, and why
//!   shutdown never misses a submit it did not refuse.
//! - `wake.rs`: how idle workers sleep and how a submit wakes one; its module docs hold the wake-up protocol and
//!   the argument that no accepted job sits in the backend while every worker sleeps ("The wake-up protocol"),
//!   and why a worker spins briefly before it sleeps ("Spinning").
//! - `worker.rs`: the worker loop, and how it catches every panic of user code.
//! - `envelope.rs`: the envelope a job travels in through the backend (hidden: users name backends by
//!   [`BackendKind`]), and its [`CancelToken`].
//! - `task.rs`: [`Task`], the boxed-closure job.
//! - `error.rs`: [`SubmitError`], [`PanicReport`], [`ShutdownReport`].
//! - `metrics.rs`: [`Metrics`] and its sinks.
//! - `backend/`: the [`Backend`] trait and one file per backend.
//! - `pinning.rs`: optional CPU pinning of workers.

mod backend;
mod builder;
mod envelope;
mod error;
mod gate;
mod lifecycle;
mod metrics;
mod pinning;
mod shared;
mod submitter;
mod task;
mod wake;
mod worker;

#[cfg(all(feature = "reference", segpool_std))]
pub use backend::CrossbeamChannel;
#[cfg(all(windows, feature = "iocp", segpool_std))]
pub use backend::Iocp;
#[cfg(all(target_os = "linux", feature = "uring", segpool_std))]
pub use backend::Uring;
pub use backend::{Backend, BackendKind, MutexDeque, RefusalKind, Refused, Segmented};
pub use builder::{Builder, DEFAULT_BATCH, MAX_BATCH, MAX_WORKERS};
pub use envelope::{CancelToken, Envelope};
pub use error::{PanicReport, PanicSite, ShutdownReport, SubmitError, SubmitErrorKind};
pub use lifecycle::Pool;
pub use metrics::{CountingMetrics, Metrics, MetricsSnapshot, NoMetrics};
pub use submitter::{Submit, Submitter};
pub use task::Task;
