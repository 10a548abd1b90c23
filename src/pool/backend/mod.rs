//! The queue a [`Pool`](super::Pool) runs on, behind one trait, so that backends can be compared with the pool
//! around them held fixed.
//!
//! - [`Segmented<R>`]: the crate's [`SegQueue`] with reclamation strategy `R`. Each thread (worker or submitter)
//!   uses its own queue handle, which carries that thread's reclamation state.
//! - [`MutexDeque`]: a `Mutex<VecDeque>`, the classic pool's queue, as the baseline every lock-free design has to
//!   beat.
//! - `CrossbeamChannel` (feature `reference`, std builds): an unbounded `crossbeam-channel`, the queue most Rust
//!   pools would reach for.
//! - `Uring` (Linux, feature `uring`) and `Iocp` (Windows, feature `iocp`), std builds: the kernel's completion
//!   queues, to measure what they cost against the in-process queues.
//!
//! Each backend has its own file here; this one holds what they share: the [`Backend`] trait, the sizes they are
//! built with (the queue's [`Config`]) and how they refuse a job ([`Refused`]).
//!
//! Waking idle workers is the pool's business, not the backend's: a backend only stores jobs and hands them out
//! in batches.
//!
//! [`SegQueue`]: crate::SegQueue

#[cfg(all(feature = "reference", segpool_std))]
mod crossbeam_channel;
#[cfg(all(windows, feature = "iocp", segpool_std))]
mod iocp;
mod mutex_deque;
mod segmented;
#[cfg(all(target_os = "linux", feature = "uring", segpool_std))]
mod uring;

use std::fmt;

use crate::{Config, ConfigError};

// `self::` for the reader: the module here, not the crate of the same name that it wraps.
#[cfg(all(feature = "reference", segpool_std))]
pub use self::crossbeam_channel::CrossbeamChannel;
#[cfg(all(windows, feature = "iocp", segpool_std))]
pub use iocp::Iocp;
pub use mutex_deque::MutexDeque;
pub use segmented::Segmented;
#[cfg(all(target_os = "linux", feature = "uring", segpool_std))]
pub use uring::Uring;

/// Why a backend refused a job. The job itself travels in [`Refused`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// A bounded queue is full (for [`Segmented`]: its segment arena is exhausted under `Fail`).
    Exhausted,
    /// Under `OnExhausted::Wait`: no room was made before the timeout.
    TimedOut,
}

/// A job a backend could not store, handed back to the caller.
pub struct Refused<J> {
    /// Why.
    pub kind: RefusalKind,
    /// The job, untouched.
    pub job: J,
}

impl<J> fmt::Debug for Refused<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A backend type named without its item type: what a [`Pool`](super::Pool) and its builder are parameterised
/// by, so that the envelopes the pool stores its jobs in never show in users' types or bounds. Every backend type
/// here is its own kind, with its item type left at its default: `Segmented<Hazard>`, `MutexDeque`, `Uring`, ...
/// (`Pool::builder().backend::<MutexDeque>()`); `Of<T>` is the backend of `T`s.
pub trait BackendKind: 'static {
    /// This kind's backend of `T`s.
    type Of<T: Send + 'static>: Backend<T>;

    /// The backends' short name, for reports ([`Backend::NAME`]).
    const NAME: &'static str = <Self::Of<()> as Backend<()>>::NAME;
}

/// A multi-producer, multi-consumer job queue for the pool.
pub trait Backend<J: Send + 'static>: Send + Sync + Sized + 'static {
    /// A short name for reports.
    const NAME: &'static str;

    /// Per-thread state: each worker and each submitting thread owns one.
    type Local<'a>
    where
        Self: 'a;

    /// Builds the backend from the pool's queue configuration (the one a [`SegQueue`](crate::SegQueue) takes, so
    /// that one job's settings have one type from the builder to the queue), or says which setting it rejects.
    /// Backends that are not segmented use what applies to them (`on_exhausted`, say) and ignore the rest.
    fn build(config: &Config) -> Result<Self, ConfigError>;

    /// This thread's state.
    fn local(&self) -> Self::Local<'_>;

    /// Stores `job`, or hands it back.
    fn push(&self, local: &mut Self::Local<'_>, job: J) -> Result<(), Refused<J>>;

    /// Moves up to `max` jobs into `out`, oldest first; returns how many. 0 means the queue looked empty.
    fn pop_batch(&self, local: &mut Self::Local<'_>, out: &mut Vec<J>, max: usize) -> usize;

    /// This thread is about to sleep: leave behind nothing that only it could release (default: nothing to do).
    fn park(&self, local: &mut Self::Local<'_>) {
        let _ = local;
    }
}
