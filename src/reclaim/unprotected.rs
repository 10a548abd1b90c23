//! Unprotected: reuse at once, protect nothing. A verification baseline, not a strategy to deploy.
//!
//! A retired segment goes straight back on the free list and `protect` is a plain load, so a thread that loaded a
//! segment reference may find the segment already in a later generation. The queue is built so that this is still
//! safe: segments are type-stable and every slot access is gated by a CAS on a generation-tagged word (the
//! invariants in [`crate::segment`]). With this strategy those generation checks are the *only* thing between a
//! stale thread and a lost or duplicated value, which is what the ABA model checks exercise: values must still
//! arrive exactly once, while [`QueueStats::stale_views`](crate::QueueStats) counts every stale view the checks
//! caught (it is expected to be non-zero here, unlike for every sound strategy).

use crate::config::Config;
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::{AtomicU64, Ordering};

/// Reuses every retired segment immediately and protects nothing. See the module docs.
#[derive(Debug, Default)]
pub struct Unprotected;

impl Reclaim for Unprotected {
    const NAME: &'static str = "unprotected";
    type SegmentMeta = ();
    type Handle = ();

    fn new(_config: &Config) -> Self {
        Unprotected
    }

    fn register(&self) {}

    fn unregister<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _store: &S) {}

    fn enter(&self, _handle: &mut ()) {}

    fn protect<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _slot: usize, src: &AtomicU64, _store: &S) -> u64 {
        src.load(Ordering::Acquire)
    }

    fn leave<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _store: &S) {}

    fn retire<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), id: SegmentId, store: &S) {
        store.make_reusable(id);
    }

    fn pending(&self) -> u64 {
        0
    }
}
