//! Test support shared by the integration tests, one module per concept. Include it with `mod support;` at the
//! root of a test file (the strategy list's macro names itself by the path `crate::support`).
//!
//! - [`watchdog`]: bounds for checks that would hang ([`bounded`], [`within`], [`wait_until`], [`HANG_LIMIT`],
//!   [`WATCHDOG`]);
//! - [`child`]: checks that would abort the process, run in a child process ([`in_child_process`]);
//! - [`values`]: the `(producer, seq)` encoding of the values that multi-threaded tests push ([`encode`],
//!   [`decode`]);
//! - [`stress`]: the multi-producer, multi-consumer run with its checks ([`Stress`]);
//! - [`stores`]: segment stores for calling a strategy directly ([`RecordingStore`], [`RaceStore`], [`word`]);
//! - [`strategies`]: the list of strategies the suite runs ([`for_each_strategy!`]);
//! - [`eras`]: the era strategies' clock, for generic tests ([`EraClock`]).
#![allow(dead_code, unused_imports, unused_macros)] // each test binary uses its own subset

pub mod child;
pub mod eras;
pub mod race;
pub mod stores;
pub mod strategies;
pub mod stress;
pub mod values;
pub mod watchdog;

pub use child::in_child_process;
pub use eras::EraClock;
pub use stores::{RaceStore, RecordingStore, word};
pub(crate) use strategies::for_each_strategy;
pub use stress::{Stress, StressRun, wedged};
pub use values::{decode, encode};
pub use watchdog::{HANG_LIMIT, WATCHDOG, bounded, wait_until, within};
