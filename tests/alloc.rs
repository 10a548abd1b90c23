#![cfg(segpool_std)]
//! Steady state allocates nothing: a counting global allocator shows zero allocations per push/pop once a queue
//! has warmed up, for every strategy that reuses segments, and the expected growth for `Leak`.
//!
//! Only allocations made by the measuring thread while its counter is switched on are counted, so the test
//! harness's own threads cannot disturb the numbers.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use segpool::{Config, OnExhausted, Reclaim, SegQueue};

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the thread-locals touched are
// const-initialised `Cell`s, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
        }
        // SAFETY: forwarded with the caller's layout, which satisfies `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (every allocation goes through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
        }
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made by this thread while running `f`.
fn count_allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

const PAIRS: u64 = 20_000;

fn queue<R: Reclaim>(segment_size: usize, on_exhausted: OnExhausted) -> SegQueue<u64, R> {
    // Enough segments for Limbo's ring (8) plus the queue, so the strategies that reuse need never grow.
    let config = Config { segment_size, segment_count: 16, on_exhausted, limbo_len: 8 };
    SegQueue::with_config(config).expect("valid config")
}

/// Push/pop pairs with up to `depth` values in flight, through one handle.
fn traffic<R: Reclaim>(handle: &mut segpool::Handle<'_, u64, R>, pairs: u64, depth: u64) {
    for value in 0..depth {
        handle.push(value).expect("warm queue has room");
    }
    for value in depth..pairs {
        handle.push(value).expect("warm queue has room");
        assert!(handle.pop().is_some());
    }
    for _ in 0..depth {
        assert!(handle.pop().is_some());
    }
}

/// After a warm-up that fills the strategy's backlog, `PAIRS` push/pop pairs allocate nothing.
fn steady_state_allocates_nothing<R: Reclaim>(segment_size: usize) {
    let q = queue::<R>(segment_size, OnExhausted::Fail);
    let mut handle = q.handle();
    let depth = segment_size as u64 + 1; // values span two segments, so segments turn over
    traffic(&mut handle, PAIRS, depth); // warm-up: every retirement path has run, the backlog is full
    let warm = q.stats();
    let allocations = count_allocations(|| traffic(&mut handle, PAIRS, depth));
    let stats = q.stats();
    assert_eq!(allocations, 0, "{} at SegmentSize={segment_size}: {stats:?}", R::NAME);
    assert_eq!(stats.segments_allocated, warm.segments_allocated, "{stats:?}");
    assert!(stats.segments_recycled > warm.segments_recycled, "segments must turn over: {stats:?}");
}

/// `Leak` never reuses, so every `segment_size` values cost one fresh segment: its allocations grow linearly.
fn leak_grows(segment_size: usize) {
    let q = queue::<segpool::Leak>(segment_size, OnExhausted::Grow);
    let mut handle = q.handle();
    traffic(&mut handle, PAIRS, 1);
    let before = q.stats();
    let allocations = count_allocations(|| traffic(&mut handle, PAIRS, 1));
    let grown = q.stats().segments_allocated - before.segments_allocated;
    let expected = PAIRS / segment_size as u64;
    // Each value takes one slot; a segment holds `segment_size`, so about `expected` fresh segments.
    assert!(grown.abs_diff(expected) <= 2, "grew {grown} segments, expected about {expected}");
    // A segment is two allocations (header, slots with their stamps), plus an occasional directory chunk.
    assert!(allocations >= 2 * grown, "{allocations} allocations for {grown} segments");
    assert!(allocations <= 2 * grown + 32, "{allocations} allocations for {grown} segments");
}

#[test]
#[cfg_attr(miri, ignore = "40,000 pairs per run: far too slow for Miri, and an allocation count, not memory safety")]
fn leak_grows_at_segment_size_1() {
    leak_grows(1);
}

#[test]
#[cfg_attr(miri, ignore = "40,000 pairs per run: far too slow for Miri, and an allocation count, not memory safety")]
fn leak_grows_at_segment_size_64() {
    leak_grows(64);
}

/// The counter sees allocations: without this, a broken allocator hook would make every zero above vacuous.
#[test]
fn counter_counts() {
    let allocations = count_allocations(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert_eq!(allocations, 1);
}

// The strategies whose queue allocates nothing once warm (`allocation_free` in the list): `limbo::segment_size_1`
// and so on.
support::for_each_strategy! {
    |R| if allocation_free {
        #[test]
        #[cfg_attr(miri, ignore = "40,000 pairs per run: far too slow for Miri, and an allocation count, not \
                                   memory safety")]
        fn segment_size_1() {
            super::steady_state_allocates_nothing::<R>(1);
        }

        #[test]
        #[cfg_attr(miri, ignore = "40,000 pairs per run: far too slow for Miri, and an allocation count, not \
                                   memory safety")]
        fn segment_size_64() {
            super::steady_state_allocates_nothing::<R>(64);
        }
    }
}
