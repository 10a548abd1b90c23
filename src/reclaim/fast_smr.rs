//! FastSmr: the reference interval-based strategy (2GEIBR), an adapter over the `fast-smr` crate (0.2.3).
//!
//! # What fast-smr offers (read from its 0.2.3 source; the crate has no API docs)
//!
//! - `Reclaimer::new()`: a global epoch (starts at 1) and a growable list of per-context *slots*, each a
//!   reservation interval `[start_epoch, end_epoch]` plus a hazard pointer for its slow path. No `Drop` of its own:
//!   dropping it drops the slots, which runs every retired function still parked in them.
//! - `Reclaimer::get_ctx(cleanup_freq) -> ThreadContext<'_>`: claims a free slot and adopts the retired list a
//!   context dropped earlier left in it. A `ThreadContext` has a private retired list (its *limbo*); its drop
//!   panics if a `Guard` of it is alive, parks the limbo in the slot and releases the slot.
//! - `ThreadContext::must_protect(ptr) -> Guard`: reserves the *current* epoch (raises the slot's `end_epoch` to
//!   it, `SeqCst`, and sets `start_epoch` if it is the context's first reservation) without validating anything;
//!   the reservation lasts until the guard drops (the context keeps a count per epoch, so the interval always
//!   spans its live guards). The pointer is only carried: nothing here ever dereferences it.
//! - `ThreadContext::protect(src, initial, attempts)` / `load(src, attempts)`: the same reservation validated
//!   against an `AtomicPtr` (reserve, re-load `src`, re-check the epoch: `attempts` times), then a wait-free slow
//!   path in which other threads' scans *help*: they read `src` through the published address, as an `AtomicPtr`,
//!   and protect the pointer it holds with the hazard pointer, compared with each retired block's address range.
//! - `unsafe ThreadContext::retire(ptr, layout, f, birth_epoch)`: puts `(ptr, layout, f)` in the limbo with the span
//!   `[birth_epoch, retire_epoch]`; every `cleanup_freq`-th call first *scans* (walks every slot: reservations,
//!   hazard pointers), calls `f(ptr, layout)` for each limbo entry whose span overlaps no reservation and whose range
//!   holds no hazard, and then advances the epoch (`retire_epoch` is the value before the advance; otherwise the
//!   current one). `f` runs exactly once, inside a later `retire` on the same context (or when the `Reclaimer`
//!   drops, for a limbo parked in a slot). There is no other way to trigger a scan.
//! - `Reclaimer::current_epoch()`: a `SeqCst` load of the epoch.
//!
//! # The mapping
//!
//! - One `Reclaimer` per queue, in an `Arc` that every context wrapper co-owns (its `ThreadContext` borrows it, with
//!   the lifetime extended to `'static` as in [`Haphazard`](super::Haphazard)). Each handle has a context of its
//!   own for its reservations, and the queue has one more, the *retiring context*, behind a mutex, through which
//!   every retirement goes (see "One retiring context" below). Its `cleanup_freq` is 1: every retirement scans and
//!   advances the epoch. A segment retirement is rare (one per `segment_size` values) and a small arena cannot leave
//!   segments waiting for a counter.
//! - [`Reclaim::born`] stores `current_epoch()` in the segment's [`FastSmrMeta`]; [`Reclaim::retire`] passes it as
//!   `birth_epoch`. The queue's first segment keeps the default, the initial epoch 1. (Not 0: the first 8 slots of a
//!   0.2.3 `Reclaimer` are zeroed memory, so they look like claimed slots reserving `[0, 0]` forever; they are
//!   never handed out, but a span starting at 0 would overlap them and never be reclaimed.)
//! - [`Reclaim::protect`] is the fast path of fast-smr's `protect`, step by step, on our `AtomicU64`: read the
//!   epoch, `must_protect` (reserves the epoch, which is then the one just read or a later one), `SeqCst` load of the
//!   source word, re-read the epoch; if it did not move, the word was read while its epoch was reserved, else drop
//!   the guard and retry. It is lock-free (a retry means some retirement or scan advanced the epoch), not wait-free.
//!   The slow path cannot serve us: its helpers would read our packed [`SegRef`] as a pointer and publish it as a
//!   hazard, which matches no retired block, and our retired blocks cannot be SegRefs because `f` is a plain `fn`
//!   that could not find the queue's segments from one. (Reading 0.2.3, we also doubt that slow path on its own
//!   terms: it ends by reserving an epoch read *after* its load and clearing the hazard, and if that is the
//!   context's only reservation, the epoch can already be past the retire epoch of the block it returns. Untested:
//!   nothing here uses it.)
//! - [`Reclaim::retire`] boxes a token (the segment's index and an `Arc` of the strategy's ready list) and retires
//!   it with `f` = `reclaim_token`, which pushes the index onto that list; the next call with a store (this one
//!   included) hands it to [`SegmentStore::make_reusable`]. One life of a segment is one token, as in Haphazard.
//! - A *scan on demand* is a retirement of a dummy (a dangling pointer, a zero-sized layout, an `f` that does
//!   nothing, born now): [`Reclaim::collect`], and the `leave` of every handle after a shortage or while a producer
//!   sleeps (the shortage signal, [`SegmentStore::starving`], as in Haphazard), after dropping its guards (the
//!   queue retires inside the operation that unlinked the segment, under that operation's reservation). A dummy is
//!   freed by a later scan once no reservation overlaps its span; born at its own scan, it is never held back by an
//!   older reservation, such as a stalled one.
//!
//! Why it is sound: say `protect` returned `(index, generation)`, read at epoch `e` with `e` reserved and still
//! current afterwards. `born` read the life's birth before linking it, and the link happened before our load, so by
//! read-read coherence of the epoch the birth is at most `e`. The retirer unlinked after our load, then runs a
//! `SeqCst` fence before fast-smr reads the retire epoch: our `SeqCst` load precedes that fence in the single total
//! order (it read a value the unlink overwrote), so the retire epoch is at least `e`, and every later scan sees our
//! reservation. The life's span contains `e`, which our slot reserves while the guard lives: not reclaimed.
//!
//! # One retiring context
//!
//! A context's retired list is private, and only a `retire` on that context scans it: fast-smr has no call that
//! reclaims another context's list. With a list per handle, segments retired by a handle that then stays idle
//! (alive, neither parked nor unregistered) would never be reclaimed: in the short-lived-handles scenario of
//! tests/reference_adapters.rs (each of 3,000 handles pushes and pops once and is kept), the fifth handle's push was
//! refused 1,000 times in a row (the test's cap), its `collect` unable to reach the three segments the first handles
//! had retired. So every retirement goes through the queue's one retiring context, under a mutex, and any handle's
//! scan reclaims every segment that no reservation covers. Nothing is ever held per handle, so `park` has nothing
//! to hand over and `unregister` only ends the operation. The price: retirements (and their scans) are serialised,
//! one lock per retired segment.
//!
//! # Handles and threads
//!
//! `ThreadContext` and `Guard` are `!Send` only because they hold raw pointers: fast-smr 0.2.3 keeps no thread
//! identity (no thread-locals; a context is a claimed slot and `RefCell`s that only its owner touches). So the
//! handle may move to another thread with everything its guards point to, and the retiring context may be used by
//! whichever thread holds its mutex: both are `Send`. That rests on a reading of that exact version, hence the
//! `=0.2.3` requirement in Cargo.toml.
//!
//! # What FastSmr promises
//!
//! - **No stale views** (argued above).
//! - **Stalled threads** hold back the lives that overlap their reservation interval: those alive at some
//!   epoch between the stalled operation's first and last `protect`; at most the segments linked then (and the
//!   one retired at each of those epochs), protected or not. Later lives are born after it and are reclaimed.
//! - **Unreclaimed segments**: what was retired since the last scan (every retirement scans first, so usually the
//!   last retired segment, plus the ones reservations cover); `collect` and the shortage `leave`s scan again.
//! - **Costs**: per `protect`, two `SeqCst` loads of the epoch and a `SeqCst` store (when the epoch moved since the
//!   handle's last reservation); per retirement, a token allocation, a `SeqCst` fence, a lock, a walk over every
//!   slot and an epoch advance.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use fast_smr::smr::{Guard, Reclaimer, ThreadContext};

use super::ready::ReadyList;
use crate::config::Config;
use crate::reclaim::retired::{Answered, Shortage};
use crate::reclaim::{PROTECT_SLOTS, Reclaim, SegmentStore};
use crate::segment::{SegRef, SegmentId};
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering, fence};

/// fast-smr's `cleanup_freq`: every retirement scans (module docs). Handles' contexts never retire.
const CLEANUP_FREQ: usize = 1;
/// The epoch a fast-smr 0.2.3 `Reclaimer` starts at: the birth of the queue's first segment (module docs).
const FIRST_EPOCH: u64 = 1;

/// One life of a segment, as fast-smr sees it: retired as a `Box<Token>`, reclaimed by [`reclaim_token`].
struct Token {
    id: SegmentId,
    ready: Arc<ReadyList>,
}

/// fast-smr's reclamation function for a token.
///
/// # Safety
///
/// `ptr` came from `Box::<Token>::into_raw` and is reclaimed once (fast-smr calls each retired function once).
unsafe fn reclaim_token(ptr: *mut u8, _layout: Layout) {
    // SAFETY: the caller's contract: a `Box<Token>` given up by `FastSmr::retire`, handed back exactly once.
    let token = unsafe { Box::from_raw(ptr.cast::<Token>()) };
    token.ready.push(token.id);
}

/// The reclamation function of a scan's dummy: there is nothing to free.
fn reclaim_nothing(_ptr: *mut u8, _layout: Layout) {}

/// FastSmr's per-segment state: the birth epoch of the segment's current life.
#[derive(Debug)]
pub struct FastSmrMeta {
    birth: StdAtomicU64,
}

impl Default for FastSmrMeta {
    fn default() -> Self {
        // Mutant `fast_smr_birth_zero`: the first segment born at epoch 0, as if the reclaimer's epochs started there
        // (the zeroed slots of fast-smr 0.2.3 reserve `[0, 0]` forever, so that life is never reclaimed).
        let first = if cfg!(segpool_mutant = "fast_smr_birth_zero") { 0 } else { FIRST_EPOCH };
        FastSmrMeta { birth: StdAtomicU64::new(first) }
    }
}

/// A fast-smr `ThreadContext`, owning a count of the reclaimer it borrows.
struct Context {
    /// A `Box<ThreadContext>` turned into a raw pointer: guards keep its address (so it must not move, nor be
    /// reborrowed uniquely while they live), and it borrows `*reclaimer` (see [`Context::new`]). Freed in `Drop`.
    ctx: NonNull<ThreadContext<'static>>,
    /// Dropped after `ctx` (field drops follow `Drop::drop`).
    reclaimer: Arc<Reclaimer>,
}

// SAFETY: a `ThreadContext` of fast-smr 0.2.3 has no thread affinity: no thread-locals or thread ids; its `Cell`s and
// `RefCell`s are touched only through this `Context` (and the guards of a handle's context, which move with it), by
// one thread at a time (the handle's owner, or the holder of the retiring context's mutex); the raw pointers in its
// retired list are our tokens (`Send` data) or dummies; its slot and reclaimer are `Sync`.
unsafe impl Send for Context {}

impl Context {
    fn new(reclaimer: &Arc<Reclaimer>) -> Context {
        let reclaimer = Arc::clone(reclaimer);
        // SAFETY: the reclaimer lives in the `Arc` allocation, which does not move, and `reclaimer` (a field never
        // replaced) keeps it alive until after `Drop for Context` has dropped the `ThreadContext`, the only holder
        // of this reference (guards hold the context, and are dropped before it).
        let shared: &'static Reclaimer = unsafe { &*Arc::as_ptr(&reclaimer) };
        let ctx = NonNull::from(Box::leak(Box::new(shared.get_ctx(CLEANUP_FREQ))));
        Context { ctx, reclaimer }
    }

    fn ctx(&self) -> &ThreadContext<'static> {
        // SAFETY: `ctx` is valid from `new` to `Drop`, and only ever shared (no `&mut` until the `Box` is rebuilt).
        unsafe { self.ctx.as_ref() }
    }

    /// Scans this context's retired list now: a retirement of a dummy born at the current epoch.
    fn scan(&self) {
        let birth = self.reclaimer.current_epoch();
        // SAFETY: the dummy is no object: a dangling pointer with a zero-sized layout (no hazard can fall inside it),
        // and `reclaim_nothing` ignores both.
        unsafe { self.ctx().retire(NonNull::<u8>::dangling().as_ptr(), Layout::new::<()>(), reclaim_nothing, birth) };
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from `Box::leak` in `new` and is dropped once, here; no guard of it is alive (a handle
        // drops its guards first, and the retiring context never has any).
        drop(unsafe { Box::from_raw(self.ctx.as_ptr()) });
    }
}

/// The reference 2GEIBR strategy over `fast-smr`. See the module docs.
pub struct FastSmr {
    reclaimer: Arc<Reclaimer>,
    /// Every retirement goes through it (module docs, "One retiring context").
    retiring: Mutex<Context>,
    ready: Arc<ReadyList>,
    /// Bumped by every `collect`; each handle scans once at its next `leave` (module docs).
    shortage: Shortage,
    retired: CounterU64,
    reused: CounterU64,
}

impl fmt::Debug for FastSmr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastSmr")
            .field("epoch", &self.reclaimer.current_epoch())
            .field("retired", &self.retired.load(Ordering::Relaxed))
            .field("reused", &self.reused.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One thread's [`FastSmr`] state: a guard per protection slot, and the context they reserve epochs in.
pub struct FastSmrHandle {
    /// Declared before `context`, so dropped before it (a context must not drop with a live guard).
    guards: [Option<Guard<'static, u8>>; PROTECT_SLOTS],
    context: Context,
    scratch: Vec<SegmentId>,
    seen_shortage: Answered,
}

// SAFETY: the guards point to the `ThreadContext` in `context`, a heap allocation that moves with the handle; see
// `Send for Context` for why a context may change threads.
unsafe impl Send for FastSmrHandle {}

impl fmt::Debug for FastSmrHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastSmrHandle").finish_non_exhaustive()
    }
}

impl FastSmr {
    fn retiring(&self) -> MutexGuard<'_, Context> {
        self.retiring.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn drain<S: SegmentStore>(&self, handle: &mut FastSmrHandle, store: &S) {
        self.ready.drain(&mut handle.scratch, store, &self.reused);
    }
}

impl Reclaim for FastSmr {
    const NAME: &'static str = "fast-smr";
    type SegmentMeta = FastSmrMeta;
    type Handle = FastSmrHandle;

    fn new(_config: &Config) -> Self {
        let reclaimer = Arc::new(Reclaimer::new());
        FastSmr {
            retiring: Mutex::new(Context::new(&reclaimer)),
            reclaimer,
            ready: Arc::default(),
            shortage: Shortage::new(),
            retired: CounterU64::new(0),
            reused: CounterU64::new(0),
        }
    }

    fn register(&self) -> FastSmrHandle {
        FastSmrHandle {
            guards: std::array::from_fn(|_| None),
            context: Context::new(&self.reclaimer),
            scratch: Vec::new(),
            seen_shortage: self.shortage.answered_now(),
        }
    }

    fn unregister<S: SegmentStore<Meta = FastSmrMeta>>(&self, handle: &mut FastSmrHandle, store: &S) {
        self.leave(handle, store);
    }

    fn enter(&self, handle: &mut FastSmrHandle) {
        debug_assert!(handle.guards.iter().all(Option::is_none), "enter inside an operation");
    }

    fn protect<S: SegmentStore<Meta = FastSmrMeta>>(
        &self,
        handle: &mut FastSmrHandle,
        slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        let FastSmrHandle { guards, context, .. } = handle;
        let (ctx, reclaimer) = (context.ctx(), &*context.reclaimer);
        guards[slot] = None; // the slot's old reservation ends here (the interval shrinks if it was at an end)
        loop {
            let epoch = reclaimer.current_epoch();
            // Reserves `epoch` or a later one; if the epoch has not moved by the re-read below, it is `epoch`,
            // reserved (`SeqCst` store) before the load of the source word.
            let guard = ctx.must_protect(NonNull::<u8>::dangling());
            // SeqCst: ordered before the retirer's fence (module docs).
            let seen = src.load(Ordering::SeqCst);
            if SegRef::from_bits(seen).is_none() {
                return seen; // unprotected: the guard drops
            }
            if reclaimer.current_epoch() == epoch {
                guards[slot] = Some(guard);
                return seen;
            }
        }
    }

    fn leave<S: SegmentStore<Meta = FastSmrMeta>>(&self, handle: &mut FastSmrHandle, store: &S) {
        handle.guards = std::array::from_fn(|_| None);
        // Our reservations are gone, so what this operation retired can be reclaimed too: scan if the free list ran
        // dry since we last looked, or at every operation while a producer sleeps for a segment.
        // Mutant `fast_smr_leave_no_scan`: no give-back at `leave`, as if `collect` and the retirements' own scans
        // were enough.
        if !cfg!(segpool_mutant = "fast_smr_leave_no_scan")
            && self.shortage.must_give_back(&mut handle.seen_shortage, store)
            && self.pending() > 0
        {
            self.retiring().scan();
        }
        self.drain(handle, store);
    }

    fn born<S: SegmentStore<Meta = FastSmrMeta>>(&self, _handle: &mut FastSmrHandle, id: SegmentId, store: &S) {
        // Release, paired with `retire`'s Acquire (the link that follows publishes it as well).
        store.meta(id).birth.store(self.reclaimer.current_epoch(), Ordering::Release);
    }

    fn retire<S: SegmentStore<Meta = FastSmrMeta>>(&self, handle: &mut FastSmrHandle, id: SegmentId, store: &S) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        // Orders the unlink (not `SeqCst`) before fast-smr's `SeqCst` read of the retire epoch (module docs).
        fence(Ordering::SeqCst);
        let birth = if cfg!(segpool_mutant = "fast_smr_birth_at_retire") {
            // Mutant: the birth read at retirement instead of at `born`, as if any epoch before the retire epoch
            // would do; a reservation of an older epoch, made while the life was linked, no longer overlaps it.
            self.reclaimer.current_epoch()
        } else {
            store.meta(id).birth.load(Ordering::Acquire)
        };
        let token = Box::into_raw(Box::new(Token { id, ready: Arc::clone(&self.ready) }));
        // SAFETY: fast-smr's `retire` needs (1) that no new protection can reach the block: nobody protects tokens
        // (protection is by epoch), and the segment was unlinked before `Reclaim::retire`; (2) a birth epoch no later
        // than any epoch at which a reader could have seen this life: `born` read it before the link (module
        // docs); (3) an `f` that may be called once with `(ptr, layout)`: `reclaim_token` on a fresh `Box<Token>`.
        unsafe { self.retiring().ctx().retire(token.cast(), Layout::new::<Token>(), reclaim_token, birth) };
        self.drain(handle, store);
    }

    fn collect<S: SegmentStore<Meta = FastSmrMeta>>(&self, handle: &mut FastSmrHandle, store: &S) {
        // Every handle (this one too, once its guards are gone) scans at its next `leave`; meanwhile scan now for
        // what no reservation in force covers.
        let _ = self.shortage.raise();
        self.retiring().scan();
        self.drain(handle, store);
    }

    fn pending(&self) -> u64 {
        let reused = self.reused.load(Ordering::Relaxed);
        self.retired.load(Ordering::Relaxed).saturating_sub(reused)
    }
}
