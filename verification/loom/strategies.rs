//! Loom models of the `Reclaim` contract itself, strategy by strategy, without the queue around it, checked as an
//! ordering: everything a protector did with a segment must happen before the segment's reuse, not only before
//! the strategy flags it reusable.
//!
//! Every segment carries a non-atomic, loom-tracked payload ([`PayloadStore`]). One thread protects the segment
//! named by a source word, reads and writes its payload (a consumer's read, a producer's write), checks that the
//! segment was not made reusable meanwhile, protects again in the same slot (by then the source may name another
//! segment: Hazard's slot is overwritten, Limbo's reference moves) and uses that one too, and leaves. The other
//! thread unlinks the first segment (stores a reference to another one into the source word), retires it and a
//! second one (so that Limbo's one-entry ring evicts the first), and reclaims. Whoever calls `make_reusable` writes
//! the payload at once, as the segment's next owner would. Nothing but the strategy orders the two threads before
//! the join: the store's records are std types, invisible to loom, and the retirer's handles are registered before
//! the protector starts, so no registry record passes from one thread to the other. So loom reports a causality
//! violation on the payload when a strategy decides that a segment is free without that decision happening after
//! the protector's accesses, even when the decision came at the right moment. After the join, every strategy but
//! Leak must have made the first segment reusable, and no segment twice.
//!
//! The scenarios, each run for every strategy of [`support::for_each_strategy!`]:
//!
//! - `protect_vs_retire`: the retirer retires both segments and collects in one operation; then a second handle
//!   collects (raising the shortage signal) and the retirer runs one more operation, answering the signal at its
//!   `leave`. Loom interleaves the protector's operation before, inside and across that reclaim: the protector
//!   that used the segment and left before the reclaim (Hazard's scan in `collect` sees its cleared or
//!   overwritten slot, Epoch's step sees it unpinned, Limbo's eviction sees the count at zero), and the protector
//!   whose operation spans the whole first attempt (the segment is then reclaimed in a `leave` or the second
//!   `collect`: Hazard's scan, Epoch's step; or, a Limbo orphan, by the protector's own release). The model asserts
//!   that the exploration met both shapes, the second with the reclaim on the retirer's thread (where the payload
//!   check has something to check; not for Limbo, see `reclaims_after_overlap`), so that a smaller bound that
//!   loses one fails instead of passing vacuously.
//! - `unregister_hands_over` and `park_hands_over`: the retirer retires both segments in one operation and then
//!   unregisters or parks its handle, which reclaims what it can there (Hazard's scan; Epoch's steps) and hands
//!   the rest to the strategy's orphan list; a second handle of the retirer then runs two operations that collect
//!   and so reclaim the orphans. The model asserts that some execution handed the segment over while it was
//!   protected and reclaimed it on the retirer's thread before the join (not for Limbo, which has no per-handle
//!   lists: for it these add the eviction of a referenced segment and its adoption).
//! - `born_after_enter`: a segment born after the protector entered, after the clock moved, and loaded by it in
//!   the same operation, then retired and reclaimed by the other thread (see [`born_after_enter`]): an era
//!   reservation that does not follow the clock misses it.
//! - `unlink_inside_operation`: the retirer unlinks segment 1 inside its own operation (after its `enter`, as the
//!   queue does), retires it and segment 3 and collects, unordered with the protector's operation (see
//!   [`unlink_inside_operation`]): a reclaim that relies on a fence before the unlink instead of its own after the
//!   retirement misses the protector.
//! - `second_operation`: the protector's first operation retires four segments, so its own step advances the
//!   epoch, and its second operation loads and uses segment 1 while the retirer (inside an operation since before
//!   the protector started) unlinks, retires and reclaims it (see [`second_operation`]): Qsbr's announcement at
//!   the first `leave` covers the second operation, and an unfenced one does not. Two preemptions.
//!
//! What loom cannot see: its `fence(SeqCst)` joins the causality of every earlier `SeqCst` fence, which C++ does
//! not promise. So an edge that a strategy leaves to an `Acquire` read is checked only in the executions where no
//! `SeqCst` fence of the protector after its use (Limbo's after the last release, Epoch's step at a `leave` after
//! a shortage) precedes the reclaimer's fence; loom explores those too, which is how the mutants below die.
//!
//! Seeded mutants: `hazard_relaxed_scan`, `epoch_relaxed_observe` and `limbo_relaxed_evict`, which the flag-only
//! version of this file (and `loom_queue`, `loom_exhaustion`, `shuttle_queue`, the std tests, `tests/miri.rs` under
//! Miri) let through, die here by a causality violation in all three models of their strategy; so do
//! `hazard_no_fence`, `epoch_ignore_pinned` (causality violations) and `hazard_no_revalidate` (the protector reads
//! the reuser's write). Each kill takes under 0.1 s of CPU for Hazard and Limbo, 1.5 to 4 s for Epoch.
//! `ibr_no_raise` (a protect that trusts the interval published at `enter` however far the clock moved) survives
//! the first three scenarios, where every segment is born before the protector starts, and dies in
//! `born_after_enter` by a causality violation (under 0.1 s). `hazard_eras_no_shortage` and `ibr_no_shortage` (a
//! `collect` that does nothing) fail the coverage assertions of all four models of their strategy (0.1 s each):
//! two retirements stay under the scan threshold, so without `collect` no scan on the retirer's side follows the
//! protector's operation, and the shapes those assertions require never occur.
//! Hyaline's `hyaline_enter_no_fence` dies by a causality violation in the three models of the first shape (0.03 s);
//! `hyaline_publish_no_fence` survives them (the retirer's `enter` fence comes after the unlink there and does the
//! publish fence's work) and dies in `unlink_inside_operation` (0.06 s); `hyaline_count_checks_old` and
//! `hyaline_push_into_inactive` fail `finish` in all five (a batch never freed; 0.1 s).
//!
//! `qsbr_announce_no_fence` (an announcement stored without its fence) survives the first four scenarios, where
//! the protector runs a single operation covered by the fenced pin of going online, and dies in `second_operation`
//! by a causality violation (2 s).
//!
//! Bounds: 2 threads; the protector runs one operation with two protections (`born_after_enter`: until the source
//! moves), the retirer two or three operations on two handles; `LOOM_MAX_PREEMPTIONS` (default 3). Time here:
//! 15 to 25 s wall for the first twelve models on the shared machine (12 s of CPU), `--release` or not, nearly all
//! of it Epoch's (its hand-over models about 3.5 s of CPU each, `protect_vs_retire` 2 s); Hazard, Limbo and Leak
//! take under 0.2 s each. With HazardEras and Ibr and `born_after_enter`, 24 models: 21 s wall release (each of
//! the era strategies' models 0.6 to 2.2 s, `born_after_enter` 1.7 s and 1.1 s, the other strategies' 0.1 s or
//! less). With Hyaline and `unlink_inside_operation`, 35 models: 27 s wall release on the shared machine (Hyaline's
//! five 0.1 s or less; `unlink_inside_operation` 0.4 s for all seven strategies together).
//! Run: `cargo test --release --features loom --test loom_strategies`.
#![cfg(feature = "loom")]

#[path = "../support/mod.rs"]
mod support;

use segpool::sync::thread::{self, JoinHandle};
use segpool::sync::{Arc, AtomicU64, Ordering};
use segpool::{Config, OnExhausted, Reclaim, SegRef};
use support::{PayloadStore, word};

// Test bookkeeping across executions, invisible to loom.
use std::sync::atomic::{AtomicBool, Ordering as StdOrdering};

/// Segments with state in the store: 1 is the segment under test, 2 replaces it in the source word, 3 is retired
/// after it; 4 to 7 are retired by the protector in `second_operation` (never linked anywhere).
const SEGMENTS: usize = 8;

/// What `make_reusable` writes into a payload; a protector that reads it used a reused segment.
const REUSED: u64 = u64::MAX;

fn config() -> Config {
    Config { limbo_len: 1, ..Config::default() }
}

/// Whether the strategy ever makes a segment reusable: such a strategy accepts `OnExhausted::Fail` (Leak refuses
/// it, for that very reason).
fn recycles<R: Reclaim>() -> bool {
    R::validate_config(&Config { on_exhausted: OnExhausted::Fail, ..config() }).is_ok()
}

/// Whether the strategy can reclaim a segment after an operation that overlapped its first reclaim attempt on the
/// reclaimer's side, where the payload check has something to check (the coverage assertions require an execution
/// that does). Limbo cannot: a segment still referenced when it is evicted is reclaimed by its holder's last
/// release, on the holder's thread (its race-relevant case, a release between the evictor's two reads of the
/// count, is reclaimed inside the first attempt). Nor can Hyaline: a batch published while the protector is inside
/// its operation puts a node into the protector's slot, so the protector's own `leave` drops the last reference and
/// frees it on the protector's thread (the case where the reclaim crosses threads, a protector that leaves before
/// the publisher adds its count, is reclaimed inside the first attempt). Every other strategy, including one added
/// later, is held to it.
fn reclaims_after_overlap<R: Reclaim>() -> bool {
    R::NAME != segpool::Limbo::NAME && R::NAME != segpool::Hyaline::NAME
}

type Store<R> = PayloadStore<<R as Reclaim>::SegmentMeta>;

/// The protector: one operation that protects what `src` names and uses its payload. Sets `used_first` once it
/// used segment 1.
fn spawn_protector<R: Reclaim>(
    strategy: &Arc<R>,
    store: &Arc<Store<R>>,
    src: &Arc<AtomicU64>,
    used_first: &std::sync::Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (strategy, store, src, used_first) = (strategy.clone(), store.clone(), src.clone(), used_first.clone());
    thread::spawn(move || {
        let mut handle = strategy.register();
        strategy.enter(&mut handle);
        let seen = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
        let payload = store.use_payload(seen.index());
        assert_ne!(payload, REUSED, "{}: protected {seen:?} was reused before it was read", R::NAME);
        assert!(!store.records().is_reusable(seen.index()), "{}: protected {seen:?} was made reusable", R::NAME);
        used_first.store(seen.index() == 1, StdOrdering::Relaxed);
        // Protects again in the same slot, as a consumer moving on to the next segment does: once the unlink is
        // seen, Hazard's slot names segment 2 instead (a scan may then free segment 1 by that overwrite rather
        // than by the clear at `leave`), and Limbo drops its reference to segment 1 before taking one on 2.
        let next = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
        assert_ne!(store.use_payload(next.index()), REUSED, "{}: protected {next:?} was reused", R::NAME);
        strategy.leave(&mut handle, &*store);
        strategy.unregister(&mut handle, &*store);
    })
}

/// The start every scenario shares: the retirer's two handles registered (before the protector starts, so that no
/// registry record passes between the threads), the protector spawned, segment 1 unlinked, and the retirer inside
/// an operation that has retired segments 1 and 3.
struct Scene<R: Reclaim> {
    strategy: Arc<R>,
    store: Arc<Store<R>>,
    /// Whether the protector's first protection saw segment 1 (std bookkeeping).
    used_first: std::sync::Arc<AtomicBool>,
    retirer: R::Handle,
    /// The retirer thread's second handle.
    second: R::Handle,
    protector: JoinHandle<()>,
}

impl<R: Reclaim> Scene<R> {
    fn start() -> Self {
        let strategy = Arc::new(R::new(&config()));
        let store = Arc::new(Store::<R>::new(SEGMENTS));
        let src = Arc::new(word(1, 1));
        let used_first = std::sync::Arc::new(AtomicBool::new(false));
        let mut retirer = strategy.register();
        let second = strategy.register();
        let protector = spawn_protector(&strategy, &store, &src, &used_first);
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink segment 1
        strategy.enter(&mut retirer);
        strategy.retire(&mut retirer, 1, &*store);
        strategy.retire(&mut retirer, 3, &*store);
        Scene { strategy, store, used_first, retirer, second, protector }
    }
}

/// One operation of `handle` that only collects.
fn collecting_operation<R: Reclaim>(strategy: &R, handle: &mut R::Handle, store: &Store<R>) {
    strategy.enter(handle);
    strategy.collect(handle, store);
    strategy.leave(handle, store);
}

/// After the join (everything is ordered now, so this checks liveness only): unregisters `handles`, runs a few
/// empty operations on a fresh handle (Epoch needs advances after the protector left), and checks that segment 1
/// was made reusable, and every segment at most once.
fn finish<R: Reclaim>(strategy: &R, handles: Vec<R::Handle>, store: &Store<R>) {
    for mut handle in handles {
        strategy.unregister(&mut handle, store);
    }
    let mut again = strategy.register();
    for _ in 0..3 {
        collecting_operation(strategy, &mut again, store);
    }
    strategy.unregister(&mut again, store);
    if recycles::<R>() {
        assert!(store.records().is_reusable(1), "{}: segment 1 was never made reusable", R::NAME);
    }
    store.records().ids(); // each at most once
}

/// The retirer reclaims in its operations (`retire`, `collect`, `leave`). See the module docs.
fn protect_vs_retire<R: Reclaim>() {
    // Which shapes the exploration met (std bookkeeping, across executions): segment 1 used by the protector and
    // reclaimed before the join, by the retirer's first operation, or later (the protector's operation overlapped
    // that whole first attempt).
    let used_then_reclaimed = std::sync::Arc::new(AtomicBool::new(false));
    let overlapped_then_reclaimed = std::sync::Arc::new(AtomicBool::new(false));
    let shapes = (used_then_reclaimed.clone(), overlapped_then_reclaimed.clone());
    segpool::sync::model(move || {
        let Scene { strategy, store, used_first, mut retirer, second: mut helper, protector } = Scene::<R>::start();
        strategy.collect(&mut retirer, &*store);
        strategy.leave(&mut retirer, &*store);
        let kept = !store.records().is_reusable(1);
        if !kept && used_first.load(StdOrdering::Relaxed) {
            shapes.0.store(true, StdOrdering::Relaxed);
        }
        // The second attempt, for what the first had to keep for a protector that has left since: another handle
        // finds the free list dry (its `collect` raises the shortage signal), and the retirer answers the signal
        // at the end of its next operation (Hazard scans in `leave`, Epoch steps there).
        collecting_operation(&*strategy, &mut helper, &*store);
        strategy.enter(&mut retirer);
        strategy.leave(&mut retirer, &*store);
        // Reclaimed by this thread, before the join (see `reclaims_after_overlap`).
        let reclaimed_here = store.reused_here(1);
        protector.join().unwrap();
        if kept && reclaimed_here && used_first.load(StdOrdering::Relaxed) {
            shapes.1.store(true, StdOrdering::Relaxed);
        }
        finish(&*strategy, vec![retirer, helper], &*store);
    });
    if recycles::<R>() {
        // Both shapes are within the bound: the check above ran on each (else the bound is too small for it).
        assert!(
            used_then_reclaimed.load(StdOrdering::Relaxed),
            "{}: no execution used segment 1 and then reclaimed it in the first operation",
            R::NAME
        );
        assert!(
            overlapped_then_reclaimed.load(StdOrdering::Relaxed) || !reclaims_after_overlap::<R>(),
            "{}: no execution reclaimed segment 1 on the retirer's thread after the protector's operation \
             overlapped the first attempt",
            R::NAME
        );
    }
}

/// How the retirer's first handle gives its retired segments up.
#[derive(Clone, Copy, Debug)]
enum HandOver {
    Unregister,
    Park,
}

/// The retirer's first handle retires and then unregisters or parks; its second handle collects. See the module
/// docs.
fn hands_over<R: Reclaim>(how: HandOver) {
    // Whether some execution handed segment 1 over while the protector used it, and reclaimed it before the join.
    let adopted = std::sync::Arc::new(AtomicBool::new(false));
    let shape = adopted.clone();
    segpool::sync::model(move || {
        let Scene { strategy, store, used_first, mut retirer, second: mut adopter, protector } = Scene::<R>::start();
        strategy.leave(&mut retirer, &*store);
        match how {
            HandOver::Unregister => strategy.unregister(&mut retirer, &*store),
            HandOver::Park => strategy.park(&mut retirer, &*store),
        }
        let kept = !store.records().is_reusable(1);
        for _ in 0..2 {
            collecting_operation(&*strategy, &mut adopter, &*store);
        }
        let reclaimed_here = store.reused_here(1);
        protector.join().unwrap();
        if kept && reclaimed_here && used_first.load(StdOrdering::Relaxed) {
            shape.store(true, StdOrdering::Relaxed);
        }
        let handles = match how {
            HandOver::Unregister => vec![adopter],
            HandOver::Park => vec![retirer, adopter],
        };
        finish(&*strategy, handles, &*store);
    });
    if recycles::<R>() {
        assert!(
            adopted.load(StdOrdering::Relaxed) || !reclaims_after_overlap::<R>(),
            "{}: no execution kept segment 1 for the protector at the hand-over and reclaimed it on the retirer's \
             thread before the join",
            R::NAME
        );
    }
}

/// A segment born after the protector entered: the protector enters (its era is the clock's, 0), the other thread
/// advances the clock (an operation that finds the pool dry: `collect`), stamps segment 2's birth, links it and
/// moves the source onto it (unlinking segment 1), while the protector, in the same operation, protects the source
/// again until it moves, as a consumer whose head moved to a successor linked after its `enter` does. Then the
/// other thread unlinks segment 2, retires it and collects. An interval reserved at `enter` and never raised (the
/// `ibr_no_raise` mutant) does not overlap segment 2's life, which begins after it: the scan reuses the segment
/// under the protector, and loom reports the unordered payload accesses. Every strategy must pass it. The protector
/// signals its `enter` (a flag the other thread waits on), so that the clock advances only after it; that edge
/// orders nothing after the flag, so the reuse is still unordered with the protector's use. Asserts that some
/// execution had the protector use segment 2 and the other thread reclaim it before the join (not for Limbo: with
/// a one-entry ring, segment 2 is never evicted here).
fn born_after_enter<R: Reclaim>() {
    let used_then_reclaimed = std::sync::Arc::new(AtomicBool::new(false));
    let shape = used_then_reclaimed.clone();
    segpool::sync::model(move || {
        let strategy = Arc::new(R::new(&config()));
        let store = Arc::new(Store::<R>::new(SEGMENTS));
        let src = Arc::new(word(1, 1)); // segment 1, born with the strategy at its first era
        let entered = Arc::new(AtomicU64::new(0));
        let used_late = std::sync::Arc::new(AtomicBool::new(false));
        let mut retirer = strategy.register();
        let protector = {
            let (strategy, store, src, entered, used_late) =
                (strategy.clone(), store.clone(), src.clone(), entered.clone(), used_late.clone());
            thread::spawn(move || {
                let mut handle = strategy.register();
                strategy.enter(&mut handle);
                entered.store(1, Ordering::Release);
                let seen = loop {
                    let seen = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
                    if seen.index() != 1 {
                        break seen;
                    }
                    thread::yield_now();
                };
                assert_ne!(store.use_payload(seen.index()), REUSED, "{}: protected {seen:?} was reused", R::NAME);
                assert!(
                    !store.records().is_reusable(seen.index()),
                    "{}: protected {seen:?} was made reusable",
                    R::NAME
                );
                used_late.store(seen.index() == 2, StdOrdering::Relaxed);
                strategy.leave(&mut handle, &*store);
                strategy.unregister(&mut handle, &*store);
            })
        };
        while entered.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
        collecting_operation(&*strategy, &mut retirer, &*store); // the clock moves past the protector's era
        strategy.enter(&mut retirer);
        strategy.born(&mut retirer, 2, &*store);
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // link segment 2, unlink segment 1
        strategy.retire(&mut retirer, 1, &*store);
        strategy.born(&mut retirer, 3, &*store);
        src.store(SegRef::new(3, 1).bits(), Ordering::Release); // link segment 3, unlink segment 2
        strategy.retire(&mut retirer, 2, &*store);
        strategy.collect(&mut retirer, &*store);
        strategy.leave(&mut retirer, &*store);
        let reclaimed_here = store.reused_here(2);
        protector.join().unwrap();
        if reclaimed_here && used_late.load(StdOrdering::Relaxed) {
            shape.store(true, StdOrdering::Relaxed);
        }
        finish(&*strategy, vec![retirer], &*store);
    });
    if recycles::<R>() && R::NAME != segpool::Limbo::NAME {
        assert!(
            used_then_reclaimed.load(StdOrdering::Relaxed),
            "{}: no execution had the protector use segment 2 and the other thread reclaim it before the join",
            R::NAME
        );
    }
}

/// The protector's *second* operation: its first one retires four segments (4 to 7, never loaded by anyone), so
/// that its own step advances the epoch from the one the retirer is pinned at, and ends; its second operation
/// loads the source word and uses what it names, as in `protect_vs_retire`. Meanwhile the retirer, inside an
/// operation begun before the protector started, unlinks segment 1, retires it and segment 3, collects, and runs
/// two more collecting operations. For Epoch the second operation pins anew; for Qsbr, whose `enter` does nothing
/// on an online handle, it is covered by the announcement the first operation's `leave` made when it found the
/// epoch moved, and that announcement must be fenced: the retirer's seal may read the epoch before the
/// protector's own advance (its CAS comes after its step's fence), and if the protector's load is not ordered
/// after its announcement, the segment is sealed one epoch too early, freed by the retirer's second advance and
/// reused under the protector (`qsbr_announce_no_fence`). Asserts that some execution had the protector use
/// segment 1 and the retirer reclaim it before the join (not for Limbo: see `reclaims_after_overlap`).
fn second_operation<R: Reclaim>() {
    let used_then_reclaimed = std::sync::Arc::new(AtomicBool::new(false));
    let shape = used_then_reclaimed.clone();
    // Two preemptions: enough for the store-buffering shape above (the mutant dies at 2), and a third multiplies
    // the time by 20 for Epoch, Ibr and Qsbr (the protector's four retirements and step).
    segpool::sync::model_with_bound(2, move || {
        let strategy = Arc::new(R::new(&config()));
        let store = Arc::new(Store::<R>::new(SEGMENTS));
        let src = Arc::new(word(1, 1));
        let used_first = std::sync::Arc::new(AtomicBool::new(false));
        let mut retirer = strategy.register();
        strategy.enter(&mut retirer); // pinned (Epoch) or online (Qsbr) at the first epoch
        let protector = {
            let (strategy, store, src, used_first) = (strategy.clone(), store.clone(), src.clone(), used_first.clone());
            thread::spawn(move || {
                let mut handle = strategy.register();
                strategy.enter(&mut handle);
                for id in 4..8 {
                    strategy.retire(&mut handle, id, &*store);
                }
                strategy.leave(&mut handle, &*store);
                strategy.enter(&mut handle);
                let seen = SegRef::from_bits(strategy.protect(&mut handle, 0, &src, &*store));
                assert_ne!(store.use_payload(seen.index()), REUSED, "{}: protected {seen:?} was reused", R::NAME);
                assert!(
                    !store.records().is_reusable(seen.index()),
                    "{}: protected {seen:?} was made reusable",
                    R::NAME
                );
                used_first.store(seen.index() == 1, StdOrdering::Relaxed);
                strategy.leave(&mut handle, &*store);
                strategy.unregister(&mut handle, &*store);
            })
        };
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink segment 1
        strategy.retire(&mut retirer, 1, &*store);
        strategy.retire(&mut retirer, 3, &*store);
        strategy.collect(&mut retirer, &*store);
        strategy.leave(&mut retirer, &*store);
        for _ in 0..2 {
            collecting_operation(&*strategy, &mut retirer, &*store);
        }
        let reclaimed_here = store.reused_here(1);
        protector.join().unwrap();
        if reclaimed_here && used_first.load(StdOrdering::Relaxed) {
            shape.store(true, StdOrdering::Relaxed);
        }
        finish(&*strategy, vec![retirer], &*store);
    });
    if recycles::<R>() && reclaims_after_overlap::<R>() {
        assert!(
            used_then_reclaimed.load(StdOrdering::Relaxed),
            "{}: no execution had the protector use segment 1 in its second operation and the retirer reclaim it \
             before the join",
            R::NAME
        );
    }
}

/// The unlink inside the retirer's operation, as the queue does it: the retirer enters, unlinks segment 1, retires
/// it and segment 3 and collects, while the protector runs one operation unordered with it. In the other scenarios
/// the unlink comes before the retirer's `enter`, whose fence then orders it for strategies that reclaim without a
/// fence of their own after the retirement; here only such a fence does. Hyaline's publish reads every slot after
/// its fence: without it (the `hyaline_publish_no_fence` mutant) it can read the protector's slot still inactive
/// while the protector loads segment 1 (store buffering), and the retirer's own `leave` frees the batch under the
/// protector. Asserts that some execution had the protector use segment 1 and the retirer reclaim it before the
/// join (not for Limbo: with a one-entry ring, the eviction of segment 1 by segment 3 finds it referenced or not
/// yet protected, and in the latter case the protector reads the next segment).
fn unlink_inside_operation<R: Reclaim>() {
    let used_then_reclaimed = std::sync::Arc::new(AtomicBool::new(false));
    let shape = used_then_reclaimed.clone();
    segpool::sync::model(move || {
        let strategy = Arc::new(R::new(&config()));
        let store = Arc::new(Store::<R>::new(SEGMENTS));
        let src = Arc::new(word(1, 1));
        let used_first = std::sync::Arc::new(AtomicBool::new(false));
        let mut retirer = strategy.register();
        let protector = spawn_protector(&strategy, &store, &src, &used_first);
        strategy.enter(&mut retirer);
        src.store(SegRef::new(2, 1).bits(), Ordering::Release); // unlink segment 1, inside the operation
        strategy.retire(&mut retirer, 1, &*store);
        strategy.retire(&mut retirer, 3, &*store);
        strategy.collect(&mut retirer, &*store);
        strategy.leave(&mut retirer, &*store);
        let reclaimed_here = store.reused_here(1);
        protector.join().unwrap();
        if reclaimed_here && used_first.load(StdOrdering::Relaxed) {
            shape.store(true, StdOrdering::Relaxed);
        }
        finish(&*strategy, vec![retirer], &*store);
    });
    if recycles::<R>() && R::NAME != segpool::Limbo::NAME {
        assert!(
            used_then_reclaimed.load(StdOrdering::Relaxed),
            "{}: no execution had the protector use segment 1 and the retirer reclaim it before the join",
            R::NAME
        );
    }
}

support::for_each_strategy! {
    |R| {
        #[test]
        fn protect_vs_retire() {
            super::protect_vs_retire::<R>();
        }

        #[test]
        fn unregister_hands_over() {
            super::hands_over::<R>(HandOver::Unregister);
        }

        #[test]
        fn park_hands_over() {
            super::hands_over::<R>(HandOver::Park);
        }

        #[test]
        fn born_after_enter() {
            super::born_after_enter::<R>();
        }

        #[test]
        fn second_operation() {
            super::second_operation::<R>();
        }

        #[test]
        fn unlink_inside_operation() {
            super::unlink_inside_operation::<R>();
        }
    }
}
