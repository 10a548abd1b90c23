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
//! - [`Reclaim::collect`] flushes and drains the ready list, and makes the handle's `leave` flush once more after
//!   unpinning: while the handle is pinned the epoch can advance at most once, which is not enough for the
//!   segments retired in the current epoch (they need two advances).
//!
//! # Why a ready list
//!
//! A deferred closure runs later, on whichever thread crossbeam chooses (inside some `pin` or `flush`), possibly
//! when the strategy drops. It cannot capture the `&S` store it would need (not `'static`), and a raw pointer to the
//! segment pool would dangle if the queue were moved after its last handle dropped while closures were still
//! deferred (a `SegQueue` is not pinned, and crossbeam never promises that a deferred closure runs at all). So the
//! closure owns nothing but the segment index and an `Arc` of the ready list: it is `Send + 'static`, the safe
//! [`Guard::defer`] accepts it, and this module needs no unsafe code. The segments themselves are only touched
//! through a store that the queue passes in.
//!
//! # Why flush at every retirement
//!
//! crossbeam keeps deferred closures in a per-handle bag of 64 and publishes the bag only when it is full or on
//! [`Guard::flush`]. Garbage in another thread's bag is invisible to everybody else, so with a small pool under
//! `OnExhausted::Fail` or `Wait` a consumer's bag could hold every free segment while the producers starve, for
//! good if the consumers only see an empty queue. Crossbeam has no other way to publish a bag, so `retire` flushes
//! every time: each retired segment is in the collector's global queue (and reclaimable by anyone's `collect`)
//! before `retire` returns. The price is one sealed bag (a heap node of about 2 KiB) and one attempt to advance the
//! epoch per retired segment: negligible with 64-slot segments, noticeable with `segment_size` 1.
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
//!   has not collected yet (it collects at most 8 bags per `flush` and every 128 pins).

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_epoch::{Collector, Guard, LocalHandle};

use crate::config::Config;
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering};

/// Segments whose deferred reclamation has run, waiting to be handed to the pool by the next call that has a
/// store. Shared (through an `Arc`) with the deferred closures of [`CrossbeamEpoch`] and the retired tokens of
/// [`Haphazard`](super::Haphazard).
#[derive(Debug, Default)]
pub(super) struct ReadyList {
    ids: Mutex<Vec<SegmentId>>,
    /// Length of `ids` as of the last change: lets `take_into` skip the lock when nothing is ready. Only a hint (the
    /// ids themselves are published by the mutex); a stale zero defers the ids to the next drain.
    queued: AtomicUsize,
}

impl ReadyList {
    fn lock(&self) -> MutexGuard<'_, Vec<SegmentId>> {
        self.ids.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Marks segment `id` safe to reuse.
    pub(super) fn push(&self, id: SegmentId) {
        let mut ids = self.lock();
        ids.push(id);
        self.queued.store(ids.len(), Ordering::Relaxed);
    }

    /// Moves every ready id into `out`, which must be empty (the two buffers swap, so neither reallocates in steady
    /// state). Returns whether there was any.
    pub(super) fn take_into(&self, out: &mut Vec<SegmentId>) -> bool {
        debug_assert!(out.is_empty());
        if self.queued.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut ids = self.lock();
        std::mem::swap(&mut *ids, out);
        self.queued.store(0, Ordering::Relaxed);
        !out.is_empty()
    }

    /// Hands every ready id to `store` and counts them in `reused`. `scratch` is the caller's (empty) buffer.
    pub(super) fn drain<S: SegmentStore>(&self, scratch: &mut Vec<SegmentId>, store: &S, reused: &CounterU64) {
        if !self.take_into(scratch) {
            return;
        }
        for id in scratch.drain(..) {
            store.make_reusable(id);
            reused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The reference epoch-based strategy over `crossbeam-epoch`. See the module docs.
pub struct CrossbeamEpoch {
    collector: Collector,
    ready: Arc<ReadyList>,
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
    /// Set by `collect`: the pool ran dry during this operation, so `leave` flushes once more after unpinning.
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
}

impl Reclaim for CrossbeamEpoch {
    const NAME: &'static str = "crossbeam-epoch";
    type SegmentMeta = ();
    type Handle = CrossbeamHandle;

    fn new(_config: &Config) -> Self {
        CrossbeamEpoch {
            collector: Collector::new(),
            ready: Arc::default(),
            retired: CounterU64::new(0),
            reused: CounterU64::new(0),
        }
    }

    fn register(&self) -> CrossbeamHandle {
        CrossbeamHandle { guard: None, local: self.collector.register(), scratch: Vec::new(), short: false }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, store: &S) {
        // The participant itself is released when the handle drops, right after this.
        handle.guard = None;
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
            // participant); flushing again from a fresh pin lets it advance further, so the push that found the
            // pool dry usually finds a segment when it retries.
            handle.local.pin().flush();
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
