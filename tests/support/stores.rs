//! Segment stores for calling a strategy directly, without a queue: the strategy is handed plain source words
//! ([`word`]) and a store that records what it made reusable. The records are std types on purpose, also in the
//! loom models that include this file: test bookkeeping, not part of the protocol under test.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use segpool::reclaim::SegmentStore;
use segpool::{SegRef, SegmentId};

/// A source word holding a reference to segment `index` in generation `generation`, as the queue's head and tail
/// hold them. (A `segpool::sync` atomic: std's in the std tests, the model checker's in the loom models.)
pub fn word(index: SegmentId, generation: u32) -> segpool::sync::AtomicU64 {
    segpool::sync::AtomicU64::new(SegRef::new(index, generation).bits())
}

/// A segment store that records which segments were made reusable, and how often; it holds the strategy's
/// per-segment state (`M`, [`segpool::Reclaim::SegmentMeta`]) for segments `0..segments` ([`RecordingStore::new`]).
/// A store for a strategy without per-segment state (`M = ()`, the default) serves any segment id.
pub struct RecordingStore<M = ()> {
    metas: Vec<M>,
    /// Stands for every segment's state when `M` is zero-sized (all values of such a type are the same).
    zero_sized: Option<M>,
    reusable: Mutex<BTreeMap<SegmentId, u32>>,
}

impl<M: Default> RecordingStore<M> {
    /// A store with per-segment state for segments `0..segments`.
    pub fn new(segments: usize) -> Self {
        RecordingStore {
            metas: (0..segments).map(|_| M::default()).collect(),
            zero_sized: (size_of::<M>() == 0).then(M::default),
            reusable: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<M: Default> Default for RecordingStore<M> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<M> SegmentStore for RecordingStore<M> {
    type Meta = M;

    fn meta(&self, id: SegmentId) -> &M {
        self.metas
            .get(id as usize)
            .or(self.zero_sized.as_ref())
            .unwrap_or_else(|| panic!("segment {id}: the store holds state for {} segments", self.metas.len()))
    }

    fn make_reusable(&self, id: SegmentId) {
        *self.reusable.lock().unwrap().entry(id).or_default() += 1;
    }
}

impl<M> RecordingStore<M> {
    /// Whether segment `id` was made reusable.
    pub fn is_reusable(&self, id: SegmentId) -> bool {
        self.reusable.lock().unwrap().contains_key(&id)
    }

    /// How many distinct segments were made reusable.
    pub fn count(&self) -> u64 {
        self.reusable.lock().unwrap().len() as u64
    }

    /// Every segment made reusable, in order, checking each was made reusable exactly once.
    pub fn ids(&self) -> Vec<SegmentId> {
        let reusable = self.reusable.lock().unwrap();
        for (id, times) in reusable.iter() {
            assert_eq!(*times, 1, "segment {id} was made reusable {times} times");
        }
        reusable.keys().copied().collect()
    }
}

/// A store for races between a retirer and readers: segments cycle through generations; it records the newest
/// generation of each segment that was made reusable, and hands reusable segments back to the retirer.
pub struct RaceStore {
    /// The generation each segment is in (written by the retirer only).
    pub generation: Vec<AtomicU32>,
    /// The last generation of each segment that was made reusable.
    pub reclaimed: Vec<AtomicU32>,
    /// Segments free for the retirer to move the source word to.
    pub free: Mutex<Vec<SegmentId>>,
}

impl RaceStore {
    /// `segments` segments, all in generation 1, none reclaimed yet; segment 0 is in use (the source word's first
    /// target), the others are free.
    pub fn new(segments: usize) -> Self {
        RaceStore {
            generation: (0..segments).map(|_| AtomicU32::new(1)).collect(),
            reclaimed: (0..segments).map(|_| AtomicU32::new(0)).collect(),
            free: Mutex::new((1..segments as SegmentId).collect()),
        }
    }
}

impl SegmentStore for RaceStore {
    type Meta = ();

    fn meta(&self, _id: SegmentId) -> &() {
        &()
    }

    fn make_reusable(&self, id: SegmentId) {
        let generation = self.generation[id as usize].load(Ordering::Relaxed);
        self.reclaimed[id as usize].fetch_max(generation, Ordering::SeqCst);
        self.free.lock().unwrap().push(id);
    }
}
