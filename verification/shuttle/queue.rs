//! Shuttle models of `SegQueue`: randomised PCT schedules at a scale loom cannot explore, for every strategy written
//! against the facade (Limbo, Hazard, Epoch; Leak never reuses, so it cannot run a bounded pool).
//!
//! `SEGPOOL_SHUTTLE_ITERATIONS` (default 1000) and `SEGPOOL_SHUTTLE_DEPTH` (default 3) set the number of schedules
//! and the PCT depth. A failing schedule is printed by shuttle; replay it with `shuttle::replay`.
//! Run: `cargo test --features shuttle --release --test shuttle_queue`.
#![cfg(feature = "shuttle")]

use segpool::sync::{Arc, thread};
use segpool::{Config, OnExhausted, Reclaim, SegQueue};

const PRODUCERS: u32 = 3;
const CONSUMERS: usize = 3;
const PER_PRODUCER: u32 = 30;

/// 3 producers x 30 values, 3 consumers, SegmentSize=2 and six segments with a two-entry limbo under
/// `OnExhausted::Fail`, so pushes are refused and retried and segments recycle constantly. (Limbo under `Fail`
/// needs `segment_count >= limbo_len + 2`: with fewer, the ring and the queue's last segment hold every segment and
/// no retirement can ever evict one again. Shuttle finds that livelock within a few schedules when the count is 3.) Checks: every value arrives
/// exactly once, each consumer sees each producer's values in order, refused values come back unchanged, and no
/// protected segment is seen in a later generation.
fn producers_and_consumers_with_recycling<R: Reclaim>() {
    segpool::sync::model(|| {
        let config = Config { segment_size: 2, segment_count: 6, on_exhausted: OnExhausted::Fail, limbo_len: 2 };
        let q = Arc::new(SegQueue::<u32, R>::with_config(config).unwrap());
        let total = (PRODUCERS * PER_PRODUCER) as usize;
        let popped = Arc::new(segpool::sync::AtomicUsize::new(0));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut h = q.handle();
                    for seq in 0..PER_PRODUCER {
                        let mut value = p * 1000 + seq;
                        while let Err(refused) = h.push(value) {
                            let back = refused.into_inner();
                            assert_eq!(back, p * 1000 + seq, "a refused push must hand its own value back");
                            value = back;
                            thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let q = q.clone();
                let popped = popped.clone();
                thread::spawn(move || {
                    let mut h = q.handle();
                    let mut got = Vec::new();
                    let mut batch = Vec::new();
                    while popped.load(segpool::sync::Ordering::Relaxed) < total {
                        batch.clear();
                        let n = h.pop_batch(&mut batch, 2);
                        if n == 0 {
                            thread::yield_now();
                            continue;
                        }
                        popped.fetch_add(n, segpool::sync::Ordering::Relaxed);
                        got.extend_from_slice(&batch);
                    }
                    got
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        let mut all = Vec::new();
        for consumer in consumers {
            let got = consumer.join().unwrap();
            for p in 0..PRODUCERS {
                let mine: Vec<u32> = got.iter().copied().filter(|v| v / 1000 == p).collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]), "producer {p} out of order: {mine:?}");
            }
            all.extend(got);
        }
        all.sort_unstable();
        let expected: Vec<u32> = (0..PRODUCERS).flat_map(|p| (0..PER_PRODUCER).map(move |s| p * 1000 + s)).collect();
        assert_eq!(all, expected);
        assert_eq!(q.stats().stale_views, 0);
    });
}

#[test]
fn limbo_producers_and_consumers_with_recycling() {
    producers_and_consumers_with_recycling::<segpool::Limbo>();
}

#[test]
fn hazard_producers_and_consumers_with_recycling() {
    producers_and_consumers_with_recycling::<segpool::Hazard>();
}

#[test]
fn epoch_producers_and_consumers_with_recycling() {
    producers_and_consumers_with_recycling::<segpool::Epoch>();
}
