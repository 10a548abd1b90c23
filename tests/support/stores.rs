//! Segment stores for calling a strategy directly, without a queue: the strategy is handed plain source words
//! ([`word`]) and a store that records what it made reusable. The records are std types on purpose, also in the
//! loom models that include this file: test bookkeeping, not part of the protocol under test. Under loom,
//! [`PayloadStore`] adds a loom-tracked payload per segment, so that a model checks the order of a protector's
//! accesses and the reuse, not only the moment of the reuse (`verification/loom/strategies.rs`).

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
/// generation of each segment that was made reusable, and hands reusable segments back to the retirer. `M` is the
/// strategy's per-segment state (`()` for most; the era strategies keep a birth era there).
pub struct RaceStore<M = ()> {
    /// Each segment's strategy state.
    pub metas: Vec<M>,
    /// The generation each segment is in (written by the retirer only).
    pub generation: Vec<AtomicU32>,
    /// The last generation of each segment that was made reusable.
    pub reclaimed: Vec<AtomicU32>,
    /// Segments free for the retirer to move the source word to.
    pub free: Mutex<Vec<SegmentId>>,
}

impl<M: Default> RaceStore<M> {
    /// `segments` segments, all in generation 1, none reclaimed yet; segment 0 is in use (the source word's first
    /// target), the others are free.
    pub fn new(segments: usize) -> Self {
        RaceStore {
            metas: (0..segments).map(|_| M::default()).collect(),
            generation: (0..segments).map(|_| AtomicU32::new(1)).collect(),
            reclaimed: (0..segments).map(|_| AtomicU32::new(0)).collect(),
            free: Mutex::new((1..segments as SegmentId).collect()),
        }
    }
}

impl<M> SegmentStore for RaceStore<M> {
    type Meta = M;

    fn meta(&self, id: SegmentId) -> &M {
        &self.metas[id as usize]
    }

    fn make_reusable(&self, id: SegmentId) {
        let generation = self.generation[id as usize].load(Ordering::Relaxed);
        self.reclaimed[id as usize].fetch_max(generation, Ordering::SeqCst);
        self.free.lock().unwrap().push(id);
    }
}

/// A [`RecordingStore`] whose segments each carry a non-atomic payload, for checking that a strategy orders what a
/// protector did with a segment before the segment's reuse, not only that it flags the segment at the right time.
///
/// Whoever calls [`SegmentStore::make_reusable`] writes the segment's payload there and then, as the next owner of
/// the segment would (a real pool's free list adds a `Release`/`Acquire` pair between that thread and the next
/// owner, which only extends the edge the strategy must provide). A protector reads and writes the payload while it
/// protects the segment ([`PayloadStore::use_payload`]). The two sides share no synchronisation but the strategy's:
/// the records are std types, invisible to loom. So loom reports a causality violation when the strategy decides a
/// segment is free without its decision happening after the protector's accesses. Loom builds only: elsewhere the
/// payload would be a plain cell that nothing checks.
#[cfg(feature = "loom")]
pub struct PayloadStore<M = ()> {
    records: RecordingStore<M>,
    payloads: Vec<segpool::sync::UnsafeCell<u64>>,
    /// The thread that made each segment reusable (std bookkeeping, like the records).
    reused_by: Mutex<BTreeMap<SegmentId, segpool::sync::thread::ThreadId>>,
}

// SAFETY: the payloads are the only non-`Sync` part. Every access goes through loom's tracked cell, which checks
// before running the closure that no conflicting access is unordered with it by happens-before, and fails the model
// instead of letting the access race.
#[cfg(feature = "loom")]
unsafe impl<M: Sync> Sync for PayloadStore<M> {}

#[cfg(feature = "loom")]
impl<M: Default> PayloadStore<M> {
    /// Per-segment state and a payload (0) for segments `0..segments`.
    pub fn new(segments: usize) -> Self {
        PayloadStore {
            records: RecordingStore::new(segments),
            payloads: (0..segments).map(|_| segpool::sync::UnsafeCell::new(0)).collect(),
            reused_by: Mutex::new(BTreeMap::new()),
        }
    }
}

#[cfg(feature = "loom")]
impl<M> PayloadStore<M> {
    /// What the segment's user does with it: reads the payload, then writes it (a consumer's read and a producer's
    /// write). Returns what it read.
    pub fn use_payload(&self, id: SegmentId) -> u64 {
        let cell = &self.payloads[id as usize];
        // SAFETY: loom checked that no conflicting access is concurrent with this one (see the `Sync` impl).
        let seen = cell.with(|payload| unsafe { *payload });
        // SAFETY: as above.
        cell.with_mut(|payload| unsafe { *payload = seen + 1 });
        seen
    }

    /// What was made reusable ([`RecordingStore::is_reusable`], [`RecordingStore::ids`], ...).
    pub fn records(&self) -> &RecordingStore<M> {
        &self.records
    }

    /// Whether segment `id` was made reusable by the calling thread (rather than by another one, or not yet).
    pub fn reused_here(&self, id: SegmentId) -> bool {
        self.reused_by.lock().unwrap().get(&id) == Some(&segpool::sync::thread::current().id())
    }
}

#[cfg(feature = "loom")]
impl<M> SegmentStore for PayloadStore<M> {
    type Meta = M;

    fn meta(&self, id: SegmentId) -> &M {
        self.records.meta(id)
    }

    /// Records the segment, then reuses it at once: the next owner's first write to the payload.
    fn make_reusable(&self, id: SegmentId) {
        self.records.make_reusable(id);
        self.reused_by.lock().unwrap().insert(id, segpool::sync::thread::current().id());
        // SAFETY: loom checked that no conflicting access is concurrent with this one (see the `Sync` impl).
        self.payloads[id as usize].with_mut(|payload| unsafe { *payload = u64::MAX });
    }
}
