//! The cost of the reclamation strategies themselves, and what a stalled thread does to them.
//!
//! Timed groups (criterion, time per operation or value):
//!
//! - `reclaim/protect/<strategy>`: the raw [`Reclaim`] trait driven from outside the queue, on one thread with one
//!   handle: `enter`, `protect` of a word naming a live segment, `leave`. Every queue operation pays this once (or
//!   more, if it retries).
//! - `reclaim/retire/<strategy>`: one segment life through the raw trait: inside `enter`/`leave`, `protect` the
//!   current segment, take a fresh one from the segment arena (calling `collect` if the pool is dry, and allocating
//!   if it is still dry: `Leak` always, after the first 64), stamp its birth (`born`, as the queue's push does),
//!   store it in the word (the unlink) and `retire` the old one. Reclamation work the strategy defers (scans, epoch steps, the ring) runs in some of these calls, so
//!   the mean includes it amortised. `retire` minus `protect` is the per-retirement cost, free-list pop and push
//!   included; `unprotected` (reuse at retirement, no protection: unsound, a baseline only) is that floor.
//! - `reclaim/stall/<strategy>/{running,stalled}`: push/pop pairs on one thread through a `SegQueue` at
//!   SegmentSize 1 (every value retires a segment) with `OnExhausted::Grow` and 64 segments up front, while a
//!   second handle either is idle (`running`) or sits in `Handle::stall`, holding the head segment as a consumer
//!   preempted inside `pop` would (`stalled`). The stall lasts one round (at most 65,536 values, on a fresh queue),
//!   so the strategies that cannot reclaim past it (`epoch`, `crossbeam-epoch`, and `leak` always) pay for one
//!   fresh segment per value: the time shows what the memory growth costs.
//!
//! The in-queue view of retirement is in `benches/queue.rs`: `queue/pairs` at SegmentSize 1 (one retirement per
//! value) against 1024 (one per 1024 values).
//!
//! Memory pass (printed before the criterion groups, only under `cargo bench`): memory is measured in separate
//! runs from time, as in the reclamation literature. For each strategy, SegmentSize 1, 64 and 1024, with and
//! without the stall, 20,000 push/pop pairs on one thread through a queue configured as in the timed groups: the
//! allocations per value (a counting global allocator, switched on around each push and pop only), the peak of
//! `stats().retired_pending` sampled after every operation (exact: one thread), and `segments_allocated` at the
//! end (64 of them up front).
//!
//! Run: `cargo bench --bench reclaim` (about two minutes), or a part: `cargo bench --bench reclaim -- stall`.

#[cfg(segpool_std)]
mod suite {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::hint::black_box;
    use std::sync::atomic::{AtomicBool, AtomicU64 as StdAtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use criterion::{BenchmarkGroup, BenchmarkId, Criterion, measurement::WallTime};
    use segpool::segment_arena::SegmentArena;
    use segpool::sync::AtomicU64;
    use segpool::{
        Config, Epoch, Hazard, HazardEras, Hyaline, Ibr, Leak, Limbo, OnExhausted, Qsbr, Reclaim, SegQueue, SegRef,
        Unprotected,
    };

    /// Counts allocations (and reallocations) of every thread while [`COUNTING`] is set.
    pub struct CountingAllocator;

    static COUNTING: AtomicBool = AtomicBool::new(false);
    static ALLOCATIONS: StdAtomicU64 = StdAtomicU64::new(0);

    impl CountingAllocator {
        /// Relaxed: the memory pass is single-threaded, and the timed groups should pay as little as possible
        /// (one relaxed load per allocation) for a counter they never switch on.
        fn count() {
            if COUNTING.load(Ordering::Relaxed) {
                ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    // SAFETY: every call is forwarded unchanged to the system allocator, so `System`'s guarantees hold; counting
    // touches only two static atomics, which never allocate (no reentrancy).
    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            Self::count();
            // SAFETY: forwarded with the caller's layout, which satisfies `GlobalAlloc::alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            Self::count();
            // SAFETY: as in `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: every allocation came from `System` through this allocator, with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            Self::count();
            // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Allocations made (by any thread) while `f` runs.
    fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let result = f();
        COUNTING.store(false, Ordering::Relaxed);
        (result, ALLOCATIONS.load(Ordering::Relaxed) - before)
    }

    /// Segments up front, as in `benches/queue.rs`.
    const SEGMENTS: usize = 64;
    /// Most operations per round (one fresh rig or queue each): bounds what `Leak` and a stalled `Epoch` allocate.
    const ROUND: u64 = 1 << 16;

    fn config(segment_size: usize) -> Config {
        Config { segment_size, segment_count: SEGMENTS, on_exhausted: OnExhausted::Grow, limbo_len: 8 }
    }

    /// Runs `total` operations in rounds of at most [`ROUND`]; `round` does one round and returns its time.
    fn in_rounds(total: u64, mut round: impl FnMut(u64) -> Duration) -> Duration {
        let mut time = Duration::ZERO;
        let mut left = total;
        while left > 0 {
            let count = left.min(ROUND);
            time += round(count);
            left -= count;
        }
        time
    }

    /// A strategy with a segment arena and one word naming the current segment, driven without the queue.
    struct Rig<R: Reclaim> {
        // Before `pool`, as in the queue: the strategy drops first.
        reclaim: R,
        pool: SegmentArena<u64, R::SegmentMeta>,
        word: AtomicU64,
        /// Stands in for the generation: strategies compare whole words, so each life needs a distinct one.
        lives: u32,
    }

    impl<R: Reclaim> Rig<R> {
        fn new() -> Self {
            let config = config(1);
            let pool = SegmentArena::new(config.segment_size, config.segment_count);
            let first = pool.try_take().expect("a fresh pool has free segments");
            let word = AtomicU64::new(SegRef::new(first, 1).bits());
            Rig { reclaim: R::new(&config), pool, word, lives: 1 }
        }

        fn protect(&self, handle: &mut R::Handle) {
            self.reclaim.enter(handle);
            black_box(self.reclaim.protect(handle, 0, &self.word, &self.pool));
            self.reclaim.leave(handle, &self.pool);
        }

        /// One segment life, as the queue's push and pop split it: take a successor, unlink, retire.
        fn retire(&mut self, handle: &mut R::Handle) {
            let (reclaim, pool) = (&self.reclaim, &self.pool);
            reclaim.enter(handle);
            let old = SegRef::from_bits(reclaim.protect(handle, 0, &self.word, pool));
            let fresh = pool
                .try_take()
                .or_else(|| {
                    reclaim.collect(handle, pool);
                    pool.try_take()
                })
                .unwrap_or_else(|| pool.allocate());
            self.lives = self.lives.wrapping_add(1);
            // As the queue's push does: the birth stamp before the link that makes the new life reachable.
            reclaim.born(handle, fresh, pool);
            self.word.store(SegRef::new(fresh, self.lives).bits(), Ordering::Release);
            reclaim.retire(handle, old.index(), pool);
            reclaim.leave(handle, pool);
        }

        /// Times `count` calls of `op` on a fresh rig with one handle.
        fn time(count: u64, op: impl Fn(&mut Self, &mut R::Handle)) -> Duration {
            let mut rig = Self::new();
            let mut handle = rig.reclaim.register();
            let start = Instant::now();
            for _ in 0..count {
                op(&mut rig, &mut handle);
            }
            let time = start.elapsed();
            rig.reclaim.unregister(&mut handle, &rig.pool);
            time
        }
    }

    /// `reclaim/protect` or, with `retire`, `reclaim/retire` for strategy `R`.
    fn raw<R: Reclaim>(group: &mut BenchmarkGroup<'_, WallTime>, retire: bool) {
        group.bench_function(R::NAME, |b| {
            b.iter_custom(|iters| {
                in_rounds(iters, |count| match retire {
                    false => Rig::<R>::time(count, |rig, handle| rig.protect(handle)),
                    true => Rig::<R>::time(count, |rig, handle| rig.retire(handle)),
                })
            })
        });
    }

    /// Push/pop pairs at SegmentSize 1 on a fresh queue per round, with a second handle stalled or not.
    fn stall<R: Reclaim>(group: &mut BenchmarkGroup<'_, WallTime>) {
        for stalled in [false, true] {
            let id = BenchmarkId::new(R::NAME, if stalled { "stalled" } else { "running" });
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    in_rounds(iters, |count| {
                        let queue: SegQueue<u64, R> = SegQueue::with_config(config(1)).expect("valid config");
                        let mut other = queue.handle();
                        let _stall = stalled.then(|| other.stall());
                        let mut handle = queue.handle();
                        let start = Instant::now();
                        for value in 0..count {
                            handle.push(black_box(value)).expect("OnExhausted::Grow never refuses");
                            black_box(handle.pop());
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }

    fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        group.sample_size(10);
    }

    /// Calls `$run::<R>($args)` for every strategy (the reference adapters with feature `reference`).
    macro_rules! each_strategy {
        ($run:ident($($arg:expr),*)) => {{
            $run::<Limbo>($($arg),*);
            $run::<Hazard>($($arg),*);
            $run::<Epoch>($($arg),*);
            $run::<HazardEras>($($arg),*);
            $run::<Ibr>($($arg),*);
            $run::<Qsbr>($($arg),*);
            $run::<Hyaline>($($arg),*);
            $run::<Leak>($($arg),*);
            #[cfg(feature = "reference")]
            {
                $run::<segpool::Haphazard>($($arg),*);
                $run::<segpool::FastSmr>($($arg),*);
                $run::<segpool::Seize>($($arg),*);
                $run::<segpool::CrossbeamEpoch>($($arg),*);
            }
        }};
    }

    pub fn timed(c: &mut Criterion) {
        for (name, retire) in [("reclaim/protect", false), ("reclaim/retire", true)] {
            let mut group = c.benchmark_group(name);
            configure(&mut group);
            raw::<Unprotected>(&mut group, retire);
            each_strategy!(raw(&mut group, retire));
            group.finish();
        }
        let mut group = c.benchmark_group("reclaim/stall");
        configure(&mut group);
        each_strategy!(stall(&mut group));
        group.finish();
    }

    /// Pairs in the memory pass: far past every strategy's backlog (Hazard's bound is 22 for two handles).
    const MEMORY_PAIRS: u64 = 20_000;

    /// One row of the memory table: push/pop pairs on one thread, a second handle stalled or not.
    fn memory_row<R: Reclaim>(segment_size: usize, stalled: bool) {
        let queue: SegQueue<u64, R> = SegQueue::with_config(config(segment_size)).expect("valid config");
        let mut other = queue.handle();
        let stall = stalled.then(|| other.stall());
        let mut handle = queue.handle();
        let (mut allocated, mut peak) = (0, 0);
        for value in 0..MEMORY_PAIRS {
            let ((), count) = allocations(|| handle.push(value).expect("OnExhausted::Grow never refuses"));
            allocated += count;
            peak = peak.max(queue.stats().retired_pending);
            let (popped, count) = allocations(|| handle.pop());
            assert_eq!(popped, Some(value), "FIFO on one thread");
            allocated += count;
            peak = peak.max(queue.stats().retired_pending);
        }
        drop(stall);
        let stats = queue.stats();
        assert_eq!(stats.stale_views, 0, "{}: {stats:?}", R::NAME);
        println!(
            "| {} | {segment_size} | {} | {:.3} | {peak} | {} |",
            R::NAME,
            if stalled { "yes" } else { "no" },
            allocated as f64 / MEMORY_PAIRS as f64,
            stats.segments_allocated
        );
    }

    fn memory_rows<R: Reclaim>() {
        for segment_size in [1, 64, 1024] {
            for stalled in [false, true] {
                memory_row::<R>(segment_size, stalled);
            }
        }
    }

    pub fn memory() {
        println!(
            "memory pass: {MEMORY_PAIRS} push/pop pairs on one thread, Grow, {SEGMENTS} segments up front, \
             limbo_len 8; stalled = a second handle inside Handle::stall for the whole run"
        );
        println!("| strategy | segment size | stalled | allocations/value | peak unreclaimed | segments allocated |");
        println!("|---|---|---|---|---|---|");
        each_strategy!(memory_rows());
        println!();
    }
}

#[cfg(segpool_std)]
#[global_allocator]
static ALLOCATOR: suite::CountingAllocator = suite::CountingAllocator;

#[cfg(segpool_std)]
fn main() {
    // `cargo test --benches` and `cargo bench --no-run` build this; only a real `cargo bench` measures memory.
    if std::env::args().any(|arg| arg == "--bench") {
        suite::memory();
    }
    let mut criterion = criterion::Criterion::default().configure_from_args();
    suite::timed(&mut criterion);
    criterion.final_summary();
}

/// Under a model-checker feature the queue's primitives only work inside a model: nothing to measure.
#[cfg(not(segpool_std))]
fn main() {}
