#![cfg(segpool_std)]
//! The typed pool allocates nothing per job: once warm, submitting through a [`Submitter`] and running the jobs
//! on the workers makes zero heap allocations, for every strategy whose queue allocates nothing once warm (those
//! marked `allocation_free` in `support::for_each_strategy!`), for the mutex baseline and for io_uring (Linux). Boxed closures, by
//! contrast, cost one allocation per job, which the counter must see.
//!
//! The counter is process-wide (the workers are other threads), so this binary holds one test function: nothing
//! else runs while it counts.
//!
//! [`Submitter`]: segpool::pool::Submitter

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use segpool::pool::{BackendKind, MutexDeque, Segmented};
use segpool::{OnExhausted, Pool, Reclaim, Submit};

struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are plain atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout, which satisfies `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (every allocation goes through `alloc` above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made by any thread while `f` runs.
fn count_allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

const JOBS: u64 = 20_000;
/// Jobs submitted but not yet run, at most: keeps a `Fail` pool from running out of segments.
const IN_FLIGHT: u64 = 256;

/// Submits `JOBS` jobs through `submit`, keeping at most `IN_FLIGHT` unrun, and waits until all ran.
fn traffic(submit: &dyn Submit<u64>, ran: &AtomicU64) {
    let start = ran.load(Ordering::Acquire);
    for (submitted, job) in (1..=JOBS).enumerate() {
        while submitted as u64 - (ran.load(Ordering::Acquire) - start) >= IN_FLIGHT {
            std::hint::spin_loop();
        }
        let mut job = job;
        while let Err(refused) = submit.submit(job) {
            job = refused.into_inner(); // exhausted for a moment: the job is handed back, try again
            std::hint::spin_loop();
        }
    }
    while ran.load(Ordering::Acquire) - start < JOBS {
        std::thread::yield_now();
    }
}

/// Allocations per `JOBS` jobs through a warm typed pool on backend `B`.
fn typed_pool_allocations<B: BackendKind>() -> u64 {
    let ran = Arc::new(AtomicU64::new(0));
    // While warming up, each job busy-waits a few microseconds: the submitter outruns the workers, so the queue
    // reaches its deepest (IN_FLIGHT) and both workers pop and retire, and every buffer grows to its working size.
    let slow = Arc::new(AtomicBool::new(true));
    let pool = {
        let (ran, slow) = (ran.clone(), slow.clone());
        Pool::builder()
            .workers(2)
            // Limbo keeps up to 512 segments (its default ring) out of reuse: give it room for the ring and the
            // queue, and small segments, so that the warm-up fills the ring and segments then turn over.
            .segment_size(8)
            .segment_count(600)
            .on_exhausted(OnExhausted::Fail)
            .handler(move |job: u64| {
                if slow.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    while began.elapsed() < Duration::from_micros(5) {
                        std::hint::spin_loop();
                    }
                }
                std::hint::black_box(job);
                ran.fetch_add(1, Ordering::Release);
            })
            .backend::<B>()
            .build()
            .expect("valid pool")
    };
    let submitter = pool.submitter();
    traffic(&submitter, &ran); // warm-up: every buffer has its working size, every segment has turned over
    slow.store(false, Ordering::Relaxed);
    let allocations = count_allocations(|| traffic(&submitter, &ran));
    drop(submitter);
    assert!(pool.shutdown(None).not_run.is_empty());
    allocations
}

/// Allocations per `JOBS` boxed closures: one box each at least.
fn closure_pool_allocations() -> u64 {
    let ran = Arc::new(AtomicU64::new(0));
    let pool = Pool::closures().workers(2).build().expect("valid pool");
    let run = |ran: &Arc<AtomicU64>| {
        for _ in 0..JOBS {
            let ran = ran.clone();
            pool.execute(move || {
                ran.fetch_add(1, Ordering::Release);
            })
            .expect("an open pool accepts");
        }
        while !ran.load(Ordering::Acquire).is_multiple_of(JOBS) {
            std::thread::yield_now();
        }
    };
    run(&ran);
    count_allocations(|| run(&ran))
}

#[test]
#[cfg_attr(miri, ignore = "80,000 jobs per backend: far too slow for Miri, and an allocation count")]
fn typed_pool_allocates_nothing_per_job() {
    support::bounded(|| {
        // The counter must see the workers' allocations too, or every zero below would be vacuous.
        let closures = closure_pool_allocations();
        assert!(closures >= JOBS, "boxed closures: {closures} allocations for {JOBS} jobs");

        // The segmented backend with every strategy whose queue allocates nothing once warm, then the mutex baseline.
        support::for_each_strategy!(fn |R| if allocation_free {
            let allocations = typed_pool_allocations::<Segmented<R>>();
            assert_eq!(allocations, 0, "{}: {allocations} allocations for {JOBS} jobs", R::NAME);
        });
        let allocations = typed_pool_allocations::<MutexDeque>();
        assert_eq!(allocations, 0, "mutex-deque: {allocations} allocations for {JOBS} jobs");
        // io_uring keeps its jobs in a slab of reused slots: once warm, no box per job either.
        #[cfg(all(target_os = "linux", feature = "uring"))]
        {
            let allocations = typed_pool_allocations::<segpool::pool::Uring>();
            assert_eq!(allocations, 0, "io_uring: {allocations} allocations for {JOBS} jobs");
        }
    })
}
