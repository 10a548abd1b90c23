//! [`SegQueue`]: the lock-free segmented MPMC queue, generic over its reclamation strategy.
//!
//! The queue is a singly linked list of segments from `head` (consumers) to `tail` (producers), both
//! generation-tagged [`SegRef`]s. Producers reserve a slot with a CAS on the tail segment's state word, write the
//! value and publish the slot's stamp. Consumers claim the longest contiguous run of published slots with a CAS on
//! the head segment's claim word. A full segment gets a successor from the segment arena; a fully claimed segment
//! is unlinked (tail first, then head, as in Michael and Scott's queue, so the tail never lags behind the head) and,
//! once every claimed slot was read, retired to the strategy. The numbered invariants live in [`crate::segment`].

use std::fmt;

use crate::cache_padded::CachePadded;
use crate::config::{Config, ConfigError, OnExhausted, deadline_after};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::{ClaimWord, SegRef, Segment, SegmentId, StateWord, state};
use crate::segment_arena::SegmentArena;
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering, spin_hint};

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

#[derive(Default)]
struct Counters {
    retired: CounterU64,
    exhausted: CounterU64,
    grown: CounterU64,
    failed: CounterU64,
    waited: CounterU64,
    wait_timeouts: CounterU64,
    stale_views: CounterU64,
}

/// A snapshot of a queue's segment accounting. Under concurrency the fields are read one by one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Segments allocated: up front (`segment_count`) plus grown.
    pub segments_allocated: u64,
    /// Segments taken off the free list for a second or later use.
    pub segments_recycled: u64,
    /// Segments on the free list now. With `retired_pending` and `segments_orphaned` at zero as well, a refused
    /// push is not transient: nothing the strategy holds will come back.
    pub segments_free: u64,
    /// Segments fully consumed, unlinked and handed to the reclamation strategy.
    pub segments_retired: u64,
    /// Retired segments the strategy has not made reusable yet (Limbo: those waiting in the ring).
    pub retired_pending: u64,
    /// Retired segments whose reuse was deferred past the strategy's rule (Limbo: evicted from the ring while still
    /// referenced; reused when the last reference drops).
    pub segments_orphaned: u64,
    /// Times a push needed a segment and the pool had none (each is then grown, failed or waited).
    pub exhaustion_events: u64,
    /// Segments allocated because of `OnExhausted::Grow`.
    pub grown: u64,
    /// Pushes handed back at once under `OnExhausted::Fail`.
    pub failed_pushes: u64,
    /// Times a push waited under `OnExhausted::Wait`.
    pub waits: u64,
    /// Waits that ended without a segment (the push was handed back).
    pub wait_timeouts: u64,
    /// Generation checks that found a protected segment in a later generation. Zero for a sound strategy.
    pub stale_views: u64,
}

/// Why a push handed its value back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushErrorKind {
    /// `OnExhausted::Fail`: no free segment.
    Exhausted,
    /// `OnExhausted::Wait`: no segment became free before the timeout.
    TimedOut,
}

/// A push that could not proceed; it holds the value.
pub struct PushError<T> {
    value: T,
    kind: PushErrorKind,
}

impl<T> PushError<T> {
    /// Why the push failed.
    pub fn kind(&self) -> PushErrorKind {
        self.kind
    }

    /// The value that was not pushed.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushError").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PushErrorKind::Exhausted => f.write_str("segment arena exhausted (OnExhausted::Fail); value handed back"),
            PushErrorKind::TimedOut => {
                f.write_str("no segment became free in time (OnExhausted::Wait); value handed back")
            }
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

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
    /// `Fail`): for experiments that study exhaustion itself, such as wpool's limbo draining a small pool. Every
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
    fn push_protected(&self, local: &mut R::Handle, value: T, spare: &mut Option<SegmentId>) -> Result<(), Blocked<T>> {
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
            let fresh = SegRef::new(fresh_id, fresh_segment.generation());
            let position = segment.first_position.load(Ordering::Relaxed) + size as u64;
            fresh_segment.first_position.store(position, Ordering::Relaxed);
            match segment.next.compare_exchange(next.bits(), fresh.bits(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let _ = self.tail.compare_exchange(tail.bits(), fresh.bits(), Ordering::AcqRel, Ordering::Relaxed);
                }
                Err(_) => *spare = Some(fresh_id), // someone else linked first; keep ours for later
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
            // Move the tail first so it never points at a segment behind the head (and so never at a retired one).
            let _ = self.tail.compare_exchange(head.bits(), next.bits(), Ordering::AcqRel, Ordering::Relaxed);
            if self.head.compare_exchange(head.bits(), next.bits(), Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                self.finish_reads(local, segment, head, 1);
            }
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
            segment.word.store(StateWord::new(state::RETIRED, size as usize, at.generation()).0, Ordering::Release);
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

/// One thread's access to a [`SegQueue`]: it owns the thread's reclamation state, so operations through it skip
/// registration. Dropping it unregisters.
pub struct Handle<'q, T, R: Reclaim> {
    queue: &'q SegQueue<T, R>,
    local: R::Handle,
}

impl<'q, T, R: Reclaim> Handle<'q, T, R> {
    /// Pushes `value` at the tail. If a new segment is needed and none is free, `Config::on_exhausted` decides:
    /// grow, fail at once, or wait; a failed push hands `value` back in the error.
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let queue = self.queue;
        let mut spare = None;
        let mut value = value;
        let mut deadline = None;
        let outcome = loop {
            queue.reclaim.enter(&mut self.local);
            let attempt = queue.push_protected(&mut self.local, value, &mut spare);
            queue.reclaim.leave(&mut self.local, &queue.pool);
            match attempt {
                Ok(()) => break Ok(()),
                Err(Blocked::Exhausted(back)) => {
                    queue.counters.failed.fetch_add(1, Ordering::Relaxed);
                    break Err(PushError { value: back, kind: PushErrorKind::Exhausted });
                }
                Err(Blocked::MustWait(back)) => {
                    // Wait outside the operation: a waiting thread must not hold protections that would keep
                    // the very segments it waits for from being reclaimed.
                    let OnExhausted::Wait(timeout) = queue.config.on_exhausted else {
                        unreachable!("only OnExhausted::Wait asks to wait")
                    };
                    // `None` inside: the timeout is too long to be an `Instant`, so wait as long as it takes.
                    let until = *deadline.get_or_insert_with(|| deadline_after(timeout));
                    queue.counters.waited.fetch_add(1, Ordering::Relaxed);
                    match queue.pool.wait_take(until) {
                        Some(id) => {
                            spare = Some(id);
                            value = back;
                        }
                        None => {
                            queue.counters.wait_timeouts.fetch_add(1, Ordering::Relaxed);
                            break Err(PushError { value: back, kind: PushErrorKind::TimedOut });
                        }
                    }
                }
            }
        };
        if let Some(unused) = spare {
            queue.pool.push_free(unused); // never published, so it can go straight back
        }
        outcome
    }

    /// Pops the value at the head, or `None` if the queue is empty (or its next value is still being written).
    pub fn pop(&mut self) -> Option<T> {
        let mut popped = None;
        self.pop_run(1, &mut |value| popped = Some(value));
        popped
    }

    /// Tells the strategy that this thread is about to go quiet for a while (a pool worker about to sleep):
    /// retired segments only this handle would reclaim are handed where other handles reclaim them
    /// ([`Reclaim::park`]). The handle stays usable.
    pub fn park(&mut self) {
        self.queue.reclaim.park(&mut self.local, &self.queue.pool);
    }

    /// Pops one contiguous run of up to `max` published values, all from one segment (wpool's batch), appending
    /// them to `out` in FIFO order. Returns how many were appended; 0 if none was ready.
    pub fn pop_batch(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        if max == 0 {
            return 0;
        }
        // Reserve before claiming, so no allocation failure can strike between the claim and the reads.
        out.reserve(max.min(self.queue.config.segment_size));
        self.pop_run(max, &mut |value| out.push(value))
    }

    fn pop_run(&mut self, max: usize, sink: &mut impl FnMut(T)) -> usize {
        let queue = self.queue;
        queue.reclaim.enter(&mut self.local);
        let taken = queue.pop_protected(&mut self.local, max, sink);
        queue.reclaim.leave(&mut self.local, &queue.pool);
        taken
    }

    /// The queue this handle belongs to.
    pub fn queue(&self) -> &SegQueue<T, R> {
        self.queue
    }

    /// Enters an operation and protects the head segment, exactly as a consumer preempted in the middle of
    /// [`Self::pop`] would, and stays there until the returned guard is dropped. For experiments on robustness to
    /// stalled threads: meanwhile other handles keep working, and [`SegQueue::stats`] shows what the strategy
    /// cannot reclaim (`retired_pending`) because of the stall.
    pub fn stall(&mut self) -> Stall<'_, 'q, T, R> {
        let queue = self.queue;
        queue.reclaim.enter(&mut self.local);
        queue.protect(&mut self.local, &queue.head);
        Stall { handle: self }
    }
}

/// A handle stopped inside an operation; see [`Handle::stall`]. Dropping it ends the operation.
#[must_use = "the stall ends when the guard is dropped"]
pub struct Stall<'h, 'q, T, R: Reclaim> {
    handle: &'h mut Handle<'q, T, R>,
}

impl<T, R: Reclaim> Drop for Stall<'_, '_, T, R> {
    fn drop(&mut self) {
        let queue = self.handle.queue;
        queue.reclaim.leave(&mut self.handle.local, &queue.pool);
    }
}

impl<T, R: Reclaim> Drop for Handle<'_, T, R> {
    fn drop(&mut self) {
        self.queue.reclaim.unregister(&mut self.local, &self.queue.pool);
    }
}
