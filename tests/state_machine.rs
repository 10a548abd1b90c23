#![cfg(segpool_std)]
//! Single-threaded model check of `SegQueue` against a `VecDeque` plus an exact model of the segment arena.
//!
//! The reference (`Reference<M>`) predicts, for every step, the exact outcome of the operation: which value a pop
//! returns, how many values a `pop_batch` returns (the rest of the head segment's contiguous run, capped by `max`),
//! whether a push under `OnExhausted::Fail` is refused, and the whole `QueueStats` snapshot. The pool model rests on
//! three facts of the implementation, traced from `src/queue/mod.rs`:
//!
//! - every segment holds exactly `segment_size` consecutive queue positions, the first segment positions
//!   `0..segment_size` (a new segment is linked only when a push finds the tail full), so the push at position `p`
//!   needs a fresh segment exactly when `p > 0 && p % segment_size == 0`;
//! - a fully claimed head segment is unlinked (and, single-threaded, at once retired) by the pop whose run claimed
//!   its last slot, if the segment has a successor then (a value was pushed past it); otherwise lazily, by the pop
//!   that takes position `q > 0` with `q % segment_size == 0`, never by a pop that finds the queue empty;
//! - the free list is a LIFO stack; a segment taken from it counts as recycled only if it was retired before (the
//!   `segment_count - 1` fresh segments left after the first one do not count).
//!
//! What a strategy makes reusable, and when, is the strategy's own rule: [`ReuseModel`]. Adding a strategy to this
//! test is one `impl Modelled` plus one line in `prop_state_machine!` at the bottom (the reference adapters have
//! theirs in the `reference` module below, since `prop_state_machine!` takes no `cfg`).

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use segpool::{
    Config, Epoch, Hazard, HazardEras, Hyaline, Ibr, Leak, Limbo, OnExhausted, PushErrorKind, Qsbr, QueueStats,
    Reclaim, SegQueue,
};

// ---------------------------------------------------------------------------------------------------------------
// Strategy models

/// A single-threaded model of a strategy's reuse rule. Single-threaded, no evicted or collected segment is still
/// protected (only the segment being retired is), so nothing is ever orphaned.
trait ReuseModel: Clone + Debug + 'static {
    /// Whether the model predicts the strategy's reuse exactly (then the whole `QueueStats` is compared, and
    /// `Fail` refusals are predicted). Strategies without an exact model run under `Grow`, where no push is ever
    /// refused, so values, order, run lengths and `len` are still checked exactly.
    const EXACT: bool = true;
    fn new(config: &Config) -> Self;
    /// A segment was retired. Returns how many retired segments became reusable because of it.
    fn retire(&mut self) -> usize;
    /// The pool ran dry (`Reclaim::collect`). Returns how many retired segments became reusable.
    fn collect(&mut self) -> usize {
        0
    }
    /// What `Reclaim::pending` reports.
    fn pending(&self) -> u64;
}

/// Binds a strategy to its model.
trait Modelled: Reclaim {
    type Model: ReuseModel;
}

/// Limbo: a FIFO ring of `limbo_len` entries that starts empty; a retirement into a full ring evicts the oldest entry,
/// which (with a zero reference count, always the case here) becomes reusable. `pending` counts the retirements
/// that found an empty ring entry, so it saturates at `limbo_len`.
#[derive(Clone, Debug)]
struct LimboModel {
    limbo_len: usize,
    occupied: usize,
}

impl ReuseModel for LimboModel {
    fn new(config: &Config) -> Self {
        LimboModel { limbo_len: config.limbo_len, occupied: 0 }
    }

    fn retire(&mut self) -> usize {
        if self.occupied < self.limbo_len {
            self.occupied += 1;
            0
        } else {
            1
        }
    }

    fn pending(&self) -> u64 {
        self.occupied as u64
    }
}

impl Modelled for Limbo {
    type Model = LimboModel;
}

/// Leak: nothing is ever reusable; `pending` counts every retirement.
#[derive(Clone, Debug)]
struct LeakModel {
    retired: u64,
}

impl ReuseModel for LeakModel {
    fn new(_config: &Config) -> Self {
        LeakModel { retired: 0 }
    }

    fn retire(&mut self) -> usize {
        self.retired += 1;
        0
    }

    fn pending(&self) -> u64 {
        self.retired
    }
}

impl Modelled for Leak {
    type Model = LeakModel;
}

/// Hazard, Epoch and the reference adapters reuse segments on scans and epoch steps whose timing this test does
/// not model: see [`ReuseModel::EXACT`].
#[derive(Clone, Debug)]
struct Unmodelled;

impl ReuseModel for Unmodelled {
    const EXACT: bool = false;

    fn new(_config: &Config) -> Self {
        Unmodelled
    }

    fn retire(&mut self) -> usize {
        0
    }

    fn pending(&self) -> u64 {
        0
    }
}

impl Modelled for Hazard {
    type Model = Unmodelled;
}

impl Modelled for Epoch {
    type Model = ErasModel;
}

/// HazardEras and Ibr, exactly: every operation of this test runs on a handle of its own (`q.push` takes one too),
/// and dropping it unregisters, which clears its reservation and scans (`EraCore::hand_over`); no other handle
/// reserves anything then, so every life the operation retired is made reusable before the next one begins, and
/// nothing is orphaned. No scan happens inside an operation: a pop retires at most one segment, below
/// `SCAN_THRESHOLD`, and a push's `collect` finds its own list and the orphan list empty. So the free list gets each
/// retired segment back at once, as if the retirement itself freed it, and `pending` is 0 between operations.
#[derive(Clone, Debug)]
struct ErasModel;

impl ReuseModel for ErasModel {
    fn new(_config: &Config) -> Self {
        ErasModel
    }

    fn retire(&mut self) -> usize {
        1
    }

    fn pending(&self) -> u64 {
        0
    }
}

impl Modelled for HazardEras {
    type Model = ErasModel;
}

impl Modelled for Ibr {
    type Model = ErasModel;
}

impl Modelled for Qsbr {
    type Model = ErasModel;
}

/// Hyaline, exactly, for the same reason: a pop retires at most one segment, below `hyaline::BATCH`, so nothing is
/// published inside an operation, and the handle's drop unregisters, which publishes its partial batch with no slot
/// active (its own went inactive at `leave`, and no other handle is inside an operation): no node is pushed, the
/// publisher's own addition brings the count to zero, and the batch is reusable at once.
impl Modelled for Hyaline {
    type Model = ErasModel;
}

#[cfg(feature = "reference")]
impl Modelled for segpool::Haphazard {
    type Model = Unmodelled;
}

#[cfg(feature = "reference")]
impl Modelled for segpool::CrossbeamEpoch {
    type Model = Unmodelled;
}

#[cfg(feature = "reference")]
impl Modelled for segpool::FastSmr {
    type Model = Unmodelled;
}

/// Seize, exactly, as the era strategies: sequential operations on one thread, so each retired batch is held only
/// by this thread's reservation (the retiring guard drops its hold within `retire`), and the operation's `leave`
/// frees it and drains the ready list; a padded batch always suffices here (two active reservations, at least two
/// entries). So every retired segment is back on the free list before the next operation, and `pending` is 0.
#[cfg(feature = "reference")]
impl Modelled for segpool::Seize {
    type Model = ErasModel;
}

// ---------------------------------------------------------------------------------------------------------------
// Reference state machine

#[derive(Clone, Debug)]
enum Transition {
    /// Push the value `id` (ids are unique). `via_handle`: through a `Handle` instead of `SegQueue::push`.
    Push {
        id: u64,
        via_handle: bool,
    },
    Pop {
        via_handle: bool,
    },
    PopBatch {
        max: usize,
        via_handle: bool,
    },
    Len,
    IsEmpty,
}

/// What the last transition must return.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    Nothing,
    Push { accepted: bool },
    Pop(Option<u64>),
    Batch(Vec<u64>),
}

#[derive(Clone, Debug)]
struct RefState<M> {
    config: Config,
    next_id: u64,
    /// Values in the queue, head first.
    deque: VecDeque<u64>,
    /// Values accepted / popped so far: queue positions.
    pushed: u64,
    popped: u64,
    /// Head segments unlinked (and retired) so far.
    unlinked: u64,
    /// Free list, top last: `true` for a segment retired before (taking it counts as recycled), `false` for a fresh one.
    free: Vec<bool>,
    stats: QueueStats,
    reuse: M,
    expect: Expect,
}

impl<M: ReuseModel> RefState<M> {
    fn new(config: Config) -> Self {
        let count = config.segment_count;
        let reuse = M::new(&config);
        RefState {
            next_id: 0,
            deque: VecDeque::new(),
            pushed: 0,
            popped: 0,
            unlinked: 0,
            // The queue's first segment is taken from the pool; the other `segment_count - 1` stay free.
            free: vec![false; count - 1],
            stats: QueueStats { segments_allocated: count as u64, ..QueueStats::default() },
            reuse,
            config,
            expect: Expect::Nothing,
        }
    }

    fn size(&self) -> u64 {
        self.config.segment_size as u64
    }

    fn make_reusable(&mut self, count: usize) {
        self.free.extend(std::iter::repeat_n(true, count));
    }

    /// `SegQueue::take_segment`: free list, then `collect`, then the exhaustion policy. `false`: push refused.
    fn take_segment(&mut self) -> bool {
        if self.free.is_empty() {
            let collected = self.reuse.collect();
            self.make_reusable(collected);
        }
        if let Some(was_retired) = self.free.pop() {
            self.stats.segments_recycled += u64::from(was_retired);
            return true;
        }
        self.stats.exhaustion_events += 1;
        match self.config.on_exhausted {
            OnExhausted::Grow => {
                self.stats.grown += 1;
                self.stats.segments_allocated += 1;
                true
            }
            OnExhausted::Fail => {
                self.stats.failed_pushes += 1;
                false
            }
            OnExhausted::Wait(_) => unreachable!("the state machine never uses Wait"),
        }
    }

    fn push(&mut self, id: u64) -> Expect {
        let p = self.pushed;
        let needs_segment = p > 0 && p.is_multiple_of(self.size());
        if needs_segment && !self.take_segment() {
            return Expect::Push { accepted: false };
        }
        self.pushed += 1;
        self.deque.push_back(id);
        Expect::Push { accepted: true }
    }

    /// One contiguous run of up to `max` values (`max >= 1`).
    fn pop_run(&mut self, max: usize) -> Vec<u64> {
        if self.deque.is_empty() {
            return Vec::new(); // also no unlink: the head segment has no successor
        }
        let q = self.popped;
        let size = self.size();
        if q > 0 && q.is_multiple_of(size) && self.unlinked < q / size {
            // The head is the previous, fully claimed segment, which had no successor when its last slot was
            // claimed: unlinked and retired before the claim.
            self.unlink();
        }
        let left_in_segment = (size - q % size) as usize;
        let n = max.min(left_in_segment).min(self.deque.len());
        self.popped += n as u64;
        if self.popped.is_multiple_of(size) && self.pushed > self.popped {
            // The run emptied its segment, which has a successor: the same pop unlinks it.
            self.unlink();
        }
        self.deque.drain(..n).collect()
    }

    fn unlink(&mut self) {
        self.unlinked += 1;
        self.stats.segments_retired += 1;
        let reusable = self.reuse.retire();
        self.make_reusable(reusable);
    }

    fn expected_stats(&self) -> QueueStats {
        QueueStats { retired_pending: self.reuse.pending(), segments_free: self.free.len() as u64, ..self.stats }
    }
}

struct Reference<M>(PhantomData<M>);

fn arb_config() -> impl Strategy<Value = Config> {
    (1usize..=5, 1usize..=4, 1usize..=4, prop_oneof![Just(OnExhausted::Fail), Just(OnExhausted::Grow)]).prop_map(
        |(segment_size, segment_count, limbo_len, on_exhausted)| Config {
            segment_size,
            segment_count,
            on_exhausted,
            limbo_len,
        },
    )
}

impl<M: ReuseModel> ReferenceStateMachine for Reference<M> {
    type State = RefState<M>;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<RefState<M>> {
        arb_config()
            .prop_map(|mut config| {
                if !M::EXACT {
                    config.on_exhausted = OnExhausted::Grow;
                }
                RefState::new(config)
            })
            .boxed()
    }

    fn transitions(state: &RefState<M>) -> BoxedStrategy<Transition> {
        let id = state.next_id;
        prop_oneof![
            4 => any::<bool>().prop_map(move |via_handle| Transition::Push { id, via_handle }),
            3 => any::<bool>().prop_map(|via_handle| Transition::Pop { via_handle }),
            3 => (0usize..=8, any::<bool>()).prop_map(|(max, via_handle)| Transition::PopBatch { max, via_handle }),
            1 => Just(Transition::Len),
            1 => Just(Transition::IsEmpty),
        ]
        .boxed()
    }

    fn apply(mut state: RefState<M>, transition: &Transition) -> RefState<M> {
        state.expect = match *transition {
            Transition::Push { id, .. } => {
                state.next_id = state.next_id.max(id + 1);
                state.push(id)
            }
            Transition::Pop { .. } => Expect::Pop(state.pop_run(1).pop()),
            Transition::PopBatch { max: 0, .. } => Expect::Batch(Vec::new()), // returns before entering the queue
            Transition::PopBatch { max, .. } => Expect::Batch(state.pop_run(max)),
            Transition::Len | Transition::IsEmpty => Expect::Nothing,
        };
        state
    }
}

// ---------------------------------------------------------------------------------------------------------------
// System under test

/// A payload that records its drop, so the teardown can check that every value was dropped exactly once.
#[derive(Debug)]
struct Tracked {
    id: u64,
    drops: Arc<Mutex<Vec<u64>>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.lock().unwrap().push(self.id);
    }
}

struct Sut<R: Reclaim> {
    queue: SegQueue<Tracked, R>,
    drops: Arc<Mutex<Vec<u64>>>,
    /// Every id handed to a push, accepted or not.
    offered: Vec<u64>,
}

struct QueueMachine<R>(PhantomData<R>);

impl<R: Modelled> StateMachineTest for QueueMachine<R> {
    type SystemUnderTest = Sut<R>;
    type Reference = Reference<R::Model>;

    fn init_test(ref_state: &RefState<R::Model>) -> Sut<R> {
        // Unchecked: the generated configurations include pools that exhaust for good (Limbo with fewer than
        // limbo_len + 2 segments, Leak under Fail), which the reference model predicts exactly.
        let queue = SegQueue::with_config_unchecked_liveness(ref_state.config.clone())
            .expect("generated configs are in bounds");
        assert_eq!(queue.config(), &ref_state.config);
        Sut { queue, drops: Arc::new(Mutex::new(Vec::new())), offered: Vec::new() }
    }

    fn apply(mut sut: Sut<R>, ref_state: &RefState<R::Model>, transition: Transition) -> Sut<R> {
        let q = &sut.queue;
        match transition {
            Transition::Push { id, via_handle } => {
                sut.offered.push(id);
                let value = Tracked { id, drops: sut.drops.clone() };
                let result = if via_handle { q.handle().push(value) } else { q.push(value) };
                let accepted = match result {
                    Ok(()) => true,
                    Err(refused) => {
                        assert_eq!(refused.kind(), PushErrorKind::Exhausted, "only Fail configs are generated");
                        let back = refused.into_inner();
                        assert_eq!(back.id, id, "a refused push must hand its own value back");
                        false // `back` is dropped here, by the test
                    }
                };
                assert_eq!(Expect::Push { accepted }, ref_state.expect, "push({id}) accepted={accepted}");
            }
            Transition::Pop { via_handle } => {
                let popped = if via_handle { q.handle().pop() } else { q.pop() };
                assert_eq!(Expect::Pop(popped.map(|v| v.id)), ref_state.expect, "pop");
            }
            Transition::PopBatch { max, via_handle } => {
                let mut out = Vec::new();
                let n = if via_handle { q.handle().pop_batch(&mut out, max) } else { q.pop_batch(&mut out, max) };
                assert_eq!(n, out.len(), "pop_batch must return the number of values it appended");
                assert!(n <= max, "pop_batch({max}) returned {n}");
                let Expect::Batch(expected) = &ref_state.expect else {
                    unreachable!("the reference sets Expect::Batch for PopBatch")
                };
                // Generic properties first (clearer messages), then the exact run length and values.
                let len_before = ref_state.deque.len() + expected.len();
                if max >= 1 && len_before > 0 {
                    assert!(n >= 1, "pop_batch({max}) on a non-empty queue returned nothing");
                }
                let ids: Vec<u64> = out.iter().map(|v| v.id).collect();
                assert_eq!(&ids, expected, "pop_batch({max}): values or run length differ from the model");
            }
            Transition::Len => assert_eq!(q.len(), ref_state.deque.len(), "len"),
            Transition::IsEmpty => assert_eq!(q.is_empty(), ref_state.deque.is_empty(), "is_empty"),
        }
        sut
    }

    fn check_invariants(sut: &Sut<R>, ref_state: &RefState<R::Model>) {
        let stats = sut.queue.stats();
        assert_eq!(stats.stale_views, 0, "stale views: {stats:?}");
        assert_eq!(sut.queue.len(), ref_state.deque.len(), "len after the step");
        if R::Model::EXACT {
            assert_eq!(stats, ref_state.expected_stats(), "stats differ from the pool model");
        }
    }

    fn teardown(sut: Sut<R>, ref_state: RefState<R::Model>) {
        let Sut { queue, drops, offered } = sut;
        let before = drops.lock().unwrap().len();
        drop(queue);
        let drops = drops.lock().unwrap();
        let mut left: Vec<u64> = drops[before..].to_vec();
        left.sort_unstable();
        let mut expected_left: Vec<u64> = ref_state.deque.iter().copied().collect();
        expected_left.sort_unstable();
        assert_eq!(left, expected_left, "dropping the queue must drop exactly the values still in it");
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for id in drops.iter() {
            *counts.entry(*id).or_default() += 1;
        }
        for id in &offered {
            assert_eq!(counts.remove(id), Some(1), "value {id} must be dropped exactly once");
        }
        assert!(counts.is_empty(), "dropped values that were never pushed: {counts:?}");
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // No regression file next to the test: a failure prints the minimal case and its seed.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn limbo_matches_vecdeque_model(sequential 1..150 => QueueMachine<Limbo>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn leak_matches_vecdeque_model(sequential 1..150 => QueueMachine<Leak>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn hazard_matches_vecdeque_model(sequential 1..150 => QueueMachine<Hazard>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn epoch_matches_vecdeque_model(sequential 1..150 => QueueMachine<Epoch>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn hazard_eras_matches_vecdeque_model(sequential 1..150 => QueueMachine<HazardEras>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn ibr_matches_vecdeque_model(sequential 1..150 => QueueMachine<Ibr>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn qsbr_matches_vecdeque_model(sequential 1..150 => QueueMachine<Qsbr>);

    #[test]
    #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
    fn hyaline_matches_vecdeque_model(sequential 1..150 => QueueMachine<Hyaline>);
}

#[cfg(feature = "reference")]
mod reference {
    use super::*;
    use segpool::{CrossbeamEpoch, FastSmr, Haphazard, Seize};

    prop_state_machine! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
        fn haphazard_matches_vecdeque_model(sequential 1..150 => QueueMachine<Haphazard>);

        #[test]
        #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
        fn crossbeam_epoch_matches_vecdeque_model(sequential 1..150 => QueueMachine<CrossbeamEpoch>);

        #[test]
        #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
        fn fast_smr_matches_vecdeque_model(sequential 1..150 => QueueMachine<FastSmr>);

        #[test]
        #[cfg_attr(miri, ignore = "64-256 generated runs of up to 150 steps; a single run takes 3-20 s under Miri")]
        fn seize_matches_vecdeque_model(sequential 1..150 => QueueMachine<Seize>);
    }
}
