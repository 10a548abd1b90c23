//! A handle's batch of retired segments, chained through `HyalineMeta::batch_next` (no allocation), and the
//! per-segment state of [`Hyaline`](super::Hyaline).

use crate::reclaim::SegmentStore;
use crate::reclaim::orphans::Listed;
use crate::segment::SegmentId;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// A link in one of the chains: segment index + 1, `0` for "none".
pub(super) type Link = u32;
pub(super) const NO_LINK: Link = 0;

pub(super) const fn link(id: SegmentId) -> Link {
    id + 1
}

pub(super) const fn unlink(link: Link) -> Option<SegmentId> {
    if link == NO_LINK { None } else { Some(link - 1) }
}

/// The per-segment state of [`Hyaline`](super::Hyaline): the segment's place in a slot list and in its batch.
/// Written by the handle that publishes the segment's batch before the push that makes it visible, read by the
/// handles that leave and by the one that frees the batch (module docs, "Memory ordering").
#[derive(Debug, Default)]
pub struct HyalineMeta {
    /// The next node of the one slot list this segment was pushed into ([`Link`]).
    pub(super) slot_next: AtomicU32,
    /// The batch's reference count, meaningful on its first node only: wrapping signed arithmetic in a `u64`
    /// (leavers may decrement it below zero before the publisher adds the number of pushes).
    pub(super) batch_refs: AtomicU64,
    /// The first node of this segment's batch (the one holding the count).
    pub(super) batch_first: AtomicU32,
    /// The next segment of the batch ([`Link`]).
    pub(super) batch_next: AtomicU32,
}

/// Retired segments not published yet, chained from `first` through `batch_next`; `last`'s link is [`NO_LINK`].
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub first: Link,
    pub last: Link,
    pub len: usize,
}

impl Listed for Batch {
    fn listed(&self) -> usize {
        self.len
    }
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends segment `id` (owned by this batch's holder: the chain links are written `Relaxed`, and published
    /// by the push, the orphan mutex or program order).
    pub fn push<S: SegmentStore<Meta = HyalineMeta>>(&mut self, id: SegmentId, store: &S) {
        store.meta(id).batch_next.store(NO_LINK, Ordering::Relaxed);
        match unlink(self.last) {
            Some(last) => store.meta(last).batch_next.store(link(id), Ordering::Relaxed),
            None => self.first = link(id),
        }
        self.last = link(id);
        self.len += 1;
    }

    /// Moves every segment of `other` to the end of this batch.
    pub fn append<S: SegmentStore<Meta = HyalineMeta>>(&mut self, other: &mut Batch, store: &S) {
        if other.is_empty() {
            return;
        }
        match unlink(self.last) {
            Some(last) => store.meta(last).batch_next.store(other.first, Ordering::Relaxed),
            None => self.first = other.first,
        }
        self.last = other.last;
        self.len += other.len;
        *other = Batch::default();
    }
}
