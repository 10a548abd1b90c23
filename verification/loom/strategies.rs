//! Loom models of the `Reclaim` contract itself, strategy by strategy, without the queue around it.
//!
//! One thread protects the segment named by a source word and checks, while still inside its operation, that the
//! segment was not made reusable; meanwhile another thread unlinks it (stores a new reference into the source word)
//! and retires it, then retires a second segment and collects (so Limbo's one-entry ring evicts the first). At the
//! end, once both threads have left and unregistered, every strategy but Leak must have made the first segment
//! reusable. Bounds: 2 threads, one operation each, `LOOM_MAX_PREEMPTIONS` (default 3). Time here: under half a
//! second for all four strategies.
//! Run: `cargo test --release --features loom --test loom_strategies`.
#![cfg(feature = "loom")]

#[path = "../support/mod.rs"]
mod support;

use segpool::sync::{Arc, Ordering, thread};
use segpool::{Config, Reclaim, SegRef};
use support::{RecordingStore, word};

fn protect_vs_retire<R: Reclaim>(reclaims: bool) {
    segpool::sync::model(move || {
        let config = Config { limbo_len: 1, ..Config::default() };
        let strategy = Arc::new(R::new(&config));
        // A stand-in for the segment arena: per-segment strategy state for segments 0..4, and a record of what was
        // made reusable (std bookkeeping, invisible to loom).
        let store = Arc::new(RecordingStore::<R::SegmentMeta>::new(4));
        let src = Arc::new(word(1, 1));
        let protector = {
            let (strategy, store, src) = (strategy.clone(), store.clone(), src.clone());
            thread::spawn(move || {
                let mut handle = strategy.register();
                strategy.enter(&mut handle);
                let seen = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
                assert!(!store.is_reusable(seen.index()), "{}: protected {seen:?} was made reusable", R::NAME);
                strategy.leave(&mut handle, &*store);
                strategy.unregister(&mut handle, &*store);
            })
        };
        let mut handle = strategy.register();
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink segment 1
        strategy.enter(&mut handle);
        strategy.retire(&mut handle, 1, &*store);
        strategy.retire(&mut handle, 3, &*store);
        strategy.collect(&mut handle, &*store);
        strategy.leave(&mut handle, &*store);
        protector.join().unwrap();
        strategy.unregister(&mut handle, &*store);
        if reclaims {
            // Epoch needs operations after the protector left to advance twice; run a few empty ones.
            let mut again = strategy.register();
            for _ in 0..3 {
                strategy.enter(&mut again);
                strategy.collect(&mut again, &*store);
                strategy.leave(&mut again, &*store);
            }
            strategy.unregister(&mut again, &*store);
            assert!(store.is_reusable(1), "{}: segment 1 was never made reusable", R::NAME);
        }
    });
}

#[test]
fn limbo_protect_vs_retire() {
    protect_vs_retire::<segpool::Limbo>(true);
}

#[test]
fn hazard_protect_vs_retire() {
    protect_vs_retire::<segpool::Hazard>(true);
}

#[test]
fn epoch_protect_vs_retire() {
    protect_vs_retire::<segpool::Epoch>(true);
}

#[test]
fn leak_protect_vs_retire() {
    protect_vs_retire::<segpool::Leak>(false);
}
