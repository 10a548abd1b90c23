//! Loom models of `Handle::pop_batch` (the batch claim of `SegQueue::pop_protected`), exhaustive within a
//! preemption bound, for every strategy written against the facade (`support::for_each_strategy!`: Limbo, Leak,
//! Hazard, Epoch; a new strategy joins by its one line there).
//!
//! A batch claims the longest published prefix of the head segment from the claim index, up to `max` and the end
//! of the segment, with one CAS on the claim word. The models put that claim where it can go wrong:
//!
//! - **gaps** ([`batch_stops_at_gap`], [`batch_consumers_race_at_gap`]): a slot reserved but not yet published
//!   after a published one, and before another published one. The claim must stop before the gap. Loom's tracked
//!   `UnsafeCell` reports a read of a slot its producer is still writing (or writes later) as a causality
//!   violation, so a claim across the gap fails even when the value read happens to look right;
//! - **the segment boundary** ([`batch_ends_at_segment_boundary`]): `max` larger than what is left in the head
//!   segment while the producer fills it and links its successor;
//! - **FIFO with batch consumers** ([`batch_fifo_two_producers`], [`batch_fifo_two_consumers`]): each producer's
//!   values in order inside and across one consumer's batches, and every value exactly once.
//!
//! Every model checks exactly once, per-producer order per consumer, `pop_batch`'s count against what it appended
//! and against `max` and the segment size, and `stale_views == 0` (every strategy here is sound).
//!
//! Where the consumer runs matters. Loom's partial-order reduction remembers only the *last* access to each
//! atomic, so with the batch on the main thread and two producers spawned after it, no execution let a producer
//! reserve a slot between the consumer's loads of the head segment's words: a batch bounded by the reserve count
//! (the `batch_claims_unpublished` mutant) went unnoticed under Leak, Hazard and Epoch even at 5 preemptions
//! (the 357 executions under Leak all read the state word before either reservation). With the consumer spawned
//! first and the main thread as one of the producers, loom meets the gap within a second.
//!
//! Bounds: at most 3 threads (main included; loom allows 5), at most 3 pushes and 2 batches (plus the drain) per
//! thread; preemption bound [`GAP_PREEMPTIONS`] for the gap and boundary models, [`FIFO_PREEMPTIONS`] and
//! [`TWO_CONSUMER_PREEMPTIONS`] for the FIFO models (`LOOM_MAX_PREEMPTIONS` overrides them all). Each model's doc
//! gives its time here per strategy (2 cores shared with other jobs, `--release`, alone): 23 s summed over the
//! file. Run: `cargo test --release --features loom --test loom_batch`, 55 s here with the machine shared (load
//! 4 to 8), whether the harness runs one test at a time or two.
//!
//! Teeth (mutants in `src/queue/mod.rs` and `src/segment.rs`, each model run alone here):
//! - `batch_claims_unpublished` (a run bounded by the reserve count once its first slot is published): killed by
//!   every strategy's `batch_stops_at_gap`, `batch_consumers_race_at_gap` (0.1 s or less),
//!   `batch_ends_at_segment_boundary` (0.3 s or less) and `batch_fifo_two_producers` (1.4 s or less), and by
//!   Limbo's and Leak's `batch_fifo_two_consumers`;
//! - `batch_skips_gap` (a run as long as the count of published slots): killed by every strategy's
//!   `batch_stops_at_gap` (0.1 s or less) and `batch_fifo_two_producers` (1.9 s or less), the two models with a
//!   published slot behind the gap;
//! - `relaxed_publish`: killed by all twenty (0.8 s or less);
//! - `untagged_claim`, `unprotected_load`: not killed (no model here recycles a segment under a stale reference;
//!   `loom_queue`'s ABA models and `loom_exhaustion` kill them).
#![cfg(feature = "loom")]

#[path = "../support/mod.rs"]
mod support;

use segpool::sync::{Arc, thread};
use segpool::{Config, Handle, OnExhausted, Reclaim, SegQueue};
use support::{assert_exactly_once, assert_fifo_per_producer, pushed, value};

/// Preemption bound of the gap and boundary models: three threads with one or two operations each stay small.
const GAP_PREEMPTIONS: usize = 3;
/// Preemption bound of the FIFO model with two producers, as in `loom_queue`: its threads do several operations
/// each.
const FIFO_PREEMPTIONS: usize = 2;
/// Preemption bound of the FIFO model with two consumers: at bound 2 it took 48 s for Hazard and for Epoch with a
/// single batch per consumer (on a busy machine), so the default run stops at 1 (`LOOM_MAX_PREEMPTIONS=2` runs it
/// deeper).
const TWO_CONSUMER_PREEMPTIONS: usize = 1;

fn queue<R: Reclaim>(segment_size: usize) -> Arc<SegQueue<u32, R>> {
    let config = Config { segment_size, segment_count: 2, on_exhausted: OnExhausted::Grow, limbo_len: 1 };
    Arc::new(SegQueue::with_config(config).expect("valid model config"))
}

/// One `pop_batch(max)`, checked: the count is what was appended, at most `max` and at most one segment.
/// Returns the batch.
fn batch<R: Reclaim>(h: &mut Handle<'_, u32, R>, max: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let n = h.pop_batch(&mut out, max);
    assert_eq!(n, out.len(), "pop_batch's count must be the number of values appended");
    assert!(n <= max, "pop_batch({max}) returned {n}");
    assert!(n <= h.queue().config().segment_size, "pop_batch took {n} values, more than one segment");
    out
}

/// Batches of `max` until one comes back empty (only after every producer was joined: then nothing is in flight).
fn drain<R: Reclaim>(h: &mut Handle<'_, u32, R>, max: usize) -> Vec<u32> {
    let mut all = Vec::new();
    loop {
        let got = batch(h, max);
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

fn spawn_producer<R: Reclaim>(q: &Arc<SegQueue<u32, R>>, p: u32, count: u32) -> thread::JoinHandle<()> {
    let q = q.clone();
    thread::spawn(move || {
        let mut h = q.handle();
        for seq in 0..count {
            h.push(value(p, seq)).expect("Grow never refuses");
        }
    })
}

/// A gap behind a published slot, and a published slot behind a gap (SegmentSize 3). The main thread pushes
/// `value(0, 0)` into slot 0 and spawns a consumer, which takes one batch of 3, and a producer, which pushes
/// `value(2, 0)`, while the main thread pushes `value(1, 0)`: slots 1 and 2 go to the two pushes in either order, and
/// whichever reserved first may still be writing when the other has published. The batch must end before the
/// first unpublished slot, and starts with `value(0, 0)` (published before the consumer started); then the main
/// thread joins both and drains. Bound: 3 threads, 1 push / 1 batch / 1 push + drain, [`GAP_PREEMPTIONS`]
/// preemptions. Time here: Limbo 0.2 s, Leak 0.03 s, Hazard 0.6 s, Epoch 0.4 s.
fn batch_stops_at_gap<R: Reclaim>() {
    segpool::sync::model_with_bound(GAP_PREEMPTIONS, || {
        let q = queue::<R>(3);
        let mut h = q.handle();
        h.push(value(0, 0)).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || batch(&mut q.handle(), 3))
        };
        let producer = spawn_producer(&q, 2, 1);
        h.push(value(1, 0)).unwrap();
        let first = consumer.join().unwrap();
        assert_eq!(first.first(), Some(&value(0, 0)), "a batch missed a value published before it began");
        producer.join().unwrap();
        let mut all = first;
        all.extend(drain(&mut h, 3));
        assert_exactly_once(all, [value(0, 0), value(1, 0), value(2, 0)], "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// Two batch consumers racing for the same run, with a gap right after it (SegmentSize 3). The main thread pushes
/// `value(0, 0)`; a producer pushes `value(1, 0)` and `value(1, 1)` (slots 1 and 2) while a consumer thread and the
/// main thread each take one batch of 3: one claim CAS wins, the other retries on what is left. A batch may meet
/// slot 1 reserved and not yet written. Checks: exactly once after the drain, each batch in push order. Bound: 3
/// threads, 2 pushes / 1 batch / 1 batch + drain, [`GAP_PREEMPTIONS`] preemptions. Time here: Limbo 0.4 s, Leak
/// 0.1 s, Hazard 1.2 s, Epoch 1.3 s.
fn batch_consumers_race_at_gap<R: Reclaim>() {
    segpool::sync::model_with_bound(GAP_PREEMPTIONS, || {
        let q = queue::<R>(3);
        let mut h = q.handle();
        h.push(value(0, 0)).unwrap();
        let producer = spawn_producer(&q, 1, 2);
        let consumer = {
            let q = q.clone();
            thread::spawn(move || batch(&mut q.handle(), 3))
        };
        let mine = batch(&mut h, 3);
        let theirs = consumer.join().unwrap();
        producer.join().unwrap();
        assert!(!mine.is_empty() || !theirs.is_empty(), "value(0, 0) was published before both batches began");
        let rest = drain(&mut h, 3);
        for seen in [&mine, &theirs, &rest] {
            assert_fifo_per_producer(seen);
        }
        let all = [mine, theirs, rest].concat();
        assert_exactly_once(all, [value(0, 0), value(1, 0), value(1, 1)], "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// A batch larger than what is left of the head segment, while its successor is linked (SegmentSize 2). The main
/// thread pushes and pops `value(0, 0)`, so one slot of the first segment is left; a producer pushes `value(1, 0)`
/// (that last slot), `value(1, 1)` and `value(1, 2)` (a fresh segment it links) while a consumer thread and the
/// main thread take one batch of 3 each; then the main thread joins both and drains. No batch may hold
/// `value(1, 0)` together with a later value (they are in different segments); the main thread's batches are in
/// push order. Bound: 3 threads, 3 pushes / 1 batch / 1 batch + drain, [`GAP_PREEMPTIONS`] preemptions (with two
/// batches on the consumer thread: Hazard 55 s, Epoch 87 s on a busy machine). Time here: Limbo 0.3 s, Leak
/// 0.1 s, Hazard 3.3 s, Epoch 4.3 s.
fn batch_ends_at_segment_boundary<R: Reclaim>() {
    segpool::sync::model_with_bound(GAP_PREEMPTIONS, || {
        let q = queue::<R>(2);
        let mut h = q.handle();
        h.push(value(0, 0)).unwrap();
        assert_eq!(h.pop(), Some(value(0, 0)));
        let producer = spawn_producer(&q, 1, 3);
        let consumer = {
            let q = q.clone();
            thread::spawn(move || batch(&mut q.handle(), 3))
        };
        let mine = batch(&mut h, 3);
        let theirs = consumer.join().unwrap();
        producer.join().unwrap();
        let rest = drain(&mut h, 3);
        for got in [&mine, &theirs] {
            assert!(!got.contains(&value(1, 0)) || got.len() == 1, "a batch ran past the end of its segment: {got:?}");
        }
        assert_fifo_per_producer(&theirs);
        assert_fifo_per_producer(&[mine.as_slice(), &rest].concat());
        let all = [mine, theirs, rest].concat();
        assert_exactly_once(all, (0..3).map(|seq| value(1, seq)), "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// Two producers push two values each (SegmentSize 2: the first segment fills and a successor is linked under
/// contention) while the main thread takes two batches of 3, then joins and drains with batches. Checks: each
/// producer's values in order across all the batches, exactly once. Bound: 3 threads, 2 pushes each / 2 batches +
/// drain, [`FIFO_PREEMPTIONS`] preemptions. Time here: Limbo 0.1 s, Leak 0.03 s, Hazard 2.5 s, Epoch 1.5 s.
fn batch_fifo_two_producers<R: Reclaim>() {
    segpool::sync::model_with_bound(FIFO_PREEMPTIONS, || {
        let q = queue::<R>(2);
        let producers = [spawn_producer(&q, 0, 2), spawn_producer(&q, 1, 2)];
        let mut h = q.handle();
        let mut all = batch(&mut h, 3);
        all.extend(batch(&mut h, 3));
        for producer in producers {
            producer.join().unwrap();
        }
        all.extend(drain(&mut h, 3));
        assert_fifo_per_producer(&all);
        assert_exactly_once(all, pushed(2, 2), "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

/// One producer (the main thread) pushes three values (SegmentSize 2: a successor is linked while the consumers
/// claim) while two consumer threads take two batches of 3 and one; then the main thread drains. Checks: each
/// consumer sees the values in push order across its batches, exactly once overall. Bound: 3 threads, 3 pushes +
/// drain / 2 batches / 1 batch, [`TWO_CONSUMER_PREEMPTIONS`] preemption. Time here: Limbo 0.01 s (82 executions), Leak
/// 0.1 s (1,454), Hazard 1.8 s, Epoch 4.5 s.
fn batch_fifo_two_consumers<R: Reclaim>() {
    segpool::sync::model_with_bound(TWO_CONSUMER_PREEMPTIONS, || {
        let q = queue::<R>(2);
        let consumers: Vec<_> = [2, 1]
            .into_iter()
            .map(|batches| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut h = q.handle();
                    (0..batches).flat_map(|_| batch(&mut h, 3)).collect::<Vec<u32>>()
                })
            })
            .collect();
        let mut h = q.handle();
        for value in pushed(1, 3) {
            h.push(value).expect("Grow never refuses");
        }
        let mut all = Vec::new();
        for consumer in consumers {
            let seen = consumer.join().unwrap();
            assert_fifo_per_producer(&seen);
            all.extend(seen);
        }
        all.extend(drain(&mut h, 3));
        assert_exactly_once(all, pushed(1, 3), "values lost or duplicated");
        assert_eq!(q.stats().stale_views, 0);
    });
}

// One module per strategy: `limbo::batch_stops_at_gap`, ..., `epoch::batch_fifo_two_consumers`.
support::for_each_strategy! {
    |R| {
        #[test]
        fn batch_stops_at_gap() {
            super::batch_stops_at_gap::<R>();
        }

        #[test]
        fn batch_consumers_race_at_gap() {
            super::batch_consumers_race_at_gap::<R>();
        }

        #[test]
        fn batch_ends_at_segment_boundary() {
            super::batch_ends_at_segment_boundary::<R>();
        }

        #[test]
        fn batch_fifo_two_producers() {
            super::batch_fifo_two_producers::<R>();
        }

        #[test]
        fn batch_fifo_two_consumers() {
            super::batch_fifo_two_consumers::<R>();
        }
    }
}
