//! Loom models of `SegQueue`, exhaustive within a preemption bound: exactly-once delivery and per-producer FIFO
//! with two producers and with two consumers, and ABA on recycled segments. Strategies: those written against the
//! facade (Limbo, Hazard, Epoch, Leak, HazardEras, Ibr, Hyaline) and, for ABA, `Unprotected`, which reuses
//! segments at once and so leaves the generation checks alone against stale references.
//!
//! Bounds: at most 3 threads (main included), at most 8 operations per thread; preemption bound 3 for the ABA
//! models (`segpool::sync::model`) and 2 for the FIFO models ([`FIFO_PREEMPTIONS`]); `LOOM_MAX_PREEMPTIONS`
//! overrides both. Each thread uses one long-lived handle, as a real producer or consumer would.
//! Run: `cargo test --release --features loom --test loom_queue` (the time per model is in `docs/verification.md`).
#![cfg(feature = "loom")]

#[path = "../support/mod.rs"]
mod support;

use std::sync::atomic::AtomicBool as PlainBool;

use segpool::sync::{Arc, thread};
use segpool::{Config, OnExhausted, Reclaim, SegQueue};
use support::{assert_exactly_once, assert_fifo_per_producer, pushed, value};

fn queue<R: Reclaim>(segment_size: usize, segment_count: usize) -> Arc<SegQueue<u32, R>> {
    let config = Config { segment_size, segment_count, on_exhausted: OnExhausted::Grow, limbo_len: 1 };
    Arc::new(SegQueue::with_config(config).expect("valid model config"))
}

/// Preemption bound of the FIFO models: three threads with several operations each take minutes per model at
/// bound 3 (`epoch_fifo::one_producer_two_consumers` alone ran past 100 s), so the default run stops at 2;
/// `LOOM_MAX_PREEMPTIONS=3` runs them deeper.
const FIFO_PREEMPTIONS: usize = 2;

/// Two producers push two values each (SegmentSize 2, so the segment fills and a successor is linked under
/// contention) while the main thread pops three times, then drains. Checks: every value exactly once, each
/// producer's values in push order, no stale view. Bound: 3 threads, 2 pushes / 3 pops + drain, 2 preemptions.
/// Time here (`--release`, alone): Limbo 0.1 s, Hazard 3.3 s, Epoch 1.8 s, Leak 0.04 s, HazardEras 1.8 s, Ibr 1.6 s,
/// Hyaline 4.8 s.
fn two_producers_one_consumer<R: Reclaim>() {
    segpool::sync::model_with_bound(FIFO_PREEMPTIONS, || {
        let q = queue::<R>(2, 4);
        let producers: Vec<_> = (0..2u32)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut h = q.handle();
                    for i in 0..2 {
                        h.push(value(p, i)).expect("Grow never refuses");
                    }
                })
            })
            .collect();
        let mut consumer = q.handle();
        let mut seen: Vec<u32> = (0..3).filter_map(|_| consumer.pop()).collect();
        for producer in producers {
            producer.join().unwrap();
        }
        seen.extend(std::iter::from_fn(|| consumer.pop()));
        assert_fifo_per_producer(&seen);
        assert_exactly_once(seen, pushed(2, 2), "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// One producer pushes three values (SegmentSize 2) while two consumers pop, twice and once, then the main thread
/// drains. Checks: every value exactly once, each consumer sees the values in push order, no stale view.
/// Bound: 3 threads, 3 pushes / 2 + 1 pops + drain, 2 preemptions. Time here (`--release`, alone): Limbo 0.2 s,
/// Hazard 28 s, Epoch 29 s, Leak 0.3 s, HazardEras 15 s, Ibr 9.4 s, Hyaline 18 s. (With two pops per consumer:
/// Epoch 103 s, Hazard 56 s.)
fn one_producer_two_consumers<R: Reclaim>() {
    segpool::sync::model_with_bound(FIFO_PREEMPTIONS, || {
        let q = queue::<R>(2, 4);
        let consumers: Vec<_> = [2, 1]
            .into_iter()
            .map(|pops| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut h = q.handle();
                    (0..pops).filter_map(|_| h.pop()).collect::<Vec<u32>>()
                })
            })
            .collect();
        let mut producer = q.handle();
        for value in pushed(1, 3) {
            producer.push(value).expect("Grow never refuses");
        }
        let mut all = Vec::new();
        for consumer in consumers {
            let seen = consumer.join().unwrap();
            assert_fifo_per_producer(&seen);
            all.extend(seen);
        }
        all.extend(std::iter::from_fn(|| producer.pop()));
        assert_exactly_once(all, pushed(1, 3), "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// Whether the ABA interleaving was reached in some execution: for `Unprotected`, the model asserts it was, or
/// the scenario would test nothing.
#[derive(Default)]
struct Reached(PlainBool);

impl Reached {
    fn record(&self, stale_views: u64) {
        if stale_views > 0 {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn check<R: Reclaim>(&self, sound: bool) {
        let reached = self.0.load(std::sync::atomic::Ordering::Relaxed);
        if sound {
            assert!(!reached, "{}: a protected segment was seen in a later generation", R::NAME);
        } else {
            assert!(reached, "{}: no execution reached the recycled-segment interleaving", R::NAME);
        }
    }
}

/// ABA, consumer side (SegmentSize 1). The queue holds 0 and 1; a consumer pops once while the main thread does
/// push 2, pop, push 3, pop, push 4: the segment that held 0 is unlinked, retired and, with an eager strategy,
/// reused for 4 while the consumer may still hold its old index. The queue never has fewer than two values while
/// the consumer runs, so its pop must return one. Checks: that, every value exactly once, and stale views only
/// where the strategy allows them (`sound`); for `Unprotected`, that some execution did meet a recycled segment.
/// Bound: 2 threads, 5 pushes / 3 pops + drain on main, 1 pop on the consumer, 3 preemptions. Time here
/// (`--release`, alone): Limbo 0.3 s, Hazard 0.8 s, Epoch 1.3 s, Unprotected 0.4 s, HazardEras 1.4 s, Ibr 1.6 s,
/// Hyaline 0.5 s.
fn stale_consumer_on_recycled_segment<R: Reclaim>(sound: bool) {
    let reached = std::sync::Arc::new(Reached::default());
    let seen_stale = reached.clone();
    segpool::sync::model(move || {
        let q = queue::<R>(1, 6);
        let mut h = q.handle();
        h.push(0).unwrap();
        h.push(1).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || q.handle().pop())
        };
        let mut seen = Vec::new();
        for value in 2..=4 {
            h.push(value).unwrap();
            if value < 4 {
                seen.extend(h.pop());
            }
        }
        let consumed = consumer.join().unwrap();
        assert!(consumed.is_some(), "the consumer's pop returned nothing while the queue held values");
        seen.extend(consumed);
        seen.extend(std::iter::from_fn(|| h.pop()));
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3, 4], "values lost or duplicated");
        seen_stale.record(q.stats().stale_views);
    });
    reached.check::<R>(sound);
}

/// ABA, producer side (SegmentSize 2). A producer pushes `value(1, 0)` while the main thread pushes 0, 1, 2, pops three
/// values and pushes 3, 4: the segment that was the tail when the producer started is unlinked, retired and, with an
/// eager strategy, relinked as the tail with a free slot while the producer may still hold its old index. A stale
/// reservation there would stamp the value with the old generation, and it would never be popped. Checks: every value
/// exactly once, stale views only where the strategy allows them; for `Unprotected`, that some execution met the
/// recycled segment. Bound: 2 threads, 5 pushes / 3 pops + drain on main, 1 push on the producer, 3 preemptions. Time
/// here (`--release`, alone): Limbo 1.7 s, Hazard 2.0 s, Epoch 3.6 s, Unprotected 4.5 s, HazardEras 6.7 s, Ibr
/// 3.6 s, Hyaline 5.0 s.
fn stale_producer_on_recycled_segment<R: Reclaim>(sound: bool) {
    let reached = std::sync::Arc::new(Reached::default());
    let seen_stale = reached.clone();
    segpool::sync::model(move || {
        let q = queue::<R>(2, 6);
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.handle().push(value(1, 0)).expect("Grow never refuses"))
        };
        let mut h = q.handle();
        let mut seen = Vec::new();
        for value in 0..=2 {
            h.push(value).unwrap();
        }
        seen.extend((0..3).filter_map(|_| h.pop()));
        for value in 3..=4 {
            h.push(value).unwrap();
        }
        producer.join().unwrap();
        seen.extend(std::iter::from_fn(|| h.pop()));
        assert_fifo_per_producer(&seen);
        assert_exactly_once(seen, pushed(1, 5).chain([value(1, 0)]), "values lost or duplicated");
        seen_stale.record(q.stats().stale_views);
    });
    reached.check::<R>(sound);
}

macro_rules! fifo_models {
    ($($module:ident => $strategy:ty),* $(,)?) => {$(
        mod $module {
            #[test]
            fn two_producers_one_consumer() {
                super::two_producers_one_consumer::<$strategy>();
            }

            #[test]
            fn one_producer_two_consumers() {
                super::one_producer_two_consumers::<$strategy>();
            }
        }
    )*};
}

fifo_models! {
    limbo_fifo => segpool::Limbo,
    hazard_fifo => segpool::Hazard,
    epoch_fifo => segpool::Epoch,
    hazard_eras_fifo => segpool::HazardEras,
    ibr_fifo => segpool::Ibr,
    qsbr_fifo => segpool::Qsbr,
    hyaline_fifo => segpool::Hyaline,
    leak_fifo => segpool::Leak,
}

/// ABA models. Leak is absent: it never recycles a segment. `sound`: the strategy must never let a protected
/// segment be recycled (no stale view at all); `Unprotected` must meet recycled segments and survive them.
macro_rules! aba_models {
    ($($module:ident => $strategy:ty, sound: $sound:expr),* $(,)?) => {$(
        mod $module {
            #[test]
            fn stale_consumer_on_recycled_segment() {
                super::stale_consumer_on_recycled_segment::<$strategy>($sound);
            }

            #[test]
            fn stale_producer_on_recycled_segment() {
                super::stale_producer_on_recycled_segment::<$strategy>($sound);
            }
        }
    )*};
}

aba_models! {
    limbo_aba => segpool::Limbo, sound: true,
    hazard_aba => segpool::Hazard, sound: true,
    epoch_aba => segpool::Epoch, sound: true,
    hazard_eras_aba => segpool::HazardEras, sound: true,
    ibr_aba => segpool::Ibr, sound: true,
    qsbr_aba => segpool::Qsbr, sound: true,
    hyaline_aba => segpool::Hyaline, sound: true,
    unprotected_aba => segpool::Unprotected, sound: false,
}
