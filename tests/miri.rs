#![cfg(segpool_std)]
//! Small tests sized for Miri (`scripts/miri.sh`), for the crate's `unsafe` code. The queue carries values that own
//! heap memory, so Miri's checks apply to them: a value moved out of a slot twice or dropped twice is a double free,
//! a value never dropped is a leak, a slot read before its write is published is a data race or a read of
//! uninitialised memory. They also run in the ordinary `cargo test`, where they take milliseconds.
//!
//! - `segment`, `segment_arena`, `queue`: push, pop, `pop_batch` and drop with leftovers at SegmentSize 1 and 3, with
//!   segments recycled, for every strategy ([`lifecycle`]); a producer thread and a consumer thread on a pool so
//!   small that segments are recycled while the other thread works ([`two_threads`]); the pool's directory growing
//!   past its first chunk (32 segments), through the queue and from two threads at once; `wait_take` woken by
//!   `push_free`.
//! - `reclaim::registry` (through Hazard, Epoch, Qsbr, HazardEras, Ibr and Hyaline): records released and reused,
//!   registered from two threads at once, and handles that outlive their strategy ([`registry_records`]).
//! - `reclaim::haphazard`, `reclaim::crossbeam`: through the queue tests above, and handles that outlive their
//!   strategy while a retired segment is still pending ([`handles_outlive_the_strategy`]): the hazard pointers
//!   borrow a domain that the last handle drops; the crossbeam participant keeps its collector.
//! - `reclaim::fast_smr`: the same two, plus its own corner: fast-smr's thread contexts borrow a reclaimer that the
//!   last handle drops, its guards point into a context, and the token of a handle dropped without unregistering is
//!   reclaimed when the reclaimer drops.
//! - `reclaim::seize`: the same two, plus its own corner: seize guards borrow a collector that the last handle drops,
//!   and a handle dropped inside an operation, after its strategy, leaves seize's reservation before the collector
//!   goes ([`seize_handle_dropped_inside_an_operation`]).

mod support;

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use segpool::reclaim::PROTECT_SLOTS;
use segpool::segment_arena::SegmentArena;
use segpool::{Config, Epoch, Hazard, Leak, OnExhausted, Reclaim, SegQueue, SegRef, SegmentId, Unprotected};
use support::{RecordingStore, WATCHDOG, word};

/// A value that owns heap memory.
type Value = Box<u64>;

fn queue<R: Reclaim>(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> SegQueue<Value, R> {
    SegQueue::with_config(Config { segment_size, segment_count, on_exhausted, limbo_len: 1 }).expect("valid config")
}

/// `Fail`, except for `Leak`, which never reuses a segment and so needs `Grow`.
fn policy<R: Reclaim>() -> OnExhausted {
    if R::NAME == Leak::NAME { OnExhausted::Grow } else { OnExhausted::Fail }
}

/// Pushes `value`, retrying while the push is refused: the refused push's own operation, or another thread,
/// makes a segment reusable meanwhile.
fn push_retrying<R: Reclaim>(handle: &mut segpool::Handle<'_, Value, R>, value: u64) {
    let mut value = Box::new(value);
    let give_up = Instant::now() + WATCHDOG;
    while let Err(refused) = handle.push(value) {
        value = refused.into_inner();
        assert!(Instant::now() < give_up, "the pool never refilled: {:?}", handle.queue().stats());
        thread::yield_now();
    }
}

/// One handle at SegmentSize `segment_size` on 5 segments: push/pop pairs through enough segments that they are
/// recycled, then a backlog over three segments read by `pop_batch` and `pop`, then the queue dropped with values
/// still in it. (The backlog's three segments, the drained head segment and Limbo's ring of one fit in 5.)
fn lifecycle<R: Reclaim>(segment_size: usize) {
    let size = segment_size as u64;
    let q = queue::<R>(segment_size, 5, policy::<R>());
    let mut h = q.handle();
    let pairs = 8 * size; // whole segments, so the backlog starts on a fresh one
    for value in 0..pairs {
        push_retrying(&mut h, value);
        assert_eq!(h.pop().as_deref(), Some(&value));
    }
    assert_eq!(h.pop(), None);

    let backlog = 2 * size + 1;
    for value in pairs..pairs + backlog {
        push_retrying(&mut h, value);
    }
    let mut batch = Vec::new();
    assert_eq!(h.pop_batch(&mut batch, segment_size + 1), segment_size, "one run, from one segment");
    assert_eq!(batch.iter().map(|v| **v).collect::<Vec<_>>(), (pairs..pairs + size).collect::<Vec<_>>());
    drop(batch);
    assert_eq!(h.pop().as_deref(), Some(&(pairs + size)));
    drop(h);

    let stats = q.stats();
    assert_eq!(stats.stale_views, 0, "{stats:?}");
    if R::NAME == Leak::NAME {
        assert_eq!(stats.segments_recycled, 0, "{stats:?}");
    } else {
        assert!(stats.segments_recycled > 0, "{}: no segment was recycled: {stats:?}", R::NAME);
    }
    assert_eq!(q.len(), (backlog - size - 1) as usize);
    drop(q); // drops the leftovers (Miri: no leak, no double free)
}

/// A producer thread pushes `VALUES` values (retrying refused pushes) while the main thread pops them, alternating
/// `pop` and `pop_batch`, through 3 segments of `segment_size` slots: segments are retired and recycled while the
/// other thread works.
fn two_threads<R: Reclaim>(segment_size: usize) {
    const VALUES: u64 = 24;
    let q = queue::<R>(segment_size, 3, policy::<R>());
    thread::scope(|s| {
        s.spawn(|| {
            let mut h = q.handle();
            for value in 0..VALUES {
                push_retrying(&mut h, value);
            }
        });
        let mut h = q.handle();
        let (mut next, mut batch) = (0, Vec::new());
        let mut give_up = Instant::now() + WATCHDOG;
        while next < VALUES {
            if next % 2 == 0 {
                batch.extend(h.pop());
            } else {
                h.pop_batch(&mut batch, 2);
            }
            if batch.is_empty() {
                assert!(Instant::now() < give_up, "the producer made no progress: {:?}", q.stats());
                thread::yield_now();
            } else {
                give_up = Instant::now() + WATCHDOG;
            }
            for value in batch.drain(..) {
                assert_eq!(*value, next, "one producer: FIFO, exactly once");
                next += 1;
            }
        }
        assert_eq!(h.pop(), None);
    });
    let stats = q.stats();
    assert_eq!(stats.stale_views, 0, "{stats:?}");
    if R::NAME != Leak::NAME {
        assert!(stats.segments_recycled > 0, "{}: no segment was recycled: {stats:?}", R::NAME);
    }
}

/// `Unprotected` reuses a segment as soon as it is retired and protects nothing, so threads routinely find the
/// segment they loaded in a later generation (stale views). Only the generation checks keep such a thread off the
/// slots of the segment's next life; under Miri, a slot written or read across generations would show up as a data
/// race, a double free or a leak. One producer, two consumers (`pop` and `pop_batch`), SegmentSize=1, 3 segments.
#[test]
fn unprotected_stale_views_stay_safe() {
    support::bounded(|| {
        const VALUES: u64 = 30;
        let q = queue::<Unprotected>(1, 3, OnExhausted::Fail);
        let received = AtomicU64::new(0);
        let got: Vec<u64> = thread::scope(|s| {
            s.spawn(|| {
                let mut h = q.handle();
                for value in 0..VALUES {
                    push_retrying(&mut h, value);
                }
            });
            let consumers: Vec<_> = (0..2)
                .map(|c| {
                    let (q, received) = (&q, &received);
                    s.spawn(move || {
                        let mut h = q.handle();
                        let (mut got, mut batch) = (Vec::new(), Vec::new());
                        let mut give_up = Instant::now() + WATCHDOG;
                        while received.load(Ordering::Relaxed) < VALUES {
                            if c == 0 {
                                batch.extend(h.pop());
                            } else {
                                h.pop_batch(&mut batch, 2);
                            }
                            if batch.is_empty() {
                                assert!(Instant::now() < give_up, "no progress: {:?}", q.stats());
                                thread::yield_now();
                                continue;
                            }
                            give_up = Instant::now() + WATCHDOG;
                            received.fetch_add(batch.len() as u64, Ordering::Relaxed);
                            for value in batch.drain(..) {
                                assert!(
                                    got.last().is_none_or(|last| last < &*value),
                                    "one producer: FIFO per consumer"
                                );
                                got.push(*value);
                            }
                        }
                        got
                    })
                })
                .collect();
            consumers.into_iter().flat_map(|c| c.join().unwrap()).collect()
        });
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, (0..VALUES).collect::<Vec<_>>(), "every value exactly once");
        println!("unprotected: {:?}", q.stats());
    })
}

/// One protected operation of `handle` on `src`, returning what it protected.
fn protect_once<R: Reclaim>(
    strategy: &R,
    handle: &mut R::Handle,
    src: &AtomicU64,
    store: &RecordingStore<R::SegmentMeta>,
) {
    strategy.enter(handle);
    let seen = strategy.protect(handle, 0, src, store);
    assert_eq!(seen, src.load(Ordering::Acquire), "nothing moved the source meanwhile");
    strategy.leave(handle, store);
}

/// Registry records of a strategy that keeps them (Hazard, Epoch, Qsbr, HazardEras, Ibr, Hyaline): a released record is
/// reused by the next registration; two threads register and unregister at once (racing on the list head and the
/// records' flags); handles dropped after the strategy (and its registry) keep their records alive. `records` reports
/// how many records the registry holds, if the strategy says.
fn registry_records<R: Reclaim>(records: impl Fn(&R) -> Option<usize>) {
    let store = RecordingStore::<R::SegmentMeta>::new(4);
    let src = word(3, 1);
    let strategy = R::new(&Config::default());
    let mut first = strategy.register();
    let mut second = strategy.register();
    protect_once(&strategy, &mut first, &src, &store);
    strategy.unregister(&mut first, &store);
    let mut third = strategy.register(); // takes the record `first` released
    protect_once(&strategy, &mut third, &src, &store);
    if let Some(count) = records(&strategy) {
        assert_eq!(count, 2, "the released record was reused");
    }

    let start = Barrier::new(2);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                start.wait();
                for _ in 0..2 {
                    let mut h = strategy.register();
                    protect_once(&strategy, &mut h, &src, &store);
                    strategy.unregister(&mut h, &store);
                }
            });
        }
    });
    if let Some(count) = records(&strategy) {
        assert!(count <= 4, "at most two records more, for the two threads: {count}");
    }

    strategy.unregister(&mut second, &store);
    let mut late = strategy.register();
    protect_once(&strategy, &mut late, &src, &store);
    // The strategy (with its registry) drops first; each handle still owns its record.
    drop(strategy);
    drop((first, second, third, late));
}

/// A handle protects segment 0 while another retires it, then every handle outlives the strategy: whatever the
/// strategy still holds (a pending segment, haphazard's retired token, crossbeam's deferred closure) is released
/// when the last of them drops. Miri checks that nothing is used after it was freed and nothing leaks.
fn handles_outlive_the_strategy<R: Reclaim>() {
    let store = RecordingStore::<R::SegmentMeta>::new(4);
    let src = word(0, 1);
    let strategy = R::new(&Config::default());
    let mut reader = strategy.register();
    let mut retirer = strategy.register();
    strategy.enter(&mut reader);
    assert_eq!(strategy.protect(&mut reader, 0, &src, &store), SegRef::new(0, 1).bits());
    src.store(SegRef::new(1, 1).bits(), Ordering::Release); // unlink segment 0, then retire it
    strategy.enter(&mut retirer);
    strategy.retire(&mut retirer, 0, &store);
    strategy.collect(&mut retirer, &store);
    strategy.leave(&mut retirer, &store);
    assert!(!store.is_reusable(0), "{}: reused while protected", R::NAME);
    strategy.leave(&mut reader, &store);
    drop(strategy);
    drop(reader);
    drop(retirer);
    drop(store);
}

support::for_each_strategy! {
    |R| {
        #[test]
        fn lifecycle_size_1() {
            super::lifecycle::<R>(1);
        }

        #[test]
        fn lifecycle_size_3() {
            super::lifecycle::<R>(3);
        }

        #[test]
        fn two_threads_size_1() {
            crate::support::bounded(|| super::two_threads::<R>(1));
        }

        #[test]
        fn two_threads_size_2() {
            crate::support::bounded(|| super::two_threads::<R>(2));
        }
    }
}

#[test]
fn hazard_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<Hazard>();
}

#[test]
fn epoch_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<Epoch>();
}

#[cfg(feature = "reference")]
#[test]
fn haphazard_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::Haphazard>();
}

#[cfg(feature = "reference")]
#[test]
fn fast_smr_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::FastSmr>();
}

#[cfg(feature = "reference")]
#[test]
fn seize_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::Seize>();
}

/// A Seize handle dropped while its guard is entered (a thread unwinding out of an operation, say), after the
/// strategy dropped and with a segment it retired waiting for that guard: the handle's drop leaves seize's
/// reservation, which frees the batch (its token goes to the ready list), and only then releases the collector,
/// which frees what is left.
#[cfg(feature = "reference")]
#[test]
fn seize_handle_dropped_inside_an_operation() {
    let store = RecordingStore::<()>::new(4);
    let src = word(0, 1);
    let strategy = segpool::Seize::new(&Config::default());
    let mut handle = strategy.register();
    strategy.enter(&mut handle);
    assert_eq!(strategy.protect(&mut handle, 0, &src, &store), SegRef::new(0, 1).bits());
    src.store(SegRef::new(1, 1).bits(), Ordering::Release);
    strategy.retire(&mut handle, 0, &store);
    assert!(!store.is_reusable(0), "reused inside the operation that protects it");
    drop(strategy);
    drop(handle);
}

#[cfg(feature = "reference")]
#[test]
#[cfg_attr(
    miri,
    ignore = "crossbeam-epoch issue #545: the last LocalHandle, dropped after its Collector, frees its Local while \
              `Local::finalize(&self)` still runs (UB under Stacked and Tree Borrows alike)"
)]
fn crossbeam_epoch_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::CrossbeamEpoch>();
}

#[test]
fn hazard_eras_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::HazardEras>();
}

#[test]
fn ibr_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::Ibr>();
}

#[test]
fn hyaline_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::Hyaline>();
}

#[test]
fn qsbr_handles_outlive_the_strategy() {
    handles_outlive_the_strategy::<segpool::Qsbr>();
}

#[test]
fn hazard_registry_records() {
    registry_records::<Hazard>(|hz| Some(hz.hazard_count() / PROTECT_SLOTS));
}

#[test]
fn epoch_registry_records() {
    registry_records::<Epoch>(|_| None);
}

#[test]
fn hazard_eras_registry_records() {
    registry_records::<segpool::HazardEras>(|_| None);
}

#[test]
fn ibr_registry_records() {
    registry_records::<segpool::Ibr>(|_| None);
}

#[test]
fn hyaline_registry_records() {
    registry_records::<segpool::Hyaline>(|_| None);
}

#[test]
fn qsbr_registry_records() {
    registry_records::<segpool::Qsbr>(|_| None);
}

/// `Leak` under `Grow` at SegmentSize=1 allocates a segment per value: 40 values take the directory past its first
/// chunk of 32 segments, and the queue drops with values in both chunks.
#[test]
fn queue_grows_past_the_first_directory_chunk() {
    let q = queue::<Leak>(1, 1, OnExhausted::Grow);
    let mut h = q.handle();
    for value in 0..40 {
        push_retrying(&mut h, value);
    }
    for value in 0..20 {
        assert_eq!(h.pop().as_deref(), Some(&value));
    }
    let mut batch = Vec::new();
    assert_eq!(h.pop_batch(&mut batch, 4), 1, "SegmentSize=1: one value per run");
    assert_eq!(*batch[0], 20);
    drop(h);
    assert_eq!(q.stats().segments_allocated, 40);
    assert_eq!(q.len(), 19);
}

/// Two threads grow the pool at once across the end of the first directory chunk (both may create the second
/// chunk; one keeps it); then every segment goes through the free list once.
#[test]
fn pool_grows_past_the_first_chunk_from_two_threads() {
    let pool: SegmentArena<Value, ()> = SegmentArena::new(2, 30);
    let start = Barrier::new(2);
    let grown: Vec<SegmentId> = thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    (0..3).map(|_| pool.allocate()).collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(pool.allocated(), 36);
    assert_eq!(grown.iter().collect::<BTreeSet<_>>().len(), 6, "distinct indices: {grown:?}");
    assert!(grown.iter().any(|&id| id >= 32), "the second chunk is used: {grown:?}");
    for &id in &grown {
        pool.push_free(id);
    }
    let mut taken = BTreeSet::new();
    while let Some(id) = pool.try_take() {
        assert!(taken.insert(id), "segment {id} was taken twice");
    }
    assert_eq!(taken, (0..36).collect::<BTreeSet<_>>());
}

/// `wait_take` times out on an empty pool, and is woken by a `push_free` from another thread before its deadline.
/// (Under Miri a lost wakeup does not hang: the virtual clock jumps to the deadline, and the last assertion fails.)
#[test]
fn pool_wait_take_is_woken_by_push_free() {
    support::bounded(|| {
        let pool: SegmentArena<Value, ()> = SegmentArena::new(1, 1);
        let only = pool.try_take().expect("one segment");
        assert_eq!(pool.wait_take(Some(Instant::now() + Duration::from_millis(1))), None);
        let deadline = Instant::now() + WATCHDOG;
        thread::scope(|s| {
            let waiter = s.spawn(|| pool.wait_take(Some(deadline)));
            thread::sleep(Duration::from_millis(10)); // usually the waiter is blocked by now; either way it must wake
            pool.push_free(only);
            assert_eq!(waiter.join().unwrap(), Some(only));
        });
        assert!(Instant::now() < deadline, "the waiter took the segment only at its deadline: a lost wakeup");
        assert_eq!(pool.recycled(), 0, "never published, so not a second life");
    })
}
