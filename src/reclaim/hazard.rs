//! Hazard: hazard pointers (Michael, "Hazard Pointers: Safe Memory Reclamation for Lock-Free Objects", IEEE TPDS
//! 2004), adapted to segment indices and a type-stable pool.
//!
//! Every handle owns a record in the strategy's registry of per-thread records, with [`PROTECT_SLOTS`] *hazard
//! slots*, each holding the index of a segment the handle may be using (or `NO_SEGMENT`, `u32::MAX`).
//! [`Reclaim::protect`] publishes the index, then re-reads the source word; [`Reclaim::leave`] clears the slots. A
//! retired segment goes on the retiring handle's private list; once the list reaches the *scan threshold* `R`, the
//! handle *scans*: it reads every hazard slot of every record (active or not) and makes reusable each listed segment
//! that no slot names. The rest stays on the list.
//!
//! # The threshold and the bound on unreclaimed segments
//!
//! Let `n` be the number of records in the registry (records are reused, so `n` is the largest number of handles
//! that were alive at once) and `H = PROTECT_SLOTS * n` the number of hazard slots. The scan threshold is
//! `R = `[`scan_threshold`]`(H) = 2H + 2`; each handle computes it when it registers and again at every scan, from
//! the records it sees (so it only grows, and is never above `R` for the current `n`).
//!
//! - A scan keeps only segments named by a hazard slot, at most `H` of them (the retired segments of a handle are
//!   distinct), so it makes at least `R - H = H + 2` segments reusable. Its cost, `O(n + H log H)` to read and sort
//!   the snapshot and `O(R log H)` for the look-ups, is `O(log H)` per reclaimed segment, amortised (Michael's
//!   `R = H + Ω(H)`; a hash set instead of the sorted snapshot would make it `O(1)` expected).
//! - So a handle holds at most `R - 1` retired segments whenever it is not inside `retire`.
//! - A handle that unregisters while some of its retired segments are still protected moves them to a shared
//!   *orphan* list. Every unregistration re-filters the whole orphan list against a snapshot taken under its lock,
//!   so the orphans are distinct segments named by hazard slots: at most `H`. Scans of any handle (including every
//!   [`Reclaim::collect`]) re-filter the orphan list too when they can take its lock without waiting.
//!
//! Overall, at most `n * (R - 1) + H` segments are unreclaimed ([`Reclaim::pending`]; the number is
//! [`Hazard::unreclaimed_bound`]): `O(H * n)`, or `4n² + 3n` with `PROTECT_SLOTS = 2` (22 for two handles).
//!
//! # Few segments: asking the other handles to scan
//!
//! Per-handle lists have a weakness that Michael's setting (an unbounded allocator) hides: a segment retired by a
//! consumer waits on *that consumer's* list, so with a small arena under `OnExhausted::Fail` or `Wait` the producers
//! can run dry while every spare segment sits on consumers' lists below their thresholds, for good (the tests of
//! this strategy wedge that way without the remedy). So [`Reclaim::collect`], called when the free list ran dry, scans
//! its own list at once *and* bumps a shared shortage counter; a handle that holds retired segments loads that
//! counter in [`Reclaim::leave`] and, if it moved, scans at the end of that operation. While a producer sleeps
//! under `Wait` ([`SegmentStore::starving`]), such a handle scans at the end of *every* operation: a single request
//! can be answered by a scan that frees nothing yet, and the sleeper cannot repeat it (shuttle found producers
//! waiting for good that way).
//!
//! Hence under `Fail` or `Wait` a queue can stay live with as few as 2 segments (the queue's last one and one to
//! link), plus one per handle that may stall inside an operation (`tests/hazard.rs` runs 2 and 3), provided that
//! every handle holding retired segments keeps operating or is dropped: a live handle that stops calling the queue
//! keeps up to `R - 1` segments from the pool until its next operation (drop idle handles).
//!
//! # What Hazard promises
//!
//! - **No stale views.** A segment is made reusable only if no hazard slot named it at a moment after it was
//!   unlinked, so no thread finds a segment it protected in a later generation:
//!   [`QueueStats::stale_views`](crate::QueueStats) stays 0.
//! - **Stalled threads.** A thread that protects a segment and stops holds back at most the `PROTECT_SLOTS`
//!   segments its slots name (the queue uses one), plus the at most `R - 1` segments it had itself retired and not
//!   scanned yet. Unlike Limbo, no stall keeps the other threads' retired segments from being reused.
//! - **Unreclaimed segments** are bounded as above, whatever the threads do.
//! - **Progress.** `protect` retries only when the source word changed, that is when another operation made
//!   progress; `enter`, `leave`, `retire` and `collect` run in steps bounded by `n` and `R` (the orphan list is
//!   only `try_lock`ed there: a scan that finds it busy skips it), besides the pool's `make_reusable` (lock-free,
//!   but it takes the pool's wait lock to wake threads waiting under `Wait`). Only [`Reclaim::unregister`], when
//!   it has orphans to hand over, may wait for the orphan mutex, which is held for `O(n + H log H)` steps.
//! - **Costs.** Per `protect`, a `SeqCst` fence (a full barrier: `mfence` or a locked instruction on x86), a store
//!   and two loads; per `leave`, a store per occupied slot, plus one load if the handle holds retired segments; a
//!   scan per `R - H` or more reclaimed segments. No allocation after `register`, except when the registry has
//!   grown since the handle's last scan (its list and snapshot buffer then grow once to the new size) and when
//!   `unregister` hands over orphans.
//!
//! # Memory ordering
//!
//! The fence in `protect` pairs with the fence at the start of a scan (Dekker's pattern). Take a protector that
//! stores segment `s` into a slot, runs fence `F_p`, and re-reads the source word, and a scanner that runs fence
//! `F_s` and then reads that slot. The scanner only considers `s` after `s` was retired, and `s` is retired only
//! after it was unlinked from the queue's head and tail, so the store that moved the source word away from `s`
//! happens before `F_s`. The `SeqCst` fences are totally ordered:
//!
//! - if `F_p` precedes `F_s`, the scanner's read of the slot sees the hazard (or a later store to the slot: a clear
//!   or another index, both `Release`, which the scanner's `Acquire` read synchronises with, so the protector's
//!   uses of `s` happen before `s` is made reusable);
//! - if `F_s` precedes `F_p`, the protector's re-read sees the unlink (or a later value), which differs from the
//!   reference it loaded because references carry the generation and a generation is linked once, so `protect`
//!   retries with the new value and never returns `s`.
//!
//! Orphans follow the same argument: a scan that filters the orphan list takes its snapshot after acquiring the
//! orphan mutex, so after the unregistration that added them (and hence after their retirement).

use std::fmt;

use crate::config::Config;
use crate::reclaim::orphans::Orphans;
use crate::reclaim::registry::{Entry, Registry};
use crate::reclaim::retired::{Answered, RetiredCounts, Shortage};
use crate::reclaim::{PROTECT_SLOTS, Reclaim, SegmentStore};
use crate::segment::{NO_SEGMENT, SegRef, SegmentId};
use crate::sync::{Arc, AtomicU32, AtomicU64, Ordering, fence};

/// The scan threshold `R` for `hazards` hazard slots in all: `2 * hazards + 2`. See the module docs.
pub const fn scan_threshold(hazards: usize) -> usize {
    2 * hazards + 2
}

/// One handle's published state: the segment index in each hazard slot, or [`NO_SEGMENT`].
struct HazardRecord {
    slots: [AtomicU32; PROTECT_SLOTS],
}

impl Default for HazardRecord {
    fn default() -> Self {
        HazardRecord { slots: std::array::from_fn(|_| AtomicU32::new(NO_SEGMENT)) }
    }
}

/// One thread's hazard-pointer state: its registry record, its retired segments and a snapshot buffer for scans.
pub struct HazardHandle {
    entry: Arc<Entry<HazardRecord>>,
    /// Which slots of the record hold an index (only this handle writes them, so no atomic read is needed).
    held: [bool; PROTECT_SLOTS],
    /// Segments this handle retired that are not reusable yet. Distinct (each is retired once per generation).
    retired: Vec<SegmentId>,
    /// The hazard snapshot of the last scan, sorted.
    scratch: Vec<SegmentId>,
    /// Scan when `retired` reaches this length: [`scan_threshold`] of the hazard slots seen at the last scan.
    threshold: usize,
    /// The shortage counter when this handle last looked (see the module docs).
    seen_shortage: Answered,
    /// Set by `unregister`: the record may belong to another handle now.
    released: bool,
}

impl fmt::Debug for HazardHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots: Vec<SegmentId> = self.entry.record.slots.iter().map(|slot| slot.load(Ordering::Relaxed)).collect();
        f.debug_struct("HazardHandle")
            .field("slots", &slots)
            .field("retired", &self.retired)
            .field("threshold", &self.threshold)
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

/// Hazard-pointer reclamation. See the module docs.
pub struct Hazard {
    registry: Registry<HazardRecord>,
    /// Retired segments of unregistered handles that were still protected when their handle left.
    orphans: Orphans<Vec<SegmentId>>,
    /// Raised when a free list runs dry ([`Reclaim::collect`]): handles that see it scan at their next `leave`.
    shortage: Shortage,
    counts: RetiredCounts,
}

impl fmt::Debug for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hazard")
            .field("records", &self.registry.len())
            .field("pending", &self.pending())
            .field("orphaned", &self.orphaned())
            .finish_non_exhaustive()
    }
}

impl Hazard {
    /// Hazard slots in all: `PROTECT_SLOTS` times the records registered so far.
    pub fn hazard_count(&self) -> usize {
        PROTECT_SLOTS * self.registry.len()
    }

    /// The documented bound on unreclaimed segments for the records registered so far: `n * (R - 1) + H`.
    pub fn unreclaimed_bound(&self) -> u64 {
        let records = self.registry.len() as u64;
        let hazards = self.hazard_count() as u64;
        records * (scan_threshold(self.hazard_count()) as u64 - 1) + hazards
    }

    /// Reads every hazard slot into `scratch`, sorted, and returns the number of hazard slots read. The fence pairs
    /// with the one in `protect` (module docs): call this only after the segments to check were retired.
    fn snapshot(&self, scratch: &mut Vec<SegmentId>) -> usize {
        fence(Ordering::SeqCst);
        scratch.clear();
        let mut hazards = 0;
        for record in self.registry.iter() {
            hazards += PROTECT_SLOTS;
            for slot in &record.slots {
                // Acquire: pairs with the Release clear (or overwrite) of a slot, so the protector's uses of a
                // segment happen before we make it reusable. (The fence above does not do that: it comes before
                // the load. The mutant is a scan that trusts the fence and reads the slots Relaxed.)
                let order =
                    if cfg!(segpool_mutant = "hazard_relaxed_scan") { Ordering::Relaxed } else { Ordering::Acquire };
                let id = slot.load(order);
                if id != NO_SEGMENT {
                    scratch.push(id);
                }
            }
        }
        scratch.sort_unstable();
        hazards
    }

    /// Makes reusable every segment of `list` that `hazards` (sorted) does not name; keeps the others.
    fn release_unprotected<S: SegmentStore<Meta = ()>>(
        &self,
        list: &mut Vec<SegmentId>,
        hazards: &[SegmentId],
        store: &S,
    ) {
        let unprotected = list.extract_if(.., |id| hazards.binary_search(id).is_err());
        store.make_reusable_all(unprotected.inspect(|_| self.counts.reused()));
    }

    /// Michael's scan: frees what no hazard slot names from this handle's list and, if it can take it at once,
    /// from the orphan list; then refreshes the threshold for the current number of records.
    fn scan<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, store: &S) {
        // Lock before the snapshot, so the snapshot comes after every orphan's retirement (module docs).
        let mut orphans = self.orphans.try_lock();
        let hazards = self.snapshot(&mut handle.scratch);
        self.release_unprotected(&mut handle.retired, &handle.scratch, store);
        if let Some(orphans) = orphans.as_mut() {
            self.release_unprotected(orphans, &handle.scratch, store);
        }
        drop(orphans);
        handle.threshold = scan_threshold(hazards);
        // Room for every slot that exists now, so that the next snapshot does not grow the buffer when more
        // slots happen to be occupied than ever before: steady state allocates nothing.
        if handle.scratch.capacity() < hazards {
            handle.scratch.reserve_exact(hazards - handle.scratch.len());
        }
        if handle.retired.capacity() < handle.threshold {
            handle.retired.reserve_exact(handle.threshold - handle.retired.len());
        }
    }

    /// Scans, then hands what someone still protects to the orphan list (unregister and park).
    fn scan_and_hand_over<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, store: &S) {
        if !handle.retired.is_empty() || !self.orphans.seem_empty() {
            self.scan(handle, store);
        }
        if !handle.retired.is_empty() {
            // Still protected by someone else: hand them over. The whole orphan list is re-filtered against a
            // snapshot taken under the lock, which keeps it to at most H segments (module docs).
            let mut orphans = self.orphans.lock();
            self.counts.orphaned(handle.retired.len());
            orphans.append(&mut handle.retired);
            self.snapshot(&mut handle.scratch);
            self.release_unprotected(&mut orphans, &handle.scratch, store);
        }
    }

    /// Clears every occupied hazard slot of the handle.
    // `#[inline]`: called at every queue operation from the user's crate, where a non-generic function is
    // otherwise an out-of-line call (generic callers are instantiated there, this function is not).
    #[inline]
    fn clear_slots(handle: &mut HazardHandle) {
        for (slot, held) in handle.entry.record.slots.iter().zip(handle.held.iter_mut()) {
            if *held {
                // Release: this operation's uses of the segment happen before a scan that reads the clear.
                slot.store(NO_SEGMENT, Ordering::Release);
                *held = false;
            }
        }
    }
}

impl Reclaim for Hazard {
    const NAME: &'static str = "hazard";
    type SegmentMeta = ();
    type Handle = HazardHandle;

    fn new(config: &Config) -> Self {
        Hazard {
            registry: Registry::new(),
            orphans: Orphans::with_capacity(config.segment_count),
            shortage: Shortage::new(),
            counts: RetiredCounts::new(),
        }
    }

    fn register(&self) -> HazardHandle {
        let entry = self.registry.acquire();
        let hazards = self.hazard_count();
        let threshold = scan_threshold(hazards);
        HazardHandle {
            entry,
            held: [false; PROTECT_SLOTS],
            // Both buffers at full size now, so that steady-state operations never allocate.
            retired: Vec::with_capacity(threshold),
            scratch: Vec::with_capacity(hazards),
            threshold,
            // Not read from the signal, to keep registration cheap: at worst one extra scan at a later `leave`.
            seen_shortage: Answered::default(),
            released: false,
        }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, store: &S) {
        debug_assert!(!handle.released, "Hazard handle unregistered twice");
        Self::clear_slots(handle);
        self.scan_and_hand_over(handle, store);
        self.registry.release(&handle.entry);
        handle.released = true;
    }

    /// A quiet handle never scans: it scans once and hands over what is still protected, as at unregister.
    fn park<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, store: &S) {
        debug_assert!(!handle.released, "Hazard handle used after unregister");
        Self::clear_slots(handle);
        self.scan_and_hand_over(handle, store);
    }

    // `#[inline]`: called at every queue operation from the user's crate, where a non-generic function is
    // otherwise an out-of-line call (generic callers are instantiated there, this function is not).
    #[inline]
    fn enter(&self, handle: &mut HazardHandle) {
        debug_assert!(!handle.released, "Hazard handle used after unregister");
    }

    fn protect<S: SegmentStore<Meta = ()>>(
        &self,
        handle: &mut HazardHandle,
        slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        debug_assert!(!handle.released, "Hazard handle used after unregister");
        let hazard = &handle.entry.record.slots[slot];
        let mut seen = src.load(Ordering::Acquire);
        loop {
            let target = SegRef::from_bits(seen);
            if target.is_none() {
                if handle.held[slot] {
                    hazard.store(NO_SEGMENT, Ordering::Release);
                    handle.held[slot] = false;
                }
                return seen;
            }
            // Release: if this replaces another index, our uses of that segment happen before its reuse.
            hazard.store(target.index(), Ordering::Release);
            handle.held[slot] = true;
            // Pairs with the fence of every scan: either the scanner sees this hazard, or the re-read below sees
            // that the source moved away from the segment (module docs).
            if !cfg!(segpool_mutant = "hazard_no_fence") {
                fence(Ordering::SeqCst);
            }
            if cfg!(segpool_mutant = "hazard_no_revalidate") {
                return seen;
            }
            let now = src.load(Ordering::Acquire);
            if now == seen {
                return seen;
            }
            seen = now;
        }
    }

    fn leave<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, store: &S) {
        debug_assert!(!handle.released, "Hazard handle used after unregister");
        Self::clear_slots(handle);
        if handle.retired.is_empty() {
            return; // nothing to give back (orphans are adopted by the `collect` that reported the shortage)
        }
        if self.shortage.must_give_back(&mut handle.seen_shortage, store) {
            self.scan(handle, store); // the free list ran dry, or a producer waits (reclaim::retired)
        }
    }

    fn retire<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, id: SegmentId, store: &S) {
        debug_assert!(!handle.released, "Hazard handle used after unregister");
        self.counts.retired();
        handle.retired.push(id);
        if handle.retired.len() >= handle.threshold {
            self.scan(handle, store);
        }
    }

    fn collect<S: SegmentStore<Meta = ()>>(&self, handle: &mut HazardHandle, store: &S) {
        debug_assert!(!handle.released, "Hazard handle used after unregister");
        if cfg!(segpool_mutant = "hazard_no_shortage") {
            // Models the bug of answering a dry free list with Michael's scheme alone, which has no shortage step:
            // no signal raised and no scan of our own, so retired segments wait for the threshold scan.
            return;
        }
        // Ask every other handle to scan at the end of its current operation, then scan ourselves.
        handle.seen_shortage = self.shortage.raise();
        self.scan(handle, store);
    }

    fn pending(&self) -> u64 {
        self.counts.pending()
    }

    /// Retired segments handed to the orphan list by an unregistering handle because they were still protected
    /// (counted once each, when handed over).
    fn orphaned(&self) -> u64 {
        self.counts.orphans()
    }
}
