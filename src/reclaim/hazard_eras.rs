//! HazardEras: hazard eras (Ramalhete & Correia, "Brief Announcement: Hazard Eras - Non-Blocking Memory
//! Reclamation", SPAA 2017), adapted to segment lives and a type-stable pool.
//!
//! Hazard pointers publish *which* segment a thread reads; hazard eras publish *when*: each of a handle's
//! [`PROTECT_SLOTS`] protection slots holds an era of the shared clock (or [`NO_ERA`]). The first
//! [`Reclaim::protect`] of an operation in a slot publishes the clock's current era and runs a `SeqCst` fence;
//! every protect then loads the source word and the clock, and if the clock still shows the era the slot publishes,
//! the load is covered and returned with no further fence. Otherwise it publishes the new era, fences, and loads
//! both again. (Publishing before the first load means one load of the contended source word per operation where
//! a hazard pointer needs two: it must load the word to learn what to publish, then re-read it.) A retired life `[birth, retire]` is reusable when no published era falls inside it. The clock, the birth
//! and retire eras, the scans, the shortage answers and the memory-ordering argument are shared with
//! [`Ibr`](super::Ibr) and written once, in `reclaim::eras` (a published era `e` is the interval `[e, e]`).
//!
//! # What HazardEras promises
//!
//! - **No stale views**, by the argument of `reclaim::eras`: a life is made reusable only when no era under which
//!   a handle could have loaded it is still published. [`QueueStats::stale_views`](crate::QueueStats) stays 0.
//! - **Stalled threads.** A handle stopped inside an operation publishes at most [`PROTECT_SLOTS`] eras, all at or
//!   below the era `u` it last published. It holds back only lives born at or before `u`: once the clock passes
//!   `u` (the next scan of any other handle advances it), no life begun later is held back, so unreclaimed segments
//!   stay below the arena's size at that moment plus each running handle's list, however long the stall lasts.
//!   That is the hazard-pointer guarantee (bounded) at an epoch-like price. Unlike Hazard, the stall may hold back
//!   segments it never read: every life that was alive at its era.
//! - **Idle handles hold nothing back but their list**: [`Reclaim::leave`] clears the published eras (one store per
//!   slot used), so a handle between operations publishes none.
//! - **Progress.** `protect` retries only when the clock advanced, that is when some scan completed; the other
//!   calls run in steps bounded by the number of records and the list length (the orphan list is only
//!   `try_lock`ed, except by `park` and `unregister` when they have orphans to hand over).
//! - **Costs.** Per operation: the first `protect` publishes (a clock load, a store and a `SeqCst` fence), as a
//!   hazard pointer does, then loads the source word once and the clock once; later protects of the same operation
//!   (a push that retries, `len`) skip the fence while the clock has not moved. Per `leave`, a store per slot used. Per scan (every [`SCAN_THRESHOLD`] retirements or more): a fence, a
//!   load per slot of every record, a pass over the list, and one `fetch_add` on the clock. A `born` is a load and
//!   a store. No allocation after `register` in steady state.
//!
//! [`SCAN_THRESHOLD`]: super::eras::SCAN_THRESHOLD

use std::fmt;

use crate::config::Config;
use crate::reclaim::eras::{EraCore, EraHandleCore, EraMeta, Interval, NO_ERA, Reservation};
use crate::reclaim::{PROTECT_SLOTS, Reclaim, SegmentStore};
use crate::segment::{SegRef, SegmentId};
use crate::sync::{AtomicU64, Ordering, fence};

/// One handle's published eras, one per protection slot ([`NO_ERA`] when empty).
pub(crate) struct ErasRecord {
    eras: [AtomicU64; PROTECT_SLOTS],
}

impl Default for ErasRecord {
    fn default() -> Self {
        ErasRecord { eras: std::array::from_fn(|_| AtomicU64::new(NO_ERA)) }
    }
}

impl Reservation for ErasRecord {
    fn reserved(&self, out: &mut Vec<Interval>) {
        for slot in &self.eras {
            // Acquire: pairs with the Release clear or update (trait docs).
            let era = slot.load(Ordering::Acquire);
            if era != NO_ERA {
                out.push(Interval { lower: era, upper: era });
            }
        }
    }

    fn clear(&self) {
        for slot in &self.eras {
            slot.store(NO_ERA, Ordering::Release);
        }
    }
}

/// One thread's hazard-era state: the shared era state of its handle, and the eras its slots publish.
pub struct HazardErasHandle {
    core: EraHandleCore<ErasRecord>,
    /// What each slot of the record holds (only this handle writes them).
    published: [u64; PROTECT_SLOTS],
}

impl fmt::Debug for HazardErasHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HazardErasHandle")
            .field("published", &self.published)
            .field("retired", &self.core.held())
            .field("released", &self.core.released)
            .finish_non_exhaustive()
    }
}

/// Hazard-era reclamation. See the module docs.
pub struct HazardEras {
    core: EraCore<ErasRecord>,
}

impl fmt::Debug for HazardEras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HazardEras")
            .field("era", &self.era())
            .field("records", &self.core.registry.len())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl HazardEras {
    /// The era clock now (a snapshot, for tests and reports).
    pub fn era(&self) -> u64 {
        self.core.era()
    }

    /// Publishes `era` in a slot of the handle's record.
    #[inline]
    fn publish(slot: &AtomicU64, era: u64) {
        // Release: if this replaces an era, this slot's earlier uses happen before a reuse that reads it.
        slot.store(era, Ordering::Release);
        // Pairs with the fence of every scan: either the scanner sees this era, or the load that follows sees the
        // source moved away from a segment it retires.
        if !cfg!(segpool_mutant = "hazard_eras_no_fence") {
            fence(Ordering::SeqCst);
        }
    }

    fn clear_slots(handle: &mut HazardErasHandle) {
        for (slot, published) in handle.core.entry.record.eras.iter().zip(handle.published.iter_mut()) {
            if *published != NO_ERA {
                // Release: this operation's uses of its segments happen before a scan that reads the clear.
                slot.store(NO_ERA, Ordering::Release);
                *published = NO_ERA;
            }
        }
    }
}

impl Reclaim for HazardEras {
    const NAME: &'static str = "hazard-eras";
    type SegmentMeta = EraMeta;
    type Handle = HazardErasHandle;

    fn new(config: &Config) -> Self {
        HazardEras { core: EraCore::new(config.segment_count) }
    }

    fn register(&self) -> HazardErasHandle {
        HazardErasHandle { core: self.core.register(), published: [NO_ERA; PROTECT_SLOTS] }
    }

    fn unregister<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut HazardErasHandle, store: &S) {
        debug_assert!(!handle.core.released, "HazardEras handle unregistered twice");
        Self::clear_slots(handle);
        self.core.hand_over(&mut handle.core, store);
        self.core.registry.release(&handle.core.entry);
        handle.core.released = true;
    }

    fn park<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut HazardErasHandle, store: &S) {
        debug_assert!(!handle.core.released, "HazardEras handle used after unregister");
        Self::clear_slots(handle);
        self.core.hand_over(&mut handle.core, store);
    }

    #[inline]
    fn enter(&self, handle: &mut HazardErasHandle) {
        debug_assert!(!handle.core.released, "HazardEras handle used after unregister");
    }

    fn protect<S: SegmentStore<Meta = EraMeta>>(
        &self,
        handle: &mut HazardErasHandle,
        slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        debug_assert!(!handle.core.released, "HazardEras handle used after unregister");
        let record = &handle.core.entry.record.eras[slot];
        let mut era = handle.published[slot];
        if era == NO_ERA {
            // The operation's first protect in this slot publishes before it loads anything, so the load below is
            // its only load of the (contended) source word when the clock does not move meanwhile.
            era = self.core.era();
            Self::publish(record, era);
            handle.published[slot] = era;
        }
        loop {
            let seen = src.load(Ordering::Acquire);
            if SegRef::from_bits(seen).is_none() {
                return seen;
            }
            let now = self.core.era();
            if now == era {
                // The clock read this era before the load (when it was published) and after it: the load happened
                // under the published era (reclaim::eras, "Memory ordering").
                return seen;
            }
            Self::publish(record, now);
            handle.published[slot] = now;
            era = now;
            if cfg!(segpool_mutant = "hazard_eras_no_revalidate") {
                // Models trusting the load made before the new era was published.
                return seen;
            }
        }
    }

    #[inline]
    fn leave<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut HazardErasHandle, store: &S) {
        debug_assert!(!handle.core.released, "HazardEras handle used after unregister");
        Self::clear_slots(handle);
        self.core.after_leave(&mut handle.core, store);
    }

    #[inline]
    fn born<S: SegmentStore<Meta = EraMeta>>(&self, _handle: &mut HazardErasHandle, id: SegmentId, store: &S) {
        self.core.born(id, store);
    }

    fn retire<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut HazardErasHandle, id: SegmentId, store: &S) {
        debug_assert!(!handle.core.released, "HazardEras handle used after unregister");
        self.core.retire(&mut handle.core, id, store);
    }

    fn collect<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut HazardErasHandle, store: &S) {
        debug_assert!(!handle.core.released, "HazardEras handle used after unregister");
        self.core.collect(&mut handle.core, store, cfg!(segpool_mutant = "hazard_eras_no_shortage"));
    }

    fn pending(&self) -> u64 {
        self.core.counts.pending()
    }

    /// Retired lives handed to the orphan list by handles that unregistered or parked while they were still
    /// overlapped (counted once each, when handed over).
    fn orphaned(&self) -> u64 {
        self.core.counts.orphans()
    }
}
