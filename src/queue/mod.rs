//! [`SegQueue`]: the lock-free segmented MPMC queue, generic over its reclamation strategy.
//!
//! The queue is a singly linked list of segments from `head` (consumers) to `tail` (producers), both
//! generation-tagged [`SegRef`]s. Producers reserve a slot with a CAS on the tail segment's state word, write the
//! value and publish the slot's stamp. A producer that finds the tail segment full takes a fresh segment from the
//! segment arena, writes its value into the first slot while the segment is still private to it, and links it:
//! one link per segment, and no reservation on the new tail. Consumers claim the longest contiguous run of
//! published slots with a CAS on the head segment's claim word. A fully claimed segment is unlinked (tail first,
//! then head, as in Michael and Scott's queue, so the tail never lags behind the head) and, once every claimed slot
//! was read, retired to the strategy. The numbered invariants live in [`crate::segment`].

use std::fmt;

use crate::cache_padded::CachePadded;
use crate::config::{Config, ConfigError, OnExhausted};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::{ClaimWord, SegRef, Segment, SegmentId, StateWord, state};
use crate::segment_arena::SegmentArena;
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering, spin_hint};

mod error;
mod handle;
mod stats;

pub use error::{PushError, PushErrorKind};
pub use handle::{Handle, Stall};
use stats::Counters;
pub use stats::QueueStats;

/// The protection slot used by push and pop (one operation protects one segment at a time).
const OP_SLOT: usize = 0;

/// A lock-free multi-producer multi-consumer FIFO queue of segments, with reclamation strategy `R`.
///
/// Every method that takes `&self` registers a temporary handle with the strategy; a thread that performs many
/// operations should take a [`Handle`] once with [`SegQueue::handle`] and use it.
///
/// Order: values pushed by one producer are popped in push order (per-producer FIFO); across producers the order
/// is the order of their slot reservations. A pop may return `None` while a push that reserved an earlier slot is
/// still writing its value.
pub struct SegQueue<T, R: Reclaim> {
    head: CachePadded<AtomicU64>,
    tail: CachePadded<AtomicU64>,
    // Declared before `pool` so it drops first: a strategy may still hand segments to the pool while it drops.
    reclaim: R,
    pool: SegmentArena<T, R::SegmentMeta>,
    config: Config,
    /// On its own cache lines: updated at every retirement, while `config` and `pool`'s directory are read at every
    /// operation (false sharing otherwise).
    counters: CachePadded<Counters>,
}

// SAFETY: values of `T` cross threads (pushed on one, popped on another), hence `T: Send`. Shared access to a slot
// follows invariants 2 and 3 of `crate::segment`: one writer per generation, whose stamp publication happens before
// the single claimed reader. Everything else is atomics, the facade's Mutex, or the strategy (`R: Send + Sync`).
unsafe impl<T: Send, R: Reclaim> Send for SegQueue<T, R> {}
// SAFETY: as above; `&SegQueue` only moves `T` values between threads, never shares a `&T`.
unsafe impl<T: Send, R: Reclaim> Sync for SegQueue<T, R> {}

/// The outcome of one protected push attempt.
enum Blocked<T> {
    Exhausted(T),
    MustWait(T),
}

impl<T, M> SegmentStore for SegmentArena<T, M> {
    type Meta = M;

    fn meta(&self, id: SegmentId) -> &M {
        &self.get(id).meta.0
    }

    fn make_reusable(&self, id: SegmentId) {
        self.push_free(id);
    }

    fn make_reusable_all(&self, ids: impl IntoIterator<Item = SegmentId>) {
        self.push_free_all(ids);
    }

    fn starving(&self) -> bool {
        self.has_waiters()
    }
}

impl<T, R: Reclaim> SegQueue<T, R> {
    /// A queue with [`Config::default`].
    pub fn new() -> Self {
        Self::with_config(Config::default()).expect("the default config is valid")
    }

    /// A queue with `config`, or the error naming its first invalid field ([`Config::validate_for`]): a field out
    /// of bounds, or a configuration under which the queue could stop accepting values for good.
    pub fn with_config(config: Config) -> Result<Self, ConfigError> {
        config.validate_for::<R>()?;
        Ok(Self::build(config))
    }

    /// Like [`Self::with_config`], but accepts a configuration under which the queue can run out of segments for
    /// good (a `Fail` or `Wait` queue with fewer segments than it or its strategy needs to recycle, or Leak under
    /// `Fail`): for experiments that study exhaustion itself, such as wpool's limbo draining a small arena. Every
    /// field is still checked against its bounds.
    pub fn with_config_unchecked_liveness(config: Config) -> Result<Self, ConfigError> {
        config.validate_bounds()?;
        Ok(Self::build(config))
    }

    fn build(config: Config) -> Self {
        let pool = SegmentArena::new(config.segment_size, config.segment_count);
        let first = pool.try_take().expect("segment_count >= 1 was validated");
        let generation = pool.get(first).generation();
        let start = SegRef::new(first, generation).bits();
        SegQueue {
            head: CachePadded(AtomicU64::new(start)),
            tail: CachePadded(AtomicU64::new(start)),
            reclaim: R::new(&config),
            pool,
            config,
            counters: CachePadded(Counters::default()),
        }
    }

    /// The configuration the queue was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The reclamation strategy, for inspecting what it exposes beyond [`QueueStats`] (e.g. Hazard's bound).
    pub fn reclaim(&self) -> &R {
        &self.reclaim
    }

    /// A handle for the calling thread: the cheap way to do many operations.
    pub fn handle(&self) -> Handle<'_, T, R> {
        Handle { queue: self, local: self.reclaim.register() }
    }

    /// Pushes `value` at the tail. See [`Handle::push`].
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        self.handle().push(value)
    }

    /// Pops the value at the head. See [`Handle::pop`].
    pub fn pop(&self) -> Option<T> {
        self.handle().pop()
    }

    /// Pops one contiguous run of up to `max` values into `out`. See [`Handle::pop_batch`].
    pub fn pop_batch(&self, out: &mut Vec<T>, max: usize) -> usize {
        self.handle().pop_batch(out, max)
    }

    /// Number of values in the queue. **Approximate under concurrency**: head and tail are read at different
    /// moments, and values reserved but not yet written count as present.
    pub fn len(&self) -> usize {
        loop {
            let (head, tail) = (self.load_ref(&self.head), self.load_ref(&self.tail));
            let (head_segment, tail_segment) = (self.pool.get(head.index()), self.pool.get(tail.index()));
            let claim = ClaimWord(head_segment.consumer.claim.load(Ordering::Acquire));
            let word = StateWord(tail_segment.word.load(Ordering::Acquire));
            let head_position = head_segment.first_position.load(Ordering::Acquire);
            let tail_position = tail_segment.first_position.load(Ordering::Acquire);
            if claim.generation() != head.generation() || word.generation() != tail.generation() {
                spin_hint();
                continue; // a segment moved on while we read it: take a fresh snapshot
            }
            let front = head_position + claim.claimed() as u64;
            let back = tail_position + word.reserved() as u64;
            return back.saturating_sub(front) as usize;
        }
    }

    /// Whether [`Self::len`] is zero (approximate under concurrency, like `len`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the segment accounting.
    pub fn stats(&self) -> QueueStats {
        let c = &self.counters;
        let read = |counter: &CounterU64| counter.load(Ordering::Relaxed);
        QueueStats {
            segments_allocated: self.pool.allocated(),
            segments_recycled: self.pool.recycled(),
            segments_free: self.pool.free(),
            segments_retired: read(&c.retired),
            retired_pending: self.reclaim.pending(),
            segments_orphaned: self.reclaim.orphaned(),
            exhaustion_events: read(&c.exhausted),
            grown: read(&c.grown),
            failed_pushes: read(&c.failed),
            waits: read(&c.waited),
            wait_timeouts: read(&c.wait_timeouts),
            stale_views: read(&c.stale_views),
        }
    }

    fn load_ref(&self, word: &AtomicU64) -> SegRef {
        SegRef::from_bits(word.load(Ordering::Acquire))
    }

    fn protect(&self, local: &mut R::Handle, src: &AtomicU64) -> SegRef {
        if cfg!(segpool_mutant = "unprotected_load") {
            return self.load_ref(src);
        }
        SegRef::from_bits(self.reclaim.protect(local, OP_SLOT, src, &self.pool))
    }

    fn count_stale_view(&self) {
        self.counters.stale_views.fetch_add(1, Ordering::Relaxed);
        spin_hint();
    }

    /// A fresh segment for linking after `spare`'s owner found the tail full, following the exhaustion policy.
    /// Runs inside an operation (the strategy may reclaim eagerly first).
    fn take_segment(&self, local: &mut R::Handle) -> Result<SegmentId, OnExhausted> {
        if let Some(id) = self.pool.try_take() {
            return Ok(id);
        }
        self.reclaim.collect(local, &self.pool);
        if let Some(id) = self.pool.try_take() {
            return Ok(id);
        }
        self.counters.exhausted.fetch_add(1, Ordering::Relaxed);
        match self.config.on_exhausted {
            OnExhausted::Grow => {
                self.counters.grown.fetch_add(1, Ordering::Relaxed);
                let id = self.pool.allocate();
                self.pool.get(id).reset_for_use();
                Ok(id)
            }
            policy => Err(policy),
        }
    }

    /// One push attempt inside an operation. `spare` carries a segment taken from the pool but not linked yet.
    fn push_protected(
        &self,
        local: &mut R::Handle,
        mut value: T,
        spare: &mut Option<SegmentId>,
    ) -> Result<(), Blocked<T>> {
        let size = self.config.segment_size;
        loop {
            let tail = self.protect(local, &self.tail);
            let segment = self.pool.get(tail.index());
            let generation = tail.generation();
            let word = StateWord(segment.word.load(Ordering::Acquire));
            if word.generation() != generation && !cfg!(segpool_mutant = "unchecked_reserve_generation") {
                self.count_stale_view();
                continue;
            }
            let reserved = word.reserved();
            if reserved < size && word.state() == state::OPEN {
                let next_state = if reserved + 1 == size { state::CLOSED } else { state::OPEN };
                let reservation = StateWord::new(next_state, reserved + 1, generation);
                if segment
                    .word
                    .compare_exchange_weak(word.0, reservation.0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: our CAS on the generation-checked state word reserved slot `reserved` of this
                    // generation (invariant 2); the segment is type-stable and cannot be retired before the slot
                    // is published and read (invariant 4).
                    unsafe { segment.write(reserved, value, generation) };
                    return Ok(());
                }
                spin_hint();
                continue;
            }
            // The tail segment is full: make sure it has a successor, then help the tail onto it.
            let next = SegRef::from_bits(segment.next.load(Ordering::Acquire));
            if !next.is_none() {
                let _ = self.tail.compare_exchange(tail.bits(), next.bits(), Ordering::AcqRel, Ordering::Relaxed);
                continue;
            }
            if next != SegRef::none(generation) {
                self.count_stale_view(); // the `next` word belongs to a later generation
                continue;
            }
            let fresh_id = match spare.take() {
                Some(id) => id,
                None => match self.take_segment(local) {
                    Ok(id) => id,
                    Err(OnExhausted::Wait(_)) => return Err(Blocked::MustWait(value)),
                    Err(_) => return Err(Blocked::Exhausted(value)),
                },
            };
            let fresh_segment = self.pool.get(fresh_id);
            let fresh_generation = fresh_segment.generation();
            let fresh = SegRef::new(fresh_id, fresh_generation);
            // Before every attempt, so that the strategy's birth stamp precedes the link that makes it reachable.
            self.reclaim.born(local, fresh_id, &self.pool);
            let position = segment.first_position.load(Ordering::Relaxed) + size as u64;
            fresh_segment.first_position.store(position, Ordering::Relaxed);
            // SAFETY: `fresh_id` came from the arena (or `spare`) to this thread and is not linked: it is private
            // to us, and slot 0 is empty (a failed link below takes the value back before keeping it as a spare).
            unsafe { fresh_segment.prefill(value, fresh_generation) };
            match segment.next.compare_exchange(next.bits(), fresh.bits(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let _ = self.tail.compare_exchange(tail.bits(), fresh.bits(), Ordering::AcqRel, Ordering::Relaxed);
                    return Ok(());
                }
                Err(_) => {
                    // Someone else linked first: our segment was never reachable, so take the value back and keep
                    // the segment for later.
                    // SAFETY: we prefilled it above in `fresh_generation` and the link failed.
                    value = unsafe { fresh_segment.unfill(fresh_generation) };
                    *spare = Some(fresh_id);
                }
            }
        }
    }

    /// Claims and moves out one contiguous run of up to `max` published values from the head, inside an
    /// operation. Returns how many were passed to `sink`.
    fn pop_protected(&self, local: &mut R::Handle, max: usize, sink: &mut impl FnMut(T)) -> usize {
        let size = self.config.segment_size;
        loop {
            let head = self.protect(local, &self.head);
            let segment = self.pool.get(head.index());
            let generation = head.generation();
            let claim = ClaimWord(segment.consumer.claim.load(Ordering::Acquire));
            if claim.generation() != generation && !cfg!(segpool_mutant = "untagged_claim") {
                self.count_stale_view();
                continue;
            }
            let start = claim.claimed();
            if start < size {
                let limit = size.min(start.saturating_add(max));
                let mut end = start;
                if cfg!(segpool_mutant = "batch_claims_unpublished") && segment.is_published(start, generation) {
                    // Mutant: once the run's first slot is published, the run is bounded by the reserve count, as
                    // if producers published in reservation order; a batch claims across a slot still being written.
                    let reserved = StateWord(segment.word.load(Ordering::Acquire)).reserved();
                    end = limit.min(reserved.max(start + 1));
                } else if cfg!(segpool_mutant = "batch_skips_gap") {
                    // Mutant: the run's length is the number of published slots up to the limit, not the length of
                    // the published prefix; a batch claims across a gap that a later published slot makes up for.
                    end = start + (start..limit).filter(|&index| segment.is_published(index, generation)).count();
                }
                while end < limit && segment.is_published(end, generation) {
                    end += 1;
                }
                if end == start {
                    // Empty, or the next value's producer is still writing it, unless the slot stopped being ours
                    // to read: claimed by another consumer, or the segment moved to a later generation, whose
                    // stamps never match ours (only a strategy that reuses too early lets that happen, but then a
                    // stale `None` would report a non-empty queue as empty; loom found it with `Unprotected`).
                    if segment.consumer.claim.load(Ordering::Acquire) != claim.0 {
                        spin_hint();
                        continue;
                    }
                    return 0;
                }
                let claimed = ClaimWord::new(end, generation);
                if segment
                    .consumer
                    .claim
                    .compare_exchange_weak(claim.0, claimed.0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    spin_hint();
                    continue;
                }
                for index in start..end {
                    // SAFETY: our generation-checked claim CAS covered `start..end`, each of which we saw
                    // published in this generation (invariant 3); the segment is not retired before the
                    // `consumed` update below (invariant 4).
                    sink(unsafe { segment.take(index) });
                }
                let taken = end - start;
                self.finish_reads(local, segment, head, taken as u32);
                if end == size {
                    // The run emptied the segment: unlink it now, while it is still protected, rather than in the
                    // next pop, which would first protect it again only to find it empty (at SegmentSize 1, one
                    // protect per value saved).
                    let next = SegRef::from_bits(segment.next.load(Ordering::Acquire));
                    if !next.is_none() {
                        self.unlink(local, segment, head, next);
                    }
                }
                return taken;
            }
            // Every slot is claimed: unlink the segment once it has a successor.
            let next = SegRef::from_bits(segment.next.load(Ordering::Acquire));
            if next.is_none() {
                if next != SegRef::none(generation) {
                    self.count_stale_view();
                    continue;
                }
                return 0; // the queue is empty at this instant
            }
            self.unlink(local, segment, head, next);
        }
    }

    /// Unlinks the segment `head` names, every slot of which is claimed, in favour of its successor `next`, unless
    /// another consumer did; inside an operation that protects it.
    fn unlink(&self, local: &mut R::Handle, segment: &Segment<T, R::SegmentMeta>, head: SegRef, next: SegRef) {
        // Move the tail first so it never points at a segment behind the head (and so never at a retired one).
        // Load before the CAS: the tail is the producers' line, and it has almost always moved on already; a
        // failing CAS would still take the line away from them exclusively.
        if self.load_ref(&self.tail) == head {
            let _ = self.tail.compare_exchange(head.bits(), next.bits(), Ordering::AcqRel, Ordering::Relaxed);
        }
        if self.head.compare_exchange(head.bits(), next.bits(), Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            self.finish_reads(local, segment, head, 1);
        }
    }

    /// Records `count` finished reads (or the unlink, as 1) on a segment, and retires it if that completes it.
    fn finish_reads(&self, local: &mut R::Handle, segment: &Segment<T, R::SegmentMeta>, at: SegRef, count: u32) {
        let size = self.config.segment_size as u32;
        // AcqRel: every read of the segment's slots happens before the retirement by whoever finishes last.
        let done = segment.consumer.consumed.fetch_add(count, Ordering::AcqRel) + count;
        // The `+ 1` is the unlink: a segment is retired only once it is off the list as well as read.
        let retire_at = if cfg!(segpool_mutant = "retire_before_unlink") { size } else { size + 1 };
        if done == retire_at {
            self.counters.retired.fetch_add(1, Ordering::Relaxed);
            self.reclaim.retire(local, at.index(), &self.pool);
        }
    }
}

impl<T, R: Reclaim> Default for SegQueue<T, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, R: Reclaim> fmt::Debug for SegQueue<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegQueue")
            .field("strategy", &R::NAME)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T, R: Reclaim> Drop for SegQueue<T, R> {
    fn drop(&mut self) {
        // `&mut self`: no operation is in flight, so every reserved slot was written and published.
        let mut current = self.load_ref(&self.head);
        loop {
            let segment = self.pool.get(current.index());
            let generation = current.generation();
            let first = ClaimWord(segment.consumer.claim.load(Ordering::Acquire)).claimed();
            let reserved = StateWord(segment.word.load(Ordering::Acquire)).reserved();
            for index in first..reserved {
                if segment.is_published(index, generation) {
                    // SAFETY: published and unclaimed in the current generation, and `&mut self` gives exclusive
                    // access: this is the slot's one read (invariant 3).
                    unsafe { segment.drop_in_place(index) };
                }
            }
            let next = SegRef::from_bits(segment.next.load(Ordering::Acquire));
            if next.is_none() {
                break;
            }
            current = next;
        }
        // The pool drops the segments themselves.
    }
}
