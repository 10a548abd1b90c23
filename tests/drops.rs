#![cfg(segpool_std)]
//! Every value that enters the queue is dropped exactly once: by whoever pops it, by whoever gets it back from a
//! refused push, or by the queue's own drop. Payloads count their drops per id.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use segpool::{Config, OnExhausted, PushErrorKind, Reclaim, SegQueue};

/// Per-id drop counters.
#[derive(Clone)]
struct Ledger(Arc<Vec<AtomicUsize>>);

impl Ledger {
    fn new(ids: usize) -> Self {
        Ledger(Arc::new((0..ids).map(|_| AtomicUsize::new(0)).collect()))
    }

    fn make(&self, id: usize) -> Counted {
        Counted { id, ledger: self.clone() }
    }

    fn drops(&self, id: usize) -> usize {
        self.0[id].load(Ordering::SeqCst)
    }

    /// Ids in `ids` were dropped exactly once, every other id never.
    fn assert_exactly(&self, ids: impl IntoIterator<Item = usize>, context: &str) {
        let mut expected = vec![0; self.0.len()];
        for id in ids {
            expected[id] += 1;
        }
        for (id, &want) in expected.iter().enumerate() {
            let got = self.drops(id);
            assert!(want <= 1, "{context}: the test expects id {id} to be dropped {want} times");
            assert_eq!(got, want, "{context}: id {id} dropped {got} times, expected {want}");
        }
    }
}

#[derive(Debug)]
struct Counted {
    id: usize,
    ledger: Ledger,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.ledger.0[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

fn queue<T, R: Reclaim>(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> SegQueue<T, R> {
    // Unchecked: some cases drive Leak and small Limbo pools under `Fail` into exhaustion on purpose, to check that
    // refused values are handed back; `with_config` refuses such configurations because they die for good.
    SegQueue::with_config_unchecked_liveness(Config { segment_size, segment_count, on_exhausted, limbo_len: 2 })
        .expect("valid bounds")
}

/// Push 50 values over 4-slot segments, pop 13 (a partly read head segment), drop the queue.
fn leftovers_are_dropped_once<R: Reclaim>() {
    let ledger = Ledger::new(50);
    let q: SegQueue<Counted, R> = queue(4, 2, OnExhausted::Grow);
    let mut h = q.handle();
    for id in 0..50 {
        h.push(ledger.make(id)).unwrap();
    }
    ledger.assert_exactly([], "after the pushes");
    for id in 0..13 {
        let value = h.pop().expect("50 values were pushed");
        assert_eq!(value.id, id);
        assert_eq!(ledger.drops(id), 0, "a popped value must not have been dropped by the queue");
    }
    ledger.assert_exactly(0..13, "after dropping 13 popped values");
    drop(h);
    assert!(q.stats().segments_allocated > 2, "the leftovers span several segments");
    drop(q);
    ledger.assert_exactly(0..50, "after dropping the queue");
}

/// A queue dropped right after construction, after a full drain, or with exactly full segments.
fn edge_fill_levels_are_dropped_once<R: Reclaim>() {
    for (pushed, popped) in [(0, 0), (8, 8), (8, 0), (12, 4), (9, 8), (1, 0)] {
        let ledger = Ledger::new(pushed.max(1));
        let q: SegQueue<Counted, R> = queue(4, 1, OnExhausted::Grow);
        for id in 0..pushed {
            q.push(ledger.make(id)).unwrap();
        }
        for id in 0..popped {
            assert_eq!(q.pop().map(|v| v.id), Some(id));
        }
        ledger.assert_exactly(0..popped, "after the pops");
        drop(q);
        ledger.assert_exactly(0..pushed, &format!("pushed {pushed}, popped {popped}, queue dropped"));
    }
}

/// Values popped by `pop_batch` are owned by the caller's vector, and the rest by the queue.
fn pop_batch_values_are_dropped_once<R: Reclaim>() {
    let ledger = Ledger::new(40);
    let q: SegQueue<Counted, R> = queue(8, 2, OnExhausted::Grow);
    let mut h = q.handle();
    for id in 0..40 {
        h.push(ledger.make(id)).unwrap();
    }
    let mut batch = Vec::new();
    assert_eq!(h.pop_batch(&mut batch, 5), 5);
    assert_eq!(h.pop_batch(&mut batch, 16), 3, "the rest of the first segment");
    assert_eq!(h.pop_batch(&mut batch, 16), 8, "the whole second segment");
    assert_eq!(batch.iter().map(|v| v.id).collect::<Vec<_>>(), (0..16).collect::<Vec<_>>());
    ledger.assert_exactly([], "values in the batch vector are alive");
    batch.truncate(10);
    ledger.assert_exactly(10..16, "after truncating the batch");
    drop(batch);
    ledger.assert_exactly(0..16, "after dropping the batch");
    drop(h);
    drop(q);
    ledger.assert_exactly(0..40, "after dropping the queue");
}

/// A refused push hands its value back inside the error; the value is dropped once, whether the caller takes it out
/// or drops the error.
fn refused_values_are_dropped_once_by_the_caller<R: Reclaim>() {
    for on_exhausted in [OnExhausted::Fail, OnExhausted::Wait(Duration::from_millis(10))] {
        let ledger = Ledger::new(12);
        let q: SegQueue<Counted, R> = queue(5, 2, on_exhausted);
        for id in 0..10 {
            q.push(ledger.make(id)).unwrap();
        }
        let refused = q.push(ledger.make(10)).expect_err("both segments are full");
        let kind = if on_exhausted == OnExhausted::Fail { PushErrorKind::Exhausted } else { PushErrorKind::TimedOut };
        assert_eq!(refused.kind(), kind);
        assert_eq!(ledger.drops(10), 0, "the error still holds the value");
        let back = refused.into_inner();
        assert_eq!(back.id, 10);
        ledger.assert_exactly([], "the value is back with the caller");
        drop(back);
        ledger.assert_exactly([10], "the caller dropped the handed-back value");

        let refused = q.push(ledger.make(11)).expect_err("both segments are still full");
        drop(refused);
        ledger.assert_exactly([10, 11], "dropping the error drops its value");

        assert_eq!(q.len(), 10, "refused values never enter the queue");
        drop(q);
        ledger.assert_exactly(0..12, "after dropping the queue");
    }
}

/// Producers and consumers (pop and pop_batch) stop midway; the queue is dropped with leftovers in several segments.
fn concurrent_stop_midway_drops_everything_once<R: Reclaim>(on_exhausted: OnExhausted) {
    const PRODUCERS: usize = 2;
    // Under Miri (about 1000 times slower) a few segments' worth still stops midway with leftovers.
    const PER_PRODUCER: usize = if cfg!(miri) { 24 } else { 4_000 };
    const CONSUMERS: usize = 2;
    let ledger = Ledger::new(PRODUCERS * PER_PRODUCER);
    let q: Arc<SegQueue<Counted, R>> = Arc::new(
        // Unchecked: Leak under Fail/Wait is refused by `with_config` (it dies for good); here it must still drop
        // every value once when it does.
        SegQueue::with_config_unchecked_liveness(Config {
            segment_size: 3,
            segment_count: 8,
            on_exhausted,
            limbo_len: 2,
        })
        .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let consumed = Arc::new(AtomicUsize::new(0));
    let producers_done = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(PRODUCERS + CONSUMERS));

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, ledger, stop, start) = (q.clone(), ledger.clone(), stop.clone(), start.clone());
            let producers_done = producers_done.clone();
            thread::spawn(move || {
                start.wait();
                let mut h = q.handle();
                let (mut pushed, mut refused) = (Vec::new(), Vec::new());
                for id in p * PER_PRODUCER..(p + 1) * PER_PRODUCER {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match h.push(ledger.make(id)) {
                        Ok(()) => pushed.push(id),
                        Err(error) => {
                            // Not retried: the value is dropped here, by the producer.
                            assert_eq!(error.into_inner().id, id);
                            refused.push(id);
                            thread::yield_now();
                        }
                    }
                }
                producers_done.fetch_add(1, Ordering::SeqCst);
                (pushed, refused)
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (q, stop, consumed, start) = (q.clone(), stop.clone(), consumed.clone(), start.clone());
            let producers_done = producers_done.clone();
            thread::spawn(move || {
                start.wait();
                let mut h = q.handle();
                let mut popped = Vec::new();
                let mut batch = Vec::new();
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let before = popped.len();
                    if (round + c).is_multiple_of(2) {
                        if let Some(value) = h.pop() {
                            popped.push(value.id);
                        }
                    } else {
                        h.pop_batch(&mut batch, 4);
                        popped.extend(batch.drain(..).map(|value| value.id));
                    }
                    let got = popped.len() - before;
                    if got == 0 {
                        if producers_done.load(Ordering::SeqCst) == PRODUCERS && h.queue().is_empty() {
                            break; // under Fail/Wait the producers may run out of ids before the stop
                        }
                        thread::yield_now();
                    } else if consumed.fetch_add(got, Ordering::Relaxed) + got >= PRODUCERS * PER_PRODUCER / 3 {
                        stop.store(true, Ordering::Relaxed); // stop everyone about a third of the way in
                    }
                }
                popped
            })
        })
        .collect();

    let (mut pushed, mut refused) = (Vec::new(), Vec::new());
    for producer in producers {
        let (p, r) = producer.join().unwrap();
        pushed.extend(p);
        refused.extend(r);
    }
    let mut popped = Vec::new();
    for consumer in consumers {
        popped.extend(consumer.join().unwrap());
    }
    let q = Arc::try_unwrap(q).unwrap_or_else(|_| panic!("every thread has finished"));
    let stats = q.stats();
    assert_eq!(stats.stale_views, 0, "{stats:?}");
    let left = q.len();
    assert_eq!(left, pushed.len() - popped.len(), "len after the threads finished");
    let mut gone: Vec<usize> = popped.iter().chain(&refused).copied().collect();
    ledger.assert_exactly(gone.iter().copied(), "before the queue is dropped");
    drop(q);
    gone.extend(&pushed);
    gone.sort_unstable();
    gone.dedup();
    assert_eq!(gone.len(), pushed.len() + refused.len(), "every id was pushed or refused, once");
    ledger.assert_exactly(gone, &format!("after dropping the queue with {left} leftovers ({on_exhausted:?})"));
}

/// A zero-sized payload with a drop count: slots of a ZST still have to be dropped once each.
fn zero_sized_values_are_dropped_once<R: Reclaim>() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Zst;
    impl Drop for Zst {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    assert_eq!(std::mem::size_of::<Zst>(), 0);
    let before = DROPS.load(Ordering::SeqCst);
    let q: SegQueue<Zst, R> = queue(4, 2, OnExhausted::Grow);
    for _ in 0..30 {
        assert!(q.push(Zst).is_ok());
    }
    for _ in 0..7 {
        assert!(q.pop().is_some());
    }
    let mut batch = Vec::new();
    assert_eq!(q.pop_batch(&mut batch, 8), 1, "the rest of the second segment");
    drop(batch);
    assert_eq!(DROPS.load(Ordering::SeqCst) - before, 8);
    drop(q);
    assert_eq!(DROPS.load(Ordering::SeqCst) - before, 30);
}

support::for_each_strategy! {
    |R| {
        #[test]
        fn leftovers_are_dropped_once() {
            super::leftovers_are_dropped_once::<R>();
        }

        #[test]
        fn edge_fill_levels_are_dropped_once() {
            super::edge_fill_levels_are_dropped_once::<R>();
        }

        #[test]
        fn pop_batch_values_are_dropped_once() {
            super::pop_batch_values_are_dropped_once::<R>();
        }

        #[test]
        fn refused_values_are_dropped_once_by_the_caller() {
            super::refused_values_are_dropped_once_by_the_caller::<R>();
        }

        #[test]
        fn zero_sized_values_are_dropped_once() {
            super::zero_sized_values_are_dropped_once::<R>();
        }

        #[test]
        fn concurrent_stop_midway_grow() {
            crate::support::bounded(|| concurrent_stop_midway_drops_everything_once::<R>(OnExhausted::Grow));
        }

        #[test]
        fn concurrent_stop_midway_fail() {
            crate::support::bounded(|| concurrent_stop_midway_drops_everything_once::<R>(OnExhausted::Fail));
        }

        #[test]
        fn concurrent_stop_midway_wait() {
            // A longer bound: under Leak every push after the first segments waits its 2 ms and is refused, about
            // 8 s per producer (22 s measured on the shared 2-core machine).
            let wait = OnExhausted::Wait(Duration::from_millis(2));
            crate::support::within(4 * crate::support::HANG_LIMIT, "concurrent_stop_midway_wait", move || {
                concurrent_stop_midway_drops_everything_once::<R>(wait)
            });
        }
    }
}
