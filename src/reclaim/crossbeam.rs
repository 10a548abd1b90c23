//! CrossbeamEpoch: the reference epoch-based strategy, an adapter over the `crossbeam-epoch` crate.
//!
//! Each queue owns its own [`crossbeam_epoch::Collector`], so the epochs of one queue are not held back by pinned
//! threads of another, and all of a queue's deferred work runs at the latest when the queue (hence the collector)
//! drops. The mapping:
//!
//! - [`Reclaim::register`] returns a handle that registers with the collector (a [`LocalHandle`]) lazily, at its
//!   first operation, on the thread that performs it (see "Handles and threads" below);
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
//! [`Guard::defer`] accepts it, and this module needs no unsafe code besides the thread binding below. The
//! segments themselves are only touched through a store that the queue passes in.
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
//! the owning thread may touch, and it documents no exception for handles that are idle. The [`Reclaim`] trait
//! requires `Handle: Send`. [`CrossbeamHandle`] therefore *binds* the crossbeam state to the thread that registered
//! it (the first thread that used the handle), checking the thread at every access, like the `fragile` and
//! `send_wrapper` crates:
//!
//! - a handle can be created on one thread and moved to another before its first operation (registration is lazy);
//! - an operation on a handle that was registered on a different thread **panics** (in `enter`, before the queue
//!   touches anything);
//! - dropping or unregistering such a handle on a different thread **leaks** its crossbeam participant instead of
//!   touching it: about 2 KiB, plus the collector it keeps alive (with whatever closures are still deferred in it)
//!   after the queue drops. An idle leaked participant is unpinned, so it does not hold the epoch back.
//!
//! If the trait's `Handle: Send` bound were relaxed, the binding could go and the compiler would reject the misuse.
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
use std::mem::ManuallyDrop;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

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

/// One thread's [`CrossbeamEpoch`] state: its crossbeam participant (registered at the first operation and bound to
/// that thread, see the module docs) and a buffer for draining the ready list.
pub struct CrossbeamHandle {
    participant: Option<Participant>,
    scratch: Vec<SegmentId>,
    /// Set by `collect`: the pool ran dry during this operation, so `leave` flushes once more after unpinning.
    short: bool,
}

impl fmt::Debug for CrossbeamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = self.participant.as_ref().map(|participant| participant.owner);
        f.debug_struct("CrossbeamHandle").field("registered_on", &owner).finish_non_exhaustive()
    }
}

/// The crossbeam state of a handle, usable only on the thread that registered it.
struct Participant {
    owner: ThreadId,
    /// Dropped (in `Drop`) only on `owner`; leaked on any other thread.
    state: ManuallyDrop<Pinnable>,
}

/// Field order: the guard (if an operation is in progress) unpins before the handle is released.
struct Pinnable {
    guard: Option<Guard>,
    local: LocalHandle,
}

// SAFETY: `Participant` is the only way to reach its `Pinnable` (a `!Send` `LocalHandle` and `Guard`), and it
// hands it out only on the thread that created it: `state` checks the current thread against `owner` (thread ids are
// never reused), and `Drop` leaks the value on any other thread instead of dropping it. Moving a `Participant` to
// another thread therefore moves the crossbeam values' bytes without anything on that thread ever using, dropping
// or referencing them, which is exactly what `!Send` forbids; this is the `fragile`/`send_wrapper` pattern. No
// `Sync` is claimed.
unsafe impl Send for Participant {}

impl Participant {
    fn register(collector: &Collector) -> Self {
        Participant {
            owner: thread::current().id(),
            state: ManuallyDrop::new(Pinnable { guard: None, local: collector.register() }),
        }
    }

    /// The crossbeam state, or `None` on a thread other than the one that registered it.
    fn state(&mut self) -> Option<&mut Pinnable> {
        (thread::current().id() == self.owner).then_some(&mut *self.state)
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        if thread::current().id() == self.owner {
            // SAFETY: on the owning thread (the binding above), and `state` is never used again: this is `Drop`.
            unsafe { ManuallyDrop::drop(&mut self.state) };
        }
        // Elsewhere the crossbeam state is leaked (see the module docs): it must not be touched off its thread.
    }
}

impl CrossbeamHandle {
    /// The participant's state for an operation on this thread, registering on first use.
    ///
    /// # Panics
    ///
    /// If the handle was registered on another thread.
    fn state(&mut self, collector: &Collector) -> &mut Pinnable {
        let participant = self.participant.get_or_insert_with(|| Participant::register(collector));
        let owner = participant.owner;
        let Some(state) = participant.state() else {
            panic!(
                "a CrossbeamEpoch handle registered on thread {owner:?} was used on thread {:?}: crossbeam-epoch \
                 handles are bound to their thread (take one handle per thread)",
                thread::current().id()
            );
        };
        debug_assert!(state.local.collector() == collector, "a handle of another CrossbeamEpoch");
        state
    }
}

impl CrossbeamEpoch {
    fn drain<S: SegmentStore>(&self, handle: &mut CrossbeamHandle, store: &S) {
        self.ready.drain(&mut handle.scratch, store, &self.reused);
    }

    /// Flushes the handle's bag and lets crossbeam run whatever deferred closures are due, using the operation's
    /// guard (or a short pin outside an operation).
    fn flush(&self, state: &Pinnable) {
        match &state.guard {
            Some(guard) => guard.flush(),
            None => state.local.pin().flush(),
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
        CrossbeamHandle { participant: None, scratch: Vec::new(), short: false }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, store: &S) {
        // On the owning thread this unpins (if needed) and releases the participant; elsewhere it leaks it.
        handle.participant = None;
        self.drain(handle, store);
    }

    fn enter(&self, handle: &mut CrossbeamHandle) {
        let state = handle.state(&self.collector);
        debug_assert!(state.guard.is_none(), "enter inside an operation");
        state.guard = Some(state.local.pin());
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
        if let Some(participant) = &mut handle.participant {
            match participant.state() {
                Some(state) => {
                    state.guard = None;
                    if std::mem::take(&mut handle.short) {
                        // Our own pin held the epoch back during `collect` (it can advance at most once past a
                        // pinned participant); flushing again from a fresh pin lets it advance further, so the push
                        // that found the pool dry usually finds a segment when it retries.
                        state.local.pin().flush();
                    }
                }
                // Only a `Stall` dropped on another thread gets here. Keep the pin (the owner's unregister drops
                // it) rather than touch it from here; do not panic again while unwinding.
                None if thread::panicking() => return,
                None => panic!("a CrossbeamEpoch operation was ended on another thread than the one it started on"),
            }
        }
        self.drain(handle, store);
    }

    fn retire<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, id: SegmentId, store: &S) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        let ready = Arc::clone(&self.ready);
        let state = handle.state(&self.collector);
        match &state.guard {
            Some(guard) => guard.defer(move || ready.push(id)),
            None => state.local.pin().defer(move || ready.push(id)), // outside an operation (not done by the queue)
        }
        self.flush(state);
        self.drain(handle, store);
    }

    fn collect<S: SegmentStore<Meta = ()>>(&self, handle: &mut CrossbeamHandle, store: &S) {
        let state = handle.state(&self.collector);
        self.flush(state);
        handle.short = true;
        self.drain(handle, store);
    }

    fn pending(&self) -> u64 {
        let reused = self.reused.load(Ordering::Relaxed);
        self.retired.load(Ordering::Relaxed).saturating_sub(reused)
    }
}
