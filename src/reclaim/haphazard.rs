//! Haphazard: the reference hazard-pointer strategy, an adapter over the `haphazard` crate (Folly's hazard pointers
//! ported to Rust).
//!
//! # The mapping
//!
//! haphazard protects *addresses*: a hazard pointer publishes one, and a retired object is reclaimed (its owning
//! pointer dropped) once a scan finds no hazard pointer of its domain holding its address. Our source words hold a
//! packed [`SegRef`], not a pointer, and a segment is never freed, only made reusable. So every *life* of a segment
//! (one generation) is represented by a small heap object, a `Token`:
//!
//! - each segment's [`HaphazardMeta`] holds the token of the segment's current life (an `AtomicPtr`, installed
//!   when the segment's meta is created and replaced at every retirement);
//! - [`Reclaim::protect`] loads the `SegRef` from the source word, loads the token address from the segment's meta,
//!   publishes it with [`HazardPointer::protect_raw`], runs a `SeqCst` fence and re-reads the source word, retrying
//!   until it is unchanged. This is [`HazardPointer::try_protect_ptr`] step for step (store, fence, `Acquire`
//!   re-load; haphazard 0.1.8's light barrier is a `SeqCst` fence), applied to our `AtomicU64`, which haphazard's
//!   own `protect` methods cannot read. Token addresses are never dereferenced by a protector;
//! - [`Reclaim::retire`] swaps a fresh token into the meta (for the segment's next life), stamps the old one with
//!   the segment's index and an `Arc` of the strategy's ready list, and hands it to [`Domain::retire_ptr`] as a
//!   `Box<Token>`. When haphazard reclaims it, `Token::drop` pushes the index onto the ready list (shared with
//!   [`CrossbeamEpoch`](super::CrossbeamEpoch), see there), and the next `retire`, `collect`, `leave` or
//!   `unregister` hands it to [`SegmentStore::make_reusable`]. A reclaimer never touches the segment arena, so it does
//!   not matter which thread reclaims, or that the queue may have moved since;
//! - [`Reclaim::collect`] calls [`Domain::eager_reclaim`], then drains the ready list, and asks the other handles
//!   to reclaim too (see "Few segments" below).
//!
//! Why the token of the segment's current life is the right address: if the re-read finds the source word still
//! holding `(index, generation)`, that life was not unlinked yet, hence not retired, hence its token had not been
//! swapped out of the meta when `protect` loaded it (the load happened before the re-read, and after the load of the
//! source word, which happens after the token's installation). The `SeqCst` fence after the hazard store pairs with
//! the fence haphazard runs before it scans the hazard pointers (its heavy barrier), which follows the retirement,
//! which follows the unlink: either the scan sees the hazard, or the re-read sees the unlink and `protect` retries.
//!
//! # Few segments: shortages and sleepers
//!
//! On its own, haphazard scans (at a retirement) only when more than `max(1000, 2 * hazard pointers)` objects wait,
//! or when 2 seconds passed since its last scan: far more segments than a small arena has. So a segment that a
//! consumer retires stays retired until somebody reclaims eagerly, and the queue retires from *inside* an
//! operation (the pop that unlinks a segment, or reads its last slot), while the retiring handle's own hazard
//! pointer still names that segment: no reclamation before that handle's `leave` can free it. Hence:
//!
//! - [`Reclaim::collect`] (the free list ran dry) reclaims eagerly at once, which frees whatever no operation in flight
//!   protects, and bumps a shared *shortage* counter;
//! - every handle loads that counter in [`Reclaim::leave`], after resetting its hazard pointers, and if it moved
//!   since the handle last looked, reclaims eagerly once (this includes the handle that called `collect`: by its
//!   `leave`, other operations may have ended). So the segment a consumer retired in the operation that saw a
//!   shortage is freed at the end of that very operation;
//! - while a producer sleeps under `OnExhausted::Wait` ([`SegmentStore::starving`]), every handle reclaims
//!   eagerly at the end of *every* operation: a sleeper cannot ask again, and one reclamation may come too early
//!   (before the consumers retired anything). Without this, with 2 segments nearly every wait timed out: the
//!   sleeper needs the segment the consumer is about to retire, and nothing reclaims it until the sleeper's own
//!   retry.
//!
//! Both checks are relaxed loads (two, besides the ready list's) when nothing is short, and a reclamation is
//! skipped when no retired segment is pending. The price of a shortage is one eager reclamation per handle (a
//! `SeqCst` fence, a walk over the domain's hazard pointers and its retired list); that of a sleeper, one at every
//! operation while it sleeps.
//!
//! # The domain
//!
//! Each queue has its own [`Domain`], of the private family `Family`: hazard pointers of one queue are not scanned
//! by the others, and when the queue drops, its domain drops and reclaims every token still retired. Hazard
//! pointers borrow their domain, while a [`Reclaim::Handle`] cannot borrow its strategy, so the domain lives in an
//! `Arc` that each [`HaphazardHandle`] co-owns, and the handle's hazard pointers borrow it through a lifetime
//! extended to `'static` (one documented `unsafe` in [`Haphazard::register`]). The global domain would avoid that,
//! but it is shared with every other user of haphazard in the process (their scans would read our hazard pointers
//! and vice versa), and the tokens of a dropped queue would linger in it until some later scan.
//!
//! # What Haphazard promises
//!
//! - **No stale views**: a token, hence its segment's life, is reclaimed only when no hazard pointer of the domain
//!   published its address at a moment after the unlink (argued above).
//! - **Stalled threads** hold back at most the segments their `PROTECT_SLOTS` hazard pointers name.
//! - **Unreclaimed segments**: with `OnExhausted::Grow` and a well-stocked pool, up to haphazard's threshold
//!   (1000 retirements, or 2 seconds) plus the ready list; whenever the free list runs dry, `collect` reclaims every
//!   unprotected one at once.
//! - **Costs**: one `SeqCst` fence per `protect`, one store per slot per `leave`, two small allocations per retired
//!   segment (the next token and haphazard's `Retired` record), and haphazard's scans.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicPtr;

use haphazard::{Domain, HazardPointer};

use super::ready::ReadyList;
use crate::config::Config;
use crate::reclaim::retired::{Answered, Shortage};
use crate::reclaim::{PROTECT_SLOTS, Reclaim, SegmentStore};
use crate::segment::{SegRef, SegmentId};
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering, fence};

/// The domain family of every queue's domain: private to this module, so no other code can make a hazard pointer
/// or retire anything with the same type. (Several queues are several instances of it, so it is not a haphazard
/// `Singleton`; nothing here needs `AtomicPtr::safe_load`, the only API that requires one.)
struct Family;

/// One life of a segment, as haphazard sees it. Only its address and its drop matter.
struct Token {
    /// Set at retirement, with `ready`.
    id: SegmentId,
    /// Where to report the segment once haphazard reclaims the token; `None` while the token is a live segment's.
    ready: Option<Arc<ReadyList>>,
}

impl Token {
    fn fresh() -> *mut Token {
        Box::into_raw(Box::new(Token { id: 0, ready: None }))
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if let Some(ready) = self.ready.take() {
            ready.push(self.id);
        }
    }
}

/// Haphazard's per-segment state: the token of the segment's current life.
#[derive(Debug)]
pub struct HaphazardMeta {
    /// Owned by the meta: a `Box<Token>` turned into a raw pointer. `retire` swaps it out (taking ownership of the
    /// old one); `Drop` frees the one in place.
    token: AtomicPtr<Token>,
}

impl Default for HaphazardMeta {
    fn default() -> Self {
        HaphazardMeta { token: AtomicPtr::new(Token::fresh()) }
    }
}

impl Drop for HaphazardMeta {
    fn drop(&mut self) {
        // SAFETY: the pointer in place came from `Token::fresh` (`Box::into_raw`) and belongs to the meta: `retire`
        // takes ownership only of the pointers it swaps out, each exactly once. Other threads may still hold the
        // address (in a hazard pointer, or between the load and the re-read in `protect`), but nothing ever
        // dereferences a token through such a copy.
        drop(unsafe { Box::from_raw(*self.token.get_mut()) });
    }
}

/// The reference hazard-pointer strategy over `haphazard`. See the module docs.
pub struct Haphazard {
    domain: Arc<Domain<Family>>,
    ready: Arc<ReadyList>,
    /// Bumped by every `collect` (the free list ran dry): each handle reclaims eagerly once at its next `leave` (see
    /// the module docs). Only a hint, read relaxed: segments are published through the ready list and the pool.
    shortage: Shortage,
    retired: CounterU64,
    reused: CounterU64,
}

impl fmt::Debug for Haphazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Haphazard")
            .field("retired", &self.retired.load(Ordering::Relaxed))
            .field("reused", &self.reused.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One thread's [`Haphazard`] state: a hazard pointer per protection slot, in the queue's domain.
pub struct HaphazardHandle {
    /// Borrow `domain` (see [`Haphazard::register`]); dropped by hand in `Drop`, before `domain`. `ManuallyDrop`
    /// also tells the compiler that the `'static` references inside may dangle: a handle moved into a function
    /// (`drop(handle)`) frees the domain while that function runs, and a plain reference field would be asserted
    /// live for the whole call (Miri reports it under Stacked Borrows).
    hazards: std::mem::ManuallyDrop<[HazardPointer<'static, Family>; PROTECT_SLOTS]>,
    domain: Arc<Domain<Family>>,
    scratch: Vec<SegmentId>,
    /// The value of [`Haphazard`]'s shortage counter that this handle last answered.
    seen_shortage: Answered,
}

impl Drop for HaphazardHandle {
    fn drop(&mut self) {
        // SAFETY: `hazards` is dropped exactly once, here, and never used afterwards; `domain` (a field, dropped
        // after this body returns) keeps the domain alive while the hazard pointers release their records.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.hazards) };
    }
}

impl fmt::Debug for HaphazardHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HaphazardHandle").finish_non_exhaustive()
    }
}

impl Haphazard {
    fn drain<S: SegmentStore>(&self, handle: &mut HaphazardHandle, store: &S) {
        self.ready.drain(&mut handle.scratch, store, &self.reused);
    }
}

impl Reclaim for Haphazard {
    const NAME: &'static str = "haphazard";
    type SegmentMeta = HaphazardMeta;
    type Handle = HaphazardHandle;

    fn new(_config: &Config) -> Self {
        Haphazard {
            domain: Arc::new(Domain::new(&Family)),
            ready: Arc::default(),
            shortage: Shortage::new(),
            retired: CounterU64::new(0),
            reused: CounterU64::new(0),
        }
    }

    fn register(&self) -> HaphazardHandle {
        let domain = Arc::clone(&self.domain);
        // SAFETY: the domain lives in the `Arc` allocation, which does not move, and `HaphazardHandle` keeps a count
        // of it in `domain`, a field never replaced and dropped only after `Drop for HaphazardHandle` has dropped
        // `hazards`. So the domain outlives every use of this reference: the hazard pointers' operations and their
        // `Drop`, which releases their records to the domain. The domain is dropped (through `&mut`, by the last
        // `Arc`) only after every handle holding such a reference has dropped its hazard pointers. The `'static`
        // reference never leaves the private `hazards` field.
        let shared: &'static Domain<Family> = unsafe { &*Arc::as_ptr(&domain) };
        HaphazardHandle {
            hazards: std::mem::ManuallyDrop::new(std::array::from_fn(|_| HazardPointer::new_in_domain(shared))),
            domain,
            scratch: Vec::new(),
            seen_shortage: self.shortage.answered_now(),
        }
    }

    fn unregister<S: SegmentStore<Meta = HaphazardMeta>>(&self, handle: &mut HaphazardHandle, store: &S) {
        self.leave(handle, store);
    }

    fn enter(&self, handle: &mut HaphazardHandle) {
        debug_assert!(Arc::ptr_eq(&handle.domain, &self.domain), "a handle of another Haphazard");
    }

    fn protect<S: SegmentStore<Meta = HaphazardMeta>>(
        &self,
        handle: &mut HaphazardHandle,
        slot: usize,
        src: &AtomicU64,
        store: &S,
    ) -> u64 {
        let hazard = &mut handle.hazards[slot];
        let mut seen = src.load(Ordering::Acquire);
        loop {
            let target = SegRef::from_bits(seen);
            if target.is_none() {
                hazard.reset_protection();
                return seen;
            }
            // Acquire: the token installed before this life of the segment was linked (see the module docs).
            let token = store.meta(target.index()).token.load(Ordering::Acquire);
            hazard.protect_raw(token);
            // Pairs with haphazard's barrier before its scans: either the scan sees the hazard, or the re-read below
            // sees the unlink that preceded the token's retirement.
            fence(Ordering::SeqCst);
            let now = src.load(Ordering::Acquire);
            if now == seen {
                return seen;
            }
            seen = now;
        }
    }

    fn leave<S: SegmentStore<Meta = HaphazardMeta>>(&self, handle: &mut HaphazardHandle, store: &S) {
        for hazard in handle.hazards.iter_mut() {
            hazard.reset_protection();
        }
        // Now that our own hazards are gone, the segments this operation retired can be reclaimed too: do it if
        // the free list ran dry since we last looked, or at every operation while a producer sleeps for a segment (it
        // cannot ask again). See the module docs.
        if self.shortage.must_give_back(&mut handle.seen_shortage, store) && self.pending() > 0 {
            self.domain.eager_reclaim();
        }
        self.drain(handle, store);
    }

    fn retire<S: SegmentStore<Meta = HaphazardMeta>>(&self, handle: &mut HaphazardHandle, id: SegmentId, store: &S) {
        self.retired.fetch_add(1, Ordering::Relaxed);
        // AcqRel: the fresh token is installed before the segment can be reused and relinked (Release, through the
        // pool), and this swap sees the previous installation (Acquire).
        let old = store.meta(id).token.swap(Token::fresh(), Ordering::AcqRel);
        // SAFETY: `old` came from `Token::fresh` (`Box::into_raw`) and the swap removed it from the meta, which owned
        // it: every pointer installed in a meta is swapped out at most once, so this is the only owner. Other copies
        // of the address (hazard pointers, protectors between load and re-read) are never dereferenced.
        let mut token = unsafe { Box::from_raw(old) };
        token.id = id;
        token.ready = Some(Arc::clone(&self.ready));
        // SAFETY: `retire_ptr`'s conditions: (1) no hazard pointer will guard the token from now on: the segment
        // was unlinked before `retire` (the trait's contract), so a `protect` that loaded this token fails its
        // re-read and moves on, and later ones load the fresh token; (2) the token is retired once: it left the
        // meta just now, and a token is never put back; (3) it stays valid until the domain drops it: the domain
        // owns the `Box` from here on, and the domain is dropped only with the last `Arc`. Were a caller to break
        // the trait's contract and retire a linked segment, the token could be reclaimed while a hazard names it:
        // nothing dereferences tokens through hazards, so that would be a stale view, not a memory error.
        unsafe { self.domain.retire_ptr::<Token, Box<Token>>(Box::into_raw(token)) };
        // No eager reclamation here even when short: our own hazard pointer still names this segment (the queue
        // retires inside an operation), so `leave` does it (module docs).
        self.drain(handle, store);
    }

    fn collect<S: SegmentStore<Meta = HaphazardMeta>>(&self, handle: &mut HaphazardHandle, store: &S) {
        // Ask every handle (this one included: `seen_shortages` is left behind on purpose) to reclaim at the end
        // of its current operation, when its hazards are gone; meanwhile free what nobody protects now.
        let _ = self.shortage.raise(); // our own `leave` answers too, once our hazards are reset
        self.domain.eager_reclaim();
        self.drain(handle, store);
    }

    fn pending(&self) -> u64 {
        let reused = self.reused.load(Ordering::Relaxed);
        self.retired.load(Ordering::Relaxed).saturating_sub(reused)
    }
}
