#![cfg(segpool_std)]
//! Multi-threaded exactly-once delivery and per-producer FIFO, for every exhaustion policy, with few segments.
//!
//! P producers push values encoding `(producer, seq)`; a refused push (Fail, or Wait timing out) must hand back the
//! value it was given, and the producer yields and retries with it. Two consumers mix `pop` and `pop_batch` until
//! every value is received. Checked: every value received exactly once, each consumer sees each producer's values
//! in increasing `seq`, `pop_batch` never returns more than `max` or more than one segment, no stale views, and the
//! statistics agree with the policy (only Grow allocates, refusals are counted as failed pushes or wait timeouts).
//!
//! Segment counts: under `Grow` 1 or 2 segments. Under `Fail` and `Wait` a Limbo queue needs
//! `segment_count >= limbo_len + 2` to stay live at all (with fewer, the ring and the queue's last segment can hold
//! every segment, and then no retirement can ever evict one: see `tests/exhaustion.rs`), so those cases use exactly
//! `limbo_len + 2`, the fewest that can work.
//!
//! Sizes: 10k-24k values per run, so the file runs in a few seconds in the debug profile on two cores. No timing
//! assertions; a watchdog fails a run that makes no progress (and says so at once if the pool is provably wedged).
//! The run and its checks are [`support::Stress`]'s; the strategies (Limbo to crossbeam_epoch) come from
//! [`support::for_each_strategy!`].

mod support;

use std::time::Duration;

use segpool::{Config, OnExhausted, Reclaim};
use support::Stress;

/// A run fails when nothing is pushed or popped for [`support::WATCHDOG`], or for this long if the statistics show
/// that no segment can ever become free again ([`support::wedged`]).
const WEDGE_WATCHDOG: Duration = Duration::from_secs(5);

const WAIT: OnExhausted = OnExhausted::Wait(Duration::from_millis(20));

/// Both producer counts for one policy and segment size: 2 producers with the first `(segment_count, limbo_len)`,
/// 3 producers with the second.
fn stress<R: Reclaim>(on_exhausted: OnExhausted, segment_size: usize, shapes: [(usize, usize); 2]) {
    for (producers, (segment_count, limbo_len)) in [(2, shapes[0]), (3, shapes[1])] {
        let segment_count = match on_exhausted {
            OnExhausted::Grow => segment_count,
            _ => limbo_len + 2, // the fewest segments with which a bounded Limbo queue can stay live
        };
        // Enough values for the big segments to go round the pool several times.
        let per_producer = match segment_size {
            1..=63 => 5_000,
            _ => 8_000,
        };
        let config = Config { segment_size, segment_count, on_exhausted, limbo_len };
        Stress::new(config, producers, per_producer).pop_every(3).wedge_watchdog(WEDGE_WATCHDOG).run::<R>();
    }
}

/// `(segment_count, limbo_len)` for the 2- and 3-producer runs of each segment size.
const SHAPES: [(usize, [(usize, usize); 2]); 5] = [
    (1, [(1, 1), (2, 2)]),
    (2, [(2, 1), (1, 3)]),
    (3, [(1, 1), (2, 4)]),
    (64, [(2, 2), (1, 8)]),
    (1024, [(1, 2), (2, 2)]),
];

fn stress_size<R: Reclaim>(on_exhausted: OnExhausted, segment_size: usize) {
    let (_, shapes) = SHAPES.iter().find(|(size, _)| *size == segment_size).expect("a listed size");
    stress::<R>(on_exhausted, segment_size, *shapes);
}

/// The tests of one (strategy, policy): one per segment size.
macro_rules! sizes {
    ($policy:expr) => {
        sizes!($policy; size_1 = 1, size_2 = 2, size_3 = 3, size_64 = 64, size_1024 = 1024);
    };
    ($policy:expr; $($name:ident = $size:literal),*) => {$(
        #[test]
        #[cfg_attr(miri, ignore = "10,000-24,000 values over 4-5 threads: hours under Miri; \
                                   tests/miri.rs and drops.rs run the same paths at Miri scale")]
        fn $name() {
            stress_size::<R>($policy, $size)
        }
    )*};
}

// One test per (strategy, policy, segment size): `limbo::grow::size_1` ... `crossbeam_epoch::wait::size_1024`. A
// strategy runs the policies it can stay live under: `Leak` never reuses a segment, so under `Fail` or `Wait` it
// would refuse every push once its prefill is used up.
support::for_each_strategy! {
    |R| {
        mod grow {
            use super::*;
            sizes!(OnExhausted::Grow);
        }
    }
    if recycles {
        mod fail {
            use super::*;
            sizes!(OnExhausted::Fail);
        }
        mod wait {
            use super::*;
            sizes!(WAIT);
        }
    }
}
