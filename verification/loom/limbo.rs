//! Loom models of Limbo's own lock-free parts, called directly without a queue: the ring (a ticket and one swap
//! per retirement, `src/reclaim/limbo.rs`) under concurrent retirements, and the one-word reference count with its
//! orphan flag under concurrent last releases.
//!
//! - `concurrent_retirements` (rings of 1 and 2 entries): two threads retire two segments each, on their own
//!   handles, at once. After the join, every segment retired is either made reusable exactly once or still in the
//!   ring: exactly `4 - limbo_len` were made reusable (none twice, none lost) and `pending` is `limbo_len`. The
//!   queue models (`loom_queue`, `loom_exhaustion`) retire concurrently too, but a segment evicted twice or lost
//!   there shows only as an exhausted pool or a corrupted free list, far from the cause; here it is the assertion.
//! - `orphan_released_twice`: two protectors protect what the source names (segment 1, or 2 once it moved) while
//!   the main thread unlinks segment 1 and evicts it from a one-entry ring (retiring 1, then 3). A protector that
//!   loaded segment 1 before the unlink and re-validates after it adds a transient increment, which may land
//!   between another holder's last decrement and its exchange of the orphan word. Whoever takes the count to zero
//!   with the orphan flag set, or the evictor if the count reached zero before its flag, makes segment 1
//!   reusable: exactly once, and never while a protector holds it.
//!
//! - `moving_source`: one operation protects the source twice in the same slot while the other thread moves the
//!   source from segment 1 to 2 to 3 and retires 1, 2 and a third segment, so that the one-entry ring evicts 1 and
//!   then 2. The second protection may find the source moved to 2 while the slot still holds its reference on 1:
//!   `protect`'s shortcut (no new reference while the source names the segment the slot already holds) must not
//!   fire then. Each protected segment's payload is loom-tracked ([`support::PayloadStore`]), as in
//!   `loom_strategies`, so a reuse unordered with the protector's use is a causality violation.
//!
//! Seeded mutants: `limbo_ticket_race` (the eviction as a load and then a store instead of one swap) dies in both
//! `concurrent_retirements` models (a segment made reusable twice, or one lost); `limbo_shortcut_any_held` (the
//! shortcut taken whenever the slot holds a reference, whatever segment the source names) dies in
//! `moving_source`. See `scripts/mutants.sh` for the run.
//!
//! Bounds: 2 threads and the main thread; `LOOM_MAX_PREEMPTIONS` (default 3).
//! Run: `cargo test --release --features loom --test loom_limbo`.
#![cfg(feature = "loom")]

#[path = "../support/mod.rs"]
mod support;

use segpool::reclaim::Reclaim;
use segpool::sync::{Arc, Ordering, thread};
use segpool::{Config, Limbo, SegRef, SegmentId};
use support::{PayloadStore, RecordingStore, word};

type Store = RecordingStore<<Limbo as Reclaim>::SegmentMeta>;

fn limbo(limbo_len: usize) -> Limbo {
    Limbo::new(&Config { limbo_len, ..Config::default() })
}

/// One thread's retirements, one operation each, as the queue retires (inside the unlinking operation).
fn retire_all(strategy: &Limbo, store: &Store, ids: &[SegmentId]) {
    let mut handle = strategy.register();
    for &id in ids {
        strategy.enter(&mut handle);
        strategy.retire(&mut handle, id, store);
        strategy.leave(&mut handle, store);
    }
    strategy.unregister(&mut handle, store);
}

fn concurrent_retirements(limbo_len: usize) {
    segpool::sync::model(move || {
        let strategy = Arc::new(limbo(limbo_len));
        let store = Arc::new(Store::new(5));
        let other = {
            let (strategy, store) = (strategy.clone(), store.clone());
            thread::spawn(move || retire_all(&strategy, &store, &[3, 4]))
        };
        retire_all(&strategy, &store, &[1, 2]);
        other.join().unwrap();
        let reused = store.ids(); // panics if one was made reusable twice
        assert_eq!(
            reused.len(),
            4 - limbo_len,
            "ring of {limbo_len}: made reusable {reused:?}, one evicted twice or lost"
        );
        assert_eq!(strategy.pending(), limbo_len as u64, "ring of {limbo_len}: occupied entries");
        assert_eq!(strategy.orphaned(), 0, "nothing was referenced");
    });
}

#[test]
fn concurrent_retirements_one_entry() {
    concurrent_retirements(1);
}

#[test]
fn concurrent_retirements_two_entries() {
    concurrent_retirements(2);
}

#[test]
fn orphan_released_twice() {
    // Whether some execution evicted segment 1 while referenced (std bookkeeping, across executions): without
    // one, the model would pass without testing the orphan word.
    let orphaned = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen_orphan = orphaned.clone();
    segpool::sync::model(move || {
        let strategy = Arc::new(limbo(1));
        let store = Arc::new(Store::new(4));
        let src = Arc::new(word(1, 1));
        let protectors: Vec<_> = (0..2)
            .map(|_| {
                let (strategy, store, src) = (strategy.clone(), store.clone(), src.clone());
                thread::spawn(move || {
                    let mut handle = strategy.register();
                    strategy.enter(&mut handle);
                    let seen = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
                    assert!(
                        seen.index() != 1 || !store.is_reusable(1),
                        "protected segment 1 was made reusable while held"
                    );
                    strategy.leave(&mut handle, &*store);
                    strategy.unregister(&mut handle, &*store);
                })
            })
            .collect();
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink segment 1
        let mut handle = strategy.register();
        strategy.enter(&mut handle);
        strategy.retire(&mut handle, 1, &*store);
        strategy.retire(&mut handle, 3, &*store); // evicts 1
        strategy.leave(&mut handle, &*store);
        strategy.unregister(&mut handle, &*store);
        for protector in protectors {
            protector.join().unwrap();
        }
        assert_eq!(store.ids(), vec![1], "segment 1 made reusable exactly once, and nothing else");
        if strategy.orphaned() > 0 {
            seen_orphan.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(orphaned.load(std::sync::atomic::Ordering::Relaxed), "no execution orphaned segment 1");
}

#[test]
fn moving_source() {
    // Whether some execution had the protector use segment 1 and then segment 2 (std bookkeeping, across
    // executions): the shape in which the shortcut must not fire.
    let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let shape = moved.clone();
    segpool::sync::model(move || {
        let strategy = Arc::new(limbo(1));
        let store = Arc::new(PayloadStore::<<Limbo as Reclaim>::SegmentMeta>::new(5));
        let src = Arc::new(word(1, 1));
        let protector = {
            let (strategy, store, src) = (strategy.clone(), store.clone(), src.clone());
            thread::spawn(move || {
                let mut handle = strategy.register();
                strategy.enter(&mut handle);
                let mut used = Vec::new();
                for _ in 0..2 {
                    let seen = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
                    assert_ne!(store.use_payload(seen.index()), u64::MAX, "protected {seen:?} was reused");
                    assert!(!store.records().is_reusable(seen.index()), "protected {seen:?} was made reusable");
                    used.push(seen.index());
                }
                strategy.leave(&mut handle, &*store);
                strategy.unregister(&mut handle, &*store);
                used
            })
        };
        let mut handle = strategy.register();
        strategy.enter(&mut handle);
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink segment 1
        strategy.retire(&mut handle, 1, &*store);
        src.store(SegRef::new(3, 1).bits(), Ordering::Release); // unlink segment 2
        strategy.retire(&mut handle, 2, &*store); // evicts 1
        strategy.retire(&mut handle, 4, &*store); // evicts 2
        strategy.leave(&mut handle, &*store);
        strategy.unregister(&mut handle, &*store);
        let used = protector.join().unwrap();
        assert_eq!(store.records().ids(), vec![1, 2], "segments 1 and 2 made reusable, each once");
        if used == [1, 2] {
            shape.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(moved.load(std::sync::atomic::Ordering::Relaxed), "no execution had the protector use 1, then 2");
}
