//! Limbo: wpool's reclamation heuristic, done faithfully and made memory-safe.
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

use crate::config::{Config, ConfigError, OnExhausted};
use crate::reclaim::{PROTECT_SLOTS, Reclaim, SegmentStore};
use crate::segment::{SegRef, SegmentId};
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicBool, AtomicU32, AtomicU64, Mutex, Ordering, fence};

/// Limbo's per-segment state: the reference count (threads inside an operation that protected the segment, plus
/// transient increments by threads whose re-validation is about to fail) and the orphan flag.
#[derive(Debug, Default)]
pub struct LimboRefs {
    refs: AtomicU32,
    /// Set when the segment was evicted from the ring while referenced; whoever clears it makes it reusable.
    orphan: AtomicBool,
}

impl LimboRefs {
    /// Makes an orphan reusable if its count is zero now. The orphan flag is cleared by exactly one thread.
    fn adopt_if_unreferenced<S: SegmentStore<Meta = LimboRefs>>(&self, id: SegmentId, store: &S) {
        // Pairs with the fences in `protect` and `retire`: a thread that drops the count to zero sees the flag, or
        // the thread that set the flag sees the count at zero.
        fence(Ordering::SeqCst);
        if self.refs.load(Ordering::Acquire) == 0 && self.orphan.swap(false, Ordering::AcqRel) {
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
    ring: Mutex<Ring>,
    orphaned: CounterU64,
    pending: CounterU64,
}

#[derive(Debug)]
struct Ring {
    entries: Vec<Option<SegmentId>>,
    next: usize,
}

impl Limbo {
    fn release_slot<S: SegmentStore<Meta = LimboRefs>>(handle: &mut LimboHandle, slot: usize, store: &S) {
        if let Some(id) = handle.held[slot].take() {
            Self::release_ref(id, store);
        }
    }

    fn release_ref<S: SegmentStore<Meta = LimboRefs>>(id: SegmentId, store: &S) {
        let meta = store.meta(id);
        // Release: our reads of the segment happen before an evicting thread that sees the count at zero.
        if meta.refs.fetch_sub(1, Ordering::Release) == 1 {
            // Store-buffer pattern with the evictor (sets the orphan flag, fences, reads the count): without this
            // fence both sides can miss each other and the orphan never returns to the pool. loom found that.
            fence(Ordering::SeqCst);
            if meta.orphan.load(Ordering::Relaxed) {
                meta.adopt_if_unreferenced(id, store);
            }
        }
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
            ring: Mutex::new(Ring { entries: vec![None; config.limbo_len], next: 0 }),
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
        Self::release_slot(handle, slot, store);
        let mut seen = src.load(Ordering::Acquire);
        loop {
            let target = SegRef::from_bits(seen);
            if target.is_none() {
                return seen;
            }
            let refs = &store.meta(target.index()).refs;
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
        let evicted = {
            let mut ring = self.ring.lock().unwrap_or_else(|poison| poison.into_inner());
            let next = ring.next;
            ring.next = (next + 1) % ring.entries.len();
            ring.entries[next].replace(id)
        };
        let Some(evicted) = evicted else {
            self.pending.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let meta = store.meta(evicted);
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release decrement of the last reference, so its holder's uses of the segment
        // happen before the reuse. (The mutant reads the count Relaxed, trusting the fence before the load.)
        let order = if cfg!(segpool_mutant = "limbo_relaxed_evict") { Ordering::Relaxed } else { Ordering::Acquire };
        if meta.refs.load(order) == 0 {
            store.make_reusable(evicted);
        } else {
            // Still referenced: the last release (or we, if it already happened) makes it reusable.
            self.orphaned.fetch_add(1, Ordering::Relaxed);
            meta.orphan.store(true, Ordering::Release);
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
