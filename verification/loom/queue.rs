//! Loom models of `SegQueue`, exhaustive within a preemption bound, for every strategy written against the facade
//! (Limbo, Hazard, Epoch, Leak).
//!
//! Bounds: at most 3 threads (main included), 1–4 operations each, `LOOM_MAX_PREEMPTIONS` (default 3, set by
//! `segpool::sync::model`). Each thread uses one long-lived handle, as a real consumer or producer would. Run:
//! `cargo test --release --features loom --test loom_queue` (the time per model is in the README).
#![cfg(feature = "loom")]

use segpool::sync::{Arc, thread};
use segpool::{Config, OnExhausted, Reclaim, SegQueue};

fn queue<R: Reclaim>(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> Arc<SegQueue<u32, R>> {
    let config = Config { segment_size, segment_count, on_exhausted, limbo_len: 1 };
    Arc::new(SegQueue::with_config(config).expect("valid model config"))
}

/// Two producers push one value each while the main thread pops; SegmentSize=1, so the second push links a new
/// segment. Checks: every value popped exactly once, no stale view.
fn two_producers_push_while_main_pops<R: Reclaim>() {
    segpool::sync::model(|| {
        let q = queue::<R>(1, 3, OnExhausted::Grow);
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || q.handle().push(p).expect("Grow never refuses"))
            })
            .collect();
        let mut consumer = q.handle();
        let mut seen = Vec::new();
        seen.extend(consumer.pop());
        for producer in producers {
            producer.join().unwrap();
        }
        while let Some(v) = consumer.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1]);
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// SegmentSize=1 and few segments: two threads each push then pop, so segments are retired and recycled while the
/// other thread may hold a reference. Under `OnExhausted::Fail` a push may be handed back. Checks: each value is
/// popped once or handed back once (never lost, never duplicated), and no protected segment is ever seen in a
/// later generation.
fn push_pop_pairs_recycle_segments<R: Reclaim>(on_exhausted: OnExhausted) {
    segpool::sync::model(move || {
        let q = queue::<R>(1, 3, on_exhausted);
        let workers: Vec<_> = (0..2u32)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut h = q.handle();
                    let mut outcome = Vec::new();
                    if let Err(e) = h.push(p) {
                        outcome.push(e.into_inner());
                    }
                    outcome.extend(h.pop());
                    outcome
                })
            })
            .collect();
        let mut seen: Vec<u32> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        let mut h = q.handle();
        while let Some(v) = h.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1]);
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// ABA on a recycled segment: a consumer pops while the main thread pushes and pops three values through
/// SegmentSize=1 segments, so the consumer's segment can be retired and reused under it. Checks: each value is
/// popped exactly once and no protected segment is seen in a later generation. (loom, even at 6 preemptions, never
/// schedules the consumer's claim read after the main thread's reuse of the segment under Limbo, so this model
/// does not kill the `unprotected_load` mutant; the shuttle model does.)
fn stale_consumer_across_segment_recycling<R: Reclaim>() {
    segpool::sync::model(|| {
        let q = queue::<R>(1, 4, OnExhausted::Grow);
        q.handle().push(0).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || q.handle().pop())
        };
        let mut h = q.handle();
        let mut seen = Vec::new();
        for value in 1..=3 {
            h.push(value).expect("Grow never refuses");
            seen.extend(h.pop());
        }
        seen.extend(consumer.join().unwrap());
        while let Some(v) = h.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3]);
        assert_eq!(q.stats().stale_views, 0);
    });
}

macro_rules! models {
    ($($module:ident => $strategy:ty, bounded: $bounded:expr),* $(,)?) => {$(
        mod $module {
            use super::*;

            #[test]
            fn two_producers_push_while_main_pops() {
                super::two_producers_push_while_main_pops::<$strategy>();
            }

            #[test]
            fn push_pop_pairs_recycle_segments() {
                // `bounded`: the strategy reuses segments, so it is checked with a bounded pool (`Fail`).
                let policy = if $bounded { OnExhausted::Fail } else { OnExhausted::Grow };
                super::push_pop_pairs_recycle_segments::<$strategy>(policy);
            }

            #[test]
            fn stale_consumer_across_segment_recycling() {
                super::stale_consumer_across_segment_recycling::<$strategy>();
            }
        }
    )*};
}

models! {
    limbo => segpool::Limbo, bounded: true,
    hazard => segpool::Hazard, bounded: true,
    epoch => segpool::Epoch, bounded: true,
    leak => segpool::Leak, bounded: false,
}
