//! Qsbr: quiescent-state-based reclamation (McKenney & Slingwine 1998, the scheme of Linux's classic RCU and
//! liburcu's `urcu-qsbr`), on the epoch machinery of [`Epoch`].
//!
//! The lower bound on reclamation cost: a thread declares, now and then, that it holds no reference at all (a
//! *quiescent state*), and a retired segment is reusable once every thread has declared one since its unlink.
//! Nothing is published per operation. Here:
//!
//! - A handle is *online* from its first [`Reclaim::enter`] until it parks or unregisters ([`Reclaim::park`] is
//!   quiescent by definition: the thread goes quiet between operations). Online, its record shows the last epoch it
//!   *announced*, in exactly the word Epoch uses for a pin, so Epoch's step (seal, advance, free at `G >= r + 2`)
//!   serves unchanged: an advance from `e` waits until every online record shows `e`.
//! - A quiescent state is announced at the end of every `PERIOD`-th operation ([`Reclaim::leave`]; `PERIOD` is 1
//!   unless a user who batches picks more, as `Qsbr<64>`), and whenever the user calls
//!   [`Handle::quiesce`](crate::Handle::quiesce). Announcing costs one load of `G` when `G` has not moved since the
//!   handle's last announcement (nothing new to say); when it moved, the handle publishes the new epoch as Epoch's
//!   `enter` pins (store, `SeqCst` fence, re-read), once per epoch, not once per operation. If it holds retired
//!   segments, that fence then serves as a step's (Epoch's seal, advance and free): the last handle to announce
//!   ends the grace period itself, without waiting for someone's next threshold step.
//! - [`Reclaim::enter`] does nothing on an online handle and [`Reclaim::protect`] is a plain load: the
//!   announcement covers every operation until the next one.
//!
//! So per operation a `Qsbr` handle pays one load of the read-mostly global epoch, where Epoch pays a store, a
//! `SeqCst` fence and two loads: on x86 the fence is a locked instruction of some 30 cycles.
//!
//! # What Qsbr promises
//!
//! - **No stale views**, by Epoch's argument (module docs of [`crate::reclaim::epoch`], "Why two epochs") with
//!   the announcement in the role of the pin: take a load `L` of segment `s` before its unlink; the last
//!   announcement `T` made before `L` published `l` with fence `F_T` before `L`, so the seal of `s` reads `r >= l`,
//!   and the advance from `l + 1` must read `T`'s record after `F_T`. It cannot see `l` there; every later store
//!   of `T` (the next announcement that found `G` moved, or going offline) comes after the operation of `L` has
//!   ended, and is `Release`. An announcement skipped because `G` had not moved publishes nothing, so it changes
//!   nothing in the argument.
//! - **A handle that never quiesces** (online and idle, or stalled inside an operation) lets `G` advance at most
//!   once more, and from then on nothing retired by anyone is reclaimed: unreclaimed segments grow without bound,
//!   exactly as under a pinned epoch. Unlike Epoch, an *idle* online handle blocks too: Epoch's handle is
//!   unpinned between operations, Qsbr's stays online until it parks, unregisters or quiesces. Pool workers park
//!   before they sleep, so an idle pool does not block; a `Handle` kept idle by the user does (`tests/qsbr.rs`
//!   measures both).
//! - **Few segments**: shortages are answered as Epoch answers them (the shortage signal, a step at `leave`),
//!   with the handle announcing before and after that step, since its own record would hold the advance back.
//! - **Unreclaimed segments** otherwise: Epoch's (about [`COLLECT_THRESHOLD`](super::epoch::COLLECT_THRESHOLD)
//!   `+ 1` per handle), plus up to `PERIOD - 1` operations' worth of delay per handle.
//! - **Progress**: every call is wait-free but the announcement, which retries only when `G` advanced meanwhile.
//! - **Costs**: one load per `leave` when `G` is unchanged; a store, a fence and a load when it moved, plus a step
//!   without its fence (a load per registered record, at most one CAS, a pass over the bag) if the handle holds
//!   retired segments; the step costs of Epoch per two retirements at most. No allocation after `register`.
//!   Measured against freeing only at the announcement (no advance there): faster at SegmentSize 64 (queue 0.73x
//!   against Hazard in one A/B pair, 1.03x before), no clear change at SegmentSize 1; the machine's speed moved by
//!   2x between the two runs, so only the ratios were compared.

use std::fmt;

use crate::config::Config;
use crate::reclaim::epoch::{Epoch, EpochHandle};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::{AtomicU64, Ordering};

/// Quiescent-state-based reclamation, announcing a quiescent state every `PERIOD` operations. See the module docs.
pub struct Qsbr<const PERIOD: u32 = 1> {
    epoch: Epoch,
}

/// One thread's Qsbr state: Epoch's handle, whose pinned record means *online*, and the operations since its last
/// announcement.
pub struct QsbrHandle {
    inner: EpochHandle,
    since_quiescent: u32,
}

impl fmt::Debug for QsbrHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QsbrHandle")
            .field("online", &self.inner.pinned)
            .field("announced", &self.inner.epoch)
            .field("since_quiescent", &self.since_quiescent)
            .field("epoch", &self.inner)
            .finish()
    }
}

impl<const PERIOD: u32> fmt::Debug for Qsbr<PERIOD> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Qsbr").field("period", &PERIOD).field("epoch", &self.epoch).finish()
    }
}

impl<const PERIOD: u32> Qsbr<PERIOD> {
    /// The global epoch now (a snapshot, for tests and reports).
    pub fn epoch(&self) -> u64 {
        self.epoch.epoch()
    }

    /// Announces a quiescent state: the handle holds no segment now. Publishes the global epoch if it moved since
    /// the handle's last announcement (module docs); an offline handle stays offline.
    #[inline]
    fn announce<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, store: &S) {
        handle.since_quiescent = 0;
        if !handle.inner.pinned {
            return;
        }
        if self.epoch.global.load(Ordering::Relaxed) == handle.inner.epoch {
            return;
        }
        if cfg!(segpool_mutant = "qsbr_announce_no_fence") {
            // Models an announcement that trusts the load it just made, as a plain store with no fence after it:
            // the handle's next operations can then load segments whose seal reads an older epoch.
            let now = self.epoch.global.load(Ordering::Relaxed);
            handle.inner.publish_unfenced(now);
            return;
        }
        self.epoch.pin(&mut handle.inner);
        if !handle.inner.bag_is_empty() {
            // The epoch moved, and the announcement's fence serves as a step's: seal, advance if every online
            // handle has announced, free what expired. The last handle to announce ends the grace period itself.
            self.epoch.step_after_pin(&mut handle.inner, store);
        }
    }
}

impl<const PERIOD: u32> Reclaim for Qsbr<PERIOD> {
    const NAME: &'static str = "qsbr";
    type SegmentMeta = ();
    type Handle = QsbrHandle;

    fn validate_config(config: &Config) -> Result<(), crate::config::ConfigError> {
        const { assert!(PERIOD >= 1, "Qsbr's PERIOD counts operations between announcements: at least 1") };
        Epoch::validate_config(config)
    }

    fn new(config: &Config) -> Self {
        Qsbr { epoch: Epoch::new(config) }
    }

    /// The new handle is offline: it goes online at its first `enter`, so a handle made and never used holds
    /// nothing back.
    fn register(&self) -> QsbrHandle {
        QsbrHandle { inner: self.epoch.register(), since_quiescent: 0 }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, store: &S) {
        // Epoch's unregister goes offline (unpins) first, then steps and hands the bag over.
        self.epoch.unregister(&mut handle.inner, store);
    }

    /// Goes offline (a quiescent state that lasts), then steps and hands the bag over as Epoch's `park` does.
    fn park<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, store: &S) {
        if !cfg!(segpool_mutant = "qsbr_park_stays_online") {
            // (The mutant models a park that only hands the bag over: the sleeping worker's record then holds the
            // epoch back for as long as it sleeps.)
            Epoch::unpin(&mut handle.inner);
        }
        if handle.inner.pinned {
            self.announce(handle, store);
            // Epoch's park expects an unpinned handle; the mutant's stays online, so step and keep the bag here.
            self.epoch.step(&mut handle.inner, store);
            return;
        }
        self.epoch.park(&mut handle.inner, store);
    }

    #[inline]
    fn enter(&self, handle: &mut QsbrHandle) {
        debug_assert!(!handle.inner.released, "Qsbr handle used after unregister");
        if !handle.inner.pinned {
            self.epoch.pin(&mut handle.inner); // online again: announce before the first load
        }
    }

    #[inline]
    fn protect<S: SegmentStore<Meta = ()>>(
        &self,
        handle: &mut QsbrHandle,
        _slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        debug_assert!(handle.inner.pinned, "Qsbr::protect on an offline handle");
        // The last announcement covers whatever this load returns (module docs).
        src.load(Ordering::Acquire)
    }

    #[inline]
    fn leave<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, store: &S) {
        handle.since_quiescent += 1;
        if handle.since_quiescent >= PERIOD {
            self.announce(handle, store);
        }
        if self.epoch.shortage.must_give_back(&mut handle.inner.seen_shortage, store) {
            // The free list ran dry, or a producer waits: our own record must not hold the advance back, so
            // announce around the step (between operations we hold nothing).
            self.announce(handle, store);
            self.epoch.step(&mut handle.inner, store);
            self.announce(handle, store);
        }
    }

    fn quiesce<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, store: &S) {
        self.announce(handle, store);
    }

    fn retire<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, id: SegmentId, store: &S) {
        self.epoch.retire(&mut handle.inner, id, store);
    }

    fn collect<S: SegmentStore<Meta = ()>>(&self, handle: &mut QsbrHandle, store: &S) {
        // Inside an operation: no announcement here (this handle may hold segments), only Epoch's signal and step.
        self.epoch.collect(&mut handle.inner, store);
    }

    fn pending(&self) -> u64 {
        self.epoch.pending()
    }

    fn orphaned(&self) -> u64 {
        self.epoch.orphaned()
    }
}
