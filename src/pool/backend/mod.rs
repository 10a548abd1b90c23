//! The queue a [`Pool`](super::Pool) runs on, behind one trait, so that backends can be compared with the pool
//! around them held fixed.
//!
//! - [`Segmented<R>`]: the crate's [`SegQueue`] with reclamation strategy `R`. Each thread (worker or submitter)
//!   uses its own queue handle, which carries that thread's reclamation state.
//! - [`MutexDeque`]: a `Mutex<VecDeque>`, the classic pool's queue, as the baseline every lock-free design has to
//!   beat.
//! - `CrossbeamChannel` (feature `reference`, std builds): an unbounded `crossbeam-channel`, the queue most Rust
//!   pools would reach for.
//!
//! Waking idle workers is the pool's business, not the backend's: a backend only stores jobs and hands them out
//! in batches.

#[cfg(all(windows, feature = "iocp", not(any(feature = "loom", feature = "shuttle"))))]
mod iocp;
#[cfg(all(target_os = "linux", feature = "uring", not(any(feature = "loom", feature = "shuttle"))))]
mod uring;

use std::collections::VecDeque;
use std::fmt;

use crate::sync::Mutex;
use crate::{Config, ConfigError, Handle, OnExhausted, PushErrorKind, Reclaim, SegQueue};

#[cfg(all(windows, feature = "iocp", not(any(feature = "loom", feature = "shuttle"))))]
pub use iocp::Iocp;
#[cfg(all(target_os = "linux", feature = "uring", not(any(feature = "loom", feature = "shuttle"))))]
pub use uring::Uring;

/// Why a backend refused a job. The job itself travels in [`Refused`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// A bounded queue is full (for [`Segmented`]: its segment pool is exhausted under `Fail`, or the wait of
    /// `Wait` timed out).
    Exhausted,
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

/// The sizes a backend is built with (from the pool's builder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// Jobs per segment ([`Segmented`]).
    pub segment_size: usize,
    /// Segments allocated up front ([`Segmented`]).
    pub segment_count: usize,
    /// What a push does when no segment is free ([`Segmented`]).
    pub on_exhausted: OnExhausted,
    /// Limbo's ring length ([`Segmented`] with [`Limbo`](crate::Limbo)).
    pub limbo_len: usize,
}

impl Default for BackendConfig {
    fn default() -> Self {
        let queue = Config::default();
        BackendConfig {
            segment_size: queue.segment_size,
            segment_count: queue.segment_count,
            on_exhausted: queue.on_exhausted,
            limbo_len: queue.limbo_len,
        }
    }
}

/// A multi-producer, multi-consumer job queue for the pool.
pub trait Backend<J: Send + 'static>: Send + Sync + Sized + 'static {
    /// A short name for reports.
    const NAME: &'static str;

    /// Per-thread state: each worker and each submitting thread owns one.
    type Local<'a>
    where
        Self: 'a;

    /// Builds the backend, or says which setting it rejects.
    fn build(config: &BackendConfig) -> Result<Self, ConfigError>;

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

/// The segmented queue with reclamation strategy `R`.
pub struct Segmented<R: Reclaim, J> {
    queue: SegQueue<J, R>,
}

impl<R: Reclaim, J> Segmented<R, J> {
    /// The queue, for its statistics.
    pub fn queue(&self) -> &SegQueue<J, R> {
        &self.queue
    }
}

impl<R: Reclaim, J> fmt::Debug for Segmented<R, J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segmented").field("strategy", &R::NAME).field("stats", &self.queue.stats()).finish()
    }
}

impl<R: Reclaim, J: Send + 'static> Backend<J> for Segmented<R, J> {
    const NAME: &'static str = R::NAME;
    type Local<'a> = Handle<'a, J, R>;

    fn build(config: &BackendConfig) -> Result<Self, ConfigError> {
        let queue = SegQueue::with_config(Config {
            segment_size: config.segment_size,
            segment_count: config.segment_count,
            on_exhausted: config.on_exhausted,
            limbo_len: config.limbo_len,
        })?;
        Ok(Segmented { queue })
    }

    fn local(&self) -> Handle<'_, J, R> {
        self.queue.handle()
    }

    fn push(&self, local: &mut Handle<'_, J, R>, job: J) -> Result<(), Refused<J>> {
        local.push(job).map_err(|error| {
            let kind = match error.kind() {
                PushErrorKind::Exhausted | PushErrorKind::TimedOut => RefusalKind::Exhausted,
            };
            Refused { kind, job: error.into_inner() }
        })
    }

    fn pop_batch(&self, local: &mut Handle<'_, J, R>, out: &mut Vec<J>, max: usize) -> usize {
        local.pop_batch(out, max)
    }

    fn park(&self, local: &mut Handle<'_, J, R>) {
        local.park();
    }
}

/// A `Mutex<VecDeque>`: unbounded, one lock per push and per batch.
pub struct MutexDeque<J> {
    jobs: Mutex<VecDeque<J>>,
}

impl<J> fmt::Debug for MutexDeque<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexDeque").finish_non_exhaustive()
    }
}

impl<J: Send + 'static> Backend<J> for MutexDeque<J> {
    const NAME: &'static str = "mutex-deque";
    type Local<'a> = ();

    fn build(_config: &BackendConfig) -> Result<Self, ConfigError> {
        Ok(MutexDeque { jobs: Mutex::new(VecDeque::new()) })
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push_back(job);
        Ok(())
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        let mut jobs = self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = max.min(jobs.len());
        out.extend(jobs.drain(..n));
        n
    }
}

/// An unbounded crossbeam channel: the backend holds both ends, so a send can only fail if the channel were
/// disconnected, which it never is while the backend lives.
#[cfg(all(feature = "reference", not(any(feature = "loom", feature = "shuttle"))))]
pub struct CrossbeamChannel<J> {
    sender: crossbeam_channel::Sender<J>,
    receiver: crossbeam_channel::Receiver<J>,
}

#[cfg(all(feature = "reference", not(any(feature = "loom", feature = "shuttle"))))]
impl<J> fmt::Debug for CrossbeamChannel<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrossbeamChannel").field("len", &self.receiver.len()).finish()
    }
}

#[cfg(all(feature = "reference", not(any(feature = "loom", feature = "shuttle"))))]
impl<J: Send + 'static> Backend<J> for CrossbeamChannel<J> {
    const NAME: &'static str = "crossbeam-channel";
    type Local<'a> = ();

    fn build(_config: &BackendConfig) -> Result<Self, ConfigError> {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Ok(CrossbeamChannel { sender, receiver })
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        // Unreachable in practice (we hold a receiver), but a job is handed back, never dropped.
        self.sender.send(job).map_err(|error| Refused { kind: RefusalKind::Exhausted, job: error.into_inner() })
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        let before = out.len();
        out.extend(self.receiver.try_iter().take(max));
        out.len() - before
    }
}
