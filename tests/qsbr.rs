#![cfg(segpool_std)]
//! Quiescent-state-based reclamation ([`segpool::Qsbr`]): what a handle that does not announce quiescent states
//! costs, and what announcing (`leave`, [`segpool::Handle::quiesce`], [`segpool::Handle::park`]) gives back.
//!
//! One *worker* handle pushes and pops through SegmentSize=1 (every value retires a segment) under `Grow`, so
//! `retired_pending` shows what the strategy holds back. (The std suite runs Qsbr through the shared strategy list
//! too: stress, drops, exhaustion, pools; `tests/stall.rs` has it stalled inside an operation.)

use segpool::reclaim::epoch::COLLECT_THRESHOLD;
use segpool::{Config, Handle, OnExhausted, Qsbr, Reclaim, SegQueue};

const PAIRS: u64 = if cfg!(miri) { 40 } else { 1_000 };

/// Segments a running handle may hold back without any stall: Epoch's steady-state bag, twice for slack.
const RUNNING: u64 = 2 * (COLLECT_THRESHOLD as u64 + 1);

fn queue<R: Reclaim>(on_exhausted: OnExhausted) -> SegQueue<u64, R> {
    queue_of(8, on_exhausted)
}

fn queue_of<R: Reclaim>(segment_count: usize, on_exhausted: OnExhausted) -> SegQueue<u64, R> {
    SegQueue::with_config(Config { segment_size: 1, segment_count, on_exhausted, ..Config::default() })
        .expect("valid config")
}

/// `pairs` push/pop pairs on `handle`, each checked; returns the peak `retired_pending` and the refusals.
fn pairs<R: Reclaim>(q: &SegQueue<u64, R>, handle: &mut Handle<'_, u64, R>, pairs: u64) -> (u64, u64) {
    let (mut peak, mut refused) = (0, 0);
    for value in 0..pairs {
        match handle.push(value) {
            Ok(()) => assert_eq!(handle.pop(), Some(value)),
            Err(error) => {
                assert_eq!(error.into_inner(), value, "a refused push hands its value back");
                refused += 1;
            }
        }
        peak = peak.max(q.stats().retired_pending);
    }
    assert_eq!(q.stats().stale_views, 0);
    (peak, refused)
}

/// A handle made and never used is offline: it holds nothing back, even under `Fail` with 8 segments.
#[test]
fn an_unused_handle_holds_nothing_back() {
    let q = queue::<Qsbr>(OnExhausted::Fail);
    let _unused = q.handle();
    let mut worker = q.handle();
    let (peak, refused) = pairs(&q, &mut worker, PAIRS);
    assert_eq!(refused, 0, "peak {peak}: {:?}", q.stats());
    assert!(peak <= RUNNING, "peak {peak}: {:?}", q.stats());
}

/// A handle that ran one operation and then idles is online and never announces again: the epoch can advance once
/// more, then nothing retired by anyone is reclaimed (QSBR's cost of a thread that does not quiesce, which Epoch,
/// unpinned between operations, does not have). One `quiesce` lets the epoch advance once; a segment needs two
/// advances past its seal, so the second one frees the backlog.
#[test]
fn an_idle_online_handle_blocks_everything_until_it_quiesces_twice() {
    let q = queue::<Qsbr>(OnExhausted::Grow);
    let mut idle = q.handle();
    let mut worker = q.handle();
    pairs(&q, &mut idle, 1);
    let (peak, _) = pairs(&q, &mut worker, PAIRS);
    assert!(peak >= PAIRS - RUNNING, "the idle handle must hold the backlog: peak {peak}, {:?}", q.stats());
    let epoch_blocked = q.reclaim().epoch();
    pairs(&q, &mut worker, 10);
    assert_eq!(q.reclaim().epoch(), epoch_blocked, "the epoch advanced past an idle online handle");

    idle.quiesce();
    pairs(&q, &mut worker, 10);
    assert!(q.stats().retired_pending >= PAIRS - RUNNING, "one quiescent state frees nothing sealed after it");
    assert_eq!(q.reclaim().epoch(), epoch_blocked + 1, "one announcement, one advance");
    idle.quiesce();
    pairs(&q, &mut worker, 10);
    // What the 10 pairs after the second announcement retired waits for the next one.
    assert!(q.stats().retired_pending <= 10 + RUNNING, "two quiescent states free the backlog: {:?}", q.stats());
    let epoch_now = q.reclaim().epoch();

    // Operations announce too (PERIOD 1): the idle handle working again keeps the epoch moving.
    for _ in 0..3 {
        pairs(&q, &mut idle, 1);
        pairs(&q, &mut worker, 10);
    }
    assert!(
        q.reclaim().epoch() >= epoch_now + 3,
        "each operation of the formerly idle handle lets one advance through"
    );
    // At most the worker's last two rounds wait for the formerly idle handle's next announcement.
    assert!(q.stats().retired_pending <= 2 * 10 + RUNNING, "{:?}", q.stats());
}

/// Parking is quiescent for as long as the handle stays parked: the backlog is freed, and the handle goes online
/// again at its next operation.
#[test]
fn a_parked_handle_holds_nothing_back_until_its_next_operation() {
    let q = queue::<Qsbr>(OnExhausted::Grow);
    let mut idle = q.handle();
    let mut worker = q.handle();
    pairs(&q, &mut idle, 1);
    pairs(&q, &mut worker, PAIRS);
    assert!(q.stats().retired_pending >= PAIRS - RUNNING, "{:?}", q.stats());
    idle.park();
    let (peak, _) = pairs(&q, &mut worker, PAIRS);
    assert!(q.stats().retired_pending <= RUNNING, "parked, it holds nothing: peak {peak}, {:?}", q.stats());
    pairs(&q, &mut idle, 1); // online again, announced at its leave
    pairs(&q, &mut worker, PAIRS);
    assert!(q.stats().retired_pending >= PAIRS - RUNNING, "online and idle again, it blocks again: {:?}", q.stats());
    drop(idle); // unregistering is quiescent too
    pairs(&q, &mut worker, 10);
    assert!(q.stats().retired_pending <= RUNNING, "{:?}", q.stats());
}

/// `Qsbr<PERIOD>` announces at every `PERIOD`-th `leave` only: a handle that works, but fewer than `PERIOD` times,
/// blocks as an idle one does, until it calls `quiesce` (what a user who batches does between batches). The pool
/// starts with more segments than the run retires, so it never runs dry: a shortage would make every handle
/// announce at its next `leave`, whatever its period.
#[test]
fn a_long_period_announces_only_every_period_operations_or_at_quiesce() {
    // Under Miri (about 1000 times slower) a shorter period and fewer pairs, with the same shape.
    const PERIOD: u32 = if cfg!(miri) { 40 } else { 1_000 };
    const BURST: u64 = if cfg!(miri) { 10 } else { 100 };
    let q = queue_of::<Qsbr<PERIOD>>(if cfg!(miri) { 512 } else { 8_192 }, OnExhausted::Grow);
    let mut batcher = q.handle();
    let mut worker = q.handle();
    // The worker has the same long period, so it quiesces after every pair.
    let busy = |worker: &mut Handle<'_, u64, Qsbr<PERIOD>>, n: u64| {
        for _ in 0..n {
            pairs(&q, worker, 1);
            worker.quiesce();
        }
    };
    pairs(&q, &mut batcher, 1);
    for _ in 0..10 {
        pairs(&q, &mut batcher, 1); // 2 operations each, 22 in all: fewer than PERIOD
        busy(&mut worker, BURST);
    }
    assert!(q.stats().retired_pending >= 10 * BURST - RUNNING, "no announcement before PERIOD: {:?}", q.stats());
    for _ in 0..2 {
        batcher.quiesce();
        busy(&mut worker, 10);
    }
    assert!(q.stats().retired_pending <= 2 * 10 + RUNNING, "two quiesce calls free the backlog: {:?}", q.stats());

    // Since its last `quiesce`, the batcher's leaves count towards PERIOD: one short of it, G stays where the
    // batcher's last announcement let it go; the PERIOD-th leave announces, and G moves once more.
    busy(&mut worker, 10);
    let blocked_at = q.reclaim().epoch();
    pairs(&q, &mut batcher, u64::from(PERIOD) / 2 - 1);
    busy(&mut worker, 10);
    assert_eq!(q.reclaim().epoch(), blocked_at, "no announcement before the PERIOD-th leave");
    pairs(&q, &mut batcher, 1);
    busy(&mut worker, 10);
    assert_eq!(q.reclaim().epoch(), blocked_at + 1, "the PERIOD-th leave announces");
}
