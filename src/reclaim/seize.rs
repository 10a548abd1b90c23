//! Seize: the reference Hyaline strategy, an adapter over the `seize` crate (0.5.1, Hyaline-1).
//!
//! # What seize offers (read from its 0.5.1 source)
//!
//! - A `Collector` keeps, per *thread slot* (a small integer id from a process-wide allocator), a *reservation* (the
//!   head of a list of retired batches, or `INACTIVE`) and a *local batch* of retired entries. `Collector::enter`
//!   returns a `LocalGuard` on the current thread's slot (a std thread-local id; guards on one thread nest, the
//!   slot stays active until the last one drops); `enter_owned` returns an `OwnedGuard` with a slot of its own,
//!   allocated at `enter_owned` and freed at its drop (two locks of the global id allocator), `Send` and `Sync`.
//!   Entering stores `null` into the reservation; leaving swaps `INACTIVE` back and walks the list it held,
//!   decrementing each batch's count and freeing the batches it was the last to hold.
//! - `Guard::protect` is a load with `SeqCst` (whatever the caller asks), which with `enter`'s store and the
//!   retirer's heavy barrier forms a Dekker pattern (below).
//! - `Guard::defer_retire(ptr, f)` (and `Collector::retire`, on the current thread's slot) appends `(ptr, f)` to
//!   the slot's local batch; once it holds `batch_size` entries, or at `Guard::flush`, seize *tries to retire* the
//!   batch: a heavy barrier (`sys_membarrier` on Linux, a `SeqCst` fence under Miri or without it), then one entry
//!   per active reservation is linked into that reservation's list and the batch's count set to their number; a
//!   batch nobody held is freed at once. **A batch with fewer entries than there are active reservations is left
//!   as it is** (the entries double as list nodes): the try does nothing, silently, and the batch waits for the next
//!   try on the same slot. Freeing a batch calls every `f(ptr, &collector)`.
//! - `Guard::refresh` is a leave and an enter at once: the guard's reservation drops the batches it held.
//! - The collector's drop frees every local batch (`reclaim_all`); batches in reservation lists are freed by the
//!   leaves that end those reservations (every guard borrows the collector, so all have ended by then).
//!
//! # The mapping
//!
//! - One `Collector` per queue, in an `Arc` that every handle co-owns: a guard borrows the collector, and a
//!   [`Reclaim::Handle`] cannot borrow its strategy, so the borrow is extended to `'static`, as in
//!   [`Haphazard`](super::Haphazard) (SAFETY arguments at the two places).
//! - [`Reclaim::enter`] enters a `LocalGuard` and keeps it in the handle; [`Reclaim::leave`] drops it, which frees
//!   the batches this reservation was the last to hold (their tokens go to the ready list), then drains the ready
//!   list. Hence the handle is `!Send` (see "Handles and threads").
//! - [`Reclaim::protect`] is seize's `protect` on our `AtomicU64`: a `SeqCst` load. Under Hyaline that is enough,
//!   nothing is published per load: the guard's reservation, active since `enter`, covers every batch retired
//!   while it lasts.
//! - [`Reclaim::retire`] boxes a token per life of the segment (its index and an `Arc` of the strategy's ready
//!   list, as in [`FastSmr`](super::FastSmr)) and retires it through the *retiring guard*: one `OwnedGuard` per
//!   queue, behind a mutex, entered for the strategy's whole life, through which every retirement goes. Every
//!   [`RETIRE_BATCH`] retirements (fewer for a small pool: a quarter of its initial segments), at a `collect`, and
//!   at any retirement while a producer waits, the guard *flushes*: it pads the batch with dummies (a dangling
//!   pointer and a function that does nothing) up to one entry per registered handle plus one if it holds fewer,
//!   tries it, then refreshes, which drops its own hold on the batch. The token's reclamation pushes the index onto the ready list; the next call with a store hands it to
//!   [`SegmentStore::make_reusable`].
//! - [`Reclaim::collect`] pads and flushes again (if anything retired is pending), so a batch whose try fell short
//!   is tried once more; it cannot do more: in Hyaline a retired batch is freed by the leaves of the reservations
//!   that hold it, not by a scan.
//!
//! Why pad: every retirement runs inside an operation, so at least two reservations are active at the try, the
//! retirer's and the retiring guard's, and a one-token batch is never retired; seize's default `batch_size` (32)
//! would hold up to 31 segments in the batch, more than a small arena has. Active reservations at the try are at
//! most the registered handles (each has at most one guard; handles on one thread share one reservation) plus the
//! retiring guard, so `registered + 1` entries suffice, capped at [`MAX_BATCH`] - 1 so that the batch stays below
//! `batch_size` ([`MAX_BATCH`]) and is tried once, by the flush. The cap and a handle registering during the try are
//! the only ways a try falls short; the batch then keeps its entries, and the next retirement or `collect` adds to
//! it and tries again, until it is long enough.
//!
//! Why one retiring guard: a local batch is tried only by its own slot, so a batch of a thread's slot that fell short
//! would wait for that thread's next retirement, which may never come (the batch stranded in an idle thread, as
//! fast-smr's private lists were: see [`FastSmr`](super::FastSmr)). The retiring guard's slot is the queue's, and any
//! thread's `collect` tries it again. Being always active, that guard holds every batch it retires until its
//! refresh, which comes in the same critical section: between retirements it holds nothing.
//!
//! Why it is sound (seize's own argument, replayed on our word): the queue unlinks a segment before `retire`, and
//! `retire` runs the heavy barrier before it reads the reservations. A reader's `enter` stores into its reservation
//! before its `SeqCst` load of the source word. Either the retirer's read sees the reader active, and the batch
//! joins its list and outlives its operation; or it does not, and then the heavy barrier came first, so the reader's
//! load sees the unlink and cannot return the retired life. A reader that entered earlier and is still inside its
//! operation is always seen. So a token is reclaimed only once every operation that could have protected its life
//! has left.
//!
//! # Handles and threads
//!
//! A `LocalGuard` is tied to the current thread's slot (its count of nested guards is a `Cell` that only that
//! thread may touch), and `enter`/`leave` are safe methods that a caller may split across threads, so a handle
//! that can hold one is `!Send`, and so are the queue's [`Handle`](crate::Handle) and the pool's
//! [`Submitter`](crate::pool::Submitter) over it, as with [`CrossbeamEpoch`](super::CrossbeamEpoch). An
//! `OwnedGuard` per operation would make it `Send`, at the price of two locks of seize's process-wide id allocator
//! per operation: not what seize is built for.
//!
//! ```compile_fail,E0277
//! use segpool::{Handle, SegQueue, Seize};
//!
//! let queue: SegQueue<u64, Seize> = SegQueue::new();
//! let mut handle: Handle<'_, u64, Seize> = queue.handle();
//! std::thread::scope(|s| {
//!     // error[E0277]: seize's `LocalGuard` (in the handle) cannot be sent between threads safely
//!     s.spawn(move || handle.push(1));
//! });
//! ```
//!
//! # What Seize promises
//!
//! - **No stale views** (argued above).
//! - **Stalled threads**: Hyaline-1 is not robust. A reservation active for good holds every batch retired while it
//!   lasts, by anyone: as under epochs, nothing retired during a stall becomes reusable, and [`Reclaim::pending`]
//!   grows with the others' traffic. Batches retired before it began are not held. Two handles on one thread share
//!   a reservation, so a stall holds back the same thread's other handle too.
//! - **Unreclaimed segments** without stalls: those retired while some operation that was running at the retirement
//!   has not ended yet, each freed by the last of those operations to leave; plus up to one less than
//!   [`Seize::retirements_per_flush`] not flushed yet.
//! - **Costs**: per operation, a thread-local lookup, a store and a swap on the reservation (the light side of
//!   seize's barriers: no fence on Linux); per `protect`, a `SeqCst` load; per retirement, a token allocation, a
//!   lock and a batch entry; per flush (one per [`RETIRE_BATCH`] retirements, or fewer in a small pool), up to
//!   [`MAX_BATCH`] padding entries, one heavy barrier (a `membarrier` system call on Linux), a walk over the
//!   collector's reservation slots and the retiring guard's refresh. Measured before the batching: a flush per
//!   retirement made the adapter 12.8 µs a value at SegmentSize 1 (the `membarrier`), 80x Epoch.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use ::seize::{Collector, Guard, LocalGuard, OwnedGuard};

use super::ready::ReadyList;
use crate::config::Config;
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::{SegRef, SegmentId};
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering};

/// The collector's `batch_size` (the length at which seize tries a local batch on its own, and the capacity of each
/// new batch); a padded retirement stays below it (module docs).
pub const MAX_BATCH: usize = 64;

/// The most real retirements the retiring guard collects before it flushes (pads if need be, and tries the batch):
/// seize's own default `batch_size`, so that the heavy barrier is paid once per this many retirements, as in
/// seize's own use. A pool's initial segment count caps it too, at a quarter (at least 1), so that a small pool never
/// has most of its segments waiting for a flush; a `collect` (the pool ran dry) and a retirement while a producer
/// waits ([`SegmentStore::starving`]) flush at once.
pub const RETIRE_BATCH: usize = 32;

/// One life of a segment, as seize sees it: retired as a `Box<Token>`, reclaimed by [`reclaim_token`].
struct Token {
    id: SegmentId,
    ready: Arc<ReadyList>,
}

/// seize's reclamation function for a token.
///
/// # Safety
///
/// `ptr` came from `Box::<Token>::into_raw` and is reclaimed once (seize calls each retired function once).
unsafe fn reclaim_token(ptr: *mut Token, _collector: &Collector) {
    // SAFETY: the caller's contract: a `Box<Token>` given up by `Seize::retire`, handed back exactly once.
    let token = unsafe { Box::from_raw(ptr) };
    token.ready.push(token.id);
}

/// The reclamation function of a padding entry: there is nothing to free.
fn reclaim_nothing(_ptr: *mut u8, _collector: &Collector) {}

/// What a handle co-owns with the strategy.
struct Shared {
    collector: Collector,
    /// Live handles: a bound on the reservations that can be active besides the retiring guard's (module docs).
    registered: AtomicUsize,
}

/// The reference Hyaline strategy over `seize`. See the module docs.
pub struct Seize {
    /// The retiring guard, entered for the strategy's life; it borrows `shared.collector` and is dropped by hand in
    /// `Drop`, before `shared` (and `ManuallyDrop` keeps its `'static` reference from being asserted live while the
    /// strategy is moved into its drop, as in [`Haphazard`](super::Haphazard)'s handles).
    retiring: Mutex<Retiring>,
    /// Retirements per flush: [`RETIRE_BATCH`], or a quarter of the pool's initial segments if that is fewer.
    retire_batch: usize,
    shared: Arc<Shared>,
    ready: Arc<ReadyList>,
    retired: CounterU64,
    reused: CounterU64,
}

impl fmt::Debug for Seize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seize")
            .field("registered", &self.shared.registered.load(Ordering::Relaxed))
            .field("retired", &self.retired.load(Ordering::Relaxed))
            .field("reused", &self.reused.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for Seize {
    fn drop(&mut self) {
        let retiring = self.retiring.get_mut().unwrap_or_else(|poison| poison.into_inner());
        // SAFETY: dropped exactly once, here, and never used afterwards; `shared` (a field, dropped after this body
        // returns) keeps the collector alive while the guard leaves and frees its slot.
        unsafe { ManuallyDrop::drop(&mut retiring.guard) };
    }
}

/// One thread's [`Seize`] state: the guard of the operation in progress, and a buffer for draining the ready list.
/// `!Send`, like seize's `LocalGuard` (module docs).
pub struct SeizeHandle {
    /// `Some` between `enter` and `leave`; borrows `shared.collector` (see [`Seize::enter`]). Dropped by hand in
    /// `Drop`, before `shared`.
    guard: ManuallyDrop<Option<LocalGuard<'static>>>,
    shared: Arc<Shared>,
    scratch: Vec<SegmentId>,
}

impl Drop for SeizeHandle {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here, and never used afterwards; `shared` is dropped after this body, so the
        // collector outlives the guard's leave.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        self.shared.registered.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for SeizeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeizeHandle").field("active", &self.guard.is_some()).finish_non_exhaustive()
    }
}

/// The retiring guard and the retirements it took since its last flush.
struct Retiring {
    guard: ManuallyDrop<OwnedGuard<'static>>,
    unflushed: usize,
}

impl Seize {
    /// How many retirements the retiring guard collects before it flushes (module docs, [`RETIRE_BATCH`]): up to one
    /// less than this many retired segments can wait unflushed, held by nobody, until the next flush.
    pub fn retirements_per_flush(&self) -> usize {
        self.retire_batch
    }

    fn retiring(&self) -> MutexGuard<'_, Retiring> {
        self.retiring.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn drain<S: SegmentStore>(&self, handle: &mut SeizeHandle, store: &S) {
        self.ready.drain(&mut handle.scratch, store, &self.reused);
    }

    /// Pads the retiring guard's batch to an entry per possibly active reservation, tries to retire it, and drops
    /// the retiring guard's own hold on what it retired (module docs). `entries` is what the caller just added.
    fn flush(&self, retiring: &mut Retiring) {
        let entries = std::mem::take(&mut retiring.unflushed);
        let retiring = &mut *retiring.guard;
        // SeqCst: a handle counted here registered before this try's heavy barrier (the rare race the module docs
        // name is a handle that registers during the try).
        let reservations = self.shared.registered.load(Ordering::SeqCst) + 1;
        // Mutant `seize_no_padding`: no padding, as if a flush always retired the batch (seize's docs say the batch
        // must hold an entry per active thread; the flush then silently does nothing).
        let target = if cfg!(segpool_mutant = "seize_no_padding") { 0 } else { reservations.min(MAX_BATCH - 1) };
        for _ in entries..target {
            // SAFETY: the dummy is no object: a dangling, never dereferenced pointer that `reclaim_nothing` ignores;
            // nobody can reach it.
            unsafe { retiring.defer_retire(NonNull::<u8>::dangling().as_ptr(), reclaim_nothing) };
        }
        retiring.flush();
        // Mutant `seize_retiring_no_refresh`: the retiring guard keeps its hold on every batch it retired, as if
        // `flush` alone handed the batch over.
        if !cfg!(segpool_mutant = "seize_retiring_no_refresh") {
            retiring.refresh();
        }
    }

    /// The guard's collector, borrowed for `'static`.
    ///
    /// # Safety
    ///
    /// Every use of the reference ends before the last `Arc` of `shared` drops.
    unsafe fn collector(shared: &Arc<Shared>) -> &'static Collector {
        // SAFETY: the collector lives in the `Arc` allocation, which does not move; the caller keeps it alive.
        unsafe { &(*Arc::as_ptr(shared)).collector }
    }
}

impl Reclaim for Seize {
    const NAME: &'static str = "seize";
    type SegmentMeta = ();
    type Handle = SeizeHandle;

    fn new(config: &Config) -> Self {
        let shared =
            Arc::new(Shared { collector: Collector::new().batch_size(MAX_BATCH), registered: AtomicUsize::new(0) });
        // SAFETY: the guard is kept in `retiring`, which `Drop for Seize` drops before `shared` (a field never
        // replaced) releases its count of the collector.
        let collector = unsafe { Seize::collector(&shared) };
        Seize {
            retire_batch: (config.segment_count / 4).clamp(1, RETIRE_BATCH),
            retiring: Mutex::new(Retiring { guard: ManuallyDrop::new(collector.enter_owned()), unflushed: 0 }),
            shared,
            ready: Arc::default(),
            retired: CounterU64::new(0),
            reused: CounterU64::new(0),
        }
    }

    fn register(&self) -> SeizeHandle {
        self.shared.registered.fetch_add(1, Ordering::SeqCst);
        SeizeHandle { guard: ManuallyDrop::new(None), shared: Arc::clone(&self.shared), scratch: Vec::new() }
    }

    fn unregister<S: SegmentStore<Meta = ()>>(&self, handle: &mut SeizeHandle, store: &S) {
        handle.guard.take();
        self.drain(handle, store);
    }

    fn enter(&self, handle: &mut SeizeHandle) {
        debug_assert!(Arc::ptr_eq(&handle.shared, &self.shared), "a handle of another Seize");
        debug_assert!(handle.guard.is_none(), "enter inside an operation");
        // SAFETY: the guard lives in `handle.guard`, which is emptied by `leave` and `unregister` and dropped by
        // `Drop for SeizeHandle` before `handle.shared` (a field never replaced) releases its count of the collector.
        let collector = unsafe { Seize::collector(&handle.shared) };
        *handle.guard = Some(collector.enter());
    }

    fn protect<S: SegmentStore<Meta = ()>>(
        &self,
        handle: &mut SeizeHandle,
        _slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        // seize's `protect` ordering: with `enter`'s store and the retirer's heavy barrier (module docs).
        let seen = src.load(Ordering::SeqCst);
        if cfg!(segpool_mutant = "seize_refresh_at_protect")
            && !SegRef::from_bits(seen).is_none()
            && let Some(guard) = handle.guard.as_mut()
        {
            // Mutant: the guard is refreshed at every protection, as if only the segment loaded last needed
            // covering; it drops the batches that hold the segments of the operation's other slot.
            guard.refresh();
        }
        debug_assert!(handle.guard.is_some(), "protect outside an operation");
        seen
    }

    fn leave<S: SegmentStore<Meta = ()>>(&self, handle: &mut SeizeHandle, store: &S) {
        // Leaving frees the batches this reservation was the last to hold: their tokens reach the ready list.
        handle.guard.take();
        self.drain(handle, store);
    }

    fn retire<S: SegmentStore<Meta = ()>>(&self, handle: &mut SeizeHandle, id: SegmentId, store: &S) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        let token = Box::into_raw(Box::new(Token { id, ready: Arc::clone(&self.ready) }));
        {
            let mut retiring = self.retiring();
            // SAFETY: seize's `defer_retire` needs (1) that no thread entering after now can reach the pointer:
            // nobody reaches tokens at all (protection is by reservation), and the segment's life was unlinked
            // before `Reclaim::retire`, which the heavy barrier of the flush below orders before its read of the
            // reservations (module docs); (2) a pointer valid for its reclaimer: a fresh `Box<Token>` for
            // `reclaim_token`, which seize calls once.
            unsafe { retiring.guard.defer_retire(token, reclaim_token) };
            retiring.unflushed += 1;
            if retiring.unflushed >= self.retire_batch || store.starving() {
                self.flush(&mut retiring);
            }
        }
        self.drain(handle, store);
    }

    fn collect<S: SegmentStore<Meta = ()>>(&self, handle: &mut SeizeHandle, store: &S) {
        if self.pending() > 0 {
            self.flush(&mut self.retiring());
        }
        self.drain(handle, store);
    }

    fn pending(&self) -> u64 {
        let reused = self.reused.load(Ordering::Relaxed);
        self.retired.load(Ordering::Relaxed).saturating_sub(reused)
    }
}
