//! The era strategies' clock, for the tests that watch it ([`EraClock`]).

use segpool::Reclaim;
use segpool::reclaim::EraMeta;

/// The era clock of the era strategies (an inherent method of each), so that generic tests can read it.
pub trait EraClock: Reclaim<SegmentMeta = EraMeta> {
    fn era(&self) -> u64;
}

impl EraClock for segpool::HazardEras {
    fn era(&self) -> u64 {
        segpool::HazardEras::era(self)
    }
}

impl EraClock for segpool::Ibr {
    fn era(&self) -> u64 {
        segpool::Ibr::era(self)
    }
}
