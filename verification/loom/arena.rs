//! Loom models of the segment arena on its own: the tagged Treiber free list and waiting for a free segment.
//!
//! Bounds: 2 threads plus the main thread, at most 4 arena operations per thread, `LOOM_MAX_PREEMPTIONS` (default
//! 3). The models take well under a second. Run: `cargo test --release --features loom --test loom_arena`.
#![cfg(feature = "loom")]

use std::sync::atomic::AtomicBool as PlainBool;

use segpool::SegmentId;
use segpool::segment_arena::SegmentArena;
use segpool::sync::{Arc, Ordering, thread};

type Arena = SegmentArena<u32, ()>;

/// Which segments some thread holds right now. Plain std atomics: bookkeeping for the check, invisible to loom.
struct Holders([PlainBool; 3]);

impl Holders {
    fn take(&self, arena: &Arena) -> Option<SegmentId> {
        let id = arena.try_take()?;
        let was_held = self.0[id as usize].swap(true, Ordering::Relaxed);
        assert!(!was_held, "segment {id} handed out while another thread still holds it");
        Some(id)
    }

    fn give_back(&self, arena: &Arena, id: SegmentId) {
        self.0[id as usize].store(false, Ordering::Relaxed);
        arena.push_free(id);
    }
}

/// ABA on the free list: one thread takes a segment and gives it back while the other takes two, gives the first
/// back and keeps the second. A take that read `(top, next(top))` and was preempted while `top` left and came back
/// must fail its CAS, or it would install the segment the other thread still holds as the new top. Checks: no
/// segment is ever held twice, and at the end the free list holds all three segments once each.
#[test]
fn free_list_take_is_aba_safe() {
    segpool::sync::model(|| {
        let arena = Arc::new(Arena::new(1, 3));
        let holders = Arc::new(Holders([PlainBool::new(false), PlainBool::new(false), PlainBool::new(false)]));
        let taker = {
            let (arena, holders) = (arena.clone(), holders.clone());
            thread::spawn(move || {
                if let Some(id) = holders.take(&arena) {
                    holders.give_back(&arena, id);
                }
            })
        };
        let first = holders.take(&arena);
        let second = holders.take(&arena);
        if let Some(id) = first {
            holders.give_back(&arena, id);
        }
        taker.join().unwrap();
        if let Some(id) = second {
            holders.give_back(&arena, id);
        }
        let mut free: Vec<SegmentId> = std::iter::from_fn(|| arena.try_take()).take(4).collect();
        free.sort_unstable();
        assert_eq!(free, [0, 1, 2], "the free list must hold every segment exactly once");
    });
}

/// A batch free races a take and a free: the main thread gives two segments back as one chain
/// (`push_free_all`, what a hazard scan or an expired epoch bag does) while the other thread takes the third and
/// gives it back. The chain's bottom link must point at the head its CAS replaced, re-read on every retry: a
/// link written once before the loop (mutant `chain_links_once`) loses the segment pushed meanwhile, or hands it
/// out twice. Checks as above: no segment held twice, and at the end the list holds all three once each.
#[test]
fn batch_free_races_take_and_free() {
    segpool::sync::model(|| {
        let arena = Arc::new(Arena::new(1, 3));
        let holders = Arc::new(Holders([PlainBool::new(false), PlainBool::new(false), PlainBool::new(false)]));
        let mine = [holders.take(&arena).expect("three free"), holders.take(&arena).expect("two free")];
        let other = {
            let (arena, holders) = (arena.clone(), holders.clone());
            thread::spawn(move || {
                if let Some(id) = holders.take(&arena) {
                    holders.give_back(&arena, id);
                }
            })
        };
        for &id in &mine {
            holders.0[id as usize].store(false, Ordering::Relaxed);
        }
        arena.push_free_all(mine);
        other.join().unwrap();
        let mut free: Vec<SegmentId> = std::iter::from_fn(|| arena.try_take()).take(4).collect();
        free.sort_unstable();
        assert_eq!(free, [0, 1, 2], "the free list must hold every segment exactly once");
    });
}

/// A waiter and a releaser race: the main thread holds the arena's only segment and gives it back while another
/// thread waits for one. The waiter must get it: a release between the waiter's last look at the free list and
/// its sleep must not be missed (loom's timed waits never time out, so a lost wake-up shows as a deadlock).
#[test]
fn waiter_gets_released_segment() {
    segpool::sync::model(|| {
        let arena = Arc::new(Arena::new(1, 1));
        let only = arena.try_take().expect("one free segment");
        let waiter = {
            let arena = arena.clone();
            thread::spawn(move || arena.wait_take(None)) // no deadline: wait as long as it takes
        };
        arena.push_free(only);
        assert_eq!(waiter.join().unwrap(), Some(only), "the waiter must receive the released segment");
    });
}
