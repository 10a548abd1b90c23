#![cfg(segpool_std)]
//! `Handle::park`: a handle about to go quiet hands over the retired segments only it could reclaim.
//!
//! Hazard, Epoch, HazardEras, Ibr and Hyaline keep retired segments per handle and reclaim them during that handle's
//! own operations. A handle that stops operating (a pool worker asleep) would keep them for good, and under `Fail` its
//! list can hold the whole pool, so every push fails although nothing is protected any more. The pool's workers park
//! before they sleep; a pool test once found an Epoch worker asleep on 598 of 600 segments.
//!
//! Single-threaded, so deterministic: a stalled handle holds the strategy back while a worker handle pops (and
//! retires) a run of values; the stall ends; the worker goes quiet, parked or not; a third handle then pushes.

use segpool::{Config, Epoch, Hazard, HazardEras, Hyaline, Ibr, OnExhausted, Reclaim, SegQueue};

const SEGMENTS: usize = 12;

/// How many of 100 pushes the producer gets through after the worker went quiet, parked or not.
fn pushes_after_quiet_worker<R: Reclaim>(park: bool) -> usize {
    let queue: SegQueue<u64, R> = SegQueue::with_config(Config {
        segment_size: 1,
        segment_count: SEGMENTS,
        on_exhausted: OnExhausted::Fail,
        limbo_len: 1,
    })
    .expect("valid config");
    let mut worker = queue.handle();
    let mut producer = queue.handle();
    let mut stalled = queue.handle();
    {
        let _stall = stalled.stall();
        // Push/pop pairs until the pool runs dry (Epoch: every popped segment sits in `worker`'s bag, held back
        // by the stall) or for a while (Hazard: scans free all but the stalled segment and the unscanned rest).
        for value in 0..1_000 {
            if worker.push(value).is_err() {
                break;
            }
            assert_eq!(worker.pop(), Some(value));
        }
    }
    if park {
        worker.park();
    }
    // From here on only the producer operates: each refused push asks the strategy to collect.
    let mut accepted = 0;
    for value in 0..100 {
        if producer.push(value).is_ok() {
            accepted += 1;
            assert_eq!(producer.pop(), Some(value));
        }
    }
    accepted
}

fn park_hands_over<R: Reclaim>() {
    let parked = pushes_after_quiet_worker::<R>(true);
    assert!(parked >= 95, "{}: only {parked} of 100 pushes after the worker parked", R::NAME);
}

#[test]
fn epoch_park_hands_the_bag_over() {
    park_hands_over::<Epoch>();
}

/// Hazard's scans free everything but the stalled segment here, so this only shows that parking loses nothing
/// and leaves the handle usable (unparked, Hazard passes too: its lists are bounded by the scan threshold).
#[test]
fn hazard_park_keeps_the_queue_working() {
    park_hands_over::<Hazard>();
}

/// The era strategies scan their lists every `SCAN_THRESHOLD` retirements, as Hazard does, and the stall holds back
/// only the lives born at or before its era: as for Hazard, this shows that parking loses nothing and leaves the
/// handle usable.
#[test]
fn hazard_eras_park_keeps_the_queue_working() {
    park_hands_over::<HazardEras>();
}

#[test]
fn ibr_park_keeps_the_queue_working() {
    park_hands_over::<Ibr>();
}

/// Hyaline: the worker's published batches wait in the stalled slot and are freed by the stall's `leave`; what is
/// left is its partial batch (under `hyaline::BATCH`), which `park` publishes with no slot active, so it is freed at
/// once. As for Hazard, this shows that parking loses nothing and leaves the handle usable.
#[test]
fn hyaline_park_keeps_the_queue_working() {
    park_hands_over::<Hyaline>();
}

/// Without `park`, Epoch's quiet handle keeps its bag and the producer starves: the case `park` exists for.
#[test]
fn epoch_without_park_starves_the_producer() {
    let unparked = pushes_after_quiet_worker::<Epoch>(false);
    assert_eq!(unparked, 0, "the quiet handle's bag was reclaimed without park");
}
