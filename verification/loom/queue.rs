//! Loom models of `SegQueue<_, Limbo>`: exhaustive within a preemption bound.
//!
//! Bounds: at most 3 threads (main included), 1-2 operations each, `LOOM_MAX_PREEMPTIONS` (default 3, set by
//! `segpool::sync::model`). Run: `cargo test --features loom --release --test loom_queue`.
#![cfg(feature = "loom")]

use segpool::sync::{Arc, thread};
use segpool::{Config, Limbo, OnExhausted, SegQueue};

fn queue(segment_size: usize, segment_count: usize, limbo_len: usize) -> Arc<SegQueue<u32, Limbo>> {
    let config = Config { segment_size, segment_count, on_exhausted: OnExhausted::Fail, limbo_len };
    Arc::new(SegQueue::with_config(config).expect("valid model config"))
}

/// Two producers push one value each while the main thread pops; SegmentSize=1 so the second push links a new
/// segment. Checks: every value popped exactly once, no stale view. ~1 s.
#[test]
fn two_producers_push_while_main_pops() {
    segpool::sync::model(|| {
        let q = queue(1, 3, 1);
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || q.push(p).expect("3 segments suffice for 2 pushes"))
            })
            .collect();
        let mut seen = Vec::new();
        seen.extend(q.pop());
        for producer in producers {
            producer.join().unwrap();
        }
        while let Some(v) = q.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1]);
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// SegmentSize=1, two segments, a one-entry limbo: two threads each push then pop, so segments are retired,
/// evicted from the limbo and recycled while the other thread may still hold a stale reference. Under
/// `OnExhausted::Fail` a push may be handed back. Checks: each value is popped once or handed back once (never
/// lost, never duplicated), and no protected segment is ever seen in a later generation.
#[test]
fn push_pop_pairs_recycle_segments() {
    segpool::sync::model(|| {
        let q = queue(1, 2, 1);
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
        while let Some(v) = q.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1]);
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// ABA on a recycled segment: a consumer loads the head reference while the main thread pushes and pops three
/// values through SegmentSize=1 segments with a one-entry limbo, so the consumer's segment can be retired, evicted
/// and reused under it. Checks: the consumer's pop returns a real value at most once (never a stale or duplicate
/// one), every value is accounted for, and no protected segment is seen in a later generation. ~1 s at the
/// default bound. (loom, even at 6 preemptions, never schedules the consumer's claim read after the main thread's
/// reuse of the segment, so this model does not kill the `unprotected_load` mutant; the shuttle model does.)
#[test]
fn stale_consumer_across_segment_recycling() {
    segpool::sync::model(|| {
        let q = queue(1, 4, 1);
        q.push(0).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || q.pop())
        };
        let mut seen = Vec::new();
        for value in 1..=3 {
            q.push(value).expect("4 segments with a one-entry limbo suffice for one value in flight");
            seen.extend(q.pop());
        }
        seen.extend(consumer.join().unwrap());
        while let Some(v) = q.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3]);
        assert_eq!(q.stats().stale_views, 0);
    });
}
