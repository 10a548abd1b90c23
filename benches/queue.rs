//! Queue throughput, every strategy side by side with two peers, in time per value (`Throughput::Elements`).
//!
//! Workloads (criterion group `queue/<workload>`, benchmark id `<strategy>/<segment size>`):
//!
//! - `pairs`: one thread pushes a value and pops it at once, so the queue holds 0 or 1 values. At SegmentSize 1
//!   every value links, unlinks and retires one segment; at 1024 that happens once per 1024 values.
//! - `mpmc_1p1c`, `mpmc_2p2c`, `mpmc_4p4c`: P producers push their share of the values while C consumers pop until
//!   each has seen a stop marker (pushed by the last producer to finish, so after every value). 4p4c
//!   oversubscribes this 2-core machine: the scheduler preempts threads inside operations, which is what the
//!   strategies are about. Consumers that find the queue empty spin briefly, then yield.
//! - `pop_batch`: one thread pushes 256 values, then drains them with `pop_batch(64)`. A batch never crosses a
//!   segment, so at SegmentSize 1 it is one value per call.
//!
//! Strategies: `limbo`, `hazard`, `epoch`, `hazard-eras`, `ibr`, `qsbr`, `hyaline`, `leak`, and with feature `reference` (on by
//! default) `haphazard`, `fast-smr` and `crossbeam-epoch`, each at SegmentSize 1, 64 and 1024 with `OnExhausted::Grow` and 64 segments up front (Limbo:
//! `limbo_len` 8), so no push is refused. Peers, once per workload (they have no segment size):
//! `crossbeam_queue::SegQueue` as `segqueue`, and `Mutex<VecDeque>` as `mutex-deque`.
//!
//! How: `iter_custom` runs the values in rounds of at most 65,536, each on a fresh queue, because `Leak` (and
//! `Epoch` while a thread is preempted) allocates a segment per retirement and would otherwise grow without bound
//! over a measurement. A fresh queue's growth is therefore part of the time, for every strategy alike. Threads are
//! spawned per round and wait at a `Barrier`; only the span from the first thread leaving it to the last thread's
//! finish is timed (building the queue, spawning, joining and dropping are not).
//!
//! Run: `cargo bench --bench queue` (a few minutes), or a part of it, e.g. `cargo bench --bench queue -- pairs`.

#[cfg(segpool_std)]
mod suite {
    use std::collections::VecDeque;
    use std::hint::black_box;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, Mutex, PoisonError};
    use std::thread;
    use std::time::{Duration, Instant};

    use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
    use segpool::{Config, Epoch, Hazard, HazardEras, Hyaline, Ibr, Leak, Limbo, OnExhausted, Qsbr, Reclaim, SegQueue};

    const SEGMENT_SIZES: [usize; 3] = [1, 64, 1024];
    /// Most values per round (one fresh queue each): bounds what `Leak` allocates to a few tens of MB.
    const ROUND: u64 = 1 << 16;
    /// What consumers pop last: one per consumer, pushed after every value.
    const STOP: u64 = u64::MAX;

    /// One thread's access to a queue under test.
    pub trait Endpoint {
        fn push(&mut self, value: u64);
        fn pop(&mut self) -> Option<u64>;
        fn pop_batch(&mut self, out: &mut Vec<u64>, max: usize) -> usize;
    }

    /// A queue under test: built fresh for every round, used by each thread through its own [`Endpoint`].
    pub trait Subject: Sync + Sized {
        const NAME: &'static str;
        /// Whether the queue has a segment size to vary (the peers do not).
        const SEGMENTED: bool;
        type Handle<'q>: Endpoint
        where
            Self: 'q;
        fn build(segment_size: usize) -> Self;
        fn handle(&self) -> Self::Handle<'_>;
    }

    impl<R: Reclaim> Subject for SegQueue<u64, R> {
        const NAME: &'static str = R::NAME;
        const SEGMENTED: bool = true;
        type Handle<'q> = segpool::Handle<'q, u64, R>;

        fn build(segment_size: usize) -> Self {
            let config = Config { segment_size, segment_count: 64, on_exhausted: OnExhausted::Grow, limbo_len: 8 };
            SegQueue::with_config(config).expect("valid config")
        }

        fn handle(&self) -> Self::Handle<'_> {
            SegQueue::handle(self)
        }
    }

    impl<R: Reclaim> Endpoint for segpool::Handle<'_, u64, R> {
        fn push(&mut self, value: u64) {
            segpool::Handle::push(self, value).expect("OnExhausted::Grow never refuses");
        }

        fn pop(&mut self) -> Option<u64> {
            segpool::Handle::pop(self)
        }

        fn pop_batch(&mut self, out: &mut Vec<u64>, max: usize) -> usize {
            segpool::Handle::pop_batch(self, out, max)
        }
    }

    impl Subject for crossbeam_queue::SegQueue<u64> {
        const NAME: &'static str = "segqueue";
        const SEGMENTED: bool = false;
        type Handle<'q> = &'q Self;

        fn build(_: usize) -> Self {
            Self::new()
        }

        fn handle(&self) -> &Self {
            self
        }
    }

    impl Endpoint for &crossbeam_queue::SegQueue<u64> {
        fn push(&mut self, value: u64) {
            crossbeam_queue::SegQueue::push(self, value);
        }

        fn pop(&mut self) -> Option<u64> {
            crossbeam_queue::SegQueue::pop(self)
        }

        /// No batch operation: pops one by one until `max` or empty.
        fn pop_batch(&mut self, out: &mut Vec<u64>, max: usize) -> usize {
            let before = out.len();
            out.extend(std::iter::from_fn(|| crossbeam_queue::SegQueue::pop(self)).take(max));
            out.len() - before
        }
    }

    impl Subject for Mutex<VecDeque<u64>> {
        const NAME: &'static str = "mutex-deque";
        const SEGMENTED: bool = false;
        type Handle<'q> = &'q Self;

        fn build(_: usize) -> Self {
            Mutex::new(VecDeque::new())
        }

        fn handle(&self) -> &Self {
            self
        }
    }

    impl Endpoint for &Mutex<VecDeque<u64>> {
        fn push(&mut self, value: u64) {
            self.lock().unwrap_or_else(PoisonError::into_inner).push_back(value);
        }

        fn pop(&mut self) -> Option<u64> {
            self.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
        }

        /// One lock for the whole batch, as a mutex-based pool would do it.
        fn pop_batch(&mut self, out: &mut Vec<u64>, max: usize) -> usize {
            let mut deque = self.lock().unwrap_or_else(PoisonError::into_inner);
            let taken = max.min(deque.len());
            out.extend(deque.drain(..taken));
            taken
        }
    }

    /// Runs `values` values in rounds on fresh queues; `round` times one round and returns the time.
    fn in_rounds<Q: Subject>(segment_size: usize, values: u64, round: impl Fn(&Q, u64) -> Duration) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = values;
        while left > 0 {
            let count = left.min(ROUND);
            let queue = Q::build(segment_size);
            total += round(&queue, count);
            left -= count;
        }
        total
    }

    /// A workload: how values go through a queue.
    pub trait Workload {
        const NAME: &'static str;
        /// Time to put `values` values through fresh queues of type `Q`.
        fn run<Q: Subject>(&self, segment_size: usize, values: u64) -> Duration;
    }

    struct Pairs;

    impl Workload for Pairs {
        const NAME: &'static str = "pairs";

        fn run<Q: Subject>(&self, segment_size: usize, values: u64) -> Duration {
            in_rounds::<Q>(segment_size, values, |queue, count| {
                let mut handle = queue.handle();
                let start = Instant::now();
                for value in 0..count {
                    handle.push(black_box(value));
                    black_box(handle.pop());
                }
                start.elapsed()
            })
        }
    }

    struct PopBatch;

    impl PopBatch {
        const BURST: u64 = 256;
        const BATCH: usize = 64;
    }

    impl Workload for PopBatch {
        const NAME: &'static str = "pop_batch";

        fn run<Q: Subject>(&self, segment_size: usize, values: u64) -> Duration {
            in_rounds::<Q>(segment_size, values, |queue, count| {
                let mut handle = queue.handle();
                let mut batch = Vec::with_capacity(Self::BATCH);
                let start = Instant::now();
                let mut left = count;
                while left > 0 {
                    let burst = left.min(Self::BURST);
                    for value in 0..burst {
                        handle.push(black_box(value));
                    }
                    let mut popped = 0;
                    while popped < burst {
                        batch.clear();
                        popped += handle.pop_batch(&mut batch, Self::BATCH) as u64;
                        black_box(&batch);
                    }
                    left -= burst;
                }
                start.elapsed()
            })
        }
    }

    struct Mpmc {
        producers: u64,
        consumers: u64,
    }

    impl Mpmc {
        fn produce<Q: Subject>(&self, queue: &Q, values: u64, producers_left: &AtomicUsize) {
            let mut handle = queue.handle();
            for value in 0..values {
                handle.push(value);
            }
            // The last producer to finish pushes the stop markers: every value is in the queue before them.
            if producers_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                for _ in 0..self.consumers {
                    handle.push(STOP);
                }
            }
        }

        /// Pops until a stop marker; returns how many values it popped.
        fn consume<Q: Subject>(queue: &Q) -> u64 {
            let mut handle = queue.handle();
            let mut popped = 0;
            let mut idle = 0u32;
            loop {
                match handle.pop() {
                    Some(STOP) => return popped,
                    Some(value) => {
                        black_box(value);
                        popped += 1;
                        idle = 0;
                    }
                    // Spin a little, then let a descheduled producer run (this machine has 2 cores).
                    None if idle < 64 => {
                        idle += 1;
                        std::hint::spin_loop();
                    }
                    None => thread::yield_now(),
                }
            }
        }
    }

    impl Workload for Mpmc {
        const NAME: &'static str = "mpmc";

        fn run<Q: Subject>(&self, segment_size: usize, values: u64) -> Duration {
            in_rounds::<Q>(segment_size, values, |queue, count| {
                let threads = (self.producers + self.consumers) as usize;
                let barrier = Barrier::new(threads);
                let producers_left = AtomicUsize::new(self.producers as usize);
                thread::scope(|scope| {
                    let (barrier, producers_left) = (&barrier, &producers_left);
                    let producers: Vec<_> = (0..self.producers)
                        .map(|p| {
                            // Share the values out; the first `count % producers` producers take one more.
                            let share = count / self.producers + u64::from(p < count % self.producers);
                            scope.spawn(move || {
                                barrier.wait();
                                let start = Instant::now();
                                self.produce(queue, share, producers_left);
                                (start, Instant::now(), 0)
                            })
                        })
                        .collect();
                    let consumers: Vec<_> = (0..self.consumers)
                        .map(|_| {
                            scope.spawn(move || {
                                barrier.wait();
                                let start = Instant::now();
                                let popped = Self::consume(queue);
                                (start, Instant::now(), popped)
                            })
                        })
                        .collect();
                    // Each thread reads the clock as it leaves the barrier (the first one starts the span): on a
                    // loaded machine this thread may only run again after the others have finished.
                    let (mut first, mut last, mut popped) = (None::<Instant>, None::<Instant>, 0);
                    for thread in producers.into_iter().chain(consumers) {
                        let (start, finish, count) = thread.join().expect("a benchmark thread panicked");
                        first = Some(first.map_or(start, |first| first.min(start)));
                        last = Some(last.map_or(finish, |last| last.max(finish)));
                        popped += count;
                    }
                    assert_eq!(popped, count, "{}: every value popped exactly once", Q::NAME);
                    last.expect("threads ran") - first.expect("threads ran")
                })
            })
        }
    }

    fn subject<Q: Subject, W: Workload>(group: &mut BenchmarkGroup<'_, WallTime>, workload: &W) {
        if Q::SEGMENTED {
            for size in SEGMENT_SIZES {
                group.bench_with_input(BenchmarkId::new(Q::NAME, size), &size, |b, &size| {
                    b.iter_custom(|values| workload.run::<Q>(size, values));
                });
            }
        } else {
            group.bench_function(Q::NAME, |b| b.iter_custom(|values| workload.run::<Q>(0, values)));
        }
    }

    fn workload<W: Workload>(c: &mut Criterion, name: &str, workload: W) {
        let mut group = c.benchmark_group(format!("queue/{name}"));
        group.throughput(Throughput::Elements(1)); // one iteration is one value
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(1));
        group.sample_size(10);
        subject::<SegQueue<u64, Limbo>, W>(&mut group, &workload);
        subject::<SegQueue<u64, Hazard>, W>(&mut group, &workload);
        subject::<SegQueue<u64, Epoch>, W>(&mut group, &workload);
        subject::<SegQueue<u64, HazardEras>, W>(&mut group, &workload);
        subject::<SegQueue<u64, Ibr>, W>(&mut group, &workload);
        subject::<SegQueue<u64, Qsbr>, W>(&mut group, &workload);
        subject::<SegQueue<u64, Hyaline>, W>(&mut group, &workload);
        subject::<SegQueue<u64, Leak>, W>(&mut group, &workload);
        #[cfg(feature = "reference")]
        {
            subject::<SegQueue<u64, segpool::Haphazard>, W>(&mut group, &workload);
            subject::<SegQueue<u64, segpool::FastSmr>, W>(&mut group, &workload);
            subject::<SegQueue<u64, segpool::Seize>, W>(&mut group, &workload);
            subject::<SegQueue<u64, segpool::CrossbeamEpoch>, W>(&mut group, &workload);
        }
        subject::<crossbeam_queue::SegQueue<u64>, W>(&mut group, &workload);
        subject::<Mutex<VecDeque<u64>>, W>(&mut group, &workload);
        group.finish();
    }

    pub fn all(c: &mut Criterion) {
        workload(c, Pairs::NAME, Pairs);
        for n in [1, 2, 4] {
            workload(c, &format!("{}_{n}p{n}c", Mpmc::NAME), Mpmc { producers: n, consumers: n });
        }
        workload(c, PopBatch::NAME, PopBatch);
    }
}

#[cfg(segpool_std)]
criterion::criterion_group!(benches, suite::all);
#[cfg(segpool_std)]
criterion::criterion_main!(benches);

/// Under a model-checker feature the queue's primitives only work inside a model: nothing to measure.
#[cfg(not(segpool_std))]
fn main() {}
