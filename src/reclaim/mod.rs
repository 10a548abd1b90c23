//! The reclamation seam: when may a retired segment be reused?
//!
//! Segments are type-stable (see [`crate::segment_arena`]): no strategy ever frees memory while the queue lives, so a
//! wrong answer cannot become a use-after-free. It would become a *stale view*: a thread that protected a segment
//! finding it in a later generation. The queue's generation checks (invariant 5 of [`crate::segment`]) catch every
//! stale view, so values are never lost or duplicated, and [`QueueStats::stale_views`](crate::QueueStats) counts
//! them. A sound strategy keeps that count at zero; the tests and model checks assert it.
//!
//! # The contract
//!
//! A queue operation runs between [`Reclaim::enter`] and [`Reclaim::leave`] on one thread's [`Reclaim::Handle`].
//! Inside, every segment it dereferences was loaded with [`Reclaim::protect`], which returns a value that the source
//! word held at a moment when the protection was already in force. A segment is passed to [`Reclaim::retire`] only
//! after it was unlinked from the queue (no later `protect` can return it in that generation). The strategy must not
//! hand a retired segment to [`SegmentStore::make_reusable`] while a handle that protected it before the unlink is
//! still inside the same operation. Handles are explicit values, never thread-locals, so that loom and shuttle see
//! every access.
//!
//! # What each strategy promises
//!
//! - **Limbo** (wpool's heuristic): a retired segment waits in a ring until `limbo_len` later retirements evict it,
//!   then is reused if its reference count is zero, or when the last reference drops if not (wpool leaves it to
//!   Go's garbage collector). `protect` increments the segment's reference count, then re-validates the source, so
//!   the eviction check is sound; the delay itself guarantees nothing. Unreclaimed segments: `limbo_len`, plus the
//!   orphans still referenced. A stalled thread holds back at most the segments it references. Under
//!   `OnExhausted::Fail` or `Wait` it needs `segment_count >= limbo_len + 2`: with fewer, the ring and the queue's
//!   last segment can hold every segment, no retirement can happen, and the free list stays dry for good; its
//!   [`Reclaim::validate_config`] refuses such a configuration.
//! - **HazardEras** (Ramalhete & Correia 2017) and **Ibr** (2GEIBR, Wen et al. 2018), the era family, sharing
//!   [`eras`]: every life of a segment is stamped with a birth era (in [`Reclaim::born`]) and a retire era (when a
//!   scan seals it); a handle inside an operation reserves eras (HazardEras one per protection slot, published by
//!   `protect` only when the clock moved; Ibr an interval `[lower, upper]` published at `enter`, the upper end
//!   raised by `protect`), and a retired life is reusable once no reservation overlaps it. Handles scan their own
//!   lists and advance the clock once per scan; shortages are answered as Epoch answers them. No stale views; a
//!   stalled handle holds back only lives born at or before its last reserved era, so unreclaimed segments stay
//!   bounded (by the arena's size when the clock passed that era, plus each running handle's short list) however
//!   long it stalls, at about Epoch's cost per operation.
//! - **Qsbr** (quiescent-state-based reclamation, McKenney & Slingwine 1998), on [`Epoch`]'s machinery: a handle is
//!   online from its first `enter` until it parks or unregisters, and announces a quiescent state (publishes the
//!   global epoch, if it moved) at the end of every `PERIOD`-th operation and at [`Reclaim::quiesce`]; Epoch's
//!   two-epoch rule then frees what every online handle has passed. Nothing is published per operation: one load of
//!   the global epoch per `leave`. No stale views; a handle that never quiesces (stalled inside an operation, or
//!   online and idle) stops all reclamation, as a pinned epoch does.
//! - **Hyaline** (Hyaline-1, Nikolaev & Ravindran 2021): every handle's registry record is a *slot*, active while
//!   it is inside an operation; retired segments gather in a per-handle *batch* of [`hyaline::BATCH`], which is
//!   published by pushing one of its segments onto every active slot's list and counting the pushes on the batch's
//!   first segment; each `leave` takes its slot's list and drops one reference per node, and the last drop makes the
//!   batch reusable. `protect` is a plain load. Shortages are answered as Epoch answers them (partial batches are
//!   published at `leave`, `park` and `unregister` hand them to an orphan list). No stale views; a stalled handle
//!   keeps its slot active and every batch published meanwhile waits for it, so unreclaimed segments grow without
//!   bound with the traffic (as Epoch's); one fence per `enter`, one swap per `leave` plus a decrement per node
//!   received.
//! - **Leak** (the baseline): nothing is ever reused, so it runs only under `OnExhausted::Grow` (it refuses `Fail`
//!   and `Wait`, under which its queue would die after `segment_count * segment_size` values); every segment
//!   after the first `segment_count` is a fresh allocation. Unreclaimed segments: all retired ones. Costs nothing
//!   per operation.
//! - **CrossbeamEpoch** (reference, `crossbeam-epoch`; std builds with feature `reference`): one crossbeam
//!   `Collector` per queue; `enter` pins, `protect` is a plain load, `retire` defers a closure that puts the segment
//!   on a ready list (drained into the pool by later calls) and flushes at once, so no free segment hides in a
//!   thread's bag. After `collect`, `leave` flushes repeatedly from fresh pins (at most once per 4 handles released
//!   since the last such sweep, plus 3), because every dropped handle leaves a bag in crossbeam's queue ahead of
//!   later retirements and a flush collects only 8. Epoch guarantees: no stale views; a stalled pinned thread
//!   stops all reclamation. Its handle holds crossbeam's `LocalHandle`, which is `!Send`, so it is `!Send` too,
//!   and so are the queue's `Handle` and the pool's `Submitter` over it (each is `Send` exactly when the
//!   strategy's handle is): a handle stays on the thread that created it, and the compiler checks that.
//! - **Haphazard** (reference, `haphazard`; same builds): one haphazard `Domain` per queue; each life of a segment
//!   is a heap token whose address hazard pointers publish (`protect_raw`, fence, re-read of the source word) and
//!   which `retire` hands to `retire_ptr`; its reclamation puts the segment on a ready list. Haphazard alone
//!   waits for 1000 retirements or 2 s, so `collect` reclaims eagerly and bumps a shortage counter, and each
//!   handle reclaims eagerly once in its next `leave`, after its own hazards are reset (a segment is retired inside
//!   the operation that unlinked it, under that operation's hazard); while [`SegmentStore::starving`] holds, every
//!   `leave` does. A stalled thread holds back only the segments it protects.
//! - **FastSmr** (reference, `fast-smr` 0.2.3, 2GEIBR; same builds): one fast-smr `Reclaimer` per queue, a
//!   `ThreadContext` per handle for its reservations and one shared, behind a mutex, for every retirement (a
//!   context's retired list is scanned only by its own retirements, so per-handle lists would strand what idle
//!   handles retired). `born` stamps the segment with the current epoch; `protect` reserves the current epoch
//!   (`must_protect`), loads the source word and re-reads the epoch, retrying until it did not move (lock-free: the
//!   crate's wait-free slow path reads its source as a pointer, which ours is not); `retire` hands a heap token per
//!   life, with its birth epoch, to the shared context, which scans at every retirement (`cleanup_freq` 1) and
//!   whose reclamation puts the segment on a ready list. `collect` and the shortage `leave`s (as Haphazard's) scan
//!   again with a dummy retirement. A stalled thread holds back the lives that overlap its reservation interval
//!   (every segment alive during it, protected or not), not the ones born after.
//! - **Seize** (reference, `seize` 0.5.1, Hyaline-1; same builds): one seize `Collector` per queue; `enter` enters
//!   a `LocalGuard` (seize's per-thread reservation) and `leave` drops it, `protect` is seize's `SeqCst` load;
//!   `retire` hands a heap token per life, through one always-entered `OwnedGuard` per queue behind a mutex, to a
//!   batch padded with dummies to an entry per registered handle plus one (seize retires a batch only if it holds an
//!   entry per active reservation), flushes it and refreshes that guard; a token's reclamation, run by the last
//!   operation to leave of those running at its retirement, puts the segment on a ready list. `collect` pads and
//!   flushes again. No stale views; a stalled operation holds back everything retired while it lasts (Hyaline-1 is
//!   not robust), as under epochs. Its handle holds a `LocalGuard`, so it is `!Send`, like CrossbeamEpoch's.
//! - **Unprotected** (verification baseline): reuse at retirement, no protection. Unsound as a strategy (stale
//!   views are routine), yet values still arrive exactly once, because the generation checks catch every stale
//!   view. The ABA model checks use it to test those checks on their own.

#[cfg(all(feature = "reference", segpool_std))]
pub mod crossbeam;
pub mod epoch;
pub mod eras;
#[cfg(all(feature = "reference", segpool_std))]
pub mod fast_smr;
#[cfg(all(feature = "reference", segpool_std))]
pub mod haphazard;
pub mod hazard;
pub mod hazard_eras;
pub mod hyaline;
pub mod ibr;
pub mod leak;
pub mod limbo;
pub(crate) mod orphans;
pub mod qsbr;
#[cfg(all(feature = "reference", segpool_std))]
pub(crate) mod ready;
pub(crate) mod registry;
pub(crate) mod retired;
#[cfg(all(feature = "reference", segpool_std))]
pub mod seize;
pub mod unprotected;

#[cfg(all(feature = "reference", segpool_std))]
pub use crossbeam::CrossbeamEpoch;
pub use epoch::Epoch;
pub use eras::EraMeta;
#[cfg(all(feature = "reference", segpool_std))]
pub use fast_smr::FastSmr;
#[cfg(all(feature = "reference", segpool_std))]
pub use haphazard::Haphazard;
pub use hazard::Hazard;
pub use hazard_eras::HazardEras;
pub use hyaline::{Hyaline, HyalineMeta};
pub use ibr::Ibr;
pub use leak::Leak;
pub use limbo::Limbo;
pub use qsbr::Qsbr;
// `self::`: the module, not the crate it adapts.
#[cfg(all(feature = "reference", segpool_std))]
pub use self::seize::Seize;
pub use unprotected::Unprotected;

use crate::config::{Config, ConfigError};
use crate::segment::SegmentId;
use crate::sync::AtomicU64;

/// Number of segments one handle can protect at a time (the queue needs one per operation; `len` needs two).
pub const PROTECT_SLOTS: usize = 2;

/// What a strategy can see of the segment arena.
pub trait SegmentStore {
    /// The strategy's per-segment state ([`Reclaim::SegmentMeta`]).
    type Meta;
    /// The per-segment state of segment `id`.
    fn meta(&self, id: SegmentId) -> &Self::Meta;
    /// Declares segment `id` safe to reuse: it goes back on the pool's free list.
    fn make_reusable(&self, id: SegmentId);
    /// Declares every segment of `ids` safe to reuse, as one update of the free list: what a strategy that frees
    /// in batches (a scan, an expired bag) should call, because the free list's head is a cache line that every
    /// take and free writes.
    fn make_reusable_all(&self, ids: impl IntoIterator<Item = SegmentId>) {
        for id in ids {
            self.make_reusable(id);
        }
    }
    /// Whether some thread is waiting for a free segment right now (`OnExhausted::Wait`). Strategies that keep
    /// retired segments per handle give them back at every operation while this holds: a one-off request can be
    /// missed by a scan that frees nothing yet, and the waiter cannot ask again while it sleeps.
    fn starving(&self) -> bool {
        false
    }
}

/// A memory-reclamation strategy for the segments of a [`SegQueue`](crate::SegQueue). See the module docs.
pub trait Reclaim: Send + Sync + Sized + 'static {
    /// Short name for reports and benchmark labels.
    const NAME: &'static str;
    /// State the strategy keeps in every segment (`()` if none).
    type SegmentMeta: Default + Send + Sync;
    /// One thread's state: its protections and, for some strategies, its retired segments.
    type Handle;

    /// The strategy's own requirements on a configuration, checked by [`Config::validate_for`] (and so by every
    /// queue and pool constructor) after the strategy-independent checks: a configuration under which the strategy
    /// could never make a segment reusable again is refused here, naming the fields (default: no requirement).
    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }

    /// Builds the strategy for a queue with this (validated) configuration.
    fn new(config: &Config) -> Self;

    /// A new handle for one thread.
    fn register(&self) -> Self::Handle;

    /// Gives a handle back when its thread is done with the queue. It must not protect anything any more.
    fn unregister<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, store: &S);

    /// Starts a queue operation.
    fn enter(&self, handle: &mut Self::Handle);

    /// Loads the segment reference in `src` (a packed [`SegRef`](crate::segment::SegRef)) into protection slot
    /// `slot`, replacing what that slot protected, and returns it. The returned value was in `src` at a moment when
    /// the protection was already visible to retirers. A "none" reference is returned unprotected.
    fn protect<S: SegmentStore<Meta = Self::SegmentMeta>>(
        &self,
        handle: &mut Self::Handle,
        slot: usize,
        src: &AtomicU64,
        store: &S,
    ) -> u64;

    /// Ends the operation started by [`Self::enter`]; every protection of the handle is dropped.
    fn leave<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, store: &S);

    /// Segment `id` is about to be linked into the queue for a new life (taken off the free list, or freshly
    /// allocated, and not reachable by any other thread yet). Called inside the pushing operation, before every
    /// attempt to link it, so the last call comes before the segment becomes reachable. Strategies that stamp each
    /// life of a segment with a *birth era* (HazardEras, Ibr) record it here, in the segment's
    /// [`Self::SegmentMeta`]; the default does nothing. The queue's first segment is never passed here: it is born
    /// with the strategy, at its initial era.
    #[inline]
    fn born<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, id: SegmentId, store: &S) {
        let _ = (handle, id, store);
    }

    /// The handle's thread is between operations and holds no segment, and says so ([`Handle::quiesce`]). A
    /// strategy built on quiescent states ([`Qsbr`]) announces one now; the default does nothing.
    ///
    /// [`Handle::quiesce`]: crate::Handle::quiesce
    #[inline]
    fn quiesce<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, store: &S) {
        let _ = (handle, store);
    }

    /// Hands over a segment that was just unlinked and fully consumed. The strategy calls
    /// [`SegmentStore::make_reusable`] for it (now or later) once reuse is safe by its rules, or never.
    fn retire<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, id: SegmentId, store: &S);

    /// The free list ran dry: reclaim eagerly whatever is already safe. Called inside an operation.
    fn collect<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, store: &S) {
        let _ = (handle, store);
    }

    /// The handle's thread is about to go quiet for an unknown time (a pool worker going to sleep), outside an
    /// operation. A strategy that keeps retired segments per handle hands them to a list other handles reclaim
    /// from: a quiet handle must not hold segments that a refused push is waiting for.
    fn park<S: SegmentStore<Meta = Self::SegmentMeta>>(&self, handle: &mut Self::Handle, store: &S) {
        let _ = (handle, store);
    }

    /// Segments retired but not (yet) reusable.
    fn pending(&self) -> u64;

    /// Retired segments whose reuse the strategy had to defer past its normal rule (Limbo: evicted from the ring
    /// while still referenced, reused when the last reference drops).
    fn orphaned(&self) -> u64 {
        0
    }
}
