#![cfg(all(feature = "reference", segpool_std))]
//! Regression tests for the reference adapters (`Haphazard`, `FastSmr`, `Seize`, `CrossbeamEpoch`) in corners that
//! tests/reference.rs does not reach: small pools under `OnExhausted::Wait` and `Fail`, and which handles may cross
//! threads.
//!
//! - Haphazard and FastSmr under `Wait`: a producer sleeping for a segment is served by the consumers' next
//!   operations, so waits rarely time out (Hazard runs the same scenario as the yardstick).
//! - CrossbeamEpoch and FastSmr after thousands of short-lived handles: a push refused by `Fail` succeeds on its
//!   retry (FastSmr: segments retired by handles that stay idle are not out of the refused push's reach).
//! - FastSmr through the trait: a reservation older than a retirement covers a life born before it, and only
//!   until the reader leaves.
//! - FastSmr: a handle that parks after retiring a segment under its own reservation does not keep it from a
//!   producer that finds the pool dry.
//! - Seize: under `Wait`, after thousands of short-lived handles, and with a consumer that goes quiet, a small pool
//!   stays live; through the trait, a protection lasts the whole operation, across the protections that follow it
//!   in other slots, and ends with it.
//! - Every strategy's queue handle is `Send` except CrossbeamEpoch's and Seize's (those are compile errors, see the
//!   `compile_fail` examples in `segpool::reclaim::crossbeam` and `segpool::reclaim::seize`).
//!
//! Every scenario runs on its own thread and the test waits for it with a timeout, so a regression fails instead
//! of hanging; every loop that could spin forever on a broken strategy is capped as well.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use segpool::pool::{NoMetrics, Segmented, Submitter};
use segpool::{
    Config, CrossbeamEpoch, FastSmr, Haphazard, Hazard, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue,
    SegRef, Seize,
};
use support::{RecordingStore, within, word};

/// How long a scenario may run before the test reports it as hung ([`support::within`]: the scenario runs on a
/// thread of its own, which is left behind if it hangs).
const HUNG: Duration = Duration::from_secs(120);

fn config(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> Config {
    Config { segment_size, segment_count, on_exhausted, ..Config::default() }
}

/// What [`wait_stress`] measured.
#[derive(Debug)]
struct WaitRun {
    stats: QueueStats,
    /// Values the consumers received (all of them, unless the time-out cap stopped the run early).
    received: u64,
}

/// Producers each push `PER_PRODUCER` values through a 1-slot-segment queue with 4 segments under `Wait`, while
/// consumers pop them: with so few segments the producers keep finding the pool dry and sleep until the consumers'
/// retirements are reclaimed. A producer whose push times out retries the same value. The run stops early once
/// `TIMEOUT_CAP` waits have timed out in all (a strategy that leaves its sleepers waiting would otherwise take
/// about 20 ms per value).
fn wait_stress<R: Reclaim>() -> WaitRun {
    const PRODUCERS: u64 = 2;
    const CONSUMERS: usize = 2;
    const PER_PRODUCER: u64 = 500;
    const TIMEOUT_CAP: u64 = 60;
    let total = PRODUCERS * PER_PRODUCER;
    let q: SegQueue<u64, R> =
        SegQueue::with_config(config(1, 2, OnExhausted::Wait(Duration::from_millis(20)))).expect("valid config");
    let received = AtomicU64::new(0);
    let timeouts = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (q, timeouts, stop) = (&q, &timeouts, &stop);
                s.spawn(move || {
                    let mut h = q.handle();
                    for seq in 0..PER_PRODUCER {
                        let mut value = p * PER_PRODUCER + seq;
                        while let Err(refused) = h.push(value) {
                            assert_eq!(refused.kind(), PushErrorKind::TimedOut);
                            value = refused.into_inner();
                            if timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUT_CAP {
                                stop.store(true, Ordering::Relaxed);
                            }
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        for _ in 0..CONSUMERS {
            let (q, received, stop) = (&q, &received, &stop);
            s.spawn(move || {
                let mut h = q.handle();
                while received.load(Ordering::Relaxed) < total && !stop.load(Ordering::Relaxed) {
                    match h.pop() {
                        Some(value) => {
                            assert!(value < total, "{value} was never pushed");
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        None => thread::yield_now(),
                    }
                }
            });
        }
        for producer in producers {
            producer.join().expect("producer panicked");
        }
    });
    let stats = q.stats();
    let run = WaitRun { stats, received: received.into_inner() };
    println!("{}: {run:?}", R::NAME);
    assert_eq!(run.stats.stale_views, 0, "{}: a stale view", R::NAME);
    run
}

/// The waits of a producer that found the pool dry end with a segment, not with a time-out: the consumers'
/// operations reclaim what they retired while somebody waits (`SegmentStore::starving`). Before the fix,
/// Haphazard reclaimed only inside `retire`, while the retiring handle's own hazard pointer still covered the
/// segment it retired, and ignored the waiters: nearly every wait timed out (1,092 of 1,317 in one measurement).
#[test]
#[cfg_attr(miri, ignore = "1,000 values through 20 ms waits: far too slow for Miri")]
fn haphazard_wait_serves_sleeping_producers() {
    let hazard = within(HUNG, "hazard under Wait", wait_stress::<Hazard>);
    let haphazard = within(HUNG, "haphazard under Wait", wait_stress::<Haphazard>);
    // A few time-outs are possible on a loaded machine (a consumer descheduled for the whole 20 ms); a strategy
    // that leaves its sleepers waiting times out about once per value and hits the cap of 60.
    for (name, run) in [("hazard", &hazard), ("haphazard", &haphazard)] {
        assert!(run.stats.waits > 0, "{name}: the scenario never made a producer wait: {run:?}");
        assert!(run.stats.wait_timeouts <= 10, "{name}: {} waits timed out: {run:?}", run.stats.wait_timeouts);
        assert_eq!(run.received, 1_000, "{name}: every value arrives: {run:?}");
    }
}

/// The same for FastSmr: the consumers' `leave`s scan while a producer sleeps.
#[test]
#[cfg_attr(miri, ignore = "1,000 values through 20 ms waits: far too slow for Miri")]
fn fast_smr_wait_serves_sleeping_producers() {
    let run = within(HUNG, "fast-smr under Wait", wait_stress::<FastSmr>);
    assert!(run.stats.waits > 0, "the scenario never made a producer wait: {run:?}");
    assert!(run.stats.wait_timeouts <= 10, "{} waits timed out: {run:?}", run.stats.wait_timeouts);
    assert_eq!(run.received, 1_000, "every value arrives: {run:?}");
}

/// `HANDLES` short-lived handles, each registering and doing one push and one pop, all dropped
/// together at the end (the handles of a burst of tasks, say); then the pool is run dry through one handle and a
/// consumer frees a segment. Returns how often the next push was refused (by `Fail`) before it succeeded, capped at
/// `CAP`.
fn refusals_after_short_lived_handles<R: Reclaim>() -> u64 {
    const HANDLES: u64 = 3_000;
    const CAP: u64 = 1_000;
    let q: SegQueue<u64, R> = SegQueue::with_config(config(1, 4, OnExhausted::Fail)).expect("valid config");
    let mut burst = Vec::with_capacity(HANDLES as usize);
    for i in 0..HANDLES {
        let mut h = q.handle();
        let mut value = i;
        let mut refused = 0;
        while let Err(back) = h.push(value) {
            value = back.into_inner();
            refused += 1;
            assert!(refused < CAP, "handle {i}: the pool never refilled: {:?}", q.stats());
        }
        assert_eq!(h.pop(), Some(i));
        burst.push(h);
    }
    // Each dropped handle leaves one bag (usually empty) in the collector's queue.
    drop(burst);
    // Fill the queue until the pool is dry.
    let mut producer = q.handle();
    let mut pushed = 0u64;
    while producer.push(pushed).is_ok() {
        pushed += 1;
        assert!(pushed < CAP, "a 4-segment Fail queue took {pushed} values");
    }
    assert!(pushed > 0, "the pool was dry before the fill: {:?}", q.stats());
    // Two pops: with 1-slot segments, the first segment is unlinked (and retired) by the pop after the one that
    // read it.
    {
        let mut consumer = q.handle();
        assert_eq!(consumer.pop(), Some(0));
        assert_eq!(consumer.pop(), Some(1));
    }
    let mut refusals = 0;
    let mut value = pushed;
    while let Err(back) = producer.push(value) {
        value = back.into_inner();
        refusals += 1;
        if refusals == CAP {
            break;
        }
    }
    println!("{}: {refusals} refusals after {HANDLES} handles, {:?}", R::NAME, q.stats());
    assert_eq!(q.stats().stale_views, 0);
    refusals
}

/// A push that the pool refused succeeds on its retry, however many handles came and went before. Before the fix,
/// every dropped crossbeam handle left a bag in the collector's queue, and each flush collects at most 8 bags, so
/// the bag of the retired segment sat behind thousands of others: 187 refusals in a row after 3,000 handles.
#[test]
#[cfg_attr(miri, ignore = "3,000 handles: far too slow for Miri")]
fn crossbeam_retry_succeeds_after_many_short_lived_handles() {
    let refusals = within(HUNG, "crossbeam short-lived handles", refusals_after_short_lived_handles::<CrossbeamEpoch>);
    assert!(refusals <= 2, "the push was refused {refusals} times in a row");
}

/// The same for FastSmr. With a fast-smr retired list per handle (its design), the fifth handle's push was refused
/// 1,000 times in a row: the three segments the first handles retired sat in their private lists, which only their
/// own (never coming) retirements scan. Hence the adapter's one retiring context, which any `collect` scans.
#[test]
#[cfg_attr(miri, ignore = "3,000 handles: far too slow for Miri")]
fn fast_smr_retry_succeeds_after_many_short_lived_handles() {
    let refusals = within(HUNG, "fast-smr short-lived handles", refusals_after_short_lived_handles::<FastSmr>);
    assert!(refusals <= 2, "the push was refused {refusals} times in a row");
}

/// A consumer retires the head segment inside its pop, under its own reservation, then parks (a pool worker going
/// to sleep) and does nothing until the producer's push succeeds; a producer that finds the 2-segment `Fail` pool
/// dry must still get that segment, by its own `collect` (the consumer's reservation ended with its pop).
#[test]
fn fast_smr_parked_handle_strands_nothing() {
    let q: SegQueue<u64, FastSmr> = SegQueue::with_config(config(1, 2, OnExhausted::Fail)).expect("valid config");
    let mut producer = q.handle();
    let mut consumer = q.handle();
    let mut refused_in_a_row = 0;
    for value in 0..200 {
        let mut value = value;
        while let Err(refused) = producer.push(value) {
            value = refused.into_inner();
            refused_in_a_row += 1;
            assert!(refused_in_a_row < 3, "the parked consumer kept the segment: {:?}", q.stats());
        }
        refused_in_a_row = 0;
        assert_eq!(consumer.pop(), Some(value));
        consumer.park();
    }
    assert_eq!(q.stats().stale_views, 0);
    assert!(q.stats().segments_recycled >= 100, "{:?}", q.stats());
}

/// FastSmr through the trait, one step at a time: a reader reserves an epoch while segment 0 is linked; other
/// retirements then advance the epoch, segment 0 is unlinked and retired, and scans run. The reservation, older
/// than the retirement, still covers the life, because its span starts at the birth `born` stamped (here the
/// queue's first segment, never passed to `born`: the reclaimer's first epoch); once the reader leaves, the next
/// scan reclaims it.
#[test]
fn fast_smr_old_reservation_covers_a_life_born_before_it() {
    let store = RecordingStore::<<FastSmr as Reclaim>::SegmentMeta>::new(4);
    let strategy = FastSmr::new(&Config::default());
    let (mut reader, mut retirer) = (strategy.register(), strategy.register());
    let src = word(0, 1);
    strategy.enter(&mut reader);
    assert_eq!(strategy.protect(&mut reader, 0, &src, &store), SegRef::new(0, 1).bits());
    // Segments 1 and 2 (born now, never protected) retire and advance the epoch twice.
    strategy.enter(&mut retirer);
    for id in [1, 2] {
        strategy.born(&mut retirer, id, &store);
        strategy.retire(&mut retirer, id, &store);
    }
    src.store(SegRef::new(3, 1).bits(), Ordering::Release); // unlink segment 0, then retire it
    strategy.retire(&mut retirer, 0, &store);
    strategy.collect(&mut retirer, &store);
    strategy.leave(&mut retirer, &store);
    assert!(!store.is_reusable(0), "segment 0 reused while the reader's reservation covers it: {strategy:?}");
    strategy.leave(&mut reader, &store);
    strategy.enter(&mut retirer);
    strategy.collect(&mut retirer, &store);
    strategy.leave(&mut retirer, &store);
    assert!(store.is_reusable(0), "segment 0 never reclaimed after the reader left: {strategy:?}");
    assert_eq!(strategy.pending(), 0, "{strategy:?}");
}

/// The same for Seize: a consumer's retirement is freed by the last operation to leave of those running at it, and
/// that leave drains it to the pool, waking the sleeper.
#[test]
#[cfg_attr(miri, ignore = "1,000 values through 20 ms waits: far too slow for Miri")]
fn seize_wait_serves_sleeping_producers() {
    let run = within(HUNG, "seize under Wait", wait_stress::<Seize>);
    assert!(run.stats.waits > 0, "the scenario never made a producer wait: {run:?}");
    assert!(run.stats.wait_timeouts <= 10, "{} waits timed out: {run:?}", run.stats.wait_timeouts);
    assert_eq!(run.received, 1_000, "every value arrives: {run:?}");
}

/// The same for Seize, whose retired batches must hold an entry per active reservation: the adapter pads them to
/// one per registered handle (3,001 here, capped at 63), and a retirement never waits for an idle handle's slot.
#[test]
#[cfg_attr(miri, ignore = "3,000 handles: far too slow for Miri")]
fn seize_retry_succeeds_after_many_short_lived_handles() {
    let refusals = within(HUNG, "seize short-lived handles", refusals_after_short_lived_handles::<Seize>);
    assert!(refusals <= 2, "the push was refused {refusals} times in a row");
}

/// A consumer retires the head segment inside each pop and then goes quiet (parked or not, as a pool worker going to
/// sleep): nothing is held per handle, so the producer of a 2-segment `Fail` pool always gets the segment back by
/// the end of the pop that retired it.
#[test]
fn seize_quiet_consumer_strands_nothing() {
    for park in [false, true] {
        let q: SegQueue<u64, Seize> = SegQueue::with_config(config(1, 2, OnExhausted::Fail)).expect("valid config");
        let mut producer = q.handle();
        let mut consumer = q.handle();
        for value in 0..200 {
            let mut value = value;
            let mut refused_in_a_row = 0;
            while let Err(refused) = producer.push(value) {
                value = refused.into_inner();
                refused_in_a_row += 1;
                assert!(refused_in_a_row < 3, "park {park}: the quiet consumer kept the segment: {:?}", q.stats());
            }
            assert_eq!(consumer.pop(), Some(value));
            if park {
                consumer.park();
            }
        }
        assert_eq!(q.stats().stale_views, 0);
        assert!(q.stats().segments_recycled >= 100, "{:?}", q.stats());
    }
}

/// Seize through the trait, one step at a time, on one thread (whose handles share seize's reservation, as two
/// threads' handles would each hold their own): a reader protects segment 0 in slot 0; a retirer unlinks and retires
/// it, and leaves. The reader then protects another word in slot 1: segment 0 must stay unreclaimed until the reader
/// leaves (a guard refreshed at each protection would have let it go), and be reclaimed by that leave.
#[test]
fn seize_protection_lasts_the_whole_operation() {
    let store = RecordingStore::<<Seize as Reclaim>::SegmentMeta>::new(4);
    let strategy = Seize::new(&Config::default());
    let (mut reader, mut retirer) = (strategy.register(), strategy.register());
    let (head, tail) = (word(0, 1), word(2, 1));
    strategy.enter(&mut reader);
    assert_eq!(strategy.protect(&mut reader, 0, &head, &store), SegRef::new(0, 1).bits());
    strategy.enter(&mut retirer);
    head.store(SegRef::new(1, 1).bits(), Ordering::Release); // unlink segment 0, then retire it
    strategy.retire(&mut retirer, 0, &store);
    strategy.collect(&mut retirer, &store);
    strategy.leave(&mut retirer, &store);
    assert_eq!(strategy.protect(&mut reader, 1, &tail, &store), SegRef::new(2, 1).bits());
    // Any call with a store drains what seize freed so far.
    strategy.enter(&mut retirer);
    strategy.leave(&mut retirer, &store);
    assert!(!store.is_reusable(0), "segment 0 reused while the reader's slot 0 covers it: {strategy:?}");
    assert_eq!(strategy.pending(), 1, "{strategy:?}");
    strategy.leave(&mut reader, &store);
    assert!(store.is_reusable(0), "segment 0 not reclaimed by the reader's leave: {strategy:?}");
    assert_eq!(strategy.pending(), 0, "{strategy:?}");
}

/// The same on two threads: the reader's handle is made on a thread of its own (it is `!Send`), which steps when
/// told to.
#[test]
fn seize_protection_lasts_the_whole_operation_across_threads() {
    use std::sync::mpsc::sync_channel;
    let run = || {
        let store = RecordingStore::<<Seize as Reclaim>::SegmentMeta>::new(4);
        let strategy = Seize::new(&Config::default());
        let (head, tail) = (word(0, 1), word(2, 1));
        thread::scope(|s| {
            let (step, next) = sync_channel::<()>(0);
            let (done, stepped) = sync_channel::<()>(0);
            let (strategy, store, head, tail) = (&strategy, &store, &head, &tail);
            s.spawn(move || {
                let mut reader = strategy.register();
                strategy.enter(&mut reader);
                assert_eq!(strategy.protect(&mut reader, 0, head, store), SegRef::new(0, 1).bits());
                done.send(()).unwrap();
                next.recv().unwrap();
                assert_eq!(strategy.protect(&mut reader, 1, tail, store), SegRef::new(2, 1).bits());
                done.send(()).unwrap();
                next.recv().unwrap();
                strategy.leave(&mut reader, store);
                done.send(()).unwrap();
            });
            let mut retirer = strategy.register();
            stepped.recv().unwrap(); // the reader protects segment 0
            strategy.enter(&mut retirer);
            head.store(SegRef::new(1, 1).bits(), Ordering::Release);
            strategy.retire(&mut retirer, 0, store);
            strategy.collect(&mut retirer, store);
            strategy.leave(&mut retirer, store);
            step.send(()).unwrap();
            stepped.recv().unwrap(); // the reader protects slot 1
            strategy.enter(&mut retirer);
            strategy.leave(&mut retirer, store);
            assert!(!store.is_reusable(0), "segment 0 reused while the reader's slot 0 covers it: {strategy:?}");
            step.send(()).unwrap();
            stepped.recv().unwrap(); // the reader left, which freed the batch and drained it
            assert!(store.is_reusable(0), "segment 0 not reclaimed by the reader's leave: {strategy:?}");
            assert_eq!(strategy.pending(), 0, "{strategy:?}");
        })
    };
    within(HUNG, "seize protection across threads", run);
}

/// The readers' race of `support::race` (seize frees a batch at once when no reader is inside an operation).
/// A reservation made after the load instead of before it would let a retirement that runs between a reader's load
/// and its enter free what the reader then uses; that window is a few instructions wide against a retirement's
/// `membarrier`, so this race (like the mpmc runs of tests/reference.rs) catches such a bug only now and then: it
/// checks the common case, not that ordering.
#[test]
fn seize_racing_readers_never_hold_a_reclaimed_segment() {
    let race = if cfg!(miri) {
        support::race::Race { segments: 8, hold: 32, run_for: Duration::ZERO, min_moves: 81, min_race: 80 }
    } else {
        support::race::Race { segments: 64, hold: 32, run_for: Duration::from_millis(500), min_moves: 0, min_race: 640 }
    };
    within(HUNG, "seize racing readers", move || {
        support::race::readers_never_hold_a_reused_segment(Seize::new(&Config::default()), race);
    });
}

fn assert_send<T: Send>() {}

/// The queue handle (and so the pool's submitter) is `Send` exactly when the strategy's handle is: for every
/// strategy but CrossbeamEpoch (whose crossbeam `LocalHandle` is `!Send`; see the `compile_fail` example in
/// `segpool::reclaim::crossbeam`) and Seize (which holds seize's `!Send` `LocalGuard` during an operation; see
/// `segpool::reclaim::seize`).
#[test]
fn handles_of_the_other_strategies_are_send() {
    // Every strategy marked `send_handle` in `support::for_each_strategy!` (all but CrossbeamEpoch and Seize), and
    // Unprotected.
    support::for_each_strategy!(fn |R| if send_handle {
        assert_send::<<R as Reclaim>::Handle>();
        assert_send::<segpool::Handle<'static, u64, R>>();
        assert_send::<Submitter<'static, u64, Segmented<R>, NoMetrics>>();
    });
    assert_send::<<segpool::Unprotected as Reclaim>::Handle>();
    assert_send::<segpool::Handle<'static, u64, segpool::Unprotected>>();
    // And they are used that way: a handle made here works on another thread.
    let q: SegQueue<u64, Haphazard> = SegQueue::with_config(config(2, 4, OnExhausted::Grow)).expect("valid config");
    let mut h = q.handle();
    h.push(7).expect("Grow");
    thread::scope(|s| {
        s.spawn(move || assert_eq!(h.pop(), Some(7)));
    });
}
