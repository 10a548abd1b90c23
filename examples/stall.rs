//! The stalled-thread experiment: one handle stops inside an operation holding the head segment
//! (`Handle::stall`, a consumer preempted in the middle of `pop`) while another pushes and pops 2,000 values
//! through one-slot segments, so that every value retires a segment. It prints, per strategy, how many retired
//! segments the strategy could not reclaim (`stats().retired_pending`) during and after the stall.
//!
//! `cargo run --example stall`. The same scenario, with each strategy's promise asserted, is `tests/stall.rs`.

use segpool::{Config, Epoch, Hazard, HazardEras, Hyaline, Ibr, Leak, Limbo, OnExhausted, Qsbr, Reclaim, SegQueue};

const PAIRS: u64 = 2_000;

fn main() {
    println!("| strategy | policy | peak unreclaimed | allocated | pushes refused | unreclaimed after |");
    println!("|---|---|---|---|---|---|");
    stalled::<Limbo>(OnExhausted::Fail);
    stalled::<Hazard>(OnExhausted::Fail);
    stalled::<Epoch>(OnExhausted::Grow);
    stalled::<Epoch>(OnExhausted::Fail);
    stalled::<HazardEras>(OnExhausted::Fail); // bounded past a stall, as Hazard: a bounded pool suffices
    stalled::<Ibr>(OnExhausted::Fail);
    stalled::<Qsbr>(OnExhausted::Fail);
    stalled::<Hyaline>(OnExhausted::Grow); // Hyaline-1 is not robust: grows with the traffic, as Epoch
    stalled::<Hyaline>(OnExhausted::Fail);
    stalled::<Leak>(OnExhausted::Grow); // Leak never recycles: it refuses Fail
    #[cfg(all(feature = "reference", segpool_std))]
    {
        stalled::<segpool::Haphazard>(OnExhausted::Fail);
        stalled::<segpool::FastSmr>(OnExhausted::Fail);
        stalled::<segpool::Seize>(OnExhausted::Grow);
        stalled::<segpool::Seize>(OnExhausted::Fail);
        stalled::<segpool::CrossbeamEpoch>(OnExhausted::Grow);
        stalled::<segpool::CrossbeamEpoch>(OnExhausted::Fail);
    }
}

fn stalled<R: Reclaim>(on_exhausted: OnExhausted) {
    let config = Config { segment_size: 1, segment_count: 16, on_exhausted, limbo_len: 4 };
    let queue: SegQueue<u64, R> = SegQueue::with_config(config).expect("a valid configuration");
    let (mut stalled, mut worker) = (queue.handle(), queue.handle());
    let (mut peak, mut refused) = (0, 0);
    let during = {
        let _stall = stalled.stall(); // inside an operation, protecting the head segment, until dropped
        for value in 0..PAIRS {
            match worker.push(value) {
                Ok(()) => assert_eq!(worker.pop(), Some(value)),
                Err(_handed_back) => refused += 1, // no free segment (Fail): the value comes back
            }
            peak = peak.max(queue.stats().retired_pending);
        }
        queue.stats()
    };
    stalled.park(); // idle from now on: Qsbr's handle would otherwise stay online and block reclamation
    for value in 0..PAIRS {
        if worker.push(value).is_ok() {
            assert_eq!(worker.pop(), Some(value));
        }
    }
    let after = queue.stats();
    println!(
        "| {} | {on_exhausted:?} | {peak} | {} | {refused} | {} |",
        R::NAME,
        during.segments_allocated,
        after.retired_pending
    );
}
