#![cfg(segpool_std)]
//! Robustness to a stalled thread, for every strategy.
//!
//! One handle stops inside an operation holding the head segment ([`segpool::Handle::stall`]: a consumer preempted
//! in the middle of `pop`) while another handle keeps pushing and popping through SegmentSize=1 segments, so every
//! value retires a segment. The run records the peak number of retired-but-unreclaimed segments, then ends the
//! stall and checks that the strategy recovers. Run with `--nocapture` to see the table of peaks.

mod support;

use segpool::{Config, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue};
use support::EraClock;

/// Pairs during the stall and again after it. Under Miri, 40: still well past the 16 segments and the bounds.
const PAIRS: u64 = if cfg!(miri) { 40 } else { 2_000 };
const SEGMENTS: usize = 16;
const LIMBO_LEN: usize = 4;

struct StallReport {
    /// Refused pushes after the stall ended.
    refused_after: u64,
    /// Largest `retired_pending` seen while the stall lasted.
    peak_pending: u64,
    /// Stats at the end of the stall.
    during: QueueStats,
    /// Pushes refused (handed back) during the stall.
    refused: u64,
    /// Stats after the stall ended and traffic went on.
    after: QueueStats,
}

fn config(on_exhausted: OnExhausted) -> Config {
    Config { segment_size: 1, segment_count: SEGMENTS, on_exhausted, limbo_len: LIMBO_LEN }
}

/// Pushes and pops `pairs` values one at a time, checking FIFO order from `next`; refused pushes are counted and
/// their values checked. Returns the peak `retired_pending`.
fn traffic<R: Reclaim>(
    q: &SegQueue<u64, R>,
    handle: &mut segpool::Handle<'_, u64, R>,
    next: &mut u64,
    pairs: u64,
    refused: &mut u64,
) -> u64 {
    let mut peak = 0;
    for _ in 0..pairs {
        match handle.push(*next) {
            Ok(()) => {
                assert_eq!(handle.pop(), Some(*next), "FIFO, exactly once");
                *next += 1;
            }
            Err(error) => {
                assert_eq!(error.kind(), PushErrorKind::Exhausted);
                assert_eq!(error.into_inner(), *next, "a refused push hands its own value back");
                *refused += 1;
            }
        }
        peak = peak.max(q.stats().retired_pending);
    }
    peak
}

fn stalled_run<R: Reclaim>(on_exhausted: OnExhausted) -> StallReport {
    let q: SegQueue<u64, R> = SegQueue::with_config(config(on_exhausted)).expect("valid config");
    stalled_run_on(&q)
}

fn stalled_run_on<R: Reclaim>(q: &SegQueue<u64, R>) -> StallReport {
    let on_exhausted = q.config().on_exhausted;
    let mut stalled = q.handle();
    let mut worker = q.handle();
    let mut next = 0;
    let mut refused = 0;
    let (peak_pending, during) = {
        let _stall = stalled.stall();
        let peak = traffic(q, &mut worker, &mut next, PAIRS, &mut refused);
        (peak, q.stats())
    };
    // The stalled handle moves on (its operation ends) and goes quiet, as an idle handle must tell the strategy
    // (Qsbr's would otherwise stay online and hold every later reclamation back: tests/qsbr.rs); traffic
    // continues and the strategy catches up.
    stalled.park();
    let mut refused_after = 0;
    traffic(q, &mut worker, &mut next, PAIRS, &mut refused_after);
    let after = q.stats();
    assert_eq!(after.stale_views, 0, "{}: {after:?}", R::NAME);
    println!(
        "{:<8} {:?}: peak unreclaimed {peak_pending:>5}, allocated {:>5}, refused {refused:>5} during the stall; \
         unreclaimed {:>3}, allocated {:>5}, refused {refused_after} after",
        R::NAME,
        on_exhausted,
        during.segments_allocated,
        after.retired_pending,
        after.segments_allocated
    );
    StallReport { refused_after, peak_pending, during, refused, after }
}

/// Limbo: the stall holds back only the segment it references. That segment is evicted from the ring while still
/// referenced (an orphan) and goes back to the pool when the stall ends; the ring itself never holds more than
/// `limbo_len` segments, so the pool never grows past the ring plus what the traffic needs.
#[test]
fn limbo_holds_back_only_the_stalled_segment() {
    let report = stalled_run::<segpool::Limbo>(OnExhausted::Fail);
    assert!(report.peak_pending <= LIMBO_LEN as u64, "{:?}", report.during);
    assert_eq!(report.during.segments_orphaned, 1, "the stalled segment is orphaned: {:?}", report.during);
    assert_eq!(report.refused, 0, "one held segment cannot starve a pool of {SEGMENTS}: {:?}", report.during);
    assert_eq!(report.after.segments_orphaned, 1, "{:?}", report.after);
    assert_eq!(report.after.segments_allocated, SEGMENTS as u64, "{:?}", report.after);
}

/// Leak: nothing is ever reclaimed, stall or not: every retired segment stays unreclaimed, and the queue grows by
/// one segment per value.
#[test]
fn leak_reclaims_nothing() {
    let report = stalled_run::<segpool::Leak>(OnExhausted::Grow);
    assert_eq!(report.peak_pending, report.during.segments_retired, "{:?}", report.during);
    assert!(report.during.segments_allocated >= PAIRS, "{:?}", report.during);
    assert_eq!(report.after.retired_pending, report.after.segments_retired, "{:?}", report.after);
}

/// Hazard pointers: the stall holds back only the segment its slot names (plus what the stalled handle itself had
/// retired), so unreclaimed segments stay within the documented bound and the pool never runs dry.
#[test]
fn hazard_stays_within_its_bound() {
    let q: SegQueue<u64, segpool::Hazard> = SegQueue::with_config(config(OnExhausted::Fail)).expect("valid config");
    let report = stalled_run_on(&q);
    let bound = q.reclaim().unreclaimed_bound();
    assert!(report.peak_pending <= bound, "peak {} above the bound {bound}: {:?}", report.peak_pending, report.during);
    assert_eq!(report.refused + report.refused_after, 0, "{:?}", report.after);
    assert_eq!(report.after.segments_allocated, SEGMENTS as u64, "{:?}", report.after);
}

/// A strategy under which a stalled thread stops all reclamation (Epoch pinned; Qsbr online and not quiescent;
/// Hyaline's active slot): with
/// `Grow` the unreclaimed segments (and the memory) grow with the traffic for as long as the stall lasts; once it
/// ends, everything is reclaimed within a few operations.
/// `slack`: what a running handle may hold unpublished or unstepped (Epoch's step threshold, Hyaline's batch).
fn grows_without_bound_while_stalled_then_recovers<R: Reclaim>(slack: u64) {
    let report = stalled_run::<R>(OnExhausted::Grow);
    assert!(
        report.peak_pending >= PAIRS - 2 * slack,
        "{}: pending must track the traffic: {:?}",
        R::NAME,
        report.during
    );
    assert!(report.during.segments_allocated >= PAIRS - 2 * slack, "{}: {:?}", R::NAME, report.during);
    assert!(report.after.retired_pending <= 2 * slack, "{}: recovered after the stall: {:?}", R::NAME, report.after);
    assert_eq!(
        report.after.segments_allocated,
        report.during.segments_allocated,
        "{}: no growth after: {:?}",
        R::NAME,
        report.after
    );
}

/// The same strategies under `Fail`: instead of hanging or losing values, pushes are handed back while the stall
/// lasts, and the queue works again once it ends.
fn reports_exhaustion_while_stalled_then_recovers<R: Reclaim>(slack: u64) {
    let report = stalled_run::<R>(OnExhausted::Fail);
    assert!(
        report.refused >= PAIRS - SEGMENTS as u64 - 2 * slack,
        "{}: refusals while stalled: {:?}",
        R::NAME,
        report.during
    );
    assert_eq!(report.during.segments_allocated, SEGMENTS as u64, "{}: {:?}", R::NAME, report.during);
    assert!(
        report.refused_after <= 2,
        "{}: recovered after the stall: {} refused, {:?}",
        R::NAME,
        report.refused_after,
        report.after
    );
    assert!(report.after.retired_pending <= 2 * slack, "{}: {:?}", R::NAME, report.after);
}

/// Epochs: a thread stalled while pinned stops all reclamation.
#[test]
fn epoch_grows_without_bound_while_stalled_then_recovers() {
    grows_without_bound_while_stalled_then_recovers::<segpool::Epoch>(COLLECT);
}

#[test]
fn epoch_reports_exhaustion_while_stalled_then_recovers() {
    reports_exhaustion_while_stalled_then_recovers::<segpool::Epoch>(COLLECT);
}

/// QSBR: a thread stalled inside an operation never announces a quiescent state, so it stops all reclamation as
/// a pinned epoch does (Qsbr runs on Epoch's steps, so the bounds are Epoch's).
#[test]
fn qsbr_grows_without_bound_while_stalled_then_recovers() {
    grows_without_bound_while_stalled_then_recovers::<segpool::Qsbr>(COLLECT);
}

#[test]
fn qsbr_reports_exhaustion_while_stalled_then_recovers() {
    reports_exhaustion_while_stalled_then_recovers::<segpool::Qsbr>(COLLECT);
}

const COLLECT: u64 = segpool::reclaim::epoch::COLLECT_THRESHOLD as u64;

const BATCH: u64 = segpool::reclaim::hyaline::BATCH as u64;

/// Hyaline-1: the stalled handle's slot stays active, so every batch published during the stall puts a node into
/// its list and waits for its `leave`: as with Epoch, memory grows with the traffic under `Grow` and pushes are
/// handed back under `Fail`; when the stall ends, its `leave` frees every one of those batches at once.
#[test]
fn hyaline_grows_without_bound_while_stalled_then_recovers() {
    grows_without_bound_while_stalled_then_recovers::<segpool::Hyaline>(BATCH);
}

#[test]
fn hyaline_reports_exhaustion_while_stalled_then_recovers() {
    reports_exhaustion_while_stalled_then_recovers::<segpool::Hyaline>(BATCH);
}

const SCAN: u64 = segpool::reclaim::eras::SCAN_THRESHOLD as u64;

/// The most lives a running handle keeps on its list between operations besides those a stall holds back:
/// `2 * SCAN_THRESHOLD - 1`. After each scan it keeps, of the lives the stall does not hold, only those its own
/// reservation overlaps: the ones that scan sealed (at most `SCAN_THRESHOLD`, or fewer at a `collect`'s scan),
/// since every life sealed earlier was sealed below the era its current operation reserves (the clock advanced
/// after that scan, and only this handle moves it here). It scans again when `SCAN_THRESHOLD` more are retired.
const RUNNING_LIST: u64 = 2 * SCAN - 1;

/// An era strategy under a stall, with `Grow` from 2 segments (so that the arena's growth shows): one handle
/// stalls inside `pop` after some traffic, at the era `u` the clock showed then; the worker pushes and pops
/// through SegmentSize=1. The stall holds back only lives born at or before `u` that were not reusable yet when
/// the clock passed `u` (the worker's next scan advances it): at most the `A` segments allocated at that moment,
/// each in one life at a time. So `retired_pending <= A + RUNNING_LIST` from then on (the stalled handle itself
/// retired nothing), `segments_allocated` is the same after a quarter of the traffic as after all of it, and once
/// the stall ends the worker's next scans free what it held back, and unregistering frees the rest.
fn eras_stay_within_their_bound<R: EraClock>() {
    let config = Config { segment_size: 1, segment_count: 2, on_exhausted: OnExhausted::Grow, limbo_len: LIMBO_LEN };
    let q: SegQueue<u64, R> = SegQueue::with_config(config).expect("valid config");
    let mut stalled = q.handle();
    let mut worker = q.handle();
    let mut next = 0;
    let mut pair = |worker: &mut segpool::Handle<'_, u64, R>| {
        worker.push(next).expect("Grow never refuses");
        assert_eq!(worker.pop(), Some(next), "FIFO, exactly once");
        next += 1;
        q.stats()
    };
    for _ in 0..10 {
        pair(&mut worker); // the clock moves past 0 first, so the stall reserves an era other than the first
    }
    let mut allocated_at_quarter = 0;
    let mut peak = 0;
    let (reserved, passed_with, during) = {
        let _stall = stalled.stall();
        // Single-threaded, the era the stall published is the clock now.
        let reserved = q.reclaim().era();
        let mut passed_with = None;
        for done in 1..=PAIRS {
            let stats = pair(&mut worker);
            if passed_with.is_none() && q.reclaim().era() > reserved {
                passed_with = Some(stats.segments_allocated);
            }
            if let Some(allocated) = passed_with {
                let bound = allocated + RUNNING_LIST;
                assert!(stats.retired_pending <= bound, "{}: {stats:?} above {allocated} + {RUNNING_LIST}", R::NAME);
            }
            peak = peak.max(stats.retired_pending);
            if done == PAIRS / 4 {
                allocated_at_quarter = stats.segments_allocated;
            }
        }
        (reserved, passed_with, q.stats())
    };
    let passed_with = passed_with.unwrap_or_else(|| panic!("{}: the clock never passed era {reserved}", R::NAME));
    assert_eq!(during.segments_allocated, allocated_at_quarter, "{}: the arena kept growing: {during:?}", R::NAME);
    assert!(during.retired_pending >= 1, "{}: the stalled segment cannot have been reused: {during:?}", R::NAME);
    for _ in 0..PAIRS {
        let stats = pair(&mut worker);
        assert!(stats.retired_pending <= passed_with + RUNNING_LIST, "{}: {stats:?}", R::NAME);
    }
    let after = q.stats();
    assert!(after.retired_pending <= RUNNING_LIST, "{}: not caught up after the stall: {after:?}", R::NAME);
    assert_eq!(after.segments_allocated, during.segments_allocated, "{}: grew after the stall: {after:?}", R::NAME);
    assert_eq!(after.stale_views, 0, "{}: {after:?}", R::NAME);
    drop((stalled, worker));
    let end = q.stats();
    assert_eq!(end.retired_pending, 0, "{}: nobody reserves anything any more: {end:?}", R::NAME);
    println!(
        "{:<11} Grow from 2: stall at era {reserved}, {passed_with} segments when the clock passed it; peak \
         unreclaimed {peak}, allocated {}",
        R::NAME,
        during.segments_allocated
    );
}

/// Hazard eras: the stall's published eras hold back only lives born at or before them (bound above).
#[test]
fn hazard_eras_stay_within_their_bound() {
    eras_stay_within_their_bound::<segpool::HazardEras>();
}

/// 2GEIBR: the stall's interval holds back only lives born at or before its upper end (bound above).
#[test]
fn ibr_stays_within_its_bound() {
    eras_stay_within_their_bound::<segpool::Ibr>();
}

/// An era strategy under `Fail` with 16 segments: unlike Epoch's, a stalled handle does not make the queue die;
/// every push succeeds during and after the stall, and the arena is the same 16 segments.
fn eras_keep_fail_queues_alive<R: Reclaim>() {
    let report = stalled_run::<R>(OnExhausted::Fail);
    assert_eq!(report.refused + report.refused_after, 0, "{}: {:?}", R::NAME, report.after);
    assert_eq!(report.after.segments_allocated, SEGMENTS as u64, "{}: {:?}", R::NAME, report.after);
    assert!(report.after.retired_pending <= RUNNING_LIST, "{}: recovered: {:?}", R::NAME, report.after);
}

#[test]
fn hazard_eras_stall_does_not_starve_a_fail_queue() {
    eras_keep_fail_queues_alive::<segpool::HazardEras>();
}

#[test]
fn ibr_stall_does_not_starve_a_fail_queue() {
    eras_keep_fail_queues_alive::<segpool::Ibr>();
}

/// The reference adapters, in the same scenario: each behaves like the strategy of its family.
#[cfg(feature = "reference")]
mod reference {
    use super::*;

    /// Hazard pointers (haphazard): the stall holds back only its own segment, so the pool never runs dry and
    /// never grows (the adapter reclaims eagerly when the pool is empty).
    #[test]
    fn haphazard_holds_back_only_the_stalled_segment() {
        let report = stalled_run::<segpool::Haphazard>(OnExhausted::Fail);
        assert_eq!(report.refused + report.refused_after, 0, "{:?}", report.after);
        let report = stalled_run::<segpool::Haphazard>(OnExhausted::Grow);
        assert_eq!(report.after.segments_allocated, SEGMENTS as u64, "{:?}", report.after);
        assert!(report.peak_pending < SEGMENTS as u64, "{:?}", report.during);
    }

    /// Intervals (fast-smr, 2GEIBR): the stalled pop reserved one epoch, which only the lives alive at that epoch
    /// overlap (here the head segment); every later life is born after it, so the pool never runs dry and never
    /// grows.
    #[test]
    fn fast_smr_holds_back_only_the_lives_of_the_stalled_epoch() {
        let report = stalled_run::<segpool::FastSmr>(OnExhausted::Fail);
        assert_eq!(report.refused + report.refused_after, 0, "{:?}", report.after);
        let report = stalled_run::<segpool::FastSmr>(OnExhausted::Grow);
        assert_eq!(report.after.segments_allocated, SEGMENTS as u64, "{:?}", report.after);
        // The stalled segment, and the latest retirements (a retirement scans before it adds its own token).
        assert!(report.peak_pending <= 3, "{:?}", report.during);
    }

    /// What fast-smr bounds, and what it does not: unlike hazard pointers, the stall holds back every life that was
    /// alive at its reserved epoch, protected or not: here the `QUEUED` segments queued when it began, which the
    /// worker then pops and retires. That number is fixed when the stall starts: it does not grow with the traffic.
    #[test]
    fn fast_smr_stall_holds_back_the_lives_alive_at_its_epoch() {
        const QUEUED: u64 = 8;
        let q: SegQueue<u64, segpool::FastSmr> =
            SegQueue::with_config(config(OnExhausted::Grow)).expect("valid config");
        let mut stalled = q.handle();
        let mut worker = q.handle();
        for value in 0..QUEUED {
            worker.push(value).expect("Grow");
        }
        let mut next = QUEUED;
        let mut refused = 0;
        let (peak, during) = {
            let _stall = stalled.stall();
            for value in 0..QUEUED {
                assert_eq!(worker.pop(), Some(value));
            }
            let peak = traffic(&q, &mut worker, &mut next, PAIRS, &mut refused);
            (peak, q.stats())
        };
        traffic(&q, &mut worker, &mut next, PAIRS, &mut refused);
        let after = q.stats();
        println!("fast-smr, {QUEUED} queued at the stall: peak unreclaimed {peak}, {during:?}, after: {after:?}");
        assert!(peak >= QUEUED, "the lives queued at the stalled epoch are held back: {during:?}");
        assert!(peak <= QUEUED + 2, "and nothing born after it: {during:?}");
        assert!(during.segments_allocated <= SEGMENTS as u64 + 2, "{during:?}");
        assert!(after.retired_pending <= 2, "recovered: {after:?}");
        assert_eq!(after.stale_views, 0);
    }

    /// Epochs (crossbeam-epoch): the stalled pin blocks all reclamation, so memory grows with the traffic under
    /// `Grow` and pushes are handed back under `Fail`; both recover once the stall ends.
    #[test]
    fn crossbeam_epoch_blocks_reclamation_while_stalled() {
        let report = stalled_run::<segpool::CrossbeamEpoch>(OnExhausted::Grow);
        assert!(report.peak_pending >= PAIRS - SEGMENTS as u64, "{:?}", report.during);
        assert!(report.after.retired_pending <= SEGMENTS as u64, "recovered: {:?}", report.after);
        let report = stalled_run::<segpool::CrossbeamEpoch>(OnExhausted::Fail);
        assert!(report.refused >= PAIRS - 2 * SEGMENTS as u64, "{:?}", report.during);
        assert!(report.refused_after <= 2, "recovered: {:?}", report.after);
    }

    /// Hyaline-1 (seize) is not robust: the stalled pop's reservation holds every batch retired while it lasts
    /// (here the worker shares the stall's thread, hence its reservation: the same thing), so nothing retired during
    /// the stall is reclaimed; memory grows with the traffic under `Grow`, pushes are handed back under `Fail`. The
    /// stall's leave frees it all at once: nothing is pending afterwards but the retirements not flushed yet.
    #[test]
    fn seize_blocks_reclamation_while_stalled() {
        let q: SegQueue<u64, segpool::Seize> = SegQueue::with_config(config(OnExhausted::Grow)).expect("valid config");
        let unflushed = q.reclaim().retirements_per_flush() as u64 - 1;
        let report = stalled_run_on(&q);
        assert_eq!(report.peak_pending, report.during.segments_retired, "nothing reclaimed: {:?}", report.during);
        assert!(report.peak_pending >= PAIRS - 1, "{:?}", report.during);
        assert!(report.during.segments_allocated >= PAIRS, "the pool grew with the traffic: {:?}", report.during);
        assert!(report.after.retired_pending <= unflushed, "recovered: {:?}", report.after);
        let report = stalled_run::<segpool::Seize>(OnExhausted::Fail);
        assert_eq!(report.refused, PAIRS - SEGMENTS as u64, "16 pushes, then the pool is dry: {:?}", report.during);
        assert_eq!(report.refused_after, 0, "recovered: {:?}", report.after);
        assert!(report.after.retired_pending <= unflushed, "recovered: {:?}", report.after);
    }

    /// A handle on a thread of its own that stalls inside a pop when told to, and ends the stall when told to.
    /// Returns the channel that ends it; the call returns once the stall began.
    fn stall_on_own_thread<'s>(
        s: &'s std::thread::Scope<'s, '_>,
        q: &'s SegQueue<u64, segpool::Seize>,
    ) -> std::sync::mpsc::SyncSender<()> {
        let (began, stalled) = std::sync::mpsc::sync_channel(0);
        let (end, ended) = std::sync::mpsc::sync_channel(0);
        s.spawn(move || {
            let mut handle = q.handle(); // !Send: made on this thread
            let stall = handle.stall();
            began.send(()).expect("the test waits");
            ended.recv().expect("the test ends the stall");
            drop(stall);
        });
        stalled.recv().expect("the stalling thread panicked");
        end
    }

    /// What exactly a stalled Hyaline reservation holds back: the batches retired while it is active, and nothing
    /// retired before it began. Stall A begins, the worker retires `PAIRS` segments (all held: by A), stall B
    /// begins, the worker retires `PAIRS` more (held by both); A ends, which frees the first run (B never held it)
    /// while the second waits for B; B ends, and nothing is pending. Each count is exact up to the retirements that
    /// wait unflushed (fewer than `retirements_per_flush`): those of the first run flushed after B began are held by
    /// B too.
    #[test]
    fn seize_stall_holds_back_what_was_retired_during_it() {
        crate::support::bounded(|| {
            let q: SegQueue<u64, segpool::Seize> =
                SegQueue::with_config(config(OnExhausted::Grow)).expect("valid config");
            let mut worker = q.handle();
            let unflushed = q.reclaim().retirements_per_flush() as u64 - 1;
            let (mut next, mut refused) = (0, 0);
            std::thread::scope(|s| {
                let end_a = stall_on_own_thread(s, &q);
                traffic(&q, &mut worker, &mut next, PAIRS, &mut refused);
                let first = q.stats();
                assert_eq!(first.retired_pending, first.segments_retired, "all held by A: {first:?}");
                let end_b = stall_on_own_thread(s, &q);
                traffic(&q, &mut worker, &mut next, PAIRS, &mut refused);
                let second = q.stats();
                assert_eq!(second.retired_pending, second.segments_retired, "all held: {second:?}");
                end_a.send(()).expect("stall A ends");
                // A's thread has left when its handle's drain ran; wait for it through the stats (bounded above).
                let second_run = second.segments_retired - first.segments_retired;
                while q.stats().retired_pending > second_run + unflushed {
                    std::thread::yield_now();
                }
                let a_ended = q.stats();
                assert!(
                    a_ended.retired_pending + unflushed >= second_run,
                    "A's leave freed the first run, not the second: {first:?} {second:?} {a_ended:?}"
                );
                traffic(&q, &mut worker, &mut next, 10, &mut refused);
                assert!(q.stats().retired_pending >= a_ended.retired_pending, "B still holds the second run");
                end_b.send(()).expect("stall B ends");
                println!("seize, stalls A then B: {first:?}\n{second:?}\nA ended: {a_ended:?}");
            });
            traffic(&q, &mut worker, &mut next, 10, &mut refused);
            let end = q.stats();
            assert!(end.retired_pending <= unflushed, "{end:?}");
            assert_eq!(refused, 0, "Grow never refuses");
            assert_eq!(end.stale_views, 0);
        });
    }
}
