//! The queue's segment accounting: [`QueueStats`] and the counters behind it.

use crate::sync::unmodelled::AtomicU64 as CounterU64;

/// The event counts behind [`QueueStats`] (relaxed statistics, invisible to the model checkers).
#[derive(Default)]
pub(super) struct Counters {
    pub(super) retired: CounterU64,
    pub(super) exhausted: CounterU64,
    pub(super) grown: CounterU64,
    pub(super) failed: CounterU64,
    pub(super) waited: CounterU64,
    pub(super) wait_timeouts: CounterU64,
    pub(super) stale_views: CounterU64,
}

/// A snapshot of a queue's segment accounting. Under concurrency the fields are read one by one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Segments allocated: up front (`segment_count`) plus grown.
    pub segments_allocated: u64,
    /// Segments taken off the free list for a second or later use.
    pub segments_recycled: u64,
    /// Segments on the free list now. With `retired_pending` and `segments_orphaned` at zero as well, a refused
    /// push is not transient: nothing the strategy holds will come back.
    pub segments_free: u64,
    /// Segments fully consumed, unlinked and handed to the reclamation strategy.
    pub segments_retired: u64,
    /// Retired segments the strategy has not made reusable yet (Limbo: those waiting in the ring).
    pub retired_pending: u64,
    /// Retired segments whose reuse was deferred past the strategy's rule (Limbo: evicted from the ring while still
    /// referenced; reused when the last reference drops).
    pub segments_orphaned: u64,
    /// Times a push needed a segment and the free list had none (each is then grown, failed or waited).
    pub exhaustion_events: u64,
    /// Segments allocated because of `OnExhausted::Grow`.
    pub grown: u64,
    /// Pushes handed back at once under `OnExhausted::Fail`.
    pub failed_pushes: u64,
    /// Times a push waited under `OnExhausted::Wait`.
    pub waits: u64,
    /// Waits that ended without a segment (the push was handed back).
    pub wait_timeouts: u64,
    /// Generation checks that found a protected segment in a later generation. Zero for a sound strategy.
    pub stale_views: u64,
}
