//! The segment arena: type-stable segments, an ABA-safe free list, and waiting for a free segment.
//!
//! # Type stability
//!
//! Segments live in a directory of chunks (chunk `c` has room for `FIRST_CHUNK << c` segment pointers) and are
//! freed only when the arena is dropped. A thread holding a stale segment index therefore always dereferences live
//! memory; what it reads may belong to a later generation, which the generation checks of the queue detect
//! (see the invariants in [`crate::segment`]). The reclamation strategies decide *when a segment may be reused*;
//! none of them ever returns memory to the allocator while the queue lives. Growth (`OnExhausted::Grow`, and the
//! `Leak` baseline) adds segments to the directory; it never moves existing ones.
//!
//! # Free list
//!
//! A Treiber stack of segment indices whose head word packs `(index, tag)`. Every successful pop or push
//! increments the 32-bit tag, so a pop that read `(i, t)` and the successor of `i`, then stalled while `i` was
//! popped, used and pushed back, fails its CAS: the head is now `(i, t + k)`. (A lock would also do; the tagged
//! head keeps the arena lock-free, and reading the successor of a segment that was concurrently taken is harmless
//! because segments are type-stable.) The tag would have to wrap 2^32 times during one stall to fool it.

use std::ptr;
use std::time::Instant;

use crate::cache_padded::CachePadded;
use crate::segment::{NO_SEGMENT, Segment, SegmentId, StateWord, state};
use crate::sync::unmodelled::{AtomicPtr, AtomicU64 as CounterU64};
use crate::sync::{AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, fence};

const FIRST_CHUNK: usize = 32;
const DIRECTORY_LEN: usize = 28; // FIRST_CHUNK * (2^28 - 1) > u32::MAX

type SegmentSlot<T, M> = AtomicPtr<Segment<T, M>>;

/// Owns every segment of one queue: allocation, the free list and waiting. Public so that the model checkers can
/// exercise the free list on its own; the queue is its only user in the library.
pub struct SegmentArena<T, M> {
    segment_size: usize,
    /// `directory[c]` points at chunk `c` (an array of `FIRST_CHUNK << c` segment pointers) or is null.
    directory: [AtomicPtr<SegmentSlot<T, M>>; DIRECTORY_LEN],
    /// Number of segment indices handed out so far (= segments allocated).
    allocated: CounterU64,
    /// Segments taken off the free list for their second or later use.
    recycled: CachePadded<CounterU64>,
    /// Free-list head: `(index << 32) | tag`.
    ///
    /// It and `recycled` are written whenever a segment is taken or freed; each is on its own cache lines so that
    /// those writes do not invalidate `directory`, which every queue operation reads (false sharing).
    free_head: CachePadded<AtomicU64>,
    /// Threads blocked in [`Self::wait_take`]; releasers only take the lock when this is non-zero.
    waiters: AtomicUsize,
    wait_lock: Mutex<()>,
    wait_signal: Condvar,
}

const fn pack_free(index: SegmentId, tag: u32) -> u64 {
    ((index as u64) << 32) | tag as u64
}

const fn free_index(word: u64) -> SegmentId {
    (word >> 32) as u32
}

const fn free_tag(word: u64) -> u32 {
    word as u32
}

/// Chunk number and offset of a segment index.
#[inline]
fn locate(index: SegmentId) -> (usize, usize) {
    let spot = index as usize / FIRST_CHUNK + 1;
    let chunk = spot.ilog2() as usize;
    let chunk_start = FIRST_CHUNK * ((1 << chunk) - 1);
    (chunk, index as usize - chunk_start)
}

impl<T, M: Default> SegmentArena<T, M> {
    /// A arena with `count` segments of `segment_size` slots allocated up front, all on the free list.
    pub fn new(segment_size: usize, count: usize) -> Self {
        let arena = SegmentArena {
            segment_size,
            directory: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            allocated: CounterU64::new(0),
            recycled: CachePadded(CounterU64::new(0)),
            free_head: CachePadded(AtomicU64::new(pack_free(NO_SEGMENT, 0))),
            waiters: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            wait_signal: Condvar::new(),
        };
        for _ in 0..count {
            let id = arena.allocate();
            arena.push_free(id);
        }
        arena
    }

    /// Allocates one more segment and returns its index; it is not on the free list.
    ///
    /// # Panics
    ///
    /// If the arena already holds `MAX_SEGMENTS` segments (indices are 32-bit).
    pub fn allocate(&self) -> SegmentId {
        let id = self.allocated.fetch_add(1, Ordering::Relaxed);
        assert!(id < u64::from(NO_SEGMENT), "segment arena is full: 2^32 - 1 segments allocated");
        let id = id as SegmentId;
        let (chunk, offset) = locate(id);
        let slots = self.chunk_or_create(chunk);
        let segment = Box::into_raw(Box::new(Segment::new(self.segment_size)));
        // SAFETY: `slots` points at a live chunk of `FIRST_CHUNK << chunk` slots (chunks are freed only in Drop)
        // and `offset` is inside it by construction of `locate`.
        let slot = unsafe { &*slots.add(offset) };
        // Release: whoever learns `id` (through a facade atomic that happens after this) sees the segment.
        slot.store(segment, Ordering::Release);
        id
    }

    fn chunk_or_create(&self, chunk: usize) -> *mut SegmentSlot<T, M> {
        let entry = &self.directory[chunk];
        let existing = entry.load(Ordering::Acquire);
        if !existing.is_null() {
            return existing;
        }
        let len = FIRST_CHUNK << chunk;
        let fresh: Box<[SegmentSlot<T, M>]> = (0..len).map(|_| AtomicPtr::new(ptr::null_mut())).collect();
        let fresh = Box::into_raw(fresh) as *mut SegmentSlot<T, M>;
        match entry.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` came from `Box::into_raw` of a `len`-element boxed slice just above and was never
                // shared: the CAS that would have published it failed.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, len)) });
                winner
            }
        }
    }
}

impl<T, M> SegmentArena<T, M> {
    /// The segment with index `id`.
    ///
    /// # Panics
    ///
    /// If `id` was never allocated by this arena (a bug in the caller: every index in the queue's words came from
    /// [`Self::allocate`]).
    pub(crate) fn get(&self, id: SegmentId) -> &Segment<T, M> {
        let (chunk, offset) = locate(id);
        let slots = self.directory[chunk].load(Ordering::Acquire);
        assert!(!slots.is_null(), "segment {id} is not in this arena");
        // SAFETY: a non-null directory entry points at a live chunk of `FIRST_CHUNK << chunk` slots and `offset`
        // is inside it (see `locate`). Chunks are freed only in Drop, which has `&mut self`.
        let segment = unsafe { &*slots.add(offset) }.load(Ordering::Acquire);
        assert!(!segment.is_null(), "segment {id} is not in this arena");
        // SAFETY: non-null slot pointers come from `Box::into_raw` in `allocate` and are freed only in Drop
        // (type stability, see the module docs), so the segment outlives `&self`.
        unsafe { &*segment }
    }

    /// Segments allocated so far (up front and by growth).
    pub fn allocated(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed)
    }

    /// Segments reused after an earlier life.
    pub fn recycled(&self) -> u64 {
        self.recycled.load(Ordering::Relaxed)
    }

    /// Segments on the free list now: a statistic, counted by walking the list, so that takes and frees pay
    /// nothing for it (a counter updated by both was a cache line more crossing between producers and consumers
    /// per segment: 10 to 17 % more per value at SegmentSize 1, measured). Exact when no take or free runs
    /// meanwhile; otherwise approximate, and bounded by the segments allocated, so a walk that races with takes
    /// and frees (and may see a segment's stale successor) still ends. Segments are type-stable, so reading a
    /// successor of a segment taken meanwhile is harmless (module docs).
    pub fn free(&self) -> u64 {
        let allocated = self.allocated();
        let mut count = 0;
        let mut id = free_index(self.free_head.load(Ordering::Acquire));
        while id != NO_SEGMENT && count < allocated {
            count += 1;
            id = self.get(id).next_free.load(Ordering::Relaxed);
        }
        count
    }

    /// Pops a free segment, moves it to its next generation and returns its index. `None` if the list is empty.
    pub fn try_take(&self) -> Option<SegmentId> {
        let mut head = self.free_head.load(Ordering::Acquire);
        loop {
            let id = free_index(head);
            if id == NO_SEGMENT {
                return None;
            }
            let next = self.get(id).next_free.load(Ordering::Relaxed);
            let tag = if cfg!(segpool_mutant = "untagged_free_list") {
                free_tag(head)
            } else {
                free_tag(head).wrapping_add(1)
            };
            match self.free_head.compare_exchange_weak(head, pack_free(next, tag), Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let segment = self.get(id);
                    // Count second lives only: not fresh segments (generation 0) and not spares that a producer
                    // took but never linked (still OPEN; see `Handle::push`). A retired segment is CLOSED: every slot
                    // was reserved.
                    let word = StateWord(segment.word.load(Ordering::Relaxed));
                    if word.generation() != 0 && word.state() == state::CLOSED {
                        self.recycled.fetch_add(1, Ordering::Relaxed);
                    }
                    segment.reset_for_use();
                    return Some(id);
                }
                Err(current) => head = current,
            }
        }
    }

    /// Puts segment `id` on the free list and wakes threads waiting for one.
    ///
    /// The caller guarantees no thread will act on the segment's current generation any more (the reclamation
    /// strategy's promise), or that the segment was never published.
    pub fn push_free(&self, id: SegmentId) {
        self.push_free_all([id]);
    }

    /// Puts every segment of `ids` on the free list with one update of its head, and wakes threads waiting for
    /// one. Same promise as [`Self::push_free`] for each segment.
    ///
    /// Why a batch: the head is the one cache line that every take and every free writes. A strategy that frees
    /// what it found reusable one by one moves that line between the freeing and the taking cores once per segment
    /// (at SegmentSize 1, once per value). The segments are chained through their `next_free` words while they are
    /// still private to the caller, so only the chain's bottom link is written inside the CAS loop.
    pub fn push_free_all(&self, ids: impl IntoIterator<Item = SegmentId>) {
        let mut ids = ids.into_iter();
        let Some(bottom) = ids.next() else {
            return;
        };
        let mut top = bottom;
        for id in ids {
            self.get(id).next_free.store(top, Ordering::Relaxed);
            top = id;
        }
        let bottom_link = &self.get(bottom).next_free;
        let mut head = self.free_head.load(Ordering::Relaxed);
        if cfg!(segpool_mutant = "chain_links_once") {
            // Mutant: the bottom link is written once, before the loop, as if the head could not move meanwhile; a
            // retried CAS then publishes a chain whose bottom points at a stale head, losing what was pushed since.
            bottom_link.store(free_index(head), Ordering::Relaxed);
        }
        loop {
            if !cfg!(segpool_mutant = "chain_links_once") {
                bottom_link.store(free_index(head), Ordering::Relaxed);
            }
            let tag = if cfg!(segpool_mutant = "untagged_free_list") {
                free_tag(head)
            } else {
                free_tag(head).wrapping_add(1)
            };
            // Release: the chain's links (written above) are visible to whoever pops through them.
            match self.free_head.compare_exchange_weak(head, pack_free(top, tag), Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        // Pairs with the fence in `wait_take`: either this load sees the waiter, or the waiter's next pop sees
        // the segments pushed above.
        if !cfg!(segpool_mutant = "lost_wakeup") {
            fence(Ordering::SeqCst);
        }
        if self.waiters.load(Ordering::Relaxed) > 0 {
            let _guard = self.wait_lock.lock().unwrap_or_else(|poison| poison.into_inner());
            self.wait_signal.notify_all();
        }
    }

    /// Whether a thread is blocked in [`Self::wait_take`] (a relaxed load: a hint, read on hot paths).
    pub fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) > 0
    }

    /// Waits until a segment is free or `deadline` passes (`None`: as long as it takes).
    pub fn wait_take(&self, deadline: Option<Instant>) -> Option<SegmentId> {
        let mut guard = self.wait_lock.lock().unwrap_or_else(|poison| poison.into_inner());
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let taken = loop {
            if let Some(id) = self.try_take() {
                break Some(id);
            }
            // The lock is held from the check above until the wait starts, and `push_free` takes it before
            // notifying, so a release between the check and the wait cannot be missed.
            guard = match deadline {
                None => self.wait_signal.wait(guard).unwrap_or_else(|poison| poison.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break None;
                    }
                    match self.wait_signal.wait_timeout(guard, deadline - now) {
                        Ok((guard, _)) => guard,
                        Err(poison) => poison.into_inner().0,
                    }
                }
            };
        };
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
        taken
    }
}

impl<T, M> Drop for SegmentArena<T, M> {
    fn drop(&mut self) {
        for (chunk, entry) in self.directory.iter().enumerate() {
            let slots = entry.load(Ordering::Acquire);
            if slots.is_null() {
                continue;
            }
            let len = FIRST_CHUNK << chunk;
            // SAFETY: non-null directory entries come from `Box::into_raw` of a `len`-element boxed slice in
            // `chunk_or_create`; `&mut self` means no other thread can still use it.
            let slots = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(slots, len)) };
            for slot in slots.iter() {
                let segment = slot.load(Ordering::Acquire);
                if !segment.is_null() {
                    // SAFETY: non-null slots come from `Box::into_raw` in `allocate`, each freed exactly once here.
                    // Segment drop does not drop slot values (they are `MaybeUninit`); the queue drops the live ones
                    // before the arena is dropped.
                    drop(unsafe { Box::from_raw(segment) });
                }
            }
        }
    }
}
