//! Throwaway A/B measurement harness for performance work (not a benchmark of record: `benches/` are).
//!
//! `cargo run --release --example perfab -- pool [ROUNDS]`: empty job, 1 producer / 1 worker, ns/job per backend
//! (median of ROUNDS rounds of 10,000 jobs, after a warm-up round).
//! `cargo run --release --example perfab -- queue [ROUNDS]`: push/pop per value, single thread (bursts of 256 at
//! SegmentSize 64 and 1) and MPMC (2 threads each doing push/pop pairs), per strategy and crossbeam's SegQueue.
//!
//! Build it on two commits, copy the binaries aside and run them alternately: only ratios measured side by side
//! mean anything on a shared machine.

// The reference peers (crossbeam) and `libc` exist only in std builds on Linux with the `reference` feature.
#[cfg(all(feature = "reference", target_os = "linux", not(any(feature = "loom", feature = "shuttle"))))]
mod suite {
    use std::hint::black_box;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use segpool::pool::{Backend, Envelope, MutexDeque, Segmented};
    use segpool::{Config, Epoch, Hazard, Leak, Limbo, OnExhausted, Pool, Reclaim, SegQueue, Submit};

    const ROUND: u64 = 10_000;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    /// This thread's CPU time in ns (robust to time spent descheduled on a busy machine).
    fn thread_cpu_ns() -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid clock id and a pointer to a live timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// (wall ns/job, submitter CPU ns/job), medians.
    fn pool_ns<B: Backend<Envelope<u64>>>(rounds: usize) -> (f64, f64) {
        let done = Arc::new(AtomicU64::new(0));
        let pool: Pool<u64, B> = {
            let done = done.clone();
            Pool::builder()
                .workers(1)
                .segment_size(64)
                .segment_count(64)
                .on_exhausted(OnExhausted::Grow)
                .handler(move |job: u64| {
                    black_box(job);
                    done.fetch_add(1, Ordering::Release);
                })
                .backend::<B>()
                .build()
                .expect("valid pool")
        };
        let submitter = pool.submitter();
        let mut target = 0;
        let mut samples = Vec::new();
        let mut cpu = Vec::new();
        for round in 0..=rounds {
            let start = Instant::now();
            let cpu_start = thread_cpu_ns();
            for job in 0..ROUND {
                submitter.submit(job).expect("Grow accepts");
            }
            let cpu_end = thread_cpu_ns();
            target += ROUND;
            while done.load(Ordering::Acquire) < target {
                std::hint::spin_loop();
            }
            if round > 0 {
                samples.push(start.elapsed().as_nanos() as f64 / ROUND as f64);
                cpu.push((cpu_end - cpu_start) as f64 / ROUND as f64);
            }
        }
        drop(submitter);
        drop(pool);
        (median(samples), median(cpu))
    }

    trait Q: Sync {
        type H<'a>
        where
            Self: 'a;
        fn make(segment_size: usize) -> Self;
        fn handle(&self) -> Self::H<'_>;
        fn push(h: &mut Self::H<'_>, v: u64);
        fn pop(h: &mut Self::H<'_>) -> Option<u64>;
    }

    impl<R: Reclaim> Q for SegQueue<u64, R> {
        type H<'a> = segpool::Handle<'a, u64, R>;
        fn make(segment_size: usize) -> Self {
            SegQueue::with_config(Config {
                segment_size,
                segment_count: 64,
                on_exhausted: OnExhausted::Grow,
                limbo_len: 8,
            })
            .unwrap()
        }
        fn handle(&self) -> Self::H<'_> {
            SegQueue::handle(self)
        }
        fn push(h: &mut Self::H<'_>, v: u64) {
            h.push(v).unwrap()
        }
        fn pop(h: &mut Self::H<'_>) -> Option<u64> {
            h.pop()
        }
    }

    impl Q for crossbeam_queue::SegQueue<u64> {
        type H<'a> = &'a Self;
        fn make(_segment_size: usize) -> Self {
            crossbeam_queue::SegQueue::new()
        }
        fn handle(&self) -> &Self {
            self
        }
        fn push(h: &mut &Self, v: u64) {
            h.push(v)
        }
        fn pop(h: &mut &Self) -> Option<u64> {
            h.pop()
        }
    }

    /// ns per value (one push + one pop), single thread, bursts of 256.
    fn queue_st<T: Q>(segment_size: usize, rounds: usize) -> f64 {
        let q = T::make(segment_size);
        let mut h = q.handle();
        let mut samples = Vec::new();
        const BURST: u64 = 256;
        const BURSTS: u64 = 400;
        for round in 0..=rounds {
            let start = Instant::now();
            for _ in 0..BURSTS {
                for v in 0..BURST {
                    T::push(&mut h, black_box(v));
                }
                for _ in 0..BURST {
                    black_box(T::pop(&mut h));
                }
            }
            if round > 0 {
                samples.push(start.elapsed().as_nanos() as f64 / (BURST * BURSTS) as f64);
            }
        }
        median(samples)
    }

    /// ns per push/pop pair, 2 threads each doing pairs on one queue.
    fn queue_mpmc<T: Q>(rounds: usize) -> f64 {
        let q = T::make(64);
        const PAIRS: u64 = 200_000;
        let mut samples = Vec::new();
        for round in 0..=rounds {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let mut h = q.handle();
                        for v in 0..PAIRS {
                            T::push(&mut h, black_box(v));
                            black_box(T::pop(&mut h));
                        }
                    });
                }
            });
            if round > 0 {
                samples.push(start.elapsed().as_nanos() as f64 / (2 * PAIRS) as f64);
            }
        }
        median(samples)
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let mode = args.get(1).map(String::as_str).unwrap_or("pool");
        let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(15);
        let only = args.get(3).cloned();
        let want = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == name));
        match mode {
            "pool" => {
                let row = |name: &str, f: &dyn Fn() -> (f64, f64)| {
                    if want(name) {
                        let (wall, cpu) = f();
                        println!("pool {name:<18} wall {wall:8.1} subcpu {cpu:8.1} ns/job");
                    }
                };
                row("limbo", &|| pool_ns::<Segmented<Limbo, Envelope<u64>>>(rounds));
                row("hazard", &|| pool_ns::<Segmented<Hazard, Envelope<u64>>>(rounds));
                row("epoch", &|| pool_ns::<Segmented<Epoch, Envelope<u64>>>(rounds));
                row("leak", &|| pool_ns::<Segmented<Leak, Envelope<u64>>>(rounds));
                row("mutex-deque", &|| pool_ns::<MutexDeque<Envelope<u64>>>(rounds));
                row("crossbeam-epoch", &|| pool_ns::<Segmented<segpool::CrossbeamEpoch, Envelope<u64>>>(rounds));
                row("crossbeam-channel", &|| pool_ns::<segpool::pool::CrossbeamChannel<Envelope<u64>>>(rounds));
            }
            "queue" => {
                let row = |name: &str, st64: f64, st1: f64, mp: f64| {
                    println!("queue {name:<12} st64 {st64:7.2}  st1 {st1:7.2}  mpmc {mp:7.2} ns/value");
                };
                macro_rules! q {
                    ($name:expr, $t:ty) => {
                        if want($name) {
                            row($name, queue_st::<$t>(64, rounds), queue_st::<$t>(1, rounds), queue_mpmc::<$t>(rounds));
                        }
                    };
                }
                q!("crossbeam", crossbeam_queue::SegQueue<u64>);
                q!("leak", SegQueue<u64, Leak>);
                q!("epoch", SegQueue<u64, Epoch>);
                q!("hazard", SegQueue<u64, Hazard>);
                q!("limbo", SegQueue<u64, Limbo>);
            }
            "st1" => {
                macro_rules! q {
                    ($name:expr, $t:ty) => {
                        if want($name) {
                            println!("st1 {} {:7.2}", $name, queue_st::<$t>(1, rounds));
                        }
                    };
                }
                q!("crossbeam", crossbeam_queue::SegQueue<u64>);
                q!("leak", SegQueue<u64, Leak>);
                q!("epoch", SegQueue<u64, Epoch>);
                q!("hazard", SegQueue<u64, Hazard>);
                q!("limbo", SegQueue<u64, Limbo>);
            }
            other => panic!("unknown mode {other}"),
        }
    }
}

#[cfg(all(feature = "reference", target_os = "linux", not(any(feature = "loom", feature = "shuttle"))))]
fn main() {
    suite::main();
}

#[cfg(not(all(feature = "reference", target_os = "linux", not(any(feature = "loom", feature = "shuttle")))))]
fn main() {}
