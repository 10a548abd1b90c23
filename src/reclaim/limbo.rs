//! Limbo: wpool's reclamation heuristic, done faithfully, made memory-safe and lock-free.
//!
//! wpool puts every retired segment into a ring of 512 entries and reuses the segment that the insertion evicts,
//! the one retired 512 retirements earlier, provided its reference count is zero at that moment; otherwise the
//! evicted segment is dropped and left to Go's garbage collector. Here:
//!
//! - the ring has `Config::limbo_len` entries and starts empty (wpool pre-fills it with dummy segments, 512 extra
//!   segments of memory that only hide how few segments the limbo gives back);
//! - the reference count lives in each segment ([`LimboRefs`]). [`Limbo::protect`] increments it and then re-reads
//!   the source word (wpool's increment-then-validate), so a thread that protected a segment before it was
//!   unlinked keeps the count above zero until it leaves its operation;
//! - an evicted segment with a non-zero count is dropped from the limbo as in wpool. wpool then relies on Go's
//!   garbage collector to free it once nobody references it; here the segment becomes an *orphan* instead, and the
//!   thread whose release brings its count to zero puts it back on the free list. (A first version abandoned such
//!   segments for good; under OS preemption at SegmentSize=1 a thread descheduled between its increment and its
//!   re-validation orphans a segment often enough to drain a `Fail` pool for good.) Orphans are counted in
//!   [`Reclaim::orphaned`].
//!
//! The weakness this reproduces: a segment is reusable only after `limbo_len` *further* retirements, so with few
//! segments (SegmentSize=1 makes every push use one) the free list runs dry while segments wait in the ring.
//!
//! # The ring, without a lock
//!
//! The ring is an array of `limbo_len` atomic segment ids (`EMPTY` when never filled) and a ticket counter. A
//! retirement takes a ticket (`fetch_add`), and *swaps* its segment into entry `ticket % limbo_len`; what the swap
//! returns is the evicted occupant, and the retirer alone decides its fate (reusable or orphan). Invariants:
//!
//! - **each occupant is evicted by exactly one swap.** The swaps on one entry are totally ordered (its
//!   modification order), and each returns the value the previous one stored, so every id stored is returned by
//!   exactly the next swap on that entry, or stays in the ring. No id is lost or evicted twice, whatever order
//!   the retirers' swaps run in. A load followed by a store (mutant `limbo_ticket_race`) breaks exactly this: two
//!   retirers can read the same occupant and both make it reusable, and one of the two stored ids is lost.
//! - **tickets only spread retirers over entries.** Correctness rests on the swaps alone, not on which entry a
//!   ticket names: two retirers whose tickets map to the same entry (they are `limbo_len` apart, or one lags) just
//!   swap in some order, and each evicts whoever it finds. So the ticket counter wrapping (after 2^64
//!   retirements, or 2^32 on a 32-bit target, where with a `limbo_len` that is not a power of two the entry
//!   sequence jumps once) is harmless: it bends the FIFO order once, nothing more. Single-threaded, entry
//!   `r % limbo_len` evicts retirement `r - limbo_len`, the FIFO order `tests/exhaustion.rs` relies on. A ring of
//!   one entry takes no ticket.
//! - **`pending` counts the swaps that returned `EMPTY`**: the occupied entries. Entries are never emptied, so
//!   it rises to `limbo_len` and stays there, and each occupant is a retired segment not reusable yet (which is
//!   what [`Reclaim::pending`] asks for); orphans are counted separately.
//!
//! # The reference count and the orphan flag, in one word
//!
//! [`LimboRefs`] packs the count and the orphan flag (`ORPHAN`, the top bit) into one `u32`, so the evictor and
//! the last releaser meet on one location: a release is a single `fetch_sub`, and the releaser whose decrement
//! takes the word from `ORPHAN | 1` to `ORPHAN` knows that it dropped an orphan's last reference, without a fence
//! and a second load (with two words, as before, every release that reached zero needed a `SeqCst` fence and a
//! load of the flag: a store-buffer pattern with the evictor). An orphan is made reusable by whoever
//! compare-exchanges the word from `ORPHAN` to 0: exactly one thread per orphaning, since that clears the flag.
//! A transient increment between that releaser's decrement and its exchange (a protector whose re-validation will
//! fail) makes the exchange fail; that protector's own release then finds `ORPHAN | 1` and tries again.
//!
//! # `protect` when the slot already holds the segment
//!
//! A handle's slot keeps its reference until the slot is protected again or the operation ends. When the source
//! word still names the segment the slot holds a reference on (a retry of the same push or pop), that reference
//! is already validated and visible to every evictor, so the segment cannot have been made reusable since, nor
//! moved to another generation: the load alone is the protection, with no increment, fence or re-read.

use crate::config::{Config, ConfigError, OnExhausted};
use crate::reclaim::{PROTECT_SLOTS, Reclaim, SegmentStore};
use crate::segment::{NO_SEGMENT, SegRef, SegmentId};
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

/// A ring entry that never held a segment.
const EMPTY: SegmentId = NO_SEGMENT;

/// The orphan flag in [`LimboRefs`]'s word: set when the segment was evicted from the ring while referenced.
const ORPHAN: u32 = 1 << 31;

/// Limbo's per-segment state: the reference count (threads inside an operation that protected the segment, plus
/// transient increments by threads whose re-validation is about to fail) in the low 31 bits, and the orphan flag
/// (`ORPHAN`). Every change to it is a read-modify-write, so an `Acquire` read of it synchronises with every
/// earlier `Release` decrement (they all head release sequences that reach it).
#[derive(Debug, Default)]
pub struct LimboRefs {
    word: AtomicU32,
}

impl LimboRefs {
    /// Makes an orphan reusable if nothing references it now; at most one caller per orphaning succeeds.
    fn adopt_if_unreferenced<S: SegmentStore<Meta = LimboRefs>>(&self, id: SegmentId, store: &S) {
        // Acquire: every holder's uses of the segment (before its Release decrement) happen before the reuse.
        if self.word.compare_exchange(ORPHAN, 0, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            store.make_reusable(id);
        }
    }
}

/// One thread's Limbo state: the segment each protection slot holds a reference on.
#[derive(Debug)]
pub struct LimboHandle {
    held: [Option<SegmentId>; PROTECT_SLOTS],
}

/// wpool's limbo ring. See the module docs.
#[derive(Debug)]
pub struct Limbo {
    /// The ring: segment ids, `EMPTY` until first filled.
    entries: Box<[AtomicU32]>,
    /// The next ticket; entry `ticket % entries.len()`.
    next: AtomicUsize,
    orphaned: CounterU64,
    pending: CounterU64,
}

impl Limbo {
    fn release_slot<S: SegmentStore<Meta = LimboRefs>>(handle: &mut LimboHandle, slot: usize, store: &S) {
        if let Some(id) = handle.held[slot].take() {
            Self::release_ref(id, store);
        }
    }

    fn release_ref<S: SegmentStore<Meta = LimboRefs>>(id: SegmentId, store: &S) {
        let meta = store.meta(id);
        // Release: our reads of the segment happen before an evictor or adopter that reads the count at zero.
        if meta.word.fetch_sub(1, Ordering::Release) == ORPHAN | 1 {
            meta.adopt_if_unreferenced(id, store);
        }
    }

    /// Puts `id` into the ring and returns the occupant it evicted, if the entry had one.
    fn swap_into_ring(&self, id: SegmentId) -> Option<SegmentId> {
        let len = self.entries.len();
        let index = if len == 1 { 0 } else { self.next.fetch_add(1, Ordering::Relaxed) % len };
        let entry = &self.entries[index];
        // AcqRel: the occupant's retirer (its last reads of the segment, before its Release here) happens before
        // our reuse of it, and our segment's history passes to whoever evicts it.
        let evicted = if cfg!(segpool_mutant = "limbo_ticket_race") {
            // Mutant: the eviction as a read and then a write, so two retirers on one entry can both evict the
            // same occupant (reusing it twice) and one of the two ids they store is lost for good.
            let occupant = entry.load(Ordering::Acquire);
            entry.store(id, Ordering::Release);
            occupant
        } else {
            entry.swap(id, Ordering::AcqRel)
        };
        (evicted != EMPTY).then_some(evicted)
    }
}

impl Reclaim for Limbo {
    const NAME: &'static str = "limbo";
    type SegmentMeta = LimboRefs;
    type Handle = LimboHandle;

    /// Under `Fail` or `Wait`, `segment_count >= limbo_len + 2`: with fewer, the ring and the queue's last segment
    /// can hold every segment, no retirement can evict one, and the free list stays empty for good.
    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        if config.on_exhausted == OnExhausted::Grow || config.segment_count >= config.limbo_len.saturating_add(2) {
            return Ok(());
        }
        Err(ConfigError::new(
            "segment_count",
            format!(
                "is {} but Limbo under {:?} needs segment_count >= limbo_len + 2 = {} (with fewer, the limbo ring \
                 and the queue's last segment can hold every segment and the queue stops accepting for good): \
                 raise segment_count, lower limbo_len, or use OnExhausted::Grow",
                config.segment_count,
                config.on_exhausted,
                config.limbo_len.saturating_add(2)
            ),
        ))
    }

    fn new(config: &Config) -> Self {
        Limbo {
            entries: (0..config.limbo_len).map(|_| AtomicU32::new(EMPTY)).collect(),
            next: AtomicUsize::new(0),
            orphaned: CounterU64::new(0),
            pending: CounterU64::new(0),
        }
    }

    fn register(&self) -> LimboHandle {
        LimboHandle { held: [None; PROTECT_SLOTS] }
    }

    fn unregister<S: SegmentStore<Meta = LimboRefs>>(&self, handle: &mut LimboHandle, store: &S) {
        self.leave(handle, store);
    }

    // `#[inline]`: called at every queue operation from the user's crate, where a non-generic function is
    // otherwise an out-of-line call (generic callers are instantiated there, this function is not).
    #[inline]
    fn enter(&self, _handle: &mut LimboHandle) {}

    fn protect<S: SegmentStore<Meta = LimboRefs>>(
        &self,
        handle: &mut LimboHandle,
        slot: usize,
        src: &AtomicU64,
        store: &S,
    ) -> u64 {
        let mut seen = src.load(Ordering::Acquire);
        if let Some(held) = handle.held[slot] {
            // The slot's reference was validated when it was taken and is still counted, so while the source
            // names that segment it is in the same life (module docs). The mutant trusts the slot's reference
            // whatever segment the source names now, so the new one is used without a reference of its own.
            if SegRef::from_bits(seen).index() == held || cfg!(segpool_mutant = "limbo_shortcut_any_held") {
                return seen;
            }
            Self::release_slot(handle, slot, store);
        }
        loop {
            let target = SegRef::from_bits(seen);
            if target.is_none() {
                return seen;
            }
            let refs = &store.meta(target.index()).word;
            refs.fetch_add(1, Ordering::Relaxed);
            // Pairs with the fence in `retire`: either the evictor sees our increment, or we see the source moved
            // away from the segment (it was unlinked before it could be retired and evicted).
            fence(Ordering::SeqCst);
            let now = src.load(Ordering::Acquire);
            if now == seen {
                handle.held[slot] = Some(target.index());
                return seen;
            }
            Self::release_ref(target.index(), store);
            seen = now;
        }
    }

    fn leave<S: SegmentStore<Meta = LimboRefs>>(&self, handle: &mut LimboHandle, store: &S) {
        for slot in 0..PROTECT_SLOTS {
            Self::release_slot(handle, slot, store);
        }
    }

    fn retire<S: SegmentStore<Meta = LimboRefs>>(&self, _handle: &mut LimboHandle, id: SegmentId, store: &S) {
        let Some(evicted) = self.swap_into_ring(id) else {
            self.pending.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let meta = store.meta(evicted);
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release decrement of the last reference, so its holder's uses of the segment
        // happen before the reuse. (The mutant reads the count Relaxed, trusting the fence before the load.)
        let order = if cfg!(segpool_mutant = "limbo_relaxed_evict") { Ordering::Relaxed } else { Ordering::Acquire };
        if meta.word.load(order) == 0 {
            store.make_reusable(evicted);
            return;
        }
        // Still referenced: the last release makes it reusable, or we do if it already happened (the count went
        // to zero between our load and the flag, so no releaser saw the flag). Release: the segment's history up to
        // its retirement (which our swap acquired) passes to the adopter, whose Acquire exchange reads a value in
        // this write's release sequence.
        self.orphaned.fetch_add(1, Ordering::Relaxed);
        if meta.word.fetch_or(ORPHAN, Ordering::Release) == 0 {
            meta.adopt_if_unreferenced(evicted, store);
        }
    }

    fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    fn orphaned(&self) -> u64 {
        self.orphaned.load(Ordering::Relaxed)
    }
}
