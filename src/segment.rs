//! Segments: fixed-size arrays of slots, each use of which is stamped with a generation.
//!
//! # Invariants (the rest of the crate relies on these; `// SAFETY:` comments elsewhere refer to them by number)
//!
//! 1. **Generations are unique per use.** A segment's generation changes only in `Segment::reset_for_use`, which
//!    only the thread that took the segment off the free list calls, before the segment is reachable. Generation 0
//!    is never used, so the zeroed stamps of a new segment never look published.
//! 2. **A slot is written once per generation**, by the producer whose reservation CAS on `Segment::word`
//!    (which compares state, reserve count *and* generation) moved the reserve count past it. Slot 0 is the
//!    exception: the producer that links a fresh segment writes it and reserves it before the link, while the
//!    segment is still private to it (`Segment::prefill`); if the link fails it takes the value back
//!    (`Segment::unfill`) before anyone could see it. Either way, once a segment is reachable each slot is
//!    written once per generation.
//! 3. **A slot is read once per generation**, by the consumer whose claim CAS on `Segment::consumer.claim` (which
//!    compares the generation too) moved the claim index past it, and only after the slot's stamp equals that
//!    generation (the producer publishes the stamp with `Release` after writing the value; the consumer loads it
//!    `Acquire`).
//! 4. **Retirement happens once per generation, after every slot was read and the segment was unlinked.**
//!    `Segment::consumer.consumed` counts slots read plus one for the unlink; the thread that brings it to
//!    `segment_size + 1` retires the segment. Before that the segment was also unlinked from the queue's tail.
//! 5. **Every reference to a segment carries the generation it was taken in** ([`SegRef`]), and every CAS that can
//!    race with recycling compares a generation: the reservation word, the claim word, the `next` link
//!    ([`SegRef::none`] is per-generation) and the queue's head and tail. A thread holding a stale reference
//!    therefore fails its CAS instead of acting on the segment's next life.

use std::mem::MaybeUninit;

use crate::cache_padded::CachePadded;
use crate::sync::{AtomicU32, AtomicU64, Ordering, UnsafeCell};

/// Index of a segment in its pool's directory.
pub type SegmentId = u32;

/// The index value that means "no segment".
pub(crate) const NO_SEGMENT: SegmentId = u32::MAX;

/// The reserve field of the state word is 24 bits wide, so this is the largest segment.
pub const MAX_SEGMENT_SIZE: usize = (1 << 24) - 1;

/// A generation-tagged reference to a segment, packed in one `u64` (index in the high half, generation in the low
/// half) so it can be stored in and compared-and-swapped on one atomic word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SegRef(u64);

impl SegRef {
    /// A reference to segment `index` in its generation `generation`.
    pub const fn new(index: SegmentId, generation: u32) -> Self {
        SegRef(((index as u64) << 32) | generation as u64)
    }

    /// "No successor" as seen by generation `generation` of some segment. Being per-generation, a stale producer's
    /// CAS of `next` from `none(old)` fails once the segment has moved to a new generation (invariant 5).
    pub const fn none(generation: u32) -> Self {
        SegRef::new(NO_SEGMENT, generation)
    }

    /// Rebuilds a reference from the word it was stored in.
    pub const fn from_bits(bits: u64) -> Self {
        SegRef(bits)
    }

    /// The packed word, for storing in an atomic.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The segment's index in its pool.
    pub const fn index(self) -> SegmentId {
        (self.0 >> 32) as u32
    }

    /// The generation the reference was taken in.
    pub const fn generation(self) -> u32 {
        self.0 as u32
    }

    /// Whether this is a "no segment" reference.
    pub const fn is_none(self) -> bool {
        self.index() == NO_SEGMENT
    }
}

/// Life-cycle states kept in the top byte of [`Segment::word`].
pub(crate) mod state {
    /// Producers may reserve slots.
    pub const OPEN: u8 = 0;
    /// Every slot is reserved (set by the CAS that reserves the last one).
    pub const CLOSED: u8 = 1;
    /// Fresh from the allocator, never used. (A retired segment stays `CLOSED` until its next reset: nothing reads
    /// its state in between, so the retiring consumer does not write the word, which would move its cache line to
    /// the consumer and back to the next producer once per segment.)
    pub const FRESH: u8 = 2;
}

/// The packed segment state word: `state (8 bits) | reserve count (24 bits) | generation (32 bits)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct StateWord(pub u64);

impl StateWord {
    pub const fn new(state: u8, reserved: usize, generation: u32) -> Self {
        StateWord(((state as u64) << 56) | ((reserved as u64) << 32) | generation as u64)
    }
    pub const fn state(self) -> u8 {
        (self.0 >> 56) as u8
    }
    pub const fn reserved(self) -> usize {
        ((self.0 >> 32) & 0x00ff_ffff) as usize
    }
    pub const fn generation(self) -> u32 {
        self.0 as u32
    }
}

/// The consumer claim word: `claimed index (32 bits) | generation (32 bits)`. Tagging it with the generation closes
/// the ABA gap of wpool's untagged consumer-head CAS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ClaimWord(pub u64);

impl ClaimWord {
    pub const fn new(claimed: usize, generation: u32) -> Self {
        ClaimWord(((claimed as u64) << 32) | generation as u64)
    }
    pub const fn claimed(self) -> usize {
        (self.0 >> 32) as usize
    }
    pub const fn generation(self) -> u32 {
        self.0 as u32
    }
}

/// The generation after `generation`, skipping 0 (invariant 1).
pub(crate) const fn next_generation(generation: u32) -> u32 {
    match generation.wrapping_add(1) {
        0 => 1,
        next => next,
    }
}

/// One slot: the value and its stamp side by side, so that handing a value from producer to consumer moves one
/// cache line (for values of up to a few words) rather than two. The stamps used to be a separate array, and a
/// consumer polling an almost empty queue pulled both the stamp's line and the value's line across at every job.
struct Slot<T> {
    /// The generation in which the slot was last published (0: never).
    stamp: AtomicU32,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The words only consumers write, kept together on their own cache lines (see [`Segment`]).
pub(crate) struct ConsumerWords {
    /// The [`ClaimWord`].
    pub claim: AtomicU64,
    /// Slots read in this generation plus one for the unlink from the queue head (invariant 4).
    pub consumed: AtomicU32,
}

/// One segment: `segment_size` slots plus the words that coordinate them. `M` is the per-segment state of the
/// reclamation strategy (Limbo's reference count; `()` for the others).
///
/// Layout: the three groups of words that different threads write each get their own cache lines, so that a
/// write by one side does not invalidate a line the other side only reads (false sharing):
///
/// - `word`: written by producers (one CAS per push);
/// - `consumer`: written by consumers (the claim CAS and the `consumed` count, both once per pop, next to each
///   other because the same thread writes them within a few instructions). `consumed` used to share a line with
///   the `stamps` and `slots` pointers that every push and pop reads, so each pop's `fetch_add` invalidated a
///   line the producers were about to read (a profile of 2-thread push/pop pairs put a fifth of `pop` on it);
/// - `meta`: the strategy's per-segment state (Limbo increments a count in it at every operation, from both
///   sides);
/// - everything else is written once per generation (`next`, `first_position`, `next_free`) or never (the
///   `slots` pointer) and read by both sides.
pub(crate) struct Segment<T, M> {
    /// Producer side: the packed [`StateWord`].
    pub word: CachePadded<AtomicU64>,
    /// Consumer side: the claim word and the read count.
    pub consumer: CachePadded<ConsumerWords>,
    /// The successor ([`SegRef`]), or [`SegRef::none`] of this generation.
    pub next: AtomicU64,
    /// Free-list link (index of the next free segment), owned by the segment arena.
    pub next_free: AtomicU32,
    /// Queue position of slot 0, for the approximate `len`. Written before the segment is linked.
    pub first_position: AtomicU64,
    /// The reclamation strategy's per-segment state.
    pub meta: CachePadded<M>,
    /// The slots, each with its stamp next to its value (see [`Slot`]).
    slots: Box<[Slot<T>]>,
}

impl<T, M: Default> Segment<T, M> {
    /// A new segment in generation 0 (never used, invariant 1): it must go through [`Self::reset_for_use`].
    pub fn new(size: usize) -> Self {
        Segment {
            word: CachePadded(AtomicU64::new(StateWord::new(state::FRESH, size, 0).0)),
            consumer: CachePadded(ConsumerWords {
                claim: AtomicU64::new(ClaimWord::new(size, 0).0),
                consumed: AtomicU32::new(0),
            }),
            next: AtomicU64::new(SegRef::none(0).bits()),
            next_free: AtomicU32::new(NO_SEGMENT),
            first_position: AtomicU64::new(0),
            meta: CachePadded(M::default()),
            slots: (0..size)
                .map(|_| Slot { stamp: AtomicU32::new(0), value: UnsafeCell::new(MaybeUninit::uninit()) })
                .collect(),
        }
    }
}

impl<T, M> Segment<T, M> {
    pub fn size(&self) -> usize {
        self.slots.len()
    }

    /// Moves the segment to its next generation with every slot free, and returns that generation.
    ///
    /// Called only by the thread that took the segment off the free list, before it becomes reachable: the
    /// `Release` link CAS that publishes it orders these stores before any use. Threads with stale references may
    /// read the words meanwhile; whatever mix of old and new values they see, their generation comparison fails.
    pub fn reset_for_use(&self) -> u32 {
        let old = StateWord(self.word.load(Ordering::Relaxed)).generation();
        let generation = next_generation(old);
        let size = self.size();
        self.consumer.consumed.store(0, Ordering::Relaxed);
        self.next.store(SegRef::none(generation).bits(), Ordering::Relaxed);
        self.consumer.claim.store(ClaimWord::new(0, generation).0, Ordering::Relaxed);
        self.word.store(StateWord::new(state::OPEN, 0, generation).0, Ordering::Release);
        debug_assert!(size <= MAX_SEGMENT_SIZE);
        generation
    }

    /// The generation the segment was last reset to (0 if never used).
    pub fn generation(&self) -> u32 {
        StateWord(self.word.load(Ordering::Acquire)).generation()
    }

    /// Is slot `index` published in `generation`?
    pub fn is_published(&self, index: usize, generation: u32) -> bool {
        self.slots[index].stamp.load(Ordering::Acquire) == generation
    }

    /// Writes `value` into slot `index` and publishes it for `generation`.
    ///
    /// # Safety
    ///
    /// The caller's reservation CAS for slot `index` in `generation` succeeded and it has not written the slot yet
    /// (invariant 2), or the segment is private to it ([`Self::prefill`]): no other thread reads or writes the slot
    /// until the stamp is published.
    pub unsafe fn write(&self, index: usize, value: T, generation: u32) {
        // SAFETY: by the caller's contract this thread owns the slot exclusively until the stamp below is stored.
        self.slots[index].value.with_mut(|slot| unsafe { (*slot).write(value) });
        let publish = if cfg!(segpool_mutant = "relaxed_publish") { Ordering::Relaxed } else { Ordering::Release };
        self.slots[index].stamp.store(generation, publish);
    }

    /// Writes `value` into slot 0 and reserves that slot, before the segment is linked: a full tail then costs
    /// one link, instead of a link and then a reservation on the new tail (another protect, load and CAS per
    /// segment; at SegmentSize 1, per value).
    ///
    /// # Safety
    ///
    /// The segment is private to the caller: reset for `generation` by it and not linked (no other thread can
    /// reach it until the caller's link CAS publishes it), and slot 0 holds no value.
    pub unsafe fn prefill(&self, value: T, generation: u32) {
        let state = if self.size() == 1 { state::CLOSED } else { state::OPEN };
        // (The mutant forgets the reservation: a producer that reaches the linked segment reserves slot 0 again
        // and overwrites the value.)
        let reserved = if cfg!(segpool_mutant = "prefill_unreserved") { 0 } else { 1 };
        // Relaxed: the link CAS that makes the segment reachable publishes the store (it is `AcqRel`).
        self.word.store(StateWord::new(state, reserved, generation).0, Ordering::Relaxed);
        // SAFETY: the segment is private to this thread (caller's contract), so nothing else touches slot 0.
        unsafe { self.write(0, value, generation) };
    }

    /// Takes back the value [`Self::prefill`] wrote after the link failed, and releases the reservation.
    ///
    /// # Safety
    ///
    /// The caller prefilled this segment in `generation` and its link CAS failed, so the segment is still private.
    pub unsafe fn unfill(&self, generation: u32) -> T {
        self.word.store(StateWord::new(state::OPEN, 0, generation).0, Ordering::Relaxed);
        // SAFETY: slot 0 holds the value the caller prefilled, and nobody else could have reached it.
        unsafe { self.take(0) }
    }

    /// Moves the value out of slot `index`.
    ///
    /// # Safety
    ///
    /// The caller's claim CAS covering slot `index` succeeded in the generation whose stamp it observed with
    /// [`Self::is_published`] (invariant 3), and it has not taken the slot yet; the segment is not retired before
    /// the caller reports the read through [`Self::consumed`] (invariant 4).
    pub unsafe fn take(&self, index: usize) -> T {
        // SAFETY: the slot was initialised by the producer whose stamp we acquired, and the claim makes this thread
        // its only reader in this generation.
        self.slots[index].value.with(|slot| unsafe { (*slot).assume_init_read() })
    }

    /// Drops the value in slot `index` in place.
    ///
    /// # Safety
    ///
    /// As for [`Self::take`], and the caller has exclusive access to the whole segment (queue drop).
    pub unsafe fn drop_in_place(&self, index: usize) {
        // SAFETY: forwarded from the caller.
        drop(unsafe { self.take(index) });
    }
}
