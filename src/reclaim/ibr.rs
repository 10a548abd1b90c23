//! Ibr: interval-based reclamation, the two-global-epoch variant 2GEIBR (Wen, Izraelevitz, Cai, Beadle & Scott,
//! "Interval-Based Memory Reclamation", PPoPP 2018), adapted to segment lives and a type-stable pool.
//!
//! Each handle reserves one interval of eras, `[lower, upper]`. [`Reclaim::enter`] reads the clock `e` and
//! publishes `[e, e]` (the upper end first, then the lower, then a `SeqCst` fence). [`Reclaim::protect`] loads the
//! source word and the clock; if the clock still reads `upper`, the load is covered and returned with no fence.
//! Otherwise it raises `upper` to the new era, fences, and loads both again. [`Reclaim::leave`] clears the lower end
//! (an interval whose lower end is [`NO_ERA`] reserves nothing). A retired life `[birth, retire]` is reusable when
//! it overlaps no reserved interval. The clock, the birth and retire eras, the scans, the shortage answers and the
//! memory-ordering argument are shared with [`HazardEras`](super::HazardEras) and written once, in
//! `reclaim::eras`; the interval is sound because both of its ends are published before the fences that the
//! argument uses (the lower end before `enter`'s, the raised upper end before `protect`'s), and a scanner reads the
//! lower end before the upper one, so a lower end it sees comes with an upper end at least as recent.
//!
//! # Why 2GEIBR, and not TagIBR or POIBR
//!
//! TagIBR carries each object's birth era in the references to it, so that a reader widens its reservation from
//! the reference it loaded. Our references already fill their 64 bits with the segment's index and generation (the
//! generation is what makes every CAS ABA-safe), so a birth era would need a wider word and a double-width CAS, which
//! loom and shuttle do not model; the generation itself is per segment, not a global era, so it cannot stand in.
//! POIBR (per-object reservations) needs a reservation per loaded object, that is hazard eras again. 2GEIBR needs
//! nothing in the references: the birth era sits in the segment's [`EraMeta`], stamped by [`Reclaim::born`].
//!
//! # What Ibr promises
//!
//! - **No stale views**, by the argument of `reclaim::eras`. [`QueueStats::stale_views`](crate::QueueStats) stays
//!   0.
//! - **Stalled threads.** A handle stopped inside an operation reserves `[lower, upper]` with `upper` fixed; it holds
//!   back only lives born at or before `upper`, so, as with hazard eras, unreclaimed segments stay below the arena's
//!   size when the clock passed `upper` plus each running handle's list, however long the stall lasts.
//! - **Idle handles hold nothing back but their list**: `leave` clears the reservation.
//! - **Progress.** As HazardEras: `protect` retries only when the clock advanced.
//! - **Costs.** Per operation: a clock load, two stores and a `SeqCst` fence at `enter` (Epoch's price), two loads
//!   per `protect` while the clock has not moved, one store at `leave`. Scans and `born` as HazardEras. No
//!   allocation after `register` in steady state.

use std::fmt;

use crate::config::Config;
use crate::reclaim::eras::{EraCore, EraHandleCore, EraMeta, Interval, NO_ERA, Reservation};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::{SegRef, SegmentId};
use crate::sync::{AtomicU64, Ordering, fence};

/// One handle's reserved interval; it reserves nothing while `lower` is [`NO_ERA`].
pub(crate) struct IntervalRecord {
    lower: AtomicU64,
    upper: AtomicU64,
}

impl Default for IntervalRecord {
    fn default() -> Self {
        IntervalRecord { lower: AtomicU64::new(NO_ERA), upper: AtomicU64::new(NO_ERA) }
    }
}

impl Reservation for IntervalRecord {
    fn reserved(&self, out: &mut Vec<Interval>) {
        // Lower first, Acquire: `enter` stores the upper end before the lower one (Release), so an upper end read
        // after a lower end is at least the one published with it.
        let lower = self.lower.load(Ordering::Acquire);
        if lower == NO_ERA {
            return;
        }
        let upper = self.upper.load(Ordering::Acquire);
        out.push(Interval { lower, upper: upper.max(lower) });
    }

    fn clear(&self) {
        self.lower.store(NO_ERA, Ordering::Release);
    }
}

/// One thread's IBR state: the shared era state of its handle and the upper end it last published.
pub struct IbrHandle {
    core: EraHandleCore<IntervalRecord>,
    /// The upper end of the reservation, or [`NO_ERA`] outside an operation.
    upper: u64,
}

impl fmt::Debug for IbrHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IbrHandle")
            .field("upper", &self.upper)
            .field("retired", &self.core.held())
            .field("released", &self.core.released)
            .finish_non_exhaustive()
    }
}

/// Interval-based reclamation (2GEIBR). See the module docs.
pub struct Ibr {
    core: EraCore<IntervalRecord>,
}

impl fmt::Debug for Ibr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ibr")
            .field("era", &self.era())
            .field("records", &self.core.registry.len())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl Ibr {
    /// The era clock now (a snapshot, for tests and reports).
    pub fn era(&self) -> u64 {
        self.core.era()
    }

    fn clear(handle: &mut IbrHandle) {
        if handle.upper != NO_ERA {
            // Release: this operation's uses of its segments happen before a scan that reads the clear.
            handle.core.entry.record.clear();
            handle.upper = NO_ERA;
        }
    }
}

impl Reclaim for Ibr {
    const NAME: &'static str = "ibr";
    type SegmentMeta = EraMeta;
    type Handle = IbrHandle;

    fn new(config: &Config) -> Self {
        Ibr { core: EraCore::new(config.segment_count) }
    }

    fn register(&self) -> IbrHandle {
        IbrHandle { core: self.core.register(), upper: NO_ERA }
    }

    fn unregister<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut IbrHandle, store: &S) {
        debug_assert!(!handle.core.released, "Ibr handle unregistered twice");
        Self::clear(handle);
        self.core.hand_over(&mut handle.core, store);
        self.core.registry.release(&handle.core.entry);
        handle.core.released = true;
    }

    fn park<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut IbrHandle, store: &S) {
        debug_assert!(!handle.core.released, "Ibr handle used after unregister");
        Self::clear(handle);
        self.core.hand_over(&mut handle.core, store);
    }

    #[inline]
    fn enter(&self, handle: &mut IbrHandle) {
        debug_assert!(!handle.core.released, "Ibr handle used after unregister");
        debug_assert_eq!(handle.upper, NO_ERA, "Ibr::enter inside an operation");
        let record = &handle.core.entry.record;
        let era = self.core.era();
        // The upper end first: a scanner that sees the new lower end sees this upper end too.
        record.upper.store(era, Ordering::Relaxed);
        record.lower.store(era, Ordering::Release);
        // Pairs with the fence of every scan (reclaim::eras, "Memory ordering").
        if !cfg!(segpool_mutant = "ibr_enter_no_fence") {
            fence(Ordering::SeqCst);
        }
        handle.upper = era;
    }

    fn protect<S: SegmentStore<Meta = EraMeta>>(
        &self,
        handle: &mut IbrHandle,
        _slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        debug_assert!(handle.upper != NO_ERA, "Ibr::protect outside an operation");
        loop {
            let seen = src.load(Ordering::Acquire);
            if SegRef::from_bits(seen).is_none() {
                return seen;
            }
            let era = self.core.era();
            if era == handle.upper || cfg!(segpool_mutant = "ibr_no_raise") {
                // The clock read `upper` before this load (when it was published) and after it. (The mutant trusts
                // the interval published at `enter` for every load, however far the clock moved since.)
                return seen;
            }
            // Release: raising the upper end publishes it to scanners that read it after the lower end.
            handle.core.entry.record.upper.store(era, Ordering::Release);
            handle.upper = era;
            fence(Ordering::SeqCst);
        }
    }

    #[inline]
    fn leave<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut IbrHandle, store: &S) {
        debug_assert!(!handle.core.released, "Ibr handle used after unregister");
        Self::clear(handle);
        self.core.after_leave(&mut handle.core, store);
    }

    #[inline]
    fn born<S: SegmentStore<Meta = EraMeta>>(&self, _handle: &mut IbrHandle, id: SegmentId, store: &S) {
        self.core.born(id, store);
    }

    fn retire<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut IbrHandle, id: SegmentId, store: &S) {
        debug_assert!(!handle.core.released, "Ibr handle used after unregister");
        self.core.retire(&mut handle.core, id, store);
    }

    fn collect<S: SegmentStore<Meta = EraMeta>>(&self, handle: &mut IbrHandle, store: &S) {
        debug_assert!(!handle.core.released, "Ibr handle used after unregister");
        self.core.collect(&mut handle.core, store, cfg!(segpool_mutant = "ibr_no_shortage"));
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
