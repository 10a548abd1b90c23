//! What the strategies that keep retired segments per handle share (Hazard and Epoch, and the Haphazard and FastSmr
//! adapters, whose retired tokens sit in haphazard's per-domain lists or fast-smr's shared context): the *shortage
//! signal* and the counts of retired segments.
//!
//! # The shortage signal
//!
//! A segment retired into one handle's list is reusable only once that handle (or one that adopts it) scans or
//! steps. With a small arena under `OnExhausted::Fail` or `Wait`, producers can run dry while the consumers' lists
//! hold every segment. So a handle whose push found the pool empty raises the signal ([`Reclaim::collect`]), and
//! every handle that sees it moved since it last answered gives back what it can at the end of its next operation
//! ([`Shortage::must_give_back`], called from `leave`). While a thread is blocked waiting for a segment
//! ([`SegmentStore::starving`]) every `leave` gives back: a one-off request can be answered by a scan that frees
//! nothing yet, and the waiter cannot ask again while it sleeps (shuttle's `waiting` model found that).
//!
//! The signal is a counter, not a flag, so that one handle's answer does not clear it for the others.
//!
//! [`Reclaim::collect`]: super::Reclaim::collect

use crate::cache_padded::CachePadded;
use crate::reclaim::SegmentStore;
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicUsize, Ordering};

/// How many times a free list ran dry. Only a hint, read and written relaxed: the segments themselves are published
/// through the free list.
#[derive(Debug)]
pub(crate) struct Shortage(AtomicUsize);

/// A handle's side of the signal: the count it last answered.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Answered(usize);

impl Shortage {
    pub(crate) fn new() -> Self {
        Shortage(AtomicUsize::new(0))
    }

    /// The signal as it stands, for a new handle (which then does not answer shortages that are already over).
    pub(crate) fn answered_now(&self) -> Answered {
        Answered(self.0.load(Ordering::Relaxed))
    }

    /// Raises the signal (the free list ran dry); returns it as answered by the caller, for a caller that gives back
    /// at once and need not again at its `leave`.
    pub(crate) fn raise(&self) -> Answered {
        Answered(self.0.fetch_add(1, Ordering::Relaxed).wrapping_add(1))
    }

    /// Whether the handle that answered `seen` last must give back now: the signal moved since, or a thread is
    /// blocked waiting for a segment. Marks the signal answered.
    #[inline]
    pub(crate) fn must_give_back<S: SegmentStore>(&self, seen: &mut Answered, store: &S) -> bool {
        let now = self.0.load(Ordering::Relaxed);
        if now != seen.0 || store.starving() {
            seen.0 = now;
            return true;
        }
        false
    }
}

/// Retired segments not reusable yet ([`Reclaim::pending`](super::Reclaim::pending)) and those handed to the
/// orphan list by unregistering handles ([`Reclaim::orphaned`](super::Reclaim::orphaned)).
#[derive(Debug)]
pub(crate) struct RetiredCounts {
    /// On its own cache lines: the retiring thread updates it at every retirement and reuse, while every
    /// operation of every thread reads the strategy's hot words (the shortage signal; Epoch's global epoch),
    /// which must not be invalidated that often (false sharing).
    pending: CachePadded<CounterU64>,
    orphaned: CounterU64,
}

impl RetiredCounts {
    pub(crate) fn new() -> Self {
        RetiredCounts { pending: CachePadded(CounterU64::new(0)), orphaned: CounterU64::new(0) }
    }

    /// One more segment retired.
    #[inline]
    pub(crate) fn retired(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// One retired segment made reusable. Called before `make_reusable`, so that `pending` may lag below the
    /// truth for a moment, never above it.
    #[inline]
    pub(crate) fn reused(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// `count` segments handed to the orphan list.
    pub(crate) fn orphaned(&self, count: usize) {
        self.orphaned.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn orphans(&self) -> u64 {
        self.orphaned.load(Ordering::Relaxed)
    }
}
