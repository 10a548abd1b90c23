//! Pool events for a metrics sink: the [`Metrics`] trait, statically dispatched, the sink that records nothing
//! ([`NoMetrics`]) and one that counts ([`CountingMetrics`]).

use crate::sync::{AtomicU64, Ordering};

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
