//! CrossbeamEpoch: the reference epoch-based strategy, an adapter over the `crossbeam-epoch` crate.
//!
//! Each queue owns its own [`crossbeam_epoch::Collector`], so the epochs of one queue are not held back by pinned
//! threads of another, and all of a queue's deferred work runs at the latest when the queue (hence the collector)
//! drops. The mapping:
//!
//! - [`Reclaim::register`] registers with the collector and returns a handle that owns the resulting
//!   [`LocalHandle`] (so the handle stays on its thread, see "Handles and threads" below);
//! - [`Reclaim::enter`] pins it and keeps the [`Guard`] in the handle; [`Reclaim::leave`] drops the guard;
//! - [`Reclaim::protect`] is a plain `Acquire` load: the pin covers every segment the operation loads;
//! - [`Reclaim::retire`] defers, with [`Guard::defer`], a closure that pushes the segment's index onto a *ready
//!   list* owned by the strategy, then [`Guard::flush`]es (see below). Indices on the ready list are handed to
//!   [`SegmentStore::make_reusable`] by the next `retire`, `collect`, `leave` or `unregister` of any handle;
//! - [`Reclaim::collect`] flushes and drains the ready list, and makes the handle's `leave` *sweep* after
//!   unpinning (see "The collector's backlog" below).
//!
//! # Why a ready list
//!
//! A deferred closure runs later, on whichever thread crossbeam chooses (inside some `pin` or `flush`), possibly
//! when the strategy drops. It cannot capture the `&S` store it would need (not `'static`), and a raw pointer to the
//! segment arena would dangle if the queue were moved after its last handle dropped while closures were still
//! deferred (a `SegQueue` is not pinned, and crossbeam never promises that a deferred closure runs at all). So the
//! closure owns nothing but the segment index and an `Arc` of the ready list: it is `Send + 'static`, the safe
//! [`Guard::defer`] accepts it, and this module needs no unsafe code. The segments themselves are only touched
//! through a store that the queue passes in.
//!
//! # Why flush at every retirement
//!
//! crossbeam keeps deferred closures in a per-handle bag of 64 and publishes the bag only when it is full or on
//! [`Guard::flush`]. Garbage in another thread's bag is invisible to everybody else, so with a small arena under
//! `OnExhausted::Fail` or `Wait` a consumer's bag could hold every free segment while the producers starve, for
//! good if the consumers only see an empty queue. Crossbeam has no other way to publish a bag, so `retire` flushes
//! every time: each retired segment is in the collector's global queue (and reclaimable by anyone's `collect`)
//! before `retire` returns. The price is one sealed bag (a heap node of about 2 KiB) and one attempt to advance the
//! epoch per retired segment: negligible with 64-slot segments, noticeable with `segment_size` 1.
//!
//! # The collector's backlog
//!
//! Crossbeam collects its global queue of sealed bags in FIFO order, at most 8 bags per `flush` (and per 128th
//! pin), and only bags sealed two epoch advances ago. Every participant that is released (every dropped
//! [`CrossbeamHandle`]) pushes its bag onto that queue, even an empty one, and nothing collects beside it. So
//! after many short-lived handles the bag of a segment retired later sits behind as many bags as handles were
//! dropped: after 3,000 handles dropped together, a push refused by `OnExhausted::Fail` was refused 187 times in a
//! row (each refused push flushed twice, 16 bags).
//!
//! Hence the sweep. The strategy counts released participants since the last sweep; a handle whose operation called
//! `collect` (the free list ran dry) flushes, after unpinning, from fresh pins again and again until a deferred
//! reclamation has put a segment on the ready list, nothing retired is pending any more, or it has flushed
//! `released / 4 + SWEEP_EXTRA` times (a flush collects 8 bags, so one flush per 8 released participants would do for
//! their own bags; one per 4 leaves room for crossbeam's garbage queued alongside, such as the destruction of each
//! released participant's record, and `SWEEP_EXTRA` (3) for the two advances that the segment's own bag needs). While
//! the handle is pinned the epoch can advance at most once, which is why the sweep runs after unpinning. A sweep
//! consumes the count (when it stops early, it puts back what its flushes, 8 bags each, cannot have collected), so in
//! all, sweeps flush at most once per 4 released participants plus 3 times per pool-dry event: that is the remaining
//! cost, paid by the operations that found the pool dry. Each flush tries to advance the epoch (a walk over every
//! registered participant) and runs the deferred closures of up to 8 bags. In the 3,000-handle case above, one sweep of
//! 374 flushes, in the leave of the first refused push, lets the retry succeed. With a pinned, stalled thread no flush
//! can advance the epoch, so those flushes are wasted, but they stay within the same bound. Bags that pile up for other
//! reasons (retirements while a stalled thread holds the epoch back) are not counted; later flushes, 8 bags each, work
//! through them.
//!
//! # Handles and threads
//!
//! [`LocalHandle`] and [`Guard`] are `!Send`: crossbeam's per-participant state uses non-atomic counters that only
//! the owning thread may touch. [`CrossbeamHandle`] holds both directly, so it is `!Send` as well, and so are the
//! queue's [`Handle`](crate::Handle) over it and the pool's [`Submitter`](crate::pool::Submitter): each thread takes
//! its own handle, and the compiler rejects moving one to another thread.
//!
//! ```compile_fail,E0277
//! use segpool::{CrossbeamEpoch, Handle, SegQueue};
//!
//! let queue: SegQueue<u64, CrossbeamEpoch> = SegQueue::new();
//! let mut handle: Handle<'_, u64, CrossbeamEpoch> = queue.handle();
//! std::thread::scope(|s| {
//!     // error[E0277]: `*const crossbeam_epoch::internal::Local` cannot be sent between threads safely
//!     s.spawn(move || handle.push(1));
//! });
//! ```
//!
//! The same code compiles with any other strategy, whose handles are `Send`:
//!
//! ```
//! use segpool::{Handle, Hazard, SegQueue};
//!
//! let queue: SegQueue<u64, Hazard> = SegQueue::new();
//! let mut handle: Handle<'_, u64, Hazard> = queue.handle();
//! std::thread::scope(|s| {
//!     s.spawn(move || handle.push(1));
//! });
//! assert_eq!(queue.pop(), Some(1));
//! ```
//!
//! # What CrossbeamEpoch promises
//!
//! - **No stale views**, by crossbeam's guarantee: a deferred closure runs only after every thread pinned when it
//!   was deferred has unpinned, and a segment is deferred only after it was unlinked.
//! - **Stalled threads** hold the epoch back as in any EBR scheme: while a thread stays pinned, nothing retired by
//!   anyone becomes reusable, so [`Reclaim::pending`] grows with the others' traffic.
//! - **Unreclaimed segments** without stalls: those retired in the last two epochs plus those whose bags crossbeam
//!   has not collected yet (it collects at most 8 bags per `flush` and every 128 pins); when the free list runs dry,
//!   the sweep works through the bags that released handles left ahead of them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crossbeam_epoch::{Collector, Guard, LocalHandle};

use super::ready::ReadyList;
use crate::config::Config;
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering};

/// Flushes of a sweep beyond those paid for by released participants: a segment's bag is collected only two
/// epoch advances after its seal, and each flush advances the epoch at most once (module docs, "The collector's
/// backlog").
const SWEEP_EXTRA: usize = 3;

/// Bags one flush collects at most (crossbeam-epoch 0.9's `Global::COLLECT_STEPS`).
const BAGS_PER_FLUSH: usize = 8;

/// Released participants that one flush of a sweep is budgeted for: half of [`BAGS_PER_FLUSH`], leaving room for
/// crossbeam's own garbage queued alongside their bags.
const RELEASED_PER_FLUSH: usize = BAGS_PER_FLUSH / 2;

/// The reference epoch-based strategy over `crossbeam-epoch`. See the module docs.
pub struct CrossbeamEpoch {
    collector: Collector,
    ready: Arc<ReadyList>,
    /// Participants released (handles unregistered) since a sweep last accounted for them: each left a bag in the
    /// collector's queue that no collection accompanied. Relaxed: it only bounds the work of a sweep.
    released: AtomicUsize,
    retired: CounterU64,
    reused: CounterU64,
}

impl fmt::Debug for CrossbeamEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrossbeamEpoch")
            .field("retired", &self.retired.load(Ordering::Relaxed))
            .field("reused", &self.reused.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One thread's [`CrossbeamEpoch`] state: its crossbeam participant, the pin of the operation in progress, and a
/// buffer for draining the ready list. `!Send`, like crossbeam's [`LocalHandle`] and [`Guard`] (see the module
/// docs).
pub struct CrossbeamHandle {
    /// The pin of the operation in progress (between `enter` and `leave`). Declared before `local` so that, should
    /// a handle be dropped mid-operation, it unpins before the participant is released.
    guard: Option<Guard>,
    local: LocalHandle,
    scratch: Vec<SegmentId>,
    /// Set by `collect`: the free list ran dry during this operation, so `leave` sweeps after unpinning.
    short: bool,
}

impl fmt::Debug for CrossbeamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrossbeamHandle").field("pinned", &self.guard.is_some()).finish_non_exhaustive()
    }
}

impl CrossbeamEpoch {
    fn drain<S: SegmentStore>(&self, handle: &mut CrossbeamHandle, store: &S) {
        self.ready.drain(&mut handle.scratch, store, &self.reused);
    }

    /// Flushes the handle's bag and lets crossbeam run whatever deferred closures are due, using the operation's
    /// guard (or a short pin outside an operation).
    fn flush(&self, handle: &CrossbeamHandle) {
        match &handle.guard {
            Some(guard) => guard.flush(),
            None => handle.local.pin().flush(),
        }
    }

    /// The free list ran dry during the operation that just ended: flush from fresh pins until a segment's deferred
    /// reclamation has run, nothing retired is pending, or the bound is reached (module docs, "The collector's
    /// backlog"). The handle must be unpinned: a pinned handle would hold the epoch back.
    fn sweep(&self, handle: &CrossbeamHandle) {
        debug_assert!(handle.guard.is_none(), "sweep inside an operation");
        if self.pending() == 0 {
            return; // nothing is waiting in the collector (a full queue, not reclamation, drained the pool)
        }
        let released = self.released.swap(0, Ordering::Relaxed);
        let bound = released.div_ceil(RELEASED_PER_FLUSH) + SWEEP_EXTRA;
        let mut flushes = 0;
        while flushes < bound && !self.ready.any_ready() && self.pending() > 0 {
            handle.local.pin().flush();
            flushes += 1;
        }
        // Stopped early: these flushes collected at most `BAGS_PER_FLUSH` bags each, so leave the rest of the count
        // to the next sweep. (Each unit of the count still buys at most 1 / RELEASED_PER_FLUSH flush in all.)
        let left = released.saturating_sub(flushes * BAGS_PER_FLUSH);
        if left > 0 {
            self.released.fetch_add(left, Ordering::Relaxed);
        }
    }
}

impl Reclaim for CrossbeamEpoch {
    const NAME: &'static str = "crossbeam-epoch";
    type SegmentMeta = ();
    type Handle = CrossbeamHandle;

    fn new(_config: &Config) -> Self {
        CrossbeamEpoch {
            collector: Collector::new(),
            ready: Arc::default(),
            released: AtomicUsize::new(0),
            retired: CounterU64::new(0),
            reused: CounterU64::new(0),
        }
    }

    fn register(&self) -> CrossbeamHandle {
        CrossbeamHandle { guard: None, local: self.collector.register(), scratch: Vec::new(), short: false }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, store: &S) {
        // The participant itself is released when the handle drops, right after this, and leaves its bag in the
        // collector's queue: count it for the next sweep.
        handle.guard = None;
        self.released.fetch_add(1, Ordering::Relaxed);
        self.drain(handle, store);
    }

    fn enter(&self, handle: &mut CrossbeamHandle) {
        debug_assert!(handle.local.collector() == &self.collector, "a handle of another CrossbeamEpoch");
        debug_assert!(handle.guard.is_none(), "enter inside an operation");
        handle.guard = Some(handle.local.pin());
    }

    fn protect<S: SegmentStore<Meta = ()>>(
        &self,
        _handle: &mut CrossbeamHandle,
        _slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        // The pin taken in `enter` was visible (crossbeam pins with a SeqCst fence) before this load, and covers
        // every segment loaded until `leave`.
        src.load(Ordering::Acquire)
    }

    fn leave<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, store: &S) {
        handle.guard = None;
        if std::mem::take(&mut handle.short) {
            // Our own pin held the epoch back during `collect` (it can advance at most once past a pinned
            // participant), and released handles may have left many bags ahead of the retired segments': sweep,
            // so that the push that found the pool dry finds a segment when it retries.
            self.sweep(handle);
        }
        self.drain(handle, store);
    }

    fn retire<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, id: SegmentId, store: &S) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        let ready = Arc::clone(&self.ready);
        match &handle.guard {
            Some(guard) => guard.defer(move || ready.push(id)),
            None => handle.local.pin().defer(move || ready.push(id)), // outside an operation (not done by the queue)
        }
        self.flush(handle);
        self.drain(handle, store);
    }

    fn collect<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, store: &S) {
        self.flush(handle);
        handle.short = true;
        self.drain(handle, store);
    }

    fn pending(&self) -> u64 {
        let reused = self.reused.load(Ordering::Relaxed);
        self.retired.load(Ordering::Relaxed).saturating_sub(reused)
    }
}
