//! A race of readers against a retirer at the strategy level, for the strategies whose tests share its shape
//! (Epoch, Hyaline, the Seize adapter): probabilistic, a second line behind the loom models, for what only real
//! threads show (a reader preempted while it holds a segment, a reclaim path racing many readers).
//!
//! One retirer moves a source word to a fresh generation of a free segment, retires the segment it replaced
//! (inside the operation that unlinked it, as the queue does) and, when no segment is free, collects; readers
//! protect the word and check, `hold` times (yielding now and then, as a preempted reader would), that the
//! generation they hold was not made reusable. [`RaceStore`] records the last generation of each segment made
//! reusable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use segpool::{Reclaim, SegRef};

use super::stores::{RaceStore, word};

/// How long and how hard the race runs.
#[derive(Clone, Copy, Debug)]
pub struct Race {
    /// Segments in the store (segment 0 is the source word's first target).
    pub segments: usize,
    /// Checks per reader operation; every eighth yields the reader's thread.
    pub hold: usize,
    /// The least time the retirer keeps moving the word.
    pub run_for: Duration,
    /// The least number of moves (Miri runs on a virtual clock, so it bounds the race by moves instead).
    pub min_moves: u64,
    /// Moves and checks below which the race counts as not having run.
    pub min_race: u64,
}

/// Runs the race on `strategy` and asserts that no reader ever held a segment that was made reusable, and that
/// the race ran. Returns the moves and the checks made.
pub fn readers_never_hold_a_reused_segment<R>(strategy: R, race: Race) -> (u64, u64)
where
    R: Reclaim,
    R::SegmentMeta: Default,
{
    let strategy = Arc::new(strategy);
    let store = Arc::new(RaceStore::<R::SegmentMeta>::new(race.segments));
    let src = Arc::new(word(0, 1));
    let stop = Arc::new(AtomicBool::new(false));
    let readers = thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let start = Arc::new(Barrier::new(readers + 1));
    let reader_threads: Vec<_> = (0..readers)
        .map(|_| {
            let (strategy, store, src, stop, start) =
                (strategy.clone(), store.clone(), src.clone(), stop.clone(), start.clone());
            thread::spawn(move || {
                let mut handle = strategy.register(); // on this thread: some handles are !Send
                start.wait();
                let (mut checks, mut violations) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    strategy.enter(&mut handle);
                    let held = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
                    for round in 0..race.hold {
                        checks += 1;
                        let reclaimed = store.reclaimed[held.index() as usize].load(Ordering::SeqCst);
                        violations += u64::from(reclaimed >= held.generation());
                        if round % 8 == 7 {
                            thread::yield_now(); // a preempted reader: the retirer runs meanwhile
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                    strategy.leave(&mut handle, &*store);
                }
                strategy.unregister(&mut handle, &*store);
                (checks, violations)
            })
        })
        .collect();

    let mut retirer = strategy.register();
    start.wait();
    let began = Instant::now();
    let mut moves = 0u64;
    while began.elapsed() < race.run_for || moves < race.min_moves {
        strategy.enter(&mut retirer);
        let next = loop {
            if let Some(id) = store.free.lock().unwrap().pop() {
                break id;
            }
            // Leave between attempts: a strategy may hold what this very operation collected (Hyaline's own slot
            // receives what its collect published) until the operation ends.
            strategy.collect(&mut retirer, &*store);
            strategy.leave(&mut retirer, &*store);
            thread::yield_now();
            strategy.enter(&mut retirer);
        };
        let generation = store.generation[next as usize].fetch_add(1, Ordering::Relaxed) + 1;
        let old = SegRef::from_bits(src.swap(SegRef::new(next, generation).bits(), Ordering::AcqRel));
        strategy.retire(&mut retirer, old.index(), &*store);
        strategy.leave(&mut retirer, &*store);
        moves += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut checks, mut violations) = (0, 0);
    for reader in reader_threads {
        let (c, v) = reader.join().expect("reader panicked");
        checks += c;
        violations += v;
    }
    strategy.unregister(&mut retirer, &*store);
    println!("{}: {readers} readers, {moves} moves, {checks} checks, {violations} violations", R::NAME);
    assert!(
        moves > race.min_race && checks > race.min_race,
        "{}: the race barely ran: {moves} moves, {checks} checks",
        R::NAME
    );
    assert_eq!(violations, 0, "{}: a held segment was made reusable ({checks} checks, {moves} moves)", R::NAME);
    (moves, checks)
}
