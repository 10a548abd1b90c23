#![cfg(segpool_std)]
//! What happens when the segment arena runs dry, under each `OnExhausted` policy.
//!
//! The Limbo numbers below are exact, traced from the code (`src/queue/mod.rs`, `src/reclaim/limbo.rs`):
//!
//! - the queue's first segment is taken from the pool, so `segment_count - 1` segments start on the free list;
//! - a push takes a segment only when it finds the tail full. With `segment_size = 1` that is every push but the
//!   very first: push `k` (1-based, `k >= 2`) takes one;
//! - a fully read segment is retired only when a pop unlinks it from the head, which needs a successor: the segment
//!   of value `j` is retired by the pop of value `j + 1`. With alternating push/pop pairs, `k - 2` segments have been
//!   retired when push `k` runs;
//! - the ring starts empty and retirement `r` evicts retirement `r - limbo_len` (FIFO), which becomes reusable (its
//!   reference count is zero single-threaded). So when push `k` runs, `max(0, k - 2 - limbo_len)` segments have
//!   become reusable.
//!
//! Push `k` succeeds under `Fail` iff the `k - 1` segments needed so far fit in the supply
//! `(segment_count - 1) + max(0, k - 2 - limbo_len)`. If `segment_count >= limbo_len + 2` that holds for every `k`;
//! otherwise push `segment_count + 1` is the first to fail: exactly `segment_count` pairs succeed. Under `Grow` the
//! same shortfall is allocated instead, `limbo_len + 2 - segment_count` segments in all, after which recycling
//! supplies every push: `segments_allocated` settles at `max(segment_count, limbo_len + 2)`.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use segpool::{Config, Limbo, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue};
use support::wait_until;

fn limbo_queue(
    segment_size: usize,
    segment_count: usize,
    limbo_len: usize,
    on_exhausted: OnExhausted,
) -> SegQueue<u64, Limbo> {
    // Unchecked: several cases study the configurations that `with_config` refuses because they die for good
    // (`segment_count < limbo_len + 2` under `Fail`); those that are live pass the full check too.
    let config = Config { segment_size, segment_count, on_exhausted, limbo_len };
    let live = config.validate_for::<Limbo>().is_ok();
    assert_eq!(live, on_exhausted == OnExhausted::Grow || segment_count >= limbo_len + 2, "{config:?}");
    SegQueue::with_config_unchecked_liveness(config).expect("valid bounds")
}

/// Alternating push/pop pairs until the first refused push (or `max_pairs`); returns the number of complete pairs.
fn pairs_until_refused<R: Reclaim>(q: &SegQueue<u64, R>, max_pairs: u64) -> u64 {
    let mut h = q.handle();
    for pair in 0..max_pairs {
        let value = 1_000 + pair;
        if let Err(refused) = h.push(value) {
            assert_eq!(refused.kind(), PushErrorKind::Exhausted);
            assert_eq!(refused.into_inner(), value, "a refused push must hand its own value back");
            return pair;
        }
        assert_eq!(h.pop(), Some(value), "pair {pair}: the value just pushed must come back");
    }
    max_pairs
}

// ---------------------------------------------------------------------------------------------------------------
// (a) Fail

/// SegmentSize=1, two segments, limbo of 4, `Fail`: the third push is refused although the queue is empty.
#[test]
fn fail_refuses_push_while_segments_wait_in_limbo() {
    let q = limbo_queue(1, 2, 4, OnExhausted::Fail);
    let pairs = pairs_until_refused(&q, 100);
    let stats = q.stats();
    println!("Fail, SegmentSize=1, segment_count=2, limbo_len=4: {pairs} pairs succeeded, then {stats:#?}");
    // segment_count (2) < limbo_len + 2 (6), so exactly segment_count pairs succeed (module docs): push 1 uses the
    // first segment, push 2 the only free one, push 3 finds the free list empty with the first segment in the ring.
    assert_eq!(pairs, 2, "pairs before the first refusal");
    assert!(q.is_empty(), "the pool runs dry although the queue is empty");
    assert_eq!(
        stats,
        QueueStats {
            segments_allocated: 2,
            segments_recycled: 0,
            segments_free: 0,
            segments_retired: 1, // value 1's segment, by the pop of value 2
            retired_pending: 1,
            segments_orphaned: 0,
            exhaustion_events: 1,
            grown: 0,
            failed_pushes: 1,
            waits: 0,
            wait_timeouts: 0,
            stale_views: 0,
        }
    );
}

/// The exact pair count for a few more `Fail` configurations: `segment_count` pairs when `segment_count <
/// limbo_len + 2`, unbounded otherwise. (Under Miri, 8 pairs: more than the largest pool holds, so the live
/// configurations recycle, and more than any refusing configuration reaches.)
#[test]
fn fail_pair_count_matches_the_trace() {
    const MAX_PAIRS: u64 = if cfg!(miri) { 8 } else { 200 };
    for segment_count in 1..=6 {
        for limbo_len in 1..=4 {
            let q = limbo_queue(1, segment_count, limbo_len, OnExhausted::Fail);
            let pairs = pairs_until_refused(&q, MAX_PAIRS);
            let expected = if segment_count >= limbo_len + 2 { MAX_PAIRS } else { segment_count as u64 };
            assert_eq!(pairs, expected, "segment_count={segment_count} limbo_len={limbo_len}");
            let stats = q.stats();
            assert_eq!(stats.failed_pushes, u64::from(expected < MAX_PAIRS));
            assert_eq!(stats.exhaustion_events, stats.failed_pushes);
            assert_eq!(stats.segments_allocated, segment_count as u64, "Fail never allocates");
            assert_eq!(stats.stale_views, 0);
        }
    }
}

/// By design, but worth pinning down: once `Fail` refuses with `segment_count <= limbo_len + 1`, the queue never
/// accepts a push again. The ring holds every segment but the tail, an eviction needs a retirement, a retirement
/// needs the tail to get a successor, and that needs a free segment. Draining the queue does not help. (The
/// requirement `segment_count >= limbo_len + 2` for `Fail` and `Wait` is stated in `src/reclaim/mod.rs`.)
#[test]
fn fail_with_segment_count_at_most_limbo_len_plus_one_never_recovers() {
    let q = limbo_queue(1, 2, 4, OnExhausted::Fail);
    assert_eq!(pairs_until_refused(&q, 100), 2);
    let mut h = q.handle();
    for attempt in 0..20u64 {
        assert_eq!(h.pop(), None);
        let refused = h.push(attempt).expect_err("no segment can ever become reusable");
        assert_eq!(refused.kind(), PushErrorKind::Exhausted);
        assert_eq!(refused.into_inner(), attempt);
    }
    let stats = q.stats();
    assert_eq!((stats.failed_pushes, stats.segments_retired, stats.retired_pending), (21, 1, 1), "{stats:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// (b) Grow

/// Same configuration under `Grow`: the shortfall is allocated (churn), then the ring gives segments back.
#[test]
fn grow_allocates_until_the_ring_fills_then_recycles() {
    let q = limbo_queue(1, 2, 4, OnExhausted::Grow);
    let pairs = if cfg!(miri) { 40 } else { 1_000 }; // Miri: still well past the 6 segments it settles on
    assert_eq!(pairs_until_refused(&q, pairs), pairs, "Grow never refuses");
    let stats = q.stats();
    println!("Grow, SegmentSize=1, segment_count=2, limbo_len=4, {pairs} pairs: {stats:#?}");
    // Module docs: allocated = max(2, 4 + 2) = 6, so 4 grown; every later take is a recycled segment.
    assert_eq!(
        stats,
        QueueStats {
            segments_allocated: 6,
            segments_recycled: pairs - 6, // pushes 2..=pairs take pairs - 1 segments: 1 fresh, 4 grown, the rest reused
            segments_free: 1,             // 6 = 4 in the ring + the queue's one segment + 1 evicted by the last pop
            segments_retired: pairs - 1,
            retired_pending: 4, // the ring is full
            segments_orphaned: 0,
            exhaustion_events: 4,
            grown: 4,
            failed_pushes: 0,
            waits: 0,
            wait_timeouts: 0,
            stale_views: 0,
        }
    );
    assert!(stats.segments_allocated > q.config().segment_count as u64);
}

/// wpool's defaults (limbo of 512, here 32 segments up front) at SegmentSize=1: over 500 segments for a queue that
/// never holds more than one value.
#[test]
#[cfg_attr(
    miri,
    ignore = "needs over 514 pairs to fill a ring of 512 (10,000 natively): minutes under Miri; the same path runs \
              under Miri in grow_allocates_until_the_ring_fills_then_recycles with a ring of 4"
)]
fn grow_with_default_limbo_needs_limbo_len_plus_two_segments() {
    let config = Config { segment_size: 1, on_exhausted: OnExhausted::Grow, ..Config::default() };
    let (count, limbo_len) = (config.segment_count as u64, config.limbo_len as u64);
    assert_eq!((count, limbo_len), (32, 512), "Config::default changed; revisit the numbers below");
    let q: SegQueue<u64, Limbo> = SegQueue::with_config(config).unwrap();
    let pairs = 10_000;
    assert_eq!(pairs_until_refused(&q, pairs), pairs);
    let stats = q.stats();
    println!("Grow, SegmentSize=1, default config (segment_count=32, limbo_len=512), {pairs} pairs: {stats:#?}");
    assert_eq!(stats.segments_allocated, limbo_len + 2, "{stats:?}");
    assert_eq!(stats.grown, limbo_len + 2 - count);
    assert_eq!(stats.exhaustion_events, stats.grown);
    assert_eq!(stats.segments_recycled, pairs - (limbo_len + 2));
    assert_eq!(stats.segments_retired, pairs - 1);
    assert_eq!(stats.retired_pending, limbo_len);
    assert_eq!((stats.segments_orphaned, stats.stale_views), (0, 0));
}

// ---------------------------------------------------------------------------------------------------------------
// (c) Wait

/// SegmentSize=2, three segments, limbo of 1, `Wait`: six values fill every segment; the seventh push waits. A
/// consumer that pops two values empties the first segment, which its second pop unlinks and retires (into the
/// ring: still not reusable); popping the next two unlinks and retires the second segment, which evicts the first:
/// the waiting push takes it and succeeds.
#[test]
fn wait_succeeds_once_a_consumer_makes_a_segment_reusable() {
    support::bounded(|| {
        let q = Arc::new(limbo_queue(2, 3, 1, OnExhausted::Wait(Duration::from_secs(60))));
        {
            let mut h = q.handle();
            for value in 0..6 {
                h.push(value).unwrap();
            }
        }
        assert_eq!(q.stats().exhaustion_events, 0);
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.handle().push(6).map_err(|e| (e.kind(), e.into_inner())))
        };
        // The push cannot find a segment (none was retired yet), so it must have counted its wait before it blocks.
        wait_until("the producer waits", || q.stats().waits == 1);
        assert_eq!(q.stats().exhaustion_events, 1);

        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                let mut h = q.handle();
                let mut popped = Vec::new();
                for _ in 0..2 {
                    popped.push(h.pop().expect("six values were pushed"));
                }
                popped
            })
        };
        assert_eq!(consumer.join().unwrap(), [0, 1]);
        let stats = q.stats();
        assert_eq!((stats.segments_retired, stats.retired_pending, stats.segments_recycled), (1, 1, 0), "{stats:?}");
        // The only retired segment is still in the ring, so the producer cannot have a segment. (Giving it time to go
        // wrong is not a timing assertion: nothing it could legally observe lets it finish.)
        thread::sleep(Duration::from_millis(50));
        assert!(!producer.is_finished(), "the producer got a segment while every retired one was still in limbo");

        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                let mut h = q.handle();
                (h.pop(), h.pop())
            })
        };
        assert_eq!(consumer.join().unwrap(), (Some(2), Some(3)));
        assert_eq!(producer.join().unwrap(), Ok(()), "the waiting push must succeed once a segment is reusable");
        let stats = q.stats();
        println!("Wait, SegmentSize=2, segment_count=3, limbo_len=1: {stats:#?}");
        assert_eq!(stats.waits, 1, "{stats:?}");
        assert_eq!(stats.wait_timeouts, 0);
        assert_eq!(stats.exhaustion_events, 1);
        assert_eq!(stats.segments_recycled, 1, "the waiter took the evicted segment");
        assert_eq!(stats.segments_allocated, 3);
        assert_eq!(stats.stale_views, 0);
        let mut h = q.handle();
        assert_eq!((h.pop(), h.pop(), h.pop(), h.pop()), (Some(4), Some(5), Some(6), None));
    })
}

/// Fills every segment without consuming, so no segment is ever retired and no strategy can make one reusable.
fn fill_all_segments<R: Reclaim>(on_exhausted: OnExhausted) -> SegQueue<u64, R> {
    // Unchecked: Leak and Limbo refuse this configuration under Fail and Wait (it dies for good), which is the point.
    let config = Config { segment_size: 3, segment_count: 2, on_exhausted, limbo_len: 2 };
    let q = SegQueue::with_config_unchecked_liveness(config).unwrap();
    for value in 0..6 {
        q.push(value).unwrap();
    }
    q
}

fn wait_times_out_without_consumers<R: Reclaim>() {
    let q = fill_all_segments::<R>(OnExhausted::Wait(Duration::from_millis(50)));
    let refused = q.push(99).expect_err("nothing can free a segment");
    assert_eq!(refused.kind(), PushErrorKind::TimedOut);
    assert_eq!(refused.into_inner(), 99, "a timed-out push must hand its own value back");
    let stats = q.stats();
    println!("Wait(50 ms) without consumers ({}): {stats:#?}", R::NAME);
    assert_eq!(
        (stats.waits, stats.wait_timeouts, stats.exhaustion_events, stats.failed_pushes),
        (1, 1, 1, 0),
        "{stats:?}"
    );
    assert_eq!(q.len(), 6);
    assert_eq!(stats.stale_views, 0);
}

fn fail_without_consumers<R: Reclaim>() {
    let q = fill_all_segments::<R>(OnExhausted::Fail);
    for attempt in 0..3 {
        let refused = q.push(100 + attempt).expect_err("every segment is full");
        assert_eq!(refused.kind(), PushErrorKind::Exhausted);
        assert_eq!(refused.into_inner(), 100 + attempt);
    }
    let stats = q.stats();
    assert_eq!((stats.failed_pushes, stats.exhaustion_events, stats.waits), (3, 3, 0), "{stats:?}");
    assert_eq!(q.len(), 6);
    let mut h = q.handle();
    for value in 0..6 {
        assert_eq!(h.pop(), Some(value), "refused pushes must leave the queue untouched");
    }
    assert_eq!(h.pop(), None);
}

support::for_each_strategy! {
    |R| {
        #[test]
        fn wait_times_out_without_consumers() {
            super::wait_times_out_without_consumers::<R>();
        }

        #[test]
        fn fail_without_consumers() {
            super::fail_without_consumers::<R>();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// (d) After a Fail

/// SegmentSize=2, three segments, limbo of 1 (`segment_count >= limbo_len + 2`), `Fail`: after refusals the queue
/// keeps its values, and once pops have made a segment reusable pushes succeed again, indefinitely.
#[test]
fn queue_keeps_working_after_fail() {
    let q = limbo_queue(2, 3, 1, OnExhausted::Fail);
    let mut h = q.handle();
    for value in 0..6 {
        h.push(value).unwrap();
    }
    for _ in 0..2 {
        let refused = h.push(6).expect_err("all three segments are full");
        assert_eq!(refused.kind(), PushErrorKind::Exhausted);
        assert_eq!(refused.into_inner(), 6);
    }
    assert_eq!(q.len(), 6);
    // Pop 1 empties the first segment and retires it (into the ring); pop 3 retires the second, evicting the first.
    for expected in 0..2 {
        assert_eq!(h.pop(), Some(expected));
    }
    assert!(h.push(6).is_err(), "the only retired segment is still in limbo");
    for expected in 2..4 {
        assert_eq!(h.pop(), Some(expected));
    }
    h.push(6).expect("the evicted segment is reusable now");
    let stats = q.stats();
    println!("Fail then recovery, SegmentSize=2, segment_count=3, limbo_len=1: {stats:#?}");
    assert_eq!((stats.failed_pushes, stats.segments_retired, stats.segments_recycled), (3, 2, 1), "{stats:?}");
    assert_eq!((h.pop(), h.pop(), h.pop(), h.pop()), (Some(4), Some(5), Some(6), None));
    // segment_count >= limbo_len + 2: alternating pairs never run dry again.
    let pairs = if cfg!(miri) { 20 } else { 500 }; // Miri: still several times round the pool
    assert_eq!(pairs_until_refused(&q, pairs), pairs);
    assert_eq!(q.stats().failed_pushes, 3);
    assert_eq!(q.stats().stale_views, 0);
}
