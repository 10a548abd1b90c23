//! Queue configuration, the exhaustion policy and configuration errors.

use std::fmt;
use std::time::{Duration, Instant};

use crate::segment::MAX_SEGMENT_SIZE;

/// What a push does when it needs a fresh segment and the segment arena has none that is safe to reuse.
///
/// wpool silently allocates in this situation (its "exhaustion" is hidden allocation churn). segpool makes the
/// choice explicit, and [`QueueStats`](crate::QueueStats) counts every time it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExhausted {
    /// Hand the value back at once in [`PushError`](crate::PushError) (kind `Exhausted`).
    Fail,
    /// Allocate one more segment. The pool keeps it for the queue's lifetime, so memory grows to the peak demand.
    Grow,
    /// Wait up to the given time for the reclamation strategy to make a segment reusable, then hand the value back
    /// (kind `TimedOut`). A timeout too long to represent as an [`Instant`] (such as `Duration::MAX`) waits as long
    /// as it takes. Under loom time does not pass, so models use `Fail`.
    Wait(Duration),
}

/// The instant `timeout` from now, or `None` ("no deadline: wait as long as it takes") when that instant cannot be
/// represented (`Duration::MAX`, say). Every deadline the crate derives from a user's duration goes through here, so
/// no duration a user can pass makes `Instant + Duration` overflow.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Configuration of a [`SegQueue`](crate::SegQueue). Build it with struct-update syntax from
/// [`Config::default()`] and check it with [`Config::validate`] (the queue constructors do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Slots per segment, `1..=MAX_SEGMENT_SIZE` (the reserve counter of the packed state word has 24 bits).
    pub segment_size: usize,
    /// Segments allocated up front, `1..=MAX_INITIAL_SEGMENTS` and at most `MAX_INITIAL_SLOTS` slots in all; one
    /// of them is the queue's first segment, the rest fill the free list. At least 2 under `Fail` and `Wait`, and
    /// a strategy may ask for more (Limbo: `limbo_len + 2`).
    pub segment_count: usize,
    /// What a push does when no segment is free (see [`OnExhausted`]).
    pub on_exhausted: OnExhausted,
    /// Limbo only: how many later retirements a retired segment waits before it may be reused (wpool: 512),
    /// `1..=MAX_LIMBO_LEN`.
    pub limbo_len: usize,
}

impl Default for Config {
    /// wpool's defaults where it has them: 64-slot segments and a 512-entry limbo. segpool allocates 32 segments
    /// up front (wpool: 16 per core) and grows when they run out, as wpool does silently.
    fn default() -> Self {
        Config { segment_size: 64, segment_count: 32, on_exhausted: OnExhausted::Grow, limbo_len: 512 }
    }
}

/// Largest number of segments one queue may own: segment indices are 32-bit and one value marks "no segment".
pub const MAX_SEGMENTS: usize = u32::MAX as usize - 1;

/// Largest `segment_count`: the segments a queue allocates up front, each a header of a few cache lines plus its
/// slots (2^20 segments of one slot are about 300 MiB). Growth under `OnExhausted::Grow` may go on to
/// [`MAX_SEGMENTS`].
pub const MAX_INITIAL_SEGMENTS: usize = 1 << 20;

/// Largest `segment_count * segment_size`: the slots a queue allocates up front (2^26 slots of a `u64` value are
/// 1 GiB with their stamps), so that a typo fails validation instead of aborting the process on a failed allocation.
pub const MAX_INITIAL_SLOTS: usize = 1 << 26;

/// Largest `limbo_len`: Limbo allocates its ring (4 bytes an entry) up front.
pub const MAX_LIMBO_LEN: usize = 1 << 20;

impl Config {
    /// Checks every field ([`Self::validate`]), then the requirements of strategy `R`
    /// ([`Reclaim::validate_config`]); the error names the first invalid field. The queue and pool constructors call
    /// this.
    ///
    /// [`Reclaim::validate_config`]: crate::Reclaim::validate_config
    pub fn validate_for<R: crate::Reclaim>(&self) -> Result<(), ConfigError> {
        self.validate()?;
        R::validate_config(self)
    }

    /// Checks every field against its bounds, and the one liveness rule that holds for every strategy: under
    /// `Fail` or `Wait` a queue needs at least 2 segments, because a segment is retired only once it has a
    /// successor (a one-segment queue would take `segment_size` values in its whole life). The error names the
    /// first invalid field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_bounds()?;
        if self.on_exhausted != OnExhausted::Grow && self.segment_count < 2 {
            return Err(ConfigError::new(
                "segment_count",
                format!(
                    "is {} but under {:?} a queue needs at least 2 segments: a segment is retired only once it has \
                     a successor, so one segment would take segment_size values in the queue's whole life",
                    self.segment_count, self.on_exhausted
                ),
            ));
        }
        Ok(())
    }

    /// Checks every field against its bounds only, not whether the queue can recycle (see
    /// `SegQueue::with_config_unchecked_liveness`).
    pub(crate) fn validate_bounds(&self) -> Result<(), ConfigError> {
        if self.segment_size == 0 {
            return Err(ConfigError::new("segment_size", "must be at least 1"));
        }
        if self.segment_size > MAX_SEGMENT_SIZE {
            return Err(ConfigError::new(
                "segment_size",
                format!(
                    "is {} but the 24-bit reserve field of the segment state word holds at most {MAX_SEGMENT_SIZE}",
                    self.segment_size
                ),
            ));
        }
        if self.segment_count == 0 {
            return Err(ConfigError::new(
                "segment_count",
                "must be at least 1 (the queue's first segment comes from the pool)",
            ));
        }
        if self.segment_count > MAX_SEGMENTS {
            return Err(ConfigError::new(
                "segment_count",
                format!("is {} but segment indices are 32-bit (at most {MAX_SEGMENTS})", self.segment_count),
            ));
        }
        if self.segment_count > MAX_INITIAL_SEGMENTS {
            return Err(ConfigError::new(
                "segment_count",
                format!(
                    "is {} but at most {MAX_INITIAL_SEGMENTS} segments are allocated up front (OnExhausted::Grow \
                     adds more on demand)",
                    self.segment_count
                ),
            ));
        }
        match self.segment_size.checked_mul(self.segment_count) {
            Some(slots) if slots <= MAX_INITIAL_SLOTS => {}
            _ => {
                return Err(ConfigError::new(
                    "segment_count",
                    format!(
                        "is {} segments of segment_size {} slots, more than the {MAX_INITIAL_SLOTS} slots allocated \
                         up front at most",
                        self.segment_count, self.segment_size
                    ),
                ));
            }
        }
        if self.limbo_len == 0 {
            return Err(ConfigError::new(
                "limbo_len",
                "must be at least 1 (a limbo of 0 is immediate reuse, which is not wpool's heuristic)",
            ));
        }
        if self.limbo_len > MAX_LIMBO_LEN {
            return Err(ConfigError::new(
                "limbo_len",
                format!("is {} but the ring is allocated up front: at most {MAX_LIMBO_LEN}", self.limbo_len),
            ));
        }
        if self.on_exhausted == OnExhausted::Wait(Duration::ZERO) {
            return Err(ConfigError::new(
                "on_exhausted",
                "Wait needs a non-zero timeout (use OnExhausted::Fail to fail at once)",
            ));
        }
        Ok(())
    }
}

/// An invalid [`Config`]: which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        ConfigError { field, reason: reason.into() }
    }

    /// The name of the offending field, as written in [`Config`].
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid segpool config: `{}` {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}
