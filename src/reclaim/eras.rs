//! What the era strategies share ([`HazardEras`](super::HazardEras) and [`Ibr`](super::Ibr)): the era clock, the
//! birth era of every segment life, per-handle lists of retired lives, and the scan that frees a life no
//! reservation overlaps.
//!
//! # Lives, eras and reservations
//!
//! A global *era clock* only moves forward. Each *life* of a segment (from the moment it is linked to the moment it
//! is reusable again) is stamped with two eras: its *birth era* `b`, read from the clock in [`Reclaim::born`]
//! just before every attempt to link it, and its *retire era* `r`, read when a scan *seals* it, after a fence that
//! comes after its retirement. A handle inside an operation *reserves* eras: Hazard Eras publishes one era per
//! protection slot, 2GEIBR an interval `[lower, upper]`; a published era `e` is the interval `[e, e]`. A retired
//! life is reusable once no reserved interval overlaps `[b, r]`. Reservations are cleared at every `leave`, so a
//! handle between operations reserves nothing (an idle handle holds back none of the other handles' segments).
//!
//! The queue's first segment is born with the strategy, at era 0, the clock's initial value; segments grown under
//! `OnExhausted::Grow` pass through `born` like recycled ones.
//!
//! # The clock and the scans
//!
//! A handle's retired lives wait on its own list. When the list holds [`SCAN_THRESHOLD`] lives more than the last
//! scan had to keep, the handle *scans*: a `SeqCst` fence, the clock read once to seal the lives retired since the
//! last scan, every record's reservation read into a snapshot, and every life that no interval overlaps made
//! reusable. Then it *advances* the clock by one (the era-advance rule: every handle advances the clock once per
//! scan, that is once per [`SCAN_THRESHOLD`] retirements or more). A life sealed at the current era is overlapped by
//! every operation running at that era, so it is freed by a later scan, after the advance; a handle keeps at most
//! about `2 * SCAN_THRESHOLD` lives without stalls.
//!
//! Shortages are answered as Epoch answers them (`reclaim::retired`): [`Reclaim::collect`] advances the clock,
//! raises the shortage signal and scans; every handle that holds retired lives and sees the signal moved (or a
//! producer waiting, [`SegmentStore::starving`]) scans at the end of its operation, after clearing its
//! reservations. `park` and `unregister` scan and hand what is still overlapped to the shared orphan list, which
//! every scan filters when it can lock it without waiting.
//!
//! # The bound under a stall
//!
//! A handle that stops inside an operation keeps its reservation, whose upper end `u` (its era, or IBR's upper
//! bound) is fixed while it stalls. It overlaps only lives born at or before `u`. Once the clock has passed `u`
//! (at the next advance, which any other handle's scan performs), every life begun after that is born later and is
//! never held back by the stall. So the stall holds back at most the lives that had begun and were not yet
//! reusable when the clock passed `u`: at most the number of segments the arena had then (each segment is in one
//! life at a time). Besides those, each running handle keeps its usual few lives. Unreclaimed segments
//! ([`Reclaim::pending`]) therefore stay flat however long the stall lasts, where Epoch's grow with the traffic.
//! [`EraCore::blocked_by`] tells a test which of a list's lives a reservation holds back.
//!
//! # Memory ordering (both strategies)
//!
//! Take a protector that publishes era `e` (a store to its record) in a reservation, runs fence `F_p`, then loads
//! the source word (load `L`, which returns segment `s`) and the clock, and returns only if the clock still reads
//! `e`; so the clock read `e` both before the store and after `L`. Take a scanner that seals `s` and reads the
//! records after its fence `F_s`; `s`'s unlink `U` (the store that moved the queue's head or tail away from it)
//! happens before its retirement, and so before `F_s`.
//!
//! 1. **`r >= e`.** If the scanner's clock read returned less than `e`, it is coherence-ordered before the
//!    protector's first clock read, so `F_s` precedes `F_p` in the `SeqCst` order; then `L` is not coherence-ordered
//!    before `U` (that would put `F_p` before `F_s`), so `L` read `U` or a later value, not `s` (a reference carries
//!    its generation, which is linked once). So if `protect` returned `s`, the seal is at least `e`.
//! 2. **`b <= e`.** The birth read is sequenced before the link of `s`, which happens before `L` (the queue's head
//!    and tail move by `AcqRel` CASes from values read with `Acquire`), and `L` before the protector's second clock
//!    read, which returned `e`: by coherence, `e >= b`.
//! 3. **The scanner sees the reservation.** If `F_p` precedes `F_s`, the scanner's read of the record sees the store
//!    of `e` or a later one (a larger upper bound, or the clear at `leave`, both `Release`; the scanner reads with
//!    `Acquire`, so the protector's uses of `s` happen before `s` is made reusable). If `F_s` precedes `F_p`, `L`
//!    read `U` or later (as in 1) and did not return `s`.
//!
//! So every reservation under which `s` was returned overlaps `[b, r]` as the scanner sees it, and `s` stays on the
//! list until that reservation is cleared. A larger retire era or a smaller birth era only widens the interval,
//! which is why a stale read of either is safe (the retirer reads the birth with a `Relaxed` load; a value from an
//! earlier life would be smaller). Orphans are sealed before they are handed over, and the orphan mutex orders the
//! hand-over before the scans that filter them.
//!
//! [`Reclaim::born`]: super::Reclaim::born
//! [`Reclaim::collect`]: super::Reclaim::collect
//! [`Reclaim::pending`]: super::Reclaim::pending

use crate::cache_padded::CachePadded;
use crate::reclaim::SegmentStore;
use crate::reclaim::orphans::Orphans;
use crate::reclaim::registry::{Entry, Registry};
use crate::reclaim::retired::{Answered, RetiredCounts, Shortage};
use crate::segment::SegmentId;
use crate::sync::{Arc, AtomicU64, Ordering, fence};

/// A handle scans once its list holds this many lives more than its last scan had to keep.
pub const SCAN_THRESHOLD: usize = 4;

/// "No era": an empty reservation slot. No life's interval reaches it (the clock would have to advance 2^64 - 1
/// times).
pub const NO_ERA: u64 = u64::MAX;

/// Retire era of a life that is not sealed yet (never compared: sealing overwrites it).
const UNSEALED: u64 = u64::MAX;

/// The per-segment state of the era strategies: the birth era of the segment's current life.
#[derive(Debug, Default)]
pub struct EraMeta {
    birth: AtomicU64,
}

/// An era interval `[lower, upper]` that one reservation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Interval {
    pub lower: u64,
    pub upper: u64,
}

/// Whether the life `[birth, retire]` overlaps the reservation `interval`.
#[inline]
pub(crate) fn overlaps(interval: Interval, birth: u64, retire: u64) -> bool {
    if cfg!(segpool_mutant = "eras_overlap_strict") {
        // Models an off-by-one in the reuse test: a life retired at the very era a reader reserved counts as over.
        return interval.lower < retire && birth <= interval.upper;
    }
    interval.lower <= retire && birth <= interval.upper
}

/// A strategy's per-handle published record: what a scan reads.
pub(crate) trait Reservation: Default + Send + Sync {
    /// Appends the intervals this record reserves now (none if it reserves nothing). Every load is `Acquire`: it
    /// pairs with the `Release` clear or update of the record, so the owner's uses of a segment happen before the
    /// scanner makes it reusable.
    fn reserved(&self, out: &mut Vec<Interval>);
    /// Clears the record (the owner is outside any operation).
    fn clear(&self);
}

/// One retired life: the segment, its birth era and its retire era (or [`UNSEALED`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Life {
    id: SegmentId,
    birth: u64,
    retire: u64,
}

/// A handle's era state besides its strategy's own fields: its record, its retired lives, a snapshot buffer.
pub(crate) struct EraHandleCore<Rec: Reservation> {
    pub entry: Arc<Entry<Rec>>,
    /// Retired lives not reusable yet; `lives[..sealed]` carry their retire era.
    lives: Vec<Life>,
    sealed: usize,
    /// Scan when `lives` reaches this length.
    next_scan: usize,
    /// The reservations of the last scan.
    snapshot: Vec<Interval>,
    seen_shortage: Answered,
    /// Set by `unregister`: the record may belong to another handle now.
    pub released: bool,
}

impl<Rec: Reservation> EraHandleCore<Rec> {
    /// Retired lives this handle holds (for `Debug` and tests).
    pub fn held(&self) -> usize {
        self.lives.len()
    }
}

impl<Rec: Reservation> Drop for EraHandleCore<Rec> {
    /// A handle dropped without `unregister` (a bug, or unwinding) would keep its reservation and hold back every
    /// life it overlaps for good: clear it. Its lives are lost (never reused) and its record stays registered.
    fn drop(&mut self) {
        if !self.released {
            self.entry.record.clear();
        }
    }
}

/// The era clock, the registry of records, the orphans, the shortage signal and the counts.
pub(crate) struct EraCore<Rec> {
    /// Modified only by `fetch_add`. On its own cache lines: every `protect` reads it.
    clock: CachePadded<AtomicU64>,
    pub registry: Registry<Rec>,
    orphans: Orphans<Life>,
    shortage: Shortage,
    pub counts: RetiredCounts,
    /// Room each new handle's list gets (so that steady state never allocates).
    list_capacity: usize,
}

impl<Rec: Reservation> EraCore<Rec> {
    pub fn new(segment_count: usize) -> Self {
        EraCore {
            clock: CachePadded(AtomicU64::new(0)),
            registry: Registry::new(),
            orphans: Orphans::with_capacity(segment_count),
            shortage: Shortage::new(),
            counts: RetiredCounts::new(),
            list_capacity: (8 * SCAN_THRESHOLD).max(segment_count),
        }
    }

    /// The clock now. `Acquire` is not needed for safety (coherence is, module docs); it is what protect uses.
    #[inline]
    pub fn era(&self) -> u64 {
        self.clock.load(Ordering::Acquire)
    }

    pub fn register(&self) -> EraHandleCore<Rec> {
        EraHandleCore {
            entry: self.registry.acquire(),
            lives: Vec::with_capacity(self.list_capacity),
            sealed: 0,
            next_scan: SCAN_THRESHOLD,
            snapshot: Vec::with_capacity(8),
            seen_shortage: self.shortage.answered_now(),
            released: false,
        }
    }

    /// Stamps the birth era of segment `id`'s next life.
    #[inline]
    pub fn born<S: SegmentStore<Meta = EraMeta>>(&self, id: SegmentId, store: &S) {
        let era = self.clock.load(Ordering::Relaxed);
        store.meta(id).birth.store(era, Ordering::Relaxed);
    }

    #[inline]
    pub fn retire<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut EraHandleCore<Rec>, id: SegmentId, store: &S) {
        self.counts.retired();
        // A stale (smaller) birth would only widen the interval: module docs.
        let birth = store.meta(id).birth.load(Ordering::Relaxed);
        handle.lives.push(Life { id, birth, retire: UNSEALED });
        if handle.lives.len() >= handle.next_scan {
            self.scan(handle, store);
        }
    }

    /// The free list ran dry: advance, ask every handle to scan at its `leave`, scan now.
    pub fn collect<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut EraHandleCore<Rec>, store: &S, mutant: bool) {
        if mutant {
            return; // the strategy's `*_no_shortage` mutant: answer a dry list with the threshold alone
        }
        self.clock.fetch_add(1, Ordering::AcqRel);
        let _ = self.shortage.raise(); // dropped: our own `leave` scans again, once our reservation is cleared
        self.scan(handle, store);
    }

    /// After the handle's reservation was cleared at `leave`: scan if a shortage asks for it.
    #[inline]
    pub fn after_leave<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut EraHandleCore<Rec>, store: &S) {
        if handle.lives.is_empty() {
            return; // nothing to give back (orphans are adopted by the `collect` that reported the shortage)
        }
        if self.shortage.must_give_back(&mut handle.seen_shortage, store) {
            self.scan(handle, store);
        }
    }

    /// Scans, then hands what is still overlapped to the orphan list (`park`, `unregister`). The reservation must
    /// be cleared already.
    pub fn hand_over<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut EraHandleCore<Rec>, store: &S) {
        if !handle.lives.is_empty() || !self.orphans.seem_empty() {
            self.scan(handle, store);
        }
        if !handle.lives.is_empty() {
            // Every life is sealed after a scan, so other handles can judge the orphans by their eras alone.
            let mut orphans = self.orphans.lock();
            self.counts.orphaned(handle.lives.len());
            orphans.append(&mut handle.lives);
        }
        handle.sealed = 0;
        handle.next_scan = SCAN_THRESHOLD;
    }

    /// Reads every record's reservation into `snapshot`. Call only after a `SeqCst` fence that follows the
    /// retirement of every life to be judged (module docs, "Memory ordering").
    fn take_snapshot(&self, snapshot: &mut Vec<Interval>) {
        snapshot.clear();
        for record in self.registry.iter() {
            record.reserved(snapshot);
        }
    }

    /// Makes reusable every life of `list` that no interval of `snapshot` overlaps; keeps the others.
    fn release_free<S: SegmentStore<Meta = EraMeta>>(&self, list: &mut Vec<Life>, snapshot: &[Interval], store: &S) {
        list.retain(|life| {
            if Self::blocked_by(snapshot, life.birth, life.retire) {
                return true;
            }
            self.counts.reused();
            store.make_reusable(life.id);
            false
        });
    }

    /// Whether some interval of `snapshot` overlaps the life `[birth, retire]`.
    pub fn blocked_by(snapshot: &[Interval], birth: u64, retire: u64) -> bool {
        snapshot.iter().any(|&interval| overlaps(interval, birth, retire))
    }

    /// Seal, snapshot, free, advance: see the module docs.
    fn scan<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut EraHandleCore<Rec>, store: &S) {
        // Lock before the fence, so the snapshot comes after every orphan's hand-over.
        let mut orphans = self.orphans.try_lock();
        // Pairs with the fence every reservation is published with (module docs).
        fence(Ordering::SeqCst);
        let fresh = handle.lives.len() - handle.sealed;
        if fresh > 0 {
            let seal = self.clock.load(Ordering::Acquire);
            for life in &mut handle.lives[handle.sealed..] {
                life.retire = seal;
            }
        }
        let mut snapshot = std::mem::take(&mut handle.snapshot);
        self.take_snapshot(&mut snapshot);
        self.release_free(&mut handle.lives, &snapshot, store);
        if let Some(orphans) = orphans.as_mut() {
            self.release_free(orphans, &snapshot, store);
        }
        drop(orphans);
        handle.snapshot = snapshot;
        handle.sealed = handle.lives.len();
        // The lives still here are held back by some reservation: scan again after `SCAN_THRESHOLD` more
        // retirements, not at every one (a stall then costs O(1) amortised per retirement).
        handle.next_scan = handle.lives.len() + SCAN_THRESHOLD;
        // The era-advance rule: once per scan, so that the lives sealed now stop overlapping new operations.
        self.clock.fetch_add(1, Ordering::AcqRel);
    }
}
