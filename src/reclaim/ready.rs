//! The ready list of the reference adapters: segments whose reclamation ran inside a foreign crate (a deferred
//! closure of crossbeam-epoch, a token dropped by haphazard or reclaimed by fast-smr or seize), parked until the next call
//! that has a [`SegmentStore`] hands them to it. The foreign code runs on whatever thread and at whatever time its
//! crate chooses, possibly after the queue moved, so it gets nothing but a segment index and an `Arc` of this list.

use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard};

use crate::reclaim::SegmentStore;
use crate::segment::SegmentId;
use crate::sync::Ordering;
use crate::sync::unmodelled::AtomicU64 as CounterU64;

/// Segments whose deferred reclamation has run, waiting to be handed to the pool by the next call that has a
/// store. Shared (through an `Arc`) with the deferred closures of [`CrossbeamEpoch`](super::CrossbeamEpoch) and
/// the retired tokens of [`Haphazard`](super::Haphazard), [`FastSmr`](super::FastSmr) and [`Seize`](super::Seize).
#[derive(Debug, Default)]
pub(crate) struct ReadyList {
    ids: Mutex<Vec<SegmentId>>,
    /// Length of `ids` as of the last change: lets `take_into` skip the lock when nothing is ready. Only a hint (the
    /// ids themselves are published by the mutex); a stale zero defers the ids to the next drain.
    queued: AtomicUsize,
}

impl ReadyList {
    fn lock(&self) -> MutexGuard<'_, Vec<SegmentId>> {
        self.ids.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Marks segment `id` safe to reuse.
    pub(crate) fn push(&self, id: SegmentId) {
        let mut ids = self.lock();
        ids.push(id);
        self.queued.store(ids.len(), Ordering::Relaxed);
    }

    /// Whether some id is ready (a relaxed hint, like the one `take_into` checks).
    pub(crate) fn any_ready(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > 0
    }

    /// Moves every ready id into `out`, which must be empty (the two buffers swap, so neither reallocates in steady
    /// state). Returns whether there was any.
    pub(crate) fn take_into(&self, out: &mut Vec<SegmentId>) -> bool {
        debug_assert!(out.is_empty());
        if self.queued.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut ids = self.lock();
        std::mem::swap(&mut *ids, out);
        self.queued.store(0, Ordering::Relaxed);
        !out.is_empty()
    }

    /// Hands every ready id to `store` and counts them in `reused`. `scratch` is the caller's (empty) buffer.
    pub(crate) fn drain<S: SegmentStore>(&self, scratch: &mut Vec<SegmentId>, store: &S, reused: &CounterU64) {
        if !self.take_into(scratch) {
            return;
        }
        store.make_reusable_all(scratch.drain(..).inspect(|_| {
            reused.fetch_add(1, Ordering::Relaxed);
        }));
    }
}
