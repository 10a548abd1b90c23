#![cfg(segpool_std)]
//! The era family ([`segpool::HazardEras`], [`segpool::Ibr`], sharing `reclaim::eras`): the promises both make,
//! each test run once per strategy (the modules `hazard_eras` and `ibr` at the bottom).
//!
//! - At the strategy level, with a recording store that holds each segment's birth era ([`RecordingStore`] of
//!   [`EraMeta`]) and plain source words: the era-advance rule (one advance per scan, a scan per
//!   `SCAN_THRESHOLD` retirements, two advances per `collect`); a life retired at the very era a reader reserved is
//!   held back (the `eras_overlap_strict` mutant frees it); a load made after the clock moved is covered although
//!   the operation began earlier (`ibr_no_raise`); an idle handle holds back nothing but its own list; a shortage
//!   makes another handle give its list back (`*_no_shortage`); a handle dropped inside an operation blocks
//!   nothing; `park` hands what is still reserved to the orphan list, freed later; and readers racing a retirer
//!   never hold a life that was made reusable (probabilistic: it catches `hazard_eras_no_fence`,
//!   `ibr_enter_no_fence` and `hazard_eras_no_revalidate` in most `--release` runs on 2 cores, not in debug builds).
//! - Through the queue: tiny `Fail` and `Wait` pools (2 and 3 segments, SegmentSize 1) stay live with a producer
//!   and a consumer thread, with no stale views (the checks of [`support::Stress`]).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use segpool::reclaim::EraMeta;
use segpool::reclaim::eras::SCAN_THRESHOLD;
use segpool::{Config, OnExhausted, SegRef, SegmentId};
use support::{EraClock, RaceStore, RecordingStore, Stress, word};

const T: u64 = SCAN_THRESHOLD as u64;
/// Segments the recording store holds birth eras for.
const SEGMENTS: usize = 64;

type Store = RecordingStore<EraMeta>;

fn setup<R: EraClock>() -> (R, Store) {
    (R::new(&Config::default()), Store::new(SEGMENTS))
}

/// One operation of `h` that stamps `id`'s birth (as a push does before linking it).
fn born<R: EraClock>(s: &R, h: &mut R::Handle, id: SegmentId, store: &Store) {
    s.enter(h);
    s.born(h, id, store);
    s.leave(h, store);
}

/// One operation of `h` that retires `ids` (already unlinked).
fn retire<R: EraClock>(s: &R, h: &mut R::Handle, ids: &[SegmentId], store: &Store) {
    s.enter(h);
    for &id in ids {
        s.retire(h, id, store);
    }
    s.leave(h, store);
}

/// One operation of `h` in which the pool "ran dry".
fn collect<R: EraClock>(s: &R, h: &mut R::Handle, store: &Store) {
    s.enter(h);
    s.collect(h, store);
    s.leave(h, store);
}

/// A reader enters and protects `src` (segment `id`, generation 1); it stays inside the operation.
fn reserve<R: EraClock>(s: &R, reader: &mut R::Handle, id: SegmentId, store: &Store) -> segpool::sync::AtomicU64 {
    let src = word(id, 1);
    s.enter(reader);
    assert_eq!(s.protect(reader, 0, &src, store), SegRef::new(id, 1).bits());
    src
}

/// The era-advance rule, exactly: a single handle that stamps and retires one segment per operation, with no
/// `collect`, scans at every `SCAN_THRESHOLD`-th retirement (its list keeps at most the `SCAN_THRESHOLD` lives its
/// own reservation overlaps, so the next scan comes `SCAN_THRESHOLD` retirements later) and each scan advances the
/// clock once: after `n` retirements the clock reads `n / SCAN_THRESHOLD`. A `collect` here advances it twice (once
/// itself, once for its scan). Between operations at most `2 * SCAN_THRESHOLD - 1` lives are pending.
fn era_advances_once_per_scan<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut h = s.register();
    assert_eq!(s.era(), 0);
    for n in 1..=(8 * T) {
        let id = n as SegmentId;
        s.enter(&mut h);
        s.born(&mut h, id, &store);
        s.retire(&mut h, id, &store);
        s.leave(&mut h, &store);
        assert_eq!(s.era(), n / T, "{}: the clock after {n} retirements", R::NAME);
        assert!(s.pending() < 2 * T, "{}: {} pending after {n} retirements", R::NAME, s.pending());
        assert_eq!(s.pending() + store.count(), n, "{}: each retired life pending or reused", R::NAME);
    }
    let before = s.era();
    collect(&s, &mut h, &store);
    assert_eq!(s.era(), before + 2, "{}: a collect advances, then scans", R::NAME);
    s.unregister(&mut h, &store);
    assert_eq!((s.pending(), s.orphaned()), (0, 0), "{}: nobody reserves anything", R::NAME);
}

/// A reader reserves the era `e` at which segment 5 is unlinked; the retirer's threshold scan (no `collect`, so
/// the clock has not moved since the reader's load) seals 5 at exactly `e`. `[b, e]` overlaps `[e, e]`: 5 is held
/// back until the reader leaves. The lives born after `e` are freed meanwhile.
fn life_retired_at_the_reserved_era_is_held_back<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut reader = s.register();
    let mut retirer = s.register();
    born(&s, &mut retirer, 5, &store);
    let src = reserve(&s, &mut reader, 5, &store);
    let reserved = s.era();
    src.store(SegRef::new(6, 1).bits(), Ordering::Release); // unlink 5
    let ids: Vec<SegmentId> = (5..5 + T as SegmentId).collect();
    retire(&s, &mut retirer, &ids, &store); // the T-th retirement scans at era `reserved`
    assert_eq!(s.era(), reserved + 1, "{}: exactly one scan", R::NAME);
    assert!(!store.is_reusable(5), "{}: a life retired at the reader's era was freed under it", R::NAME);

    s.leave(&mut reader, &store);
    collect(&s, &mut retirer, &store);
    assert_eq!(store.ids(), ids, "{}: everything freed once the reader left", R::NAME);
    s.unregister(&mut reader, &store);
    s.unregister(&mut retirer, &store);
}

/// A reader's operation begins at era `e`; the clock then moves on and segment 8 is born and linked at a later
/// era. The reader's load of 8 must be covered (Ibr raises its interval's upper end, HazardEras publishes the new
/// era): 8 is not freed while the reader is inside the operation, however often the retirer collects.
fn loads_after_the_clock_moved_are_covered<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut reader = s.register();
    let mut retirer = s.register();
    let src = reserve(&s, &mut reader, 1, &store); // the operation begins, at era 0
    for _ in 0..3 {
        collect(&s, &mut retirer, &store);
    }
    born(&s, &mut retirer, 8, &store);
    assert!(s.era() > 0);
    src.store(SegRef::new(8, 1).bits(), Ordering::Release); // 8 linked (1 stays unretired)
    assert_eq!(s.protect(&mut reader, 0, &src, &store), SegRef::new(8, 1).bits());
    src.store(SegRef::new(9, 1).bits(), Ordering::Release); // and unlinked
    retire(&s, &mut retirer, &[8], &store);
    for _ in 0..3 {
        collect(&s, &mut retirer, &store);
    }
    assert!(!store.is_reusable(8), "{}: a segment loaded after the clock moved was freed under the reader", R::NAME);
    s.leave(&mut reader, &store);
    collect(&s, &mut retirer, &store);
    assert_eq!(store.ids(), [8]);
    s.unregister(&mut reader, &store);
    s.unregister(&mut retirer, &store);
}

/// A handle that protected segments and retired some (fewer than the threshold) and is now between operations
/// reserves nothing: another handle's lives, born before and retired after the idle one's last operation, are
/// all freed by its scans. Only the idle handle's own list waits (no other handle scans it), until a shortage asks.
fn idle_handle_holds_back_only_its_list<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut idle = s.register();
    let mut worker = s.register();
    for id in 20..30 {
        born(&s, &mut worker, id, &store);
    }
    let src = reserve(&s, &mut idle, 20, &store);
    s.born(&mut idle, 1, &store);
    s.retire(&mut idle, 1, &store);
    s.leave(&mut idle, &store); // idle from here on
    src.store(SegRef::new(21, 1).bits(), Ordering::Release);
    let ids: Vec<SegmentId> = (20..30).collect();
    retire(&s, &mut worker, &ids, &store);
    collect(&s, &mut worker, &store);
    assert_eq!(store.ids(), ids, "{}: an idle handle held back another handle's lives", R::NAME);
    assert_eq!(s.pending(), 1, "{}: the idle handle's own list", R::NAME);
    s.unregister(&mut idle, &store);
    assert!(store.is_reusable(1), "{}: unregistering gives the list back", R::NAME);
    s.unregister(&mut worker, &store);
}

/// A consumer's lives below the threshold wait on its list; a producer's `collect` asks every handle to scan, and
/// the consumer does at the end of its next operation.
fn shortage_makes_other_handles_scan<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut consumer = s.register();
    let mut producer = s.register();
    let ids: Vec<SegmentId> = (1..T as SegmentId).collect();
    retire(&s, &mut consumer, &ids, &store);
    collect(&s, &mut producer, &store);
    assert_eq!(store.count(), 0, "{}: another handle's list is not scanned by the producer", R::NAME);
    s.enter(&mut consumer);
    s.leave(&mut consumer, &store);
    assert_eq!(store.ids(), ids, "{}: the consumer did not answer the shortage", R::NAME);
    s.unregister(&mut consumer, &store);
    s.unregister(&mut producer, &store);
}

/// A handle dropped inside an operation, without `unregister` (a bug, or an unwind), stops reserving: the life it
/// had loaded is freed by the next scan.
fn dropped_handle_does_not_block_reclamation<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut retirer = s.register();
    born(&s, &mut retirer, 3, &store);
    let mut first = s.register();
    let src = reserve(&s, &mut first, 3, &store);
    drop(first);
    src.store(SegRef::new(4, 1).bits(), Ordering::Release);
    retire(&s, &mut retirer, &[3], &store);
    collect(&s, &mut retirer, &store);
    assert_eq!(store.ids(), [3], "{}: a dropped handle still reserves its era", R::NAME);
    assert_eq!(s.pending(), 0);
    s.unregister(&mut retirer, &store);
}

/// `park` scans and hands what a reservation still holds (segment 1, alive at the reader's era) to the orphan
/// list, freeing the rest (born after it); the orphan is freed by a later scan once the reader leaves, and the
/// parked handle keeps working.
fn park_hands_over<R: EraClock>() {
    let (s, store) = setup::<R>();
    let mut reader = s.register();
    let mut worker = s.register();
    let src = reserve(&s, &mut reader, 1, &store);
    src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink 1
    // Retire 1 and collect in one operation: the clock moves past the reader's era, and the worker answers its own
    // shortage signal at this `leave` (1 stays), so no later `leave` scans for it.
    s.enter(&mut worker);
    s.retire(&mut worker, 1, &store);
    s.collect(&mut worker, &store);
    s.leave(&mut worker, &store);
    born(&s, &mut worker, 2, &store);
    born(&s, &mut worker, 3, &store);
    retire(&s, &mut worker, &[2, 3], &store);
    assert_eq!(store.count(), 0, "{}: 1 is reserved, 2 and 3 below the threshold", R::NAME);
    s.park(&mut worker, &store);
    assert_eq!(store.ids(), [2, 3], "{}: park frees what nobody reserves", R::NAME);
    assert_eq!((s.orphaned(), s.pending()), (1, 1), "{}: segment 1 handed over", R::NAME);

    s.leave(&mut reader, &store);
    collect(&s, &mut worker, &store); // the parked handle works on, and its scan filters the orphans
    assert_eq!(store.ids(), [1, 2, 3], "{}: the orphan was not freed", R::NAME);
    assert_eq!(s.pending(), 0);
    s.unregister(&mut reader, &store);
    s.unregister(&mut worker, &store);
}

/// A producer and a consumer thread on `segments` segments of size 1 under `policy`: every value arrives exactly
/// once and in order, no stale views, nothing pending at the end; a run with no progress for 30 s fails.
fn tiny_pool_stays_live<R: EraClock>(segments: usize, policy: OnExhausted) {
    let config = Config { segment_size: 1, segment_count: segments, on_exhausted: policy, ..Config::default() };
    let values = if cfg!(miri) { 30 } else { 5_000 };
    support::bounded(move || {
        let run = Stress::new(config, 1, values)
            .consumers(1)
            .watchdog(Duration::from_secs(30))
            .expect_nothing_pending()
            .run::<R>();
        assert_eq!(run.stats.stale_views, 0, "{}: {:?}", R::NAME, run.stats);
        assert_eq!(run.stats.segments_allocated, segments as u64, "{}: {:?}", R::NAME, run.stats);
    });
}

/// One retirer links a fresh segment life into a source word (stamping its birth first, as a push does), then
/// retires the one it replaced and collects, in one operation, over and over: the clock moves at every move, so
/// every reader's protect publishes anew. Readers on every core protect the word and check, a few times, that the
/// life they hold was not made reusable. Without `protect`'s fence (`hazard_eras_no_fence`) or `enter`'s
/// (`ibr_enter_no_fence`) the published era can still sit in the store buffer when the retirer's scan reads the
/// records, which only a race can show on x86 (probabilistic, so a second line behind the loom models). Readers
/// check `HOLD` times before they leave: a life freed under a reader is freed by the scan that missed its era, a
/// little after the reader's load, and two checks mostly came too early (measured: 16 checks found the no-fence
/// mutants in 11 of 12 release runs, 2 checks in 7 of 12).
fn racing_readers_never_hold_a_reused_life<R: EraClock + Send + Sync + 'static>() {
    support::bounded(|| {
        const SEGMENTS: usize = 16;
        const HOLD: usize = 16;
        // Under Miri the race is bounded by moves instead of time.
        let run_for = if cfg!(miri) { Duration::ZERO } else { Duration::from_millis(1_500) };
        let (min_moves, min_race) = if cfg!(miri) { (60, 40) } else { (0, 1_000) };
        let strategy = Arc::new(R::new(&Config::default()));
        let store = Arc::new(RaceStore::<EraMeta>::new(SEGMENTS));
        let src = Arc::new(word(0, 1));
        let stop = Arc::new(AtomicBool::new(false));
        let readers = thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        let start = Arc::new(Barrier::new(readers + 1));
        let reader_threads: Vec<_> = (0..readers)
            .map(|_| {
                let (s, store, src, stop, start) =
                    (strategy.clone(), store.clone(), src.clone(), stop.clone(), start.clone());
                thread::spawn(move || {
                    let mut h = s.register();
                    // Stores to cold lines queue in the store buffer ahead of the era's publication, so that a
                    // missing fence leaves it invisible for longer.
                    let mut cold = vec![0u64; 1 << 17];
                    let mut line = 0;
                    start.wait();
                    let (mut checks, mut violations) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..16 {
                            line = (line + 8 * 67) % cold.len();
                            std::hint::black_box(&mut cold)[line] = checks;
                        }
                        s.enter(&mut h);
                        let held = SegRef::from_bits(s.protect(&mut h, 0, &src, &*store));
                        for _ in 0..HOLD {
                            checks += 1;
                            violations += u64::from(
                                store.reclaimed[held.index() as usize].load(Ordering::SeqCst) >= held.generation(),
                            );
                            std::hint::spin_loop();
                        }
                        s.leave(&mut h, &*store);
                    }
                    s.unregister(&mut h, &*store);
                    (checks, violations)
                })
            })
            .collect();

        let mut retirer = strategy.register();
        start.wait();
        let deadline = Instant::now() + run_for;
        let mut moves = 0u64;
        while Instant::now() < deadline || moves < min_moves {
            strategy.enter(&mut retirer);
            let next = loop {
                if let Some(id) = store.free.lock().unwrap().pop() {
                    break id;
                }
                strategy.collect(&mut retirer, &*store);
            };
            let generation = store.generation[next as usize].fetch_add(1, Ordering::Relaxed) + 1;
            strategy.born(&mut retirer, next, &*store);
            let old = SegRef::from_bits(src.swap(SegRef::new(next, generation).bits(), Ordering::AcqRel));
            strategy.retire(&mut retirer, old.index(), &*store);
            strategy.collect(&mut retirer, &*store);
            strategy.leave(&mut retirer, &*store);
            moves += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let (mut checks, mut violations) = (0, 0);
        for t in reader_threads {
            let (c, v) = t.join().expect("reader panicked");
            checks += c;
            violations += v;
        }
        strategy.unregister(&mut retirer, &*store);
        println!("{}: {readers} readers, {moves} moves, {checks} checks, {violations} violations", R::NAME);
        assert!(moves > min_race && checks > min_race, "the race barely ran: {moves} moves, {checks} checks");
        assert_eq!(violations, 0, "{}: a held life was made reusable ({checks} checks, {moves} moves)", R::NAME);
    })
}

macro_rules! era_tests {
    ($($module:ident => $R:ty),* $(,)?) => {$(
        mod $module {
            use super::*;

            #[test]
            fn era_advances_once_per_scan() {
                super::era_advances_once_per_scan::<$R>();
            }

            #[test]
            fn life_retired_at_the_reserved_era_is_held_back() {
                super::life_retired_at_the_reserved_era_is_held_back::<$R>();
            }

            #[test]
            fn loads_after_the_clock_moved_are_covered() {
                super::loads_after_the_clock_moved_are_covered::<$R>();
            }

            #[test]
            fn idle_handle_holds_back_only_its_list() {
                super::idle_handle_holds_back_only_its_list::<$R>();
            }

            #[test]
            fn shortage_makes_other_handles_scan() {
                super::shortage_makes_other_handles_scan::<$R>();
            }

            #[test]
            fn dropped_handle_does_not_block_reclamation() {
                super::dropped_handle_does_not_block_reclamation::<$R>();
            }

            #[test]
            fn park_hands_over() {
                super::park_hands_over::<$R>();
            }

            #[test]
            fn racing_readers_never_hold_a_reused_life() {
                super::racing_readers_never_hold_a_reused_life::<$R>();
            }

            #[test]
            fn tiny_fail_pools_stay_live() {
                super::tiny_pool_stays_live::<$R>(2, OnExhausted::Fail);
                super::tiny_pool_stays_live::<$R>(3, OnExhausted::Fail);
            }

            #[test]
            fn tiny_wait_pools_stay_live() {
                super::tiny_pool_stays_live::<$R>(2, OnExhausted::Wait(Duration::from_millis(20)));
                super::tiny_pool_stays_live::<$R>(3, OnExhausted::Wait(Duration::from_millis(20)));
            }
        }
    )*};
}

era_tests!(hazard_eras => segpool::HazardEras, ibr => segpool::Ibr);
