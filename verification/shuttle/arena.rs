//! Shuttle models of `SegmentArena` on its own: the tagged Treiber free list and `wait_take`, with no queue or
//! reclamation strategy around them, so every preemption lands inside the arena's own protocol.
//!
//! Each thread marks a segment it took in a per-index "held" flag (`swap(true)` must find it clear) and clears
//! the flag before handing the segment back, so a segment handed to two threads at once fails the swap. At the
//! end the free list must hold every segment exactly once. The free list's ABA case is the target: a take that
//! read `(top, next(top))` and was preempted while `top` was taken, another segment was taken and `top` was pushed
//! back must fail its CAS. Without the tag (the `untagged_free_list` mutant) it succeeds, and the head names a
//! segment that is held or skips free ones: `takers_and_givers` catches that in every run, after about 25 PCT
//! schedules (~0.1 s), and so does the random scheduler.
//!
//! Run: `cargo test --release --features shuttle --test shuttle_arena`; the search is set as for `shuttle_queue`
//! (see `segpool::sync::model`), and a failure prints the command that replays its schedule. Each model's doc
//! states its size and its time here (2 cores, `--release`, default settings, alone).
#![cfg(feature = "shuttle")]

use segpool::segment::SegmentId;
use segpool::segment_arena::SegmentArena;
use segpool::sync::{Arc, AtomicBool, Ordering, thread};

/// A arena plus one "held" flag per segment index it may ever hand out.
struct Shared {
    arena: SegmentArena<u32, ()>,
    held: Vec<AtomicBool>,
}

impl Shared {
    fn new(count: usize, grown: usize) -> Arc<Self> {
        Arc::new(Shared {
            arena: SegmentArena::new(1, count),
            held: (0..count + grown).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// Records that the calling thread now holds `id`; fails if another thread holds it too.
    fn hold(&self, id: SegmentId) -> SegmentId {
        let held = self.held.get(id as usize).unwrap_or_else(|| panic!("segment {id} was never allocated"));
        assert!(!held.swap(true, Ordering::SeqCst), "segment {id} handed out while another thread holds it");
        id
    }

    /// Takes a segment, yielding while the list is empty.
    fn take(&self) -> SegmentId {
        loop {
            if let Some(id) = self.arena.try_take() {
                return self.hold(id);
            }
            thread::yield_now();
        }
    }

    fn give_back(&self, id: SegmentId) {
        self.held[id as usize].store(false, Ordering::SeqCst);
        self.arena.push_free(id);
    }

    /// After the threads are joined: the free list holds each of the `held.len()` segments exactly once (a
    /// corrupted list may be cyclic, so the drain stops one past the expected count), and nothing was counted as
    /// recycled (segments that never carried values are not second lives).
    fn check_free_list(&self) {
        let expected = self.held.len();
        let mut free: Vec<SegmentId> = std::iter::from_fn(|| self.arena.try_take()).take(expected + 1).collect();
        free.sort_unstable();
        assert_eq!(free, (0..expected as SegmentId).collect::<Vec<_>>(), "the free list lost or duplicated a segment");
        assert_eq!(self.arena.allocated(), expected as u64);
        assert_eq!(self.arena.recycled(), 0);
    }
}

const TAKERS: usize = 8;
const ROUNDS: usize = 25;
const SEGMENTS: usize = 4;

/// 8 threads x 25 rounds on a arena of 4 segments; thread 0 also allocates a fifth segment half way through.
/// Every other round a thread tries to hold a second segment and gives back the first one while it holds the second:
/// exactly the interleaving that recreates an old head with a new successor (the ABA case). About 600 free-list
/// operations per schedule; 1000 PCT schedules of depth 3 take ~0.5 s here.
#[test]
fn takers_and_givers() {
    segpool::sync::model(|| {
        let shared = Shared::new(SEGMENTS, 1);
        let threads: Vec<_> = (0..TAKERS)
            .map(|t| {
                let shared = shared.clone();
                thread::spawn(move || {
                    for round in 0..ROUNDS {
                        if t == 0 && round == ROUNDS / 2 {
                            let fresh = shared.arena.allocate();
                            shared.arena.push_free(fresh);
                        }
                        let first = shared.take();
                        // The second take does not wait: eight threads each holding one of five segments and
                        // waiting for another would deadlock.
                        let second =
                            if round % 2 == 1 { shared.arena.try_take().map(|id| shared.hold(id)) } else { None };
                        // No yield while holding: under PCT a thread then keeps running until a change point, so
                        // a take preempted between its read of `next` and its CAS resumes only after the others
                        // have run on, most often with the list full and its old head on top again. A thread that
                        // yielded while holding would leave the list drained by then, and the stale CAS would fail
                        // for the wrong reason (the PCT search missed the ABA in 20,000 schedules that way).
                        shared.give_back(first);
                        if let Some(second) = second {
                            shared.give_back(second);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        shared.check_free_list();
    });
}

/// 3 threads in `wait_take` and 3 spinning on `try_take`, 20 rounds each, sharing 2 segments. Shuttle's
/// `wait_timeout` never times out (and the deadline is an hour away), so a waiter leaves only when a release
/// wakes it: a lost wake-up leaves it blocked once the others finish, and shuttle reports a deadlock. About 250
/// arena operations per schedule; 1000 PCT schedules of depth 3 take ~0.5 s here.
#[test]
fn waiters_and_spinners() {
    segpool::sync::model(|| {
        let shared = Shared::new(2, 0);
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let shared = shared.clone();
                thread::spawn(move || {
                    for _ in 0..20 {
                        let id = if t < 3 {
                            // No deadline: a waiter gets a segment or shuttle reports the deadlock.
                            shared.hold(
                                shared
                                    .arena
                                    .wait_take(None)
                                    .expect("without a deadline a wait only ends with a segment"),
                            )
                        } else {
                            shared.take()
                        };
                        thread::yield_now();
                        shared.give_back(id);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        shared.check_free_list();
    });
}
