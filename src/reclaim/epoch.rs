//! Epoch: epoch-based reclamation (Fraser, "Practical lock-freedom", 2004; the scheme of crossbeam-epoch), adapted
//! to segment indices and a type-stable pool.
//!
//! A global epoch counter `G` only ever moves forward by one. Every handle owns a record in the crate's registry of
//! per-thread records, holding one word, `(local_epoch << 1) | pinned`. [`Epoch::enter`] *pins* the handle: it
//! publishes the current value of `G` as its local epoch with the pinned bit set; [`Epoch::leave`] clears the bit.
//! [`Epoch::protect`] is a plain load: the pin covers every segment the operation loads. A retired segment goes
//! into the retiring handle's *bag*. Now and then the handle runs a *step*:
//!
//! 1. it *seals* the segments retired since its last step: they are stamped with `G`, read after a fence;
//! 2. it tries to *advance* `G` from `e` to `e + 1`, which succeeds only if every pinned record has local epoch `e`;
//! 3. it makes reusable every segment sealed at `r` with `G >= r + 2` (the *two-epoch rule*, argued below).
//!
//! A handle steps when its bag holds [`COLLECT_THRESHOLD`] segments more than were already stuck in it after its
//! last step; when the free list runs dry ([`Epoch::collect`]); and at the end of its operation
//! ([`Epoch::leave`]) after a shortage, as explained next.
//!
//! # Few segments: shortages
//!
//! Bags are per handle. With a small arena under `OnExhausted::Fail` or `Wait`, the segments a consumer retired can
//! sit in its bag below the threshold while the producers run dry, and a segment retired inside an operation can
//! never be reused inside that same operation (the retirer's own pin holds `G` back, see below). So
//! [`Epoch::collect`] bumps a shared shortage counter, and every handle checks it (one load) in [`Epoch::leave`]:
//! if it moved, the handle steps once *after* unpinning. This advances the epoch on behalf of the starving
//! producers and seals and frees the bag. While a producer sleeps under `Wait` ([`SegmentStore::starving`]),
//! every handle steps at the end of *every* operation: one step may free nothing yet (a segment needs two
//! advances), and the sleeper cannot ask again (shuttle found producers waiting for good that way). The handle
//! that called `collect` also steps at its own `leave`, so a push refused by `Fail` usually finds a segment on its
//! retry. A live handle that performs no more operations still holds back the segments in its bag (at most
//! [`COLLECT_THRESHOLD`] `+ 1` in steady state); drop idle handles, or size the arena above the bound.
//!
//! # The threshold
//!
//! [`COLLECT_THRESHOLD`] is 4. A retired segment is freed by the step *after* the one that sealed it (each step
//! advances `G` once, and a segment needs `G` two past its seal), so a handle that steps every `k` retirements holds
//! back up to about `2k` segments. With this rule (step when `COLLECT_THRESHOLD` segments are waiting that no step
//! has been able to free yet) a handle steps at most twice per `COLLECT_THRESHOLD` retirements and, in steady
//! state, holds back at most `COLLECT_THRESHOLD + 1` segments, every one of which the queue cannot use. That is
//! the number that matters with few segments: a single handle doing push/pop pairs at SegmentSize=1 with up to two
//! values in flight needs the queue's three segments plus the bag, so with 4 it is never refused with 8 segments,
//! while with 8 (bag up to 9) about one push in five is refused with 8 segments (measured; the refused push's own
//! operation then frees the bag, so its retry succeeds). The price is a step (a `SeqCst` fence and a load per
//! registered record) every second retirement instead of every fourth: measured about 3% on a push/pop pair at
//! SegmentSize=1, nothing at SegmentSize=64. Crossbeam's bags hold 64 objects because its garbage is memory it
//! frees; here a threshold of 64 would need some 70 segments per handle before the queue stopped running dry.
//!
//! While something holds the epoch back (a pinned, stalled thread), the bag grows; the handle then steps once per
//! `COLLECT_THRESHOLD` further retirements, not at every one, so a stall costs `O(1)` amortised per retirement.
//!
//! # What Epoch promises
//!
//! - **No stale views.** A segment is made reusable only after every operation that could have loaded it before
//!   its unlink has ended, so [`QueueStats::stale_views`](crate::QueueStats) stays 0.
//! - **Stalled threads.** A thread that stops while pinned at epoch `l` lets `G` advance at most once more, to
//!   `l + 1`: from then on *no* segment retired by anyone is reclaimed while the stall lasts, so unreclaimed
//!   segments ([`Reclaim::pending`]) grow without bound with the traffic of the other threads. This is EBR's known
//!   weakness and the opposite of hazard pointers (which hold back only the stalled thread's own segments). With
//!   `OnExhausted::Grow` memory grows with every segment used during the stall; with `OnExhausted::Fail` the queue
//!   reports exhaustion (pushes are handed back) instead of hanging, and with `Wait` pushes time out. Recovery:
//!   once the thread unpins, two advances free everything sealed during the stall, so the pool refills within a
//!   few operations of any handle. Preemption is such a stall: on an oversubscribed machine a thread descheduled
//!   inside an operation blocks reclamation for its whole time slice, so with `Grow` a SegmentSize=1 queue can
//!   allocate a segment per value for as long as some pinned thread is off the CPU.
//! - **Tiny pools under `Fail`.** A segment retired inside an operation is never reusable inside that operation,
//!   and needs two advances after it is sealed. So when the only free segments are the ones the last few
//!   operations retired, a push can be refused once; its own operation performs the missing advance (in `collect`,
//!   and in the step at its `leave`), so the retry succeeds. Under `Wait`, the push finds that segment as soon as it
//!   starts waiting.
//! - **Unreclaimed segments** without stalls: at most about [`COLLECT_THRESHOLD`] `+ 1` per handle in steady state
//!   (segments retired by a handle wait for its next steps), plus the orphans of unregistered handles, which wait
//!   for two advances.
//! - **Progress.** `enter` retries only when `G` advanced meanwhile, i.e. when another thread made progress;
//!   `leave`, `protect`, `retire`, `collect` and steps are wait-free (the orphan list is only `try_lock`ed there).
//!   Only [`Reclaim::unregister`], when it has orphans to hand over, blocks on the orphan mutex.
//! - **Costs.** One `Release` store, one `SeqCst` fence and two loads per `enter`; one store and one load per
//!   `leave`; one load per `protect`; a step (one fence, up to three loads of `G`, one load per registered record,
//!   at most one CAS, a pass over the bag) per two retirements at most. No allocation after `register`: the bag
//!   is allocated with room for every segment the pool starts with (at least [`BAG_CAPACITY`]), so it grows only
//!   when a stall holds the epoch back while a `Grow` pool allocates beyond its initial segments. The fence
//!   per operation is the price of pinning per operation: crossbeam pins once per *batch* of operations (a `Guard`
//!   covers many) for that reason. Here each push and pop is one operation; [`Handle::pop_batch`] amortises the
//!   fence over a run of values.
//!
//! # Why two epochs, and the memory ordering
//!
//! Orderings below are the C++20 model's: `S` is the single total order of `SeqCst` fences, and a fence `X` precedes
//! a fence `Y` in `S` whenever `X` happens before an access `a`, an access `b` happens before `Y`, and `a` is
//! coherence-ordered before `b` (`a` reads a value that `b` overwrites, or `b` reads `a`'s write or a later one).
//!
//! - **Pin.** `enter` reads `G = e`, stores `pinned(e)` (`Release`), runs fence `F_T`, re-reads `G`, and repeats
//!   with the new value if `G` moved. So the published epoch `l` was read before `F_T`, and a read after `F_T`
//!   still saw `l`. Then the operation's loads `L` follow.
//! - **Seal.** A step runs fence `F_R` and then reads `G = r` for the segments retired since the handle's last
//!   step. Each of them was unlinked (store `U` on the queue's head or tail) before it was retired, so `U` happens
//!   before `F_R`.
//! - **Advance.** An advance from `e` reads `G = e` *before* its fence `F_A`, reads every record (`Acquire`) after
//!   it, and CASes `G` from `e` to `e + 1` (`AcqRel`) only if every pinned record shows local epoch `e`.
//!
//! Take a thread `T` whose load `L` returned segment `s` before `s`'s unlink `U` (so `L` is coherence-ordered
//! before `U`), and a handle that sealed `s` at `r`.
//!
//! 1. `F_T` precedes `F_R` in `S`: `F_T` happens before `L`, `L` is coherence-ordered before `U`, and `U` happens
//!    before `F_R`.
//! 2. `l <= r`: otherwise the seal's read of `r` (after `F_R`) is coherence-ordered before `T`'s read of `l`
//!    (before `F_T`), which would put `F_R` before `F_T`, contradicting 1.
//! 3. The advance `A` from `l + 1` to `l + 2` (which must happen for `G` to reach `r + 2 >= l + 2`) has its fence
//!    after `F_T`: `T`'s re-read after `F_T` saw `l`, which is coherence-ordered before `A`'s read of `l + 1`, made
//!    before `F_A`. So `A`'s read of `T`'s record sees the pin or a later store of `T`. It cannot see the pin (local
//!    epoch `l != l + 1`), so it sees `T`'s unpin or a later store (all `Release`): `T`'s operation, including
//!    every use of `s`, happens before `A`'s CAS.
//! 4. The collector reads `G >= r + 2` with `Acquire`. Every modification of `G` is a CAS, so it reads from `A` or
//!    from a later CAS in `A`'s release sequence: `A` happens before the collector's
//!    [`SegmentStore::make_reusable`], and so does `T`'s operation.
//!
//! Both fences are needed: without `F_R` (a segment stamped at retirement with a plain load of `G`), the stamp can
//! lag one epoch behind a pin made after the unlink was performed but before it was visible (store buffering), and
//! the segment is reused one advance too early. The seal fence is paid per step, not per retirement. The re-read in
//! `enter` is what makes step 3 go through for a pin that raced with an advance. Orphans (the bag of an
//! unregistered handle) are sealed before they are handed over, and the orphan mutex orders the hand-over before
//! any later collection.
//!
//! [`Handle::pop_batch`]: crate::Handle::pop_batch

use std::fmt;

use crate::config::Config;
use crate::reclaim::orphans::Orphans;
use crate::reclaim::registry::{Entry, Registry};
use crate::reclaim::retired::{Answered, RetiredCounts, Shortage};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::{Arc, AtomicU64, Ordering, fence};

/// A handle steps once its bag holds this many segments more than were stuck in it after its last step. See the
/// module docs for why 4.
pub const COLLECT_THRESHOLD: usize = 4;

/// Room for at least this many retired segments is allocated with every handle (in steady state a bag holds at
/// most [`COLLECT_THRESHOLD`] plus the retirements of one operation; the rest is slack for epochs briefly held back
/// by other threads). A handle gets room for all of the pool's initial segments if that is more: a stalled thread
/// can hold back the epoch until every segment sits in some bag, and a bag that grew then would allocate in a
/// pool that otherwise never does.
pub const BAG_CAPACITY: usize = 8 * COLLECT_THRESHOLD;

/// The pinned bit of a record's state word.
const PINNED: u64 = 1;

/// Stamp of a retired segment that is not sealed yet (never compared: sealing overwrites it).
const UNSEALED: u64 = u64::MAX;

const fn pinned(epoch: u64) -> u64 {
    (epoch << 1) | PINNED
}

const fn unpinned(epoch: u64) -> u64 {
    epoch << 1
}

/// A segment sealed at `sealed_at` is reusable once the global epoch is `global`.
const fn expired(sealed_at: u64, global: u64) -> bool {
    sealed_at.saturating_add(2) <= global
}

/// One handle's published state: `(local_epoch << 1) | pinned`.
#[derive(Default)]
struct EpochRecord {
    state: AtomicU64,
}

/// One thread's epoch state: its registry record, its bag of retired segments and its pin.
pub struct EpochHandle {
    entry: Arc<Entry<EpochRecord>>,
    /// Retired segments not yet reusable, with the epoch they were sealed at. `bag[..sealed]` are sealed, the rest
    /// carry [`UNSEALED`].
    bag: Vec<(SegmentId, u64)>,
    sealed: usize,
    /// Step when the bag reaches this length.
    next_step: usize,
    /// The global epoch at which the bag was last filtered: with the same epoch nothing new can expire.
    filtered_at: u64,
    /// The epoch published by the last `enter`.
    pub(crate) epoch: u64,
    pub(crate) pinned: bool,
    /// The shortage counter when this handle last looked (see the module docs).
    pub(crate) seen_shortage: Answered,
    /// Set by `unregister`: the record may belong to another handle now.
    pub(crate) released: bool,
}

impl fmt::Debug for EpochHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochHandle")
            .field("epoch", &self.epoch)
            .field("pinned", &self.pinned)
            .field("bag", &self.bag.len())
            .field("sealed", &self.sealed)
            .field("next_step", &self.next_step)
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

impl EpochHandle {
    /// Whether the handle holds no retired segment.
    pub(crate) fn bag_is_empty(&self) -> bool {
        self.bag.is_empty()
    }

    /// Publishes `epoch` as pinned with a plain `Release` store and no fence: only the `qsbr_announce_no_fence`
    /// mutant calls this (a sound pin is [`Epoch::pin`]).
    pub(crate) fn publish_unfenced(&mut self, epoch: u64) {
        self.entry.record.state.store(pinned(epoch), Ordering::Release);
        self.epoch = epoch;
        self.pinned = true;
    }
}

impl Drop for EpochHandle {
    /// A handle dropped without `unregister` (a bug, or unwinding) would leave its record pinned and block the epoch
    /// for good: unpin it. Its bag is lost (those segments are never reused) and its record stays registered.
    fn drop(&mut self) {
        if !self.released && self.pinned {
            self.entry.record.state.store(unpinned(self.epoch), Ordering::Release);
        }
    }
}

/// Epoch-based reclamation. See the module docs.
pub struct Epoch {
    /// The global epoch `G`. Modified only by CAS (the release-sequence argument in the module docs needs that).
    pub(crate) global: AtomicU64,
    registry: Registry<EpochRecord>,
    /// Sealed segments of unregistered handles that were not reusable yet when their handle left.
    orphans: Orphans<Vec<(SegmentId, u64)>>,
    /// Raised when a free list runs dry ([`Reclaim::collect`]): handles that see it step at their next `leave`.
    pub(crate) shortage: Shortage,
    counts: RetiredCounts,
    /// Room each new handle's bag gets: the larger of [`BAG_CAPACITY`] and the pool's initial segment count.
    bag_capacity: usize,
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Epoch")
            .field("epoch", &self.epoch())
            .field("records", &self.registry.len())
            .field("pending", &self.pending())
            .field("orphaned", &self.orphaned())
            .finish_non_exhaustive()
    }
}

impl Epoch {
    /// The global epoch now (a snapshot, for tests and reports).
    pub fn epoch(&self) -> u64 {
        self.global.load(Ordering::Relaxed)
    }

    /// Tries to move `G` from `current` to `current + 1` and returns `G` as this thread now knows it. The caller
    /// read `current` and then ran a `SeqCst` fence (module docs, "Advance").
    fn try_advance(&self, current: u64) -> u64 {
        for record in self.registry.iter() {
            // Acquire: pairs with the Release stores of `enter`/`leave`, so the operations of a thread seen
            // unpinned (or pinned again later) happen before our CAS. (The mutant reads the records Relaxed, as if
            // the step's fence ordered them: it comes before these loads, so it cannot.)
            let order =
                if cfg!(segpool_mutant = "epoch_relaxed_observe") { Ordering::Relaxed } else { Ordering::Acquire };
            let state = record.state.load(order);
            let blocks = state & PINNED != 0 && state >> 1 != current;
            if blocks && !cfg!(segpool_mutant = "epoch_ignore_pinned") {
                return current;
            }
        }
        match self.global.compare_exchange(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => current + 1,
            Err(now) => now,
        }
    }

    /// Makes reusable every entry of `list` sealed at least two epochs before `global`; keeps the others.
    fn release_expired<S: SegmentStore<Meta = ()>>(&self, list: &mut Vec<(SegmentId, u64)>, global: u64, store: &S) {
        let expired = list.extract_if(.., |&mut (_, sealed_at)| expired(sealed_at, global));
        store.make_reusable_all(expired.map(|(id, _)| {
            self.counts.reused();
            id
        }));
    }

    /// One step: seal, try to advance, free what expired (own bag and, if free, the orphans). See the module docs.
    pub(crate) fn step<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, store: &S) {
        // The epoch to advance from, read before the fence (module docs, "Advance").
        let current = self.global.load(Ordering::Acquire);
        // Seal fence and advance fence at once: every segment in the bag was unlinked before this point.
        fence(Ordering::SeqCst);
        let seal = self.global.load(Ordering::Relaxed);
        self.step_after_fence(handle, current, seal, store);
    }

    /// A step whose fence a [`Self::pin`] just ran (Qsbr's announcement): the pin read `G` both before its last
    /// fence and after it, and found the same epoch, so that epoch serves as the step's `current` (read before the
    /// fence) and as its seal (read after it; every segment in the bag was retired before the pin began).
    pub(crate) fn step_after_pin<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, store: &S) {
        debug_assert!(handle.pinned, "step_after_pin without a pin");
        let epoch = handle.epoch;
        self.step_after_fence(handle, epoch, epoch, store);
    }

    /// The rest of a step, after its fence: `current` was read before the fence, `seal` after it.
    fn step_after_fence<S: SegmentStore<Meta = ()>>(
        &self,
        handle: &mut EpochHandle,
        current: u64,
        seal: u64,
        store: &S,
    ) {
        let fresh = handle.bag.len() - handle.sealed;
        for entry in &mut handle.bag[handle.sealed..] {
            entry.1 = seal;
        }
        let global = self.try_advance(current);
        // With the epoch unchanged since the last filter nothing can have expired: the older entries were judged
        // at this very epoch, and the fresh ones are sealed at `current` or later, which is at least `filtered_at`.
        if global != handle.filtered_at {
            handle.filtered_at = global;
            self.release_expired(&mut handle.bag, global, store);
        }
        handle.sealed = handle.bag.len();
        // The entries that were already sealed before this step and are still here are held back by some pinned
        // thread: step again after `COLLECT_THRESHOLD` more retirements, not at every one.
        let stuck = handle.bag.len().saturating_sub(fresh);
        handle.next_step = stuck + COLLECT_THRESHOLD;
        if let Some(mut orphans) = self.orphans.try_lock() {
            self.release_expired(&mut orphans, global, store);
        }
    }

    /// Moves what a step just left in the handle's bag to the orphan list, which every handle's step filters.
    /// The bag is fully sealed after every step, so other handles can judge its entries by their stamps alone.
    fn hand_over_bag(&self, handle: &mut EpochHandle) {
        if !handle.bag.is_empty() {
            let mut orphans = self.orphans.lock();
            self.counts.orphaned(handle.bag.len());
            orphans.append(&mut handle.bag);
        }
        handle.sealed = 0;
    }

    /// Publishes the current global epoch in the handle's record, pinned, and fences; re-reads `G` after the fence
    /// and publishes again until it did not move (module docs, "Pin"). Epoch pins at every `enter`; Qsbr announces
    /// a quiescent state this way ([`crate::reclaim::qsbr`]).
    #[inline]
    pub(crate) fn pin(&self, handle: &mut EpochHandle) {
        let state = &handle.entry.record.state;
        let mut epoch = self.global.load(Ordering::Relaxed);
        loop {
            // Release: a previous operation's uses happen before an advance that reads this pin (module docs).
            state.store(pinned(epoch), Ordering::Release);
            // Pairs with the fence of every step (module docs, "Why two epochs").
            fence(Ordering::SeqCst);
            let now = self.global.load(Ordering::Relaxed);
            if now == epoch {
                break;
            }
            epoch = now; // an advance raced with the pin: publish the new epoch instead
        }
        handle.epoch = epoch;
        handle.pinned = true;
    }

    // `#[inline]`: called at every queue operation from the user's crate, where a non-generic function is
    // otherwise an out-of-line call (generic callers are instantiated there, this function is not).
    #[inline]
    pub(crate) fn unpin(handle: &mut EpochHandle) {
        if handle.pinned {
            // Release: the operation's uses of its segments happen before an advance that reads this.
            handle.entry.record.state.store(unpinned(handle.epoch), Ordering::Release);
            handle.pinned = false;
        }
    }
}

impl Reclaim for Epoch {
    const NAME: &'static str = "epoch";
    type SegmentMeta = ();
    type Handle = EpochHandle;

    fn new(config: &Config) -> Self {
        Epoch {
            bag_capacity: BAG_CAPACITY.max(config.segment_count),
            global: AtomicU64::new(0),
            registry: Registry::new(),
            orphans: Orphans::with_capacity(config.segment_count),
            shortage: Shortage::new(),
            counts: RetiredCounts::new(),
        }
    }

    fn register(&self) -> EpochHandle {
        let entry = self.registry.acquire();
        // A reused record was left unpinned by its previous owner (`unregister`, or the handle's Drop).
        EpochHandle {
            entry,
            // At full size now, so that operations never allocate (see BAG_CAPACITY).
            bag: Vec::with_capacity(self.bag_capacity),
            sealed: 0,
            next_step: COLLECT_THRESHOLD,
            filtered_at: u64::MAX,
            epoch: 0,
            pinned: false,
            seen_shortage: self.shortage.answered_now(),
            released: false,
        }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, store: &S) {
        debug_assert!(!handle.released, "Epoch handle unregistered twice");
        Self::unpin(handle);
        // Unpinned, this handle no longer holds the epoch back: two advances free everything sealed by the first
        // step, unless another thread is pinned.
        for _ in 0..3 {
            if handle.bag.is_empty() && self.orphans.seem_empty() {
                break;
            }
            self.step(handle, store);
        }
        self.hand_over_bag(handle);
        self.registry.release(&handle.entry);
        handle.released = true;
    }

    /// Steps once, then hands what is still held back to the orphan list: a quiet handle never steps, and a bag
    /// it kept could hold every segment of a `Fail` pool for good (a pool test found one holding 598 of 600).
    fn park<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, store: &S) {
        debug_assert!(!handle.released, "Epoch handle used after unregister");
        debug_assert!(!handle.pinned, "Epoch::park inside an operation");
        if !handle.bag.is_empty() {
            self.step(handle, store);
            self.hand_over_bag(handle);
        }
    }

    // `#[inline]`: called at every queue operation from the user's crate, where a non-generic function is
    // otherwise an out-of-line call (generic callers are instantiated there, this function is not).
    #[inline]
    fn enter(&self, handle: &mut EpochHandle) {
        debug_assert!(!handle.released, "Epoch handle used after unregister");
        debug_assert!(!handle.pinned, "Epoch::enter inside an operation");
        self.pin(handle);
    }

    fn protect<S: SegmentStore<Meta = ()>>(
        &self,
        handle: &mut EpochHandle,
        _slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        debug_assert!(handle.pinned, "Epoch::protect outside an operation");
        // The pin covers whatever this load returns (module docs).
        src.load(Ordering::Acquire)
    }

    fn leave<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, store: &S) {
        debug_assert!(!handle.released, "Epoch handle used after unregister");
        Self::unpin(handle);
        if self.shortage.must_give_back(&mut handle.seen_shortage, store) {
            // The free list ran dry, or a producer waits: advance and give back (reclaim::retired).
            self.step(handle, store);
        }
    }

    fn retire<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, id: SegmentId, store: &S) {
        debug_assert!(!handle.released, "Epoch handle used after unregister");
        self.counts.retired();
        handle.bag.push((id, UNSEALED));
        if handle.bag.len() >= handle.next_step {
            self.step(handle, store);
        }
    }

    fn collect<S: SegmentStore<Meta = ()>>(&self, handle: &mut EpochHandle, store: &S) {
        debug_assert!(!handle.released, "Epoch handle used after unregister");
        if cfg!(segpool_mutant = "epoch_no_shortage") {
            // Models answering a dry free list with the bag threshold alone (crossbeam's scheme has no shortage
            // step): no signal raised and no step now, so retired segments wait for the next threshold step.
            return;
        }
        // Ask every handle to step at the end of its current operation (this one included: the answer `raise`
        // returns is dropped on purpose, so our own `leave` steps again once we are unpinned), then step now.
        let _ = self.shortage.raise();
        self.step(handle, store);
    }

    fn pending(&self) -> u64 {
        self.counts.pending()
    }

    /// Retired segments handed to the orphan list by an unregistering handle because they were not reusable yet
    /// (counted once each, when handed over).
    fn orphaned(&self) -> u64 {
        self.counts.orphans()
    }
}
