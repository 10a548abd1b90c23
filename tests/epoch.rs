#![cfg(segpool_std)]
//! Epoch-based reclamation ([`segpool::Epoch`]): the queue end to end, and the strategy's promises tested directly.
//!
//! - Through `SegQueue<u64, Epoch>`: multi-threaded exactly-once delivery and per-producer FIFO at SegmentSize 1
//!   and 64, under `OnExhausted::Fail` with 8 segments and under `Grow`; recycling after heavy `Fail` traffic (the
//!   pool is never left permanently exhausted); a single handle never refused with 8 or 16 segments; `Wait` with
//!   2 segments never timing out; and a stalled consumer ([`segpool::Handle::stall`]), which blocks *all*
//!   reclamation until it moves on.
//! - At the strategy level, with a recording store ([`support::RecordingStore`]) and plain source words: a pinned,
//!   stalled handle lets the epoch advance at most once and keeps every segment retired after its pin from being reused
//!   while `pending()` grows; the shortage signal of `collect` makes other handles step; orphans of an unregistered
//!   handle are freed later; and a racing reader never holds a segment that was made reusable (this last test and the
//!   stall tests catch the `epoch_ignore_pinned` mutant).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use segpool::reclaim::epoch::COLLECT_THRESHOLD;
use segpool::{Config, Epoch, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue, SegmentId};
use support::race::Race;
use support::{RecordingStore, Stress};

// ---------------------------------------------------------------------------------------------------------------
// Through the queue
// ---------------------------------------------------------------------------------------------------------------

fn epoch_queue(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> SegQueue<u64, Epoch> {
    SegQueue::with_config(Config { segment_size, segment_count, on_exhausted, ..Config::default() })
        .expect("valid config")
}

/// `producers` threads push `per_producer` values each (retrying refused pushes with the value handed back), two
/// consumers pop until everything arrived: the checks of [`support::Stress`] (exactly-once delivery, per-producer
/// FIFO per consumer, no stale views, every segment the traffic filled retired), recycling under `Fail`, and
/// nothing pending once every handle is gone. A run with no push or pop for 30 s fails instead of hanging. Returns
/// the queue (every handle gone) and the number of refusals.
fn stress(
    segment_size: usize,
    segment_count: usize,
    on_exhausted: OnExhausted,
    producers: u64,
    per_producer: u64,
) -> (Arc<SegQueue<u64, Epoch>>, u64) {
    let config = Config { segment_size, segment_count, on_exhausted, ..Config::default() };
    let run = Stress::new(config, producers, per_producer)
        .watchdog(Duration::from_secs(30))
        .expect_nothing_pending()
        .run::<Epoch>();
    let stats = run.stats;
    if on_exhausted == OnExhausted::Fail {
        // With a fixed pool far smaller than the traffic, every segment must have been reused many times. (Under
        // Grow, producers may outrun the consumers and turn the whole run into backlog, so recycling is checked by
        // `grow_settles_on_a_small_pool` instead.)
        assert!(stats.segments_recycled >= stats.segments_retired - segment_count as u64, "{stats:?}");
    }
    (run.queue, run.refusals)
}

/// SegmentSize=1 (every value retires a segment), 8 segments, `Fail`: 3 producers, 2 consumers.
#[test]
#[cfg_attr(
    miri,
    ignore = "15,000-120,000 values over 5 threads: far too slow for Miri; tests/miri.rs has Epoch at Miri scale"
)]
fn stress_size_1_fail() {
    stress(1, 8, OnExhausted::Fail, 3, 5_000);
}

/// SegmentSize=64, 8 segments, `Fail`.
#[test]
#[cfg_attr(
    miri,
    ignore = "15,000-120,000 values over 5 threads: far too slow for Miri; tests/miri.rs has Epoch at Miri scale"
)]
fn stress_size_64_fail() {
    stress(64, 8, OnExhausted::Fail, 3, 40_000);
}

/// SegmentSize=1, `Grow` from 8 segments.
#[test]
#[cfg_attr(
    miri,
    ignore = "15,000-120,000 values over 5 threads: far too slow for Miri; tests/miri.rs has Epoch at Miri scale"
)]
fn stress_size_1_grow() {
    stress(1, 8, OnExhausted::Grow, 3, 10_000);
}

/// SegmentSize=64, `Grow` from 8 segments.
#[test]
#[cfg_attr(
    miri,
    ignore = "15,000-120,000 values over 5 threads: far too slow for Miri; tests/miri.rs has Epoch at Miri scale"
)]
fn stress_size_64_grow() {
    stress(64, 8, OnExhausted::Grow, 3, 40_000);
}

/// After heavy multi-threaded traffic under `Fail` with SegmentSize=1 and only 4 segments, every segment comes
/// back: one handle then fills the queue to the pool's capacity (3 values: the fourth segment stays the queue's
/// head) and empties it, 100 times. A push may be refused once per round: the segments it needs were retired by the
/// previous round's pops, which were the only operations since, and a segment needs two epoch advances after it is
/// sealed; the refused push's own operation performs the second one, so its retry must succeed.
#[test]
fn fail_traffic_leaves_nothing_exhausted() {
    // Under Miri, 30 values per producer and 10 rounds (3,000 and 100 natively).
    let (per_producer, rounds) = if cfg!(miri) { (30, 10) } else { (3_000, 100u64) };
    let (q, refusals) = stress(1, 4, OnExhausted::Fail, 2, per_producer);
    assert!(refusals > 0, "4 segments under this traffic must run dry sometimes; otherwise this test tests nothing");
    let mut h = q.handle();
    let mut refused = 0;
    for round in 0..rounds {
        for i in 0..3 {
            let mut value = round * 3 + i;
            let mut attempts = 0;
            while let Err(e) = h.push(value) {
                attempts += 1;
                refused += 1;
                assert!(attempts < 2, "round {round}, push {i}: refused twice in a row; {:?}", q.stats());
                value = e.into_inner();
            }
        }
        for i in 0..3 {
            assert_eq!(h.pop(), Some(round * 3 + i));
        }
        assert_eq!(h.pop(), None);
    }
    let stats = q.stats();
    println!("after the traffic: {refused} refusals in {rounds} rounds, {stats:?}");
    assert_eq!((stats.stale_views, stats.segments_allocated), (0, 4), "{stats:?}");
}

/// `Wait` with the fewest segments that can work (2, SegmentSize=1): a push that finds the pool dry waits, and the
/// step at the end of its own operation frees the segment it waits for, so no wait ever times out.
#[test]
fn wait_with_two_segments_never_times_out() {
    const PAIRS: u64 = if cfg!(miri) { 30 } else { 2_000 };
    let q = epoch_queue(1, 2, OnExhausted::Wait(Duration::from_secs(5)));
    let mut h = q.handle();
    let began = Instant::now();
    for value in 0..PAIRS {
        h.push(value).unwrap_or_else(|e| panic!("push {value}: {e}; {:?}", q.stats()));
        assert_eq!(h.pop(), Some(value));
    }
    let stats = q.stats();
    println!("{:?} for {PAIRS} pairs: {stats:?}", began.elapsed());
    assert_eq!((stats.wait_timeouts, stats.stale_views, stats.segments_allocated), (0, 0, 2), "{stats:?}");
    assert!(stats.segments_recycled >= PAIRS - 10, "{stats:?}");
    assert!(began.elapsed() < Duration::from_secs(5), "pushes waited for segments that were already free");
}

/// Under `Grow` from a single segment, one handle pushing and popping 20000 values at SegmentSize=1 (each value
/// retires a segment) settles on a small pool: the bag's backlog plus the queue's segments, not one per value.
#[test]
#[cfg_attr(miri, ignore = "20,000 pairs per run (behaviour, not memory safety): tests/miri.rs runs one Epoch handle")]
fn grow_settles_on_a_small_pool() {
    let q = epoch_queue(1, 1, OnExhausted::Grow);
    let mut h = q.handle();
    for value in 0..20_000 {
        h.push(value).expect("Grow never refuses");
        if value >= 2 {
            assert_eq!(h.pop(), Some(value - 2));
        }
    }
    let stats = q.stats();
    println!("{stats:?}");
    assert!(stats.segments_allocated <= COLLECT_THRESHOLD as u64 + 4, "{stats:?}");
    assert!(stats.segments_recycled >= 19_000, "{stats:?}");
    assert_eq!(stats.stale_views, 0, "{stats:?}");
}

/// One handle, up to `depth` values in flight: never refused under `Fail` with 16 segments at SegmentSize 1 and 64
/// (the pattern of `tests/alloc.rs`, depth `segment_size + 1`), nor with 8 segments at SegmentSize=1 and depth 2
/// (the queue's three segments plus a bag of at most `COLLECT_THRESHOLD + 1`; with a threshold of 8 about one push
/// in five is refused here).
#[test]
#[cfg_attr(miri, ignore = "20,000 pairs per run (behaviour, not memory safety): tests/miri.rs runs one Epoch handle")]
fn single_handle_is_never_refused() {
    for (segment_size, segment_count, depth) in [(1, 16, 2), (64, 16, 65), (1, 8, 2), (1, 8, 1), (64, 8, 65)] {
        let q = epoch_queue(segment_size, segment_count, OnExhausted::Fail);
        let mut h = q.handle();
        let mut next_pop = 0;
        for value in 0..20_000 {
            h.push(value).unwrap_or_else(|e| {
                panic!("size {segment_size}, {segment_count} segments, push {value}: {e}; {:?}", q.stats())
            });
            if value >= depth {
                assert_eq!(h.pop(), Some(next_pop));
                next_pop += 1;
            }
        }
        let stats = q.stats();
        assert!(stats.segments_recycled > 0, "{stats:?}");
        assert!(stats.retired_pending <= COLLECT_THRESHOLD as u64 + 1, "{stats:?}");
        assert_eq!(stats.stale_views, 0, "{stats:?}");
    }
}

/// A consumer stopped inside `pop` ([`segpool::Handle::stall`]) holds the epoch back: every segment retired during
/// the stall stays unreclaimed, so under `Fail` the 16-segment arena runs dry and pushes are refused (reported, not
/// hung); under `Grow` memory grows with the traffic. Once the stall ends, everything is reclaimed.
#[test]
#[cfg_attr(miri, ignore = "8,000 pairs: too slow for Miri; tests/stall.rs runs the Epoch stall at Miri scale")]
fn stalled_consumer_blocks_all_reclamation_until_it_moves_on() {
    const PAIRS: u64 = 2_000;
    for on_exhausted in [OnExhausted::Fail, OnExhausted::Grow] {
        let q = epoch_queue(1, 16, on_exhausted);
        let mut stalled = q.handle();
        let mut worker = q.handle();
        let (mut next, mut refused) = (0u64, 0u64);
        let mut pairs = |worker: &mut segpool::Handle<'_, u64, Epoch>, refused: &mut u64| {
            for _ in 0..PAIRS {
                match worker.push(next) {
                    Ok(()) => {
                        assert_eq!(worker.pop(), Some(next));
                        next += 1;
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), PushErrorKind::Exhausted);
                        assert_eq!(e.into_inner(), next);
                        *refused += 1;
                    }
                }
            }
        };
        let during: QueueStats = {
            let _stall = stalled.stall();
            pairs(&mut worker, &mut refused);
            q.stats()
        };
        println!("{on_exhausted:?}: during the stall {refused} refused, {during:?}");
        match on_exhausted {
            OnExhausted::Fail => {
                assert!(refused > PAIRS / 2, "the stall must starve the pool: {refused} refused, {during:?}");
                assert!(during.retired_pending >= 14, "nearly every segment is held back: {during:?}");
            }
            _ => {
                assert_eq!(refused, 0);
                // Every value retired a segment; at most two advances' worth were reclaimed at the stall's start.
                assert!(during.retired_pending + 3 * COLLECT_THRESHOLD as u64 >= PAIRS, "{during:?}");
                assert!(during.segments_allocated + 3 * COLLECT_THRESHOLD as u64 >= PAIRS, "{during:?}");
            }
        }
        let mut refused_after = 0;
        pairs(&mut worker, &mut refused_after);
        let after = q.stats();
        println!("{on_exhausted:?}: after the stall {refused_after} refused, {after:?}");
        assert!(refused_after <= 2, "the pool refills within a few operations: {refused_after} refused, {after:?}");
        assert!(after.retired_pending <= COLLECT_THRESHOLD as u64 + 1, "the backlog is reclaimed: {after:?}");
        assert_eq!(after.stale_views, 0, "{after:?}");
        if on_exhausted == OnExhausted::Grow {
            assert_eq!(after.segments_allocated, during.segments_allocated, "no growth once reclaiming: {after:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The strategy on its own
// ---------------------------------------------------------------------------------------------------------------

fn epoch() -> Epoch {
    Epoch::new(&Config::default())
}

/// One operation of `h` that retires `id` (the queue retires inside an operation).
fn retire_one(ep: &Epoch, h: &mut <Epoch as Reclaim>::Handle, id: SegmentId, store: &RecordingStore) {
    ep.enter(h);
    ep.retire(h, id, store);
    ep.leave(h, store);
}

/// One operation of `h` in which the pool "ran dry".
fn collect_once(ep: &Epoch, h: &mut <Epoch as Reclaim>::Handle, store: &RecordingStore) {
    ep.enter(h);
    ep.collect(h, store);
    ep.leave(h, store);
}

/// Handle 1 pins and stalls. Handle 2 retires 1000 segments, one per operation, and collects after each: the epoch
/// advances at most once past the pin, none of the 1000 is made reusable while the pin lasts, and `pending()` is
/// exactly the number retired. Segments retired before the pin are freed meanwhile (the epoch was free to move).
/// After handle 1 leaves, a few more operations make every segment reusable, each exactly once.
#[test]
#[cfg_attr(miri, ignore = "1,100 retirements, each followed by a check of every reuse so far: minutes under Miri")]
fn pinned_stall_holds_back_everything_retired_after_it() {
    let ep = epoch();
    let store = RecordingStore::default();
    let mut stalled = ep.register();
    let mut worker = ep.register();

    // Before the stall: the epoch moves freely and early segments are reclaimed.
    for id in 0..100 {
        retire_one(&ep, &mut worker, id, &store);
        collect_once(&ep, &mut worker, &store);
    }
    let before = store.count();
    assert!(before >= 95, "with nobody pinned, retired segments are reclaimed within a few steps: {before}");
    assert_eq!(ep.pending() + before, 100);

    ep.enter(&mut stalled); // ... and never leaves until below
    let pinned_at = ep.epoch();
    for id in 1_000..2_000 {
        retire_one(&ep, &mut worker, id, &store);
        collect_once(&ep, &mut worker, &store);
        assert!(ep.epoch() <= pinned_at + 1, "the epoch advanced twice past a pinned handle");
        let reusable = store.ids();
        assert!(
            !reusable.iter().any(|&id| id >= 1_000),
            "a segment retired after the pin was made reusable during the stall: {:?}",
            reusable.iter().filter(|&&id| id >= 1_000).collect::<Vec<_>>()
        );
        assert_eq!(ep.pending(), 100 - store.count() + (id as u64 - 999), "pending() counts every held segment");
    }
    assert!(ep.pending() >= 1_000, "pending grows with the number retired during the stall");
    // Everything retired before the pin that could be reclaimed was (at most one advance's worth is held back).
    assert_eq!(store.count(), 100 - (ep.pending() - 1_000));

    ep.leave(&mut stalled, &store);
    for id in 5_000..5_003 {
        retire_one(&ep, &mut worker, id, &store);
        collect_once(&ep, &mut worker, &store);
    }
    let reusable = store.ids();
    assert!((1_000..2_000).all(|id| reusable.binary_search(&id).is_ok()), "not everything was freed after the stall");
    assert!((0..100).all(|id| reusable.binary_search(&id).is_ok()));
    assert!(ep.pending() <= 3, "only the newest segments may still wait: {}", ep.pending());
    ep.unregister(&mut stalled, &store);
    ep.unregister(&mut worker, &store);
    assert_eq!(ep.pending(), 0, "unregistering with nobody pinned frees everything");
    assert_eq!(store.ids().len(), 1_103);
    assert_eq!(ep.orphaned(), 0);
}

/// Without any `collect`, reaching the threshold steps on its own: a handle that only retires, one segment per
/// operation, has at most `COLLECT_THRESHOLD` segments pending at any time.
#[test]
fn the_threshold_steps_without_being_asked() {
    let ep = epoch();
    let store = RecordingStore::default();
    let mut h = ep.register();
    const RETIRED: SegmentId = if cfg!(miri) { 40 } else { 1_000 };
    for id in 0..RETIRED {
        retire_one(&ep, &mut h, id, &store);
        assert!(ep.pending() <= COLLECT_THRESHOLD as u64, "pending {} after retiring {id}", ep.pending());
    }
    assert!(store.count() >= u64::from(RETIRED) - COLLECT_THRESHOLD as u64);
    store.ids(); // each at most once
    ep.unregister(&mut h, &store);
    assert_eq!(ep.pending(), 0);
}

/// A segment retired inside an operation is never reused inside that same operation (the retirer's own pin holds
/// the epoch back), however often it collects.
#[test]
fn retirer_cannot_free_its_own_segment_in_the_same_operation() {
    let ep = epoch();
    let store = RecordingStore::default();
    let mut h = ep.register();
    ep.enter(&mut h);
    ep.retire(&mut h, 1, &store);
    for _ in 0..10 {
        ep.collect(&mut h, &store);
    }
    assert_eq!(store.count(), 0, "freed while the retiring operation still runs");
    ep.leave(&mut h, &store);
    assert_eq!(store.ids(), [1], "the step at the end of the operation (after unpinning) frees it");
    ep.unregister(&mut h, &store);
}

/// Segments a consumer retired below its threshold are freed when a producer's pool runs dry: `collect` makes every
/// handle step at the end of its next operation.
#[test]
fn shortage_makes_other_handles_step() {
    let ep = epoch();
    let store = RecordingStore::default();
    let mut consumer = ep.register();
    let mut producer = ep.register();
    for id in 1..=3 {
        retire_one(&ep, &mut consumer, id, &store);
    }
    // Unsealed in the consumer's bag: no amount of advancing by others can free them before the consumer steps.
    for _ in 0..5 {
        collect_once(&ep, &mut producer, &store);
    }
    assert_eq!(store.count(), 0, "below the threshold nothing is sealed yet");

    // The consumer's next operation ends with a step: it seals the three (the producer keeps the epoch moving).
    ep.enter(&mut consumer);
    ep.leave(&mut consumer, &store);
    collect_once(&ep, &mut producer, &store);
    ep.enter(&mut consumer);
    ep.leave(&mut consumer, &store);
    assert_eq!(store.ids(), [1, 2, 3], "the consumer stepped at the end of its operations");
    assert_eq!(ep.pending(), 0);
    ep.unregister(&mut consumer, &store);
    ep.unregister(&mut producer, &store);
}

/// Unregistering while another handle is pinned moves the retired segments to the orphan list; a `collect` by a
/// third handle keeps them while the pin lasts and frees them after.
#[test]
fn orphans_are_freed_by_a_later_collect() {
    let ep = epoch();
    let store = RecordingStore::default();
    let mut pinned = ep.register();
    let mut leaver = ep.register();
    ep.enter(&mut pinned);
    for id in [7, 3, 4] {
        retire_one(&ep, &mut leaver, id, &store);
    }
    ep.unregister(&mut leaver, &store);
    assert_eq!((ep.orphaned(), ep.pending(), store.count()), (3, 3, 0), "all three became orphans");

    let mut third = ep.register();
    for _ in 0..5 {
        collect_once(&ep, &mut third, &store);
    }
    assert_eq!(store.count(), 0, "orphans must wait while the pin lasts");

    ep.leave(&mut pinned, &store);
    for _ in 0..2 {
        collect_once(&ep, &mut third, &store);
    }
    assert_eq!(store.ids(), [3, 4, 7]);
    assert_eq!(ep.pending(), 0);
    ep.unregister(&mut third, &store);
    ep.unregister(&mut pinned, &store);
}

/// A reused record starts unpinned, and a handle dropped inside an operation (without `unregister`) does not block
/// the epoch for good.
#[test]
fn dropped_and_reused_records_do_not_block_the_epoch() {
    let ep = epoch();
    let store = RecordingStore::default();
    let mut first = ep.register();
    ep.enter(&mut first);
    drop(first); // a bug or an unwind: never unregistered
    let mut second = ep.register();
    ep.enter(&mut second);
    ep.leave(&mut second, &store);
    ep.unregister(&mut second, &store);
    let mut third = ep.register(); // reuses `second`'s record
    let start = ep.epoch();
    for _ in 0..4 {
        collect_once(&ep, &mut third, &store);
    }
    assert!(ep.epoch() >= start + 4, "something still blocks the epoch: {} -> {}", start, ep.epoch());
    ep.unregister(&mut third, &store);
}

/// One retirer moves a source word from segment to segment and, after each move, retires the old segment and
/// collects; readers keep pinning, loading the word and checking, for a while, that the (index, generation) they
/// loaded was not made reusable. With the `epoch_ignore_pinned` mutant this fails at once (the epoch races ahead of
/// the readers); missing fences would need a weakly ordered CPU to show.
#[test]
fn racing_readers_never_hold_a_reclaimed_segment() {
    support::bounded(|| {
        // Under Miri (about 1000 times slower, on a virtual clock) the race is bounded by moves instead of time: 8
        // segments, each recycled about 10 times.
        let race = if cfg!(miri) {
            Race { segments: 8, hold: 32, run_for: Duration::ZERO, min_moves: 81, min_race: 80 }
        } else {
            Race { segments: 64, hold: 32, run_for: Duration::from_millis(500), min_moves: 0, min_race: 640 }
        };
        // Segments are recycled, so moves far above the segment count mean reclamation kept pace during the race.
        support::race::readers_never_hold_a_reused_segment(epoch(), race);
    })
}
