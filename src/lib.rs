//! # segpool
//!
//! A lock-free segmented MPMC queue whose memory-reclamation strategy is a type parameter, so that strategies can
//! be compared with everything else held fixed, and checked with loom, shuttle and Miri.
//!
//! ```
//! # #[cfg(segpool_std)] {
//! use segpool::{Config, Limbo, OnExhausted, SegQueue};
//!
//! let queue: SegQueue<u64, Limbo> = SegQueue::with_config(Config {
//!     segment_size: 4,
//!     segment_count: 8,
//!     on_exhausted: OnExhausted::Grow,
//!     ..Config::default()
//! })?;
//! let mut handle = queue.handle(); // one per thread: owns that thread's reclamation state
//! for value in 0..10 {
//!     handle.push(value)?;
//! }
//! let mut batch = Vec::new();
//! assert_eq!(handle.pop_batch(&mut batch, 16), 4); // one contiguous run: the rest of the head segment
//! assert_eq!(batch, [0, 1, 2, 3]);
//! assert_eq!(handle.pop(), Some(4));
//! println!("{:?}", queue.stats());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Map of the crate
//!
//! Dependencies point one way: `sync` ← `segment` ← `segment_arena` ← [`reclaim`] ← `queue` ← [`pool`].
//!
//! - `sync`: the facade over std, loom and shuttle. Nothing else names a model checker (the std-only parts say
//!   `cfg(segpool_std)`, which `build.rs` sets when neither checker's feature is on).
//! - `segment`: slots, per-slot generation stamps, the packed state word, and the numbered invariants that every
//!   `// SAFETY:` comment refers to.
//! - `segment_arena`: type-stable segments, the tagged (ABA-safe) free list, waiting for a free segment.
//! - [`reclaim`]: the [`Reclaim`] trait, the one seam every strategy implements, and what each promises.
//! - `queue`: [`SegQueue`], its per-thread [`Handle`], and [`QueueStats`].
//! - [`Config`] and [`OnExhausted`]: sizes and the explicit policy for an empty segment arena.
//! - [`pool`]: the worker [`Pool`] on any [`pool::Backend`] (the segmented queue with any strategy, or a
//!   `Mutex<VecDeque>` baseline): submit hands jobs back, shutdown drains and reports.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod cache_padded;
mod config;
pub mod pool;
mod queue;
pub mod reclaim;
// Public for the model checks, tests and benches, which run models and build segment arenas from outside the crate,
// but not part of the documented API: users meet what they need of these layers in the root re-exports below.
#[doc(hidden)]
pub mod segment;
#[doc(hidden)]
pub mod segment_arena;
#[doc(hidden)]
pub mod sync;

pub use config::{
    Config, ConfigError, MAX_INITIAL_SEGMENTS, MAX_INITIAL_SLOTS, MAX_LIMBO_LEN, MAX_SEGMENTS, OnExhausted,
};
pub use pool::{CancelToken, Pool, ShutdownReport, Submit, SubmitError, SubmitErrorKind, Task};
pub use queue::{Handle, PushError, PushErrorKind, QueueStats, SegQueue, Stall};
#[cfg(all(feature = "reference", segpool_std))]
pub use reclaim::{CrossbeamEpoch, FastSmr, Haphazard, Seize};
pub use reclaim::{Epoch, Hazard, HazardEras, Hyaline, HyalineMeta, Ibr, Leak, Limbo, Qsbr, Reclaim};
// Not beside the sound strategies in the docs: `Unprotected` is a verification baseline (`reclaim::Unprotected`).
// The root path stays for the tests, models and benches that name it.
#[doc(hidden)]
pub use reclaim::Unprotected;
pub use segment::{MAX_SEGMENT_SIZE, SegRef, SegmentId};

// Every Rust code block of the README runs as a doctest (`cargo test --doc`), so the README's examples cannot rot.
// Not under the model checkers, whose primitives work only inside a model (their doctests compile to nothing too).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, segpool_std))]
pub struct ReadmeDoctests;
