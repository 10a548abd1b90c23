//! Leak: the no-reclamation baseline. Retired segments are never reused; every new segment is a fresh allocation
//! (use it with `OnExhausted::Grow`), and all of them are freed only when the queue drops. It does no work to
//! protect or retire anything, so it is the ceiling every other strategy's overhead is measured against, and its
//! memory grows by one segment per `segment_size` values.

use crate::config::{Config, ConfigError, OnExhausted};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::unmodelled::AtomicU64 as CounterU64;
use crate::sync::{AtomicU64, Ordering};

/// The no-reclamation baseline. See the module docs.
#[derive(Debug, Default)]
pub struct Leak {
    leaked: CounterU64,
}

impl Reclaim for Leak {
    const NAME: &'static str = "leak";
    type SegmentMeta = ();
    type Handle = ();

    /// Only `OnExhausted::Grow`: Leak never makes a segment reusable, so under `Fail` or `Wait` the queue would
    /// stop accepting for good after `segment_count * segment_size` values.
    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        if config.on_exhausted == OnExhausted::Grow {
            return Ok(());
        }
        Err(ConfigError::new(
            "on_exhausted",
            format!(
                "is {:?} but Leak never reuses a segment, so the queue would stop accepting for good after \
                 segment_count * segment_size values: use OnExhausted::Grow",
                config.on_exhausted
            ),
        ))
    }

    fn new(_config: &Config) -> Self {
        Leak::default()
    }

    fn register(&self) {}

    fn unregister<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _store: &S) {}

    // `#[inline]`: called at every queue operation from the user's crate, where a non-generic function is
    // otherwise an out-of-line call (generic callers are instantiated there, this function is not).
    #[inline]
    fn enter(&self, _handle: &mut ()) {}

    fn protect<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _slot: usize, src: &AtomicU64, _store: &S) -> u64 {
        // Nothing is ever reused, so whatever the load returns stays in its generation.
        src.load(Ordering::Acquire)
    }

    fn leave<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _store: &S) {}

    fn retire<S: SegmentStore<Meta = ()>>(&self, _handle: &mut (), _id: SegmentId, _store: &S) {
        self.leaked.fetch_add(1, Ordering::Relaxed);
    }

    fn pending(&self) -> u64 {
        self.leaked.load(Ordering::Relaxed)
    }
}
