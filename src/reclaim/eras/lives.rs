//! A list of retired lives, and the filter that frees those no reservation overlaps without looking twice at the
//! lives a stall holds back.
//!
//! A filter that re-checked every life at every scan would cost `O(L)` per scan, that is `O(L / SCAN_THRESHOLD)`
//! per retirement, with `L` the lives a stalled handle holds back: the comparison measured the stall workload at
//! SegmentSize 1 spending over half its time there. So the list keeps a *pinned prefix*: `lives[..pinned]` are all
//! overlapped by one interval, `pinned_by`, that the last filter saw reserved. While a later snapshot still holds
//! that very interval, those lives are still overlapped (whichever record reserves it: overlapping depends on the
//! eras alone), so the filter skips them and checks only the rest. After a filter, the lives the pin overlaps move
//! into the prefix; when the pin's interval is gone, everything is checked once and the pin becomes the snapshot's
//! interval with the smallest upper end, the oldest reservation, which is the stalled one if a handle stalls. Each
//! life is then checked a bounded number of times while one stall lasts. Keeping a life is always safe; the pin only
//! decides which lives need no check.

use super::{Interval, overlaps};
use crate::reclaim::orphans::Listed;
use crate::reclaim::retired::RetiredCounts;
use crate::reclaim::{EraMeta, SegmentStore};
use crate::segment::SegmentId;

/// Retire era of a life that is not sealed yet (never compared: sealing overwrites it).
const UNSEALED: u64 = u64::MAX;

/// One retired life: the segment, its birth era and its retire era (or [`UNSEALED`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Life {
    id: SegmentId,
    birth: u64,
    retire: u64,
}

impl Life {
    /// A life just retired, not sealed yet.
    pub fn retired(id: SegmentId, birth: u64) -> Self {
        Life { id, birth, retire: UNSEALED }
    }

    fn overlapped_by(&self, interval: Interval) -> bool {
        overlaps(interval, self.birth, self.retire)
    }
}

/// Retired lives with a pinned prefix (module docs). Every life is sealed before it is filtered.
pub(crate) struct LifeList {
    lives: Vec<Life>,
    /// `lives[..pinned]` are all overlapped by `pinned_by`.
    pinned: usize,
    pinned_by: Interval,
}

impl Listed for LifeList {
    fn listed(&self) -> usize {
        self.lives.len()
    }
}

impl LifeList {
    pub fn with_capacity(capacity: usize) -> Self {
        LifeList { lives: Vec::with_capacity(capacity), pinned: 0, pinned_by: Interval { lower: 0, upper: 0 } }
    }

    pub fn len(&self) -> usize {
        self.lives.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lives.is_empty()
    }

    pub fn push(&mut self, life: Life) {
        self.lives.push(life);
    }

    /// Stamps `era` as the retire era of every life from `from` on (the ones retired since the last seal).
    pub fn seal_from(&mut self, from: usize, era: u64) {
        for life in &mut self.lives[from..] {
            life.retire = era;
        }
    }

    /// Moves every life of `other` (all sealed) to the end of this list, outside the pinned prefix.
    pub fn take_all(&mut self, other: &mut LifeList) {
        self.lives.append(&mut other.lives);
        other.pinned = 0;
    }

    /// Makes reusable every life that no interval of `snapshot` overlaps, keeps the others, and re-pins (module
    /// docs).
    pub fn release_free<S: SegmentStore<Meta = EraMeta>>(
        &mut self,
        snapshot: &[Interval],
        counts: &RetiredCounts,
        store: &S,
    ) {
        // (The mutant trusts the pin without looking for its interval: lives a stall held stay held after it.)
        let pin_holds = self.pinned > 0
            && (snapshot.contains(&self.pinned_by) || cfg!(segpool_mutant = "eras_pin_outlives_its_interval"));
        let start = if pin_holds { self.pinned } else { 0 };
        let free =
            self.lives.extract_if(start.., |life| !snapshot.iter().any(|&interval| life.overlapped_by(interval)));
        store.make_reusable_all(free.map(|life| {
            counts.reused();
            life.id
        }));
        if !pin_holds {
            self.pinned = 0;
            match snapshot.iter().min_by_key(|interval| interval.upper) {
                Some(&oldest) => self.pinned_by = oldest,
                None => return, // nothing reserved: the list is empty now
            }
        }
        for index in self.pinned..self.lives.len() {
            if self.lives[index].overlapped_by(self.pinned_by) {
                self.lives.swap(self.pinned, index);
                self.pinned += 1;
            }
        }
    }
}
