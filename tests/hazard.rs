#![cfg(segpool_std)]
//! Hazard pointers ([`segpool::Hazard`]): the queue end to end, and the strategy's promises tested directly.
//!
//! - Through `SegQueue<u64, Hazard>`: multi-threaded exactly-once delivery and per-producer FIFO with very few
//!   segments (2 and 4) under `OnExhausted::Fail` and `Wait`, and a stalled consumer that pins only its segment.
//! - At the strategy level, with a recording store ([`support::RecordingStore`]) and plain source words: a stalled
//!   protector holds back exactly the segments in its slots, `pending()` stays within the documented bound, a pool
//!   shortage makes other handles scan, segments of an unregistered handle that are still protected become orphans and
//!   are freed later, and a racing protector never gets a segment that is made reusable while it holds it (this last
//!   test is the one that catches the `hazard_no_revalidate` and `hazard_no_fence` mutants, probabilistically).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use segpool::reclaim::PROTECT_SLOTS;
use segpool::reclaim::hazard::scan_threshold;
use segpool::{Config, Hazard, OnExhausted, Reclaim, SegQueue, SegRef, SegmentId};
use support::{RaceStore, RecordingStore, Stress, word};

// ---------------------------------------------------------------------------------------------------------------
// Through the queue
// ---------------------------------------------------------------------------------------------------------------

/// `producers` threads push `per_producer` values each (retrying refused pushes with the value handed back), two
/// consumers pop until everything arrived: the checks of [`support::Stress`] (exactly-once delivery, per-producer
/// FIFO per consumer, no stale views, no growth, every segment the traffic filled retired), and nothing stays
/// pending once every handle is gone. A run with no push or pop for 30 s fails instead of hanging.
fn stress(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted, producers: u64, per_producer: u64) {
    let config = Config { segment_size, segment_count, on_exhausted, ..Config::default() };
    Stress::new(config, producers, per_producer)
        .watchdog(Duration::from_secs(30))
        .expect_nothing_pending()
        .run::<Hazard>();
}

/// SegmentSize=1 (every value retires a segment), 4 segments, `Fail`: 3 producers, 2 consumers.
#[test]
#[cfg_attr(
    miri,
    ignore = "6,000-60,000 values over 4-5 threads: far too slow for Miri; tests/miri.rs has Hazard at Miri scale"
)]
fn stress_size_1_four_segments_fail() {
    stress(1, 4, OnExhausted::Fail, 3, 5_000);
}

/// SegmentSize=1 with only 2 segments (the queue's one plus one to link): the fewest that can work at all.
#[test]
#[cfg_attr(
    miri,
    ignore = "6,000-60,000 values over 4-5 threads: far too slow for Miri; tests/miri.rs has Hazard at Miri scale"
)]
fn stress_size_1_two_segments_fail() {
    stress(1, 2, OnExhausted::Fail, 2, 3_000);
}

/// SegmentSize=64, 4 segments, `Fail`.
#[test]
#[cfg_attr(
    miri,
    ignore = "6,000-60,000 values over 4-5 threads: far too slow for Miri; tests/miri.rs has Hazard at Miri scale"
)]
fn stress_size_64_four_segments_fail() {
    stress(64, 4, OnExhausted::Fail, 3, 20_000);
}

/// SegmentSize=1, 2 segments, `Wait`: producers block until a consumer's scan frees a segment.
#[test]
#[cfg_attr(
    miri,
    ignore = "6,000-60,000 values over 4-5 threads: far too slow for Miri; tests/miri.rs has Hazard at Miri scale"
)]
fn stress_size_1_two_segments_wait() {
    stress(1, 2, OnExhausted::Wait(Duration::from_millis(20)), 2, 3_000);
}

/// A consumer stopped inside `pop` ([`segpool::Handle::stall`]) pins only the head segment it protected: with 3
/// segments (the pinned one, the queue's, one to link) another handle keeps pushing and popping through
/// SegmentSize=1 without a single refusal. Limbo would be wedged here. After the stall, everything is reclaimed.
#[test]
fn stalled_consumer_pins_only_its_segment() {
    let config = Config { segment_size: 1, segment_count: 3, on_exhausted: OnExhausted::Fail, ..Config::default() };
    let q: SegQueue<u64, Hazard> = SegQueue::with_config(config).expect("valid config");
    let mut stalled = q.handle();
    let mut worker = q.handle();
    {
        let _stall = stalled.stall();
        for value in 0..if cfg!(miri) { 40 } else { 2_000 } {
            worker.push(value).unwrap_or_else(|e| panic!("push {value} refused ({e}): {:?}", q.stats()));
            assert_eq!(worker.pop(), Some(value));
            let stats = q.stats();
            assert!(stats.retired_pending <= 2, "the stall pins one segment, the worker holds one: {stats:?}");
        }
        let stats = q.stats();
        assert_eq!((stats.failed_pushes, stats.stale_views), (0, 0), "{stats:?}");
        assert!(stats.retired_pending >= 1, "the pinned segment cannot have been reclaimed: {stats:?}");
    }
    drop(worker);
    drop(stalled);
    let stats = q.stats();
    assert_eq!(stats.retired_pending, 0, "{stats:?}");
    assert_eq!(stats.segments_allocated, 3, "{stats:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// The strategy on its own
// ---------------------------------------------------------------------------------------------------------------

fn hazard() -> Hazard {
    Hazard::new(&Config::default())
}

/// A handle protects segments 7 and 9 (both slots) and stalls; once both are unlinked another handle retires them
/// among 1000 others. 7 and 9 are never made reusable during the stall; every other segment is, exactly once;
/// `pending()` stays below the worker's threshold `R` and the documented bound; after the stall both are reused.
#[test]
fn stalled_protector_holds_back_only_its_slots() {
    let hz = hazard();
    let store = RecordingStore::default();
    let mut stalled = hz.register();
    let mut worker = hz.register();
    assert_eq!(hz.hazard_count(), 2 * PROTECT_SLOTS);
    let threshold = scan_threshold(hz.hazard_count());
    assert_eq!(threshold, 10, "R = 2H + 2 with H = 4");
    assert_eq!(hz.unreclaimed_bound(), 22, "n (R - 1) + H with n = 2");

    let head = word(7, 3);
    let tail = word(9, 1);
    hz.enter(&mut stalled);
    assert_eq!(hz.protect(&mut stalled, 0, &head, &store), SegRef::new(7, 3).bits());
    assert_eq!(hz.protect(&mut stalled, 1, &tail, &store), SegRef::new(9, 1).bits());
    // `stalled` never leaves from here on. Unlink both segments, as the queue does before retiring.
    head.store(SegRef::new(11, 1).bits(), Ordering::Release);
    tail.store(SegRef::new(11, 1).bits(), Ordering::Release);

    hz.enter(&mut worker);
    let mut retired = 0u64;
    let mut scanned_before_collect = false;
    let others = 100..if cfg!(miri) { 140 } else { 1_100 }; // Miri: still four times the threshold
    for id in [7, 9].into_iter().chain(others.clone()) {
        hz.retire(&mut worker, id, &store);
        retired += 1;
        assert!(!store.is_reusable(7) && !store.is_reusable(9), "a protected segment was made reusable");
        let pending = hz.pending();
        assert!(pending < threshold as u64, "pending {pending} reached R = {threshold} after {retired} retirements");
        assert!(pending <= hz.unreclaimed_bound());
        assert_eq!(pending + store.count(), retired, "every retired segment is pending or reusable");
        scanned_before_collect |= store.count() > 0;
    }
    assert!(scanned_before_collect, "reaching the threshold must scan without being asked");
    hz.collect(&mut worker, &store);
    hz.leave(&mut worker, &store);
    assert_eq!(store.ids(), others.clone().collect::<Vec<_>>(), "every unprotected segment is reusable, once");
    assert_eq!(hz.pending(), 2);

    hz.leave(&mut stalled, &store);
    hz.enter(&mut worker);
    hz.collect(&mut worker, &store);
    hz.leave(&mut worker, &store);
    let mut expected: Vec<SegmentId> = vec![7, 9];
    expected.extend(others);
    assert_eq!(store.ids(), expected, "after the stall the two segments are reusable too, once");
    assert_eq!(hz.pending(), 0);
    hz.unregister(&mut stalled, &store);
    hz.unregister(&mut worker, &store);
    assert_eq!(hz.orphaned(), 0);
}

/// A "none" reference is returned as it is, and the slot stops protecting the segment it held before.
#[test]
fn protecting_none_clears_the_slot() {
    let hz = hazard();
    let store = RecordingStore::default();
    let mut h = hz.register();
    let mut retirer = hz.register();
    let src = word(5, 1);
    hz.enter(&mut h);
    hz.protect(&mut h, 0, &src, &store);
    src.store(SegRef::none(1).bits(), Ordering::Release);
    assert_eq!(hz.protect(&mut h, 0, &src, &store), SegRef::none(1).bits());
    hz.enter(&mut retirer);
    hz.retire(&mut retirer, 5, &store);
    hz.collect(&mut retirer, &store);
    hz.leave(&mut retirer, &store);
    assert_eq!(store.ids(), [5], "slot 0 no longer protects segment 5");
    hz.leave(&mut h, &store);
}

/// Segments a consumer retired below its threshold are freed when a producer's pool runs dry: `collect` asks every
/// handle to scan at the end of its current operation.
#[test]
fn shortage_makes_other_handles_scan() {
    let hz = hazard();
    let store = RecordingStore::default();
    let mut consumer = hz.register();
    let mut producer = hz.register();
    hz.enter(&mut consumer);
    for id in 1..=3 {
        hz.retire(&mut consumer, id, &store);
    }
    hz.leave(&mut consumer, &store);
    assert_eq!(store.count(), 0, "below the threshold nothing is scanned yet");

    hz.enter(&mut producer);
    hz.collect(&mut producer, &store); // the producer's own list is empty
    hz.leave(&mut producer, &store);
    assert_eq!(store.count(), 0);

    hz.enter(&mut consumer);
    hz.leave(&mut consumer, &store);
    assert_eq!(store.ids(), [1, 2, 3], "the consumer scanned at the end of its next operation");
    assert_eq!(hz.pending(), 0);
}

/// Unregistering with a retired segment that another handle still protects moves it to the orphan list; a
/// `collect` by a third handle keeps it while it is protected and frees it once it is not.
#[test]
fn orphans_are_freed_by_a_later_collect() {
    let hz = hazard();
    let store = RecordingStore::default();
    let mut protector = hz.register();
    let mut leaver = hz.register();
    let head = word(7, 1);
    hz.enter(&mut protector);
    hz.protect(&mut protector, 0, &head, &store);
    head.store(SegRef::new(8, 1).bits(), Ordering::Release);

    hz.enter(&mut leaver);
    for id in [7, 3, 4] {
        hz.retire(&mut leaver, id, &store);
    }
    hz.leave(&mut leaver, &store);
    hz.unregister(&mut leaver, &store);
    assert_eq!(store.ids(), [3, 4], "unregister scans once");
    assert_eq!((hz.orphaned(), hz.pending()), (1, 1), "segment 7 became an orphan");

    let mut third = hz.register();
    assert_eq!(hz.hazard_count(), 2 * PROTECT_SLOTS, "the leaver's record was reused");
    hz.enter(&mut third);
    hz.collect(&mut third, &store);
    hz.leave(&mut third, &store);
    assert!(!store.is_reusable(7), "an orphan still protected must stay");

    hz.leave(&mut protector, &store);
    hz.enter(&mut third);
    hz.collect(&mut third, &store);
    hz.leave(&mut third, &store);
    assert_eq!(store.ids(), [3, 4, 7]);
    assert_eq!(hz.pending(), 0);
    hz.unregister(&mut third, &store);
    hz.unregister(&mut protector, &store);
}

/// Orphans are also re-checked by the ordinary threshold scan of any handle, here the former protector's own.
#[test]
fn orphans_are_freed_by_a_later_threshold_scan() {
    let hz = hazard();
    let store = RecordingStore::default();
    let mut leaver = hz.register();
    // Registered second, so its threshold already counts both records: R = 10.
    let mut protector = hz.register();
    let head = word(7, 1);
    hz.enter(&mut protector);
    hz.protect(&mut protector, 0, &head, &store);
    head.store(SegRef::new(8, 1).bits(), Ordering::Release);
    hz.enter(&mut leaver);
    hz.retire(&mut leaver, 7, &store);
    hz.leave(&mut leaver, &store);
    hz.unregister(&mut leaver, &store);
    assert_eq!((hz.orphaned(), hz.pending(), store.count()), (1, 1, 0));
    hz.leave(&mut protector, &store);

    hz.enter(&mut protector);
    let threshold = scan_threshold(hz.hazard_count()) as SegmentId;
    for id in 100..100 + threshold {
        hz.retire(&mut protector, id, &store);
    }
    hz.leave(&mut protector, &store);
    assert!(store.is_reusable(7), "the threshold scan adopted the orphan");
    assert_eq!(hz.pending(), 0);
    assert_eq!(store.count(), 1 + u64::from(threshold));
    hz.unregister(&mut protector, &store);
}

/// Unregister clears the slots: a record reused by a new handle protects nothing the old handle protected.
#[test]
fn unregister_clears_the_slots() {
    let hz = hazard();
    let store = RecordingStore::default();
    let mut first = hz.register();
    let mut retirer = hz.register();
    let head = word(7, 1);
    hz.enter(&mut first);
    hz.protect(&mut first, 0, &head, &store);
    hz.protect(&mut first, 1, &head, &store);
    // The queue always leaves before a handle is dropped; unregister must not rely on it.
    hz.unregister(&mut first, &store);
    let mut second = hz.register();
    assert_eq!(hz.hazard_count(), 2 * PROTECT_SLOTS, "the record was reused");
    hz.enter(&mut retirer);
    hz.retire(&mut retirer, 7, &store);
    hz.collect(&mut retirer, &store);
    hz.leave(&mut retirer, &store);
    assert_eq!(store.ids(), [7]);
    assert_eq!(hz.orphaned(), 0);
    hz.unregister(&mut second, &store);
    hz.unregister(&mut retirer, &store);
}

/// One retirer moves a source word from segment to segment and, after each move, retires the old segment and
/// scans at once (`collect`); protectors keep protecting the word. A protected (index, generation) must never be
/// made reusable while it is held. Without re-validation (a protector preempted between its load and its hazard
/// store) or without the fence (the re-read overtaking the hazard store in the store buffer) this fails, though only
/// probabilistically: measured on 2 cores, each mutant was caught in every one of 6+ runs, with tens of violations.
#[test]
fn racing_protectors_never_hold_a_reclaimed_segment() {
    support::bounded(|| {
        const SEGMENTS: usize = 16;
        // Under Miri (about 1000 times slower, on a virtual clock) the race is bounded by moves instead of time.
        let run_for = if cfg!(miri) { Duration::ZERO } else { Duration::from_millis(1_500) };
        let (min_moves, min_race) = if cfg!(miri) { (60, 40) } else { (0, 1_000) };
        let hz = Arc::new(hazard());
        let store = Arc::new(RaceStore::new(SEGMENTS));
        let src = Arc::new(word(0, 1));
        let stop = Arc::new(AtomicBool::new(false));
        // One protector per core, plus the retirer: a little oversubscribed, so protectors are also preempted.
        let protectors = thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        let start = Arc::new(Barrier::new(protectors + 1));

        let protector_threads: Vec<_> = (0..protectors)
            .map(|_| {
                let (hz, store, src, stop, start) =
                    (hz.clone(), store.clone(), src.clone(), stop.clone(), start.clone());
                thread::spawn(move || {
                    let mut h = hz.register();
                    // Stores to cold cache lines queue up in the store buffer ahead of the hazard store, widening the
                    // window in which a missing fence lets the re-read overtake it.
                    let mut cold = vec![0u64; 1 << 17];
                    let mut line = 0;
                    start.wait();
                    let (mut checks, mut violations) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..16 {
                            line = (line + 8 * 67) % cold.len();
                            std::hint::black_box(&mut cold)[line] = checks;
                        }
                        hz.enter(&mut h);
                        let seen = SegRef::from_bits(hz.protect(&mut h, 0, &src, &*store));
                        for _ in 0..2 {
                            checks += 1;
                            if store.reclaimed[seen.index() as usize].load(Ordering::SeqCst) >= seen.generation() {
                                violations += 1;
                            }
                            std::hint::spin_loop();
                        }
                        hz.leave(&mut h, &*store);
                    }
                    hz.unregister(&mut h, &*store);
                    (checks, violations)
                })
            })
            .collect();

        let mut retirer = hz.register();
        start.wait();
        let deadline = Instant::now() + run_for;
        let mut moves = 0u64;
        while Instant::now() < deadline || moves < min_moves {
            let next = loop {
                if let Some(id) = store.free.lock().unwrap().pop() {
                    break id;
                }
                hz.enter(&mut retirer);
                hz.collect(&mut retirer, &*store);
                hz.leave(&mut retirer, &*store);
            };
            let generation = store.generation[next as usize].fetch_add(1, Ordering::Relaxed) + 1;
            let old = SegRef::from_bits(src.swap(SegRef::new(next, generation).bits(), Ordering::AcqRel));
            hz.enter(&mut retirer);
            hz.retire(&mut retirer, old.index(), &*store);
            hz.collect(&mut retirer, &*store);
            hz.leave(&mut retirer, &*store);
            moves += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let (mut checks, mut violations) = (0, 0);
        for t in protector_threads {
            let (c, v) = t.join().expect("protector panicked");
            checks += c;
            violations += v;
        }
        hz.unregister(&mut retirer, &*store);
        println!("{protectors} protectors: {moves} moves, {checks} checks, {violations} violations");
        assert!(moves > min_race && checks > min_race, "the race barely ran: {moves} moves, {checks} checks");
        assert_eq!(violations, 0, "a protected segment was made reusable while held ({checks} checks, {moves} moves)");
    })
}
