//! Shared by the loom and shuttle models; include it with `mod support;` at the root of a model file.
//!
//! - [`values`]: the values the models push (producer and sequence number in one `u32`) and the checks on what
//!   came out: exactly once, in order per producer;
//! - [`strategies`]: the strategy list of the std suite ([`for_each_strategy!`], `tests/support/strategies.rs`),
//!   which under loom and shuttle holds the strategies written against the facade (Limbo, Leak, Hazard, Epoch);
//! - [`stores`]: the recording segment store and source words for calling a strategy directly
//!   ([`RecordingStore`], [`word`], `tests/support/stores.rs`), and under loom the store whose segments carry a
//!   loom-tracked payload ([`PayloadStore`]).
#![allow(dead_code, unused_imports, unused_macros)] // each model file uses its own subset

#[path = "../../tests/support/stores.rs"]
pub mod stores;
#[path = "../../tests/support/strategies.rs"]
pub mod strategies;
pub mod values;

#[cfg(feature = "loom")]
pub use stores::PayloadStore;
pub use stores::{RecordingStore, word};
pub(crate) use strategies::for_each_strategy;
pub use values::{STRIDE, assert_exactly_once, assert_fifo_per_producer, producer, pushed, value};
