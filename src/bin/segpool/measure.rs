//! Instruments: a clock, latency samples, a counting allocator and a sampler of unreclaimed segments.
//!
//! Memory is measured in runs of its own (as the reclamation literature does): the counting allocator counts only
//! while a memory run has switched it on, so a throughput run pays one relaxed load per allocation, and the sampler
//! thread runs only in memory runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Every 64th job carries its submission time: often enough for a p99 over a short run, rare enough that reading
/// the clock costs under a nanosecond per job.
pub const SAMPLE_EVERY: u64 = 64;

/// An atomic on a cache line of its own, so that a counter the producers read does not slow down its neighbours.
#[repr(align(128))]
#[derive(Default)]
pub struct Padded<T>(pub T);

/// Nanoseconds since the start of the program; never 0, so that 0 can mean "not sampled".
#[derive(Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn new() -> Self {
        Clock(Instant::now())
    }

    pub fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64 + 1
    }
}

/// Latency samples written by any thread into slots reserved up front (no allocation while measuring).
pub struct Samples {
    slots: Box<[AtomicU64]>,
    next: AtomicUsize,
}

impl Samples {
    pub fn with_capacity(capacity: usize) -> Self {
        Samples { slots: (0..capacity).map(|_| AtomicU64::new(0)).collect(), next: AtomicUsize::new(0) }
    }

    /// Records one latency; once the slots are full, further samples are dropped.
    pub fn record(&self, nanos: u64) {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(slot) = self.slots.get(index) {
            slot.store(nanos, Ordering::Relaxed);
        }
    }

    /// The samples, sorted. Call after every recording thread's writes happened-before (joined, or synchronised
    /// through the completion counter).
    pub fn sorted(&self) -> Vec<u64> {
        let count = self.next.load(Ordering::Relaxed).min(self.slots.len());
        let mut samples: Vec<u64> = self.slots[..count].iter().map(|slot| slot.load(Ordering::Relaxed)).collect();
        samples.sort_unstable();
        samples
    }
}

/// The `q`-quantile (0..=1) of sorted samples, or `None` without samples.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    let last = sorted.len().checked_sub(1)?;
    Some(sorted[((last as f64) * q).round() as usize])
}

/// Counts allocations (`alloc`, `alloc_zeroed`, `realloc`) while switched on.
pub struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s guarantees are
// ours; the counting touches only two static atomics and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn count_one() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts the allocations of every thread from `start` to `stop`.
pub struct AllocationWindow {
    at_start: u64,
}

impl AllocationWindow {
    pub fn start() -> Self {
        COUNTING.store(true, Ordering::SeqCst);
        AllocationWindow { at_start: ALLOCATIONS.load(Ordering::SeqCst) }
    }

    pub fn stop(self) -> u64 {
        COUNTING.store(false, Ordering::SeqCst);
        ALLOCATIONS.load(Ordering::SeqCst) - self.at_start
    }
}

/// Polls a gauge (unreclaimed segments) every 100 µs on its own thread and keeps the maximum. The sampler sleeps
/// between looks, so it takes little CPU from the measured threads; a peak shorter than 100 µs can be missed,
/// which the paper states.
pub fn peak_while<T>(gauge: impl Fn() -> u64 + Sync, work: impl FnOnce() -> T) -> (T, u64) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = gauge();
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_micros(100));
                peak = peak.max(gauge());
            }
            peak.max(gauge())
        });
        let result = work();
        stop.store(true, Ordering::Release);
        (result, sampler.join().expect("the sampler does not panic"))
    })
}
