//! [`CrossbeamChannel`]: an unbounded `crossbeam-channel`, the queue most Rust pools would reach for (feature
//! `reference`, std builds only: the channel uses its own atomics, which the model checkers cannot see).

use std::fmt;

use super::{Backend, BackendKind, RefusalKind, Refused};
use crate::{Config, ConfigError};

// The module's cfg (on its `mod` line) is repeated on each item below: rustdoc labels a re-exported item with the
// features it needs only from the item's own cfg.

/// An unbounded crossbeam channel: the backend holds both ends, so a send can only fail if the channel were
/// disconnected, which it never is while the backend lives.
#[cfg(all(feature = "reference", segpool_std))]
pub struct CrossbeamChannel<J = ()> {
    sender: crossbeam_channel::Sender<J>,
    receiver: crossbeam_channel::Receiver<J>,
}

#[cfg(all(feature = "reference", segpool_std))]
impl<J> fmt::Debug for CrossbeamChannel<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrossbeamChannel").field("len", &self.receiver.len()).finish()
    }
}

#[cfg(all(feature = "reference", segpool_std))]
impl<X: 'static> BackendKind for CrossbeamChannel<X> {
    type Of<T: Send + 'static> = CrossbeamChannel<T>;
}

impl<J: Send + 'static> Backend<J> for CrossbeamChannel<J> {
    const NAME: &'static str = "crossbeam-channel";
    type Local<'a> = ();

    fn build(_config: &Config) -> Result<Self, ConfigError> {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Ok(CrossbeamChannel { sender, receiver })
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        // Unreachable in practice (we hold a receiver), but a job is handed back, never dropped.
        self.sender.send(job).map_err(|error| Refused { kind: RefusalKind::Exhausted, job: error.into_inner() })
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        let before = out.len();
        out.extend(self.receiver.try_iter().take(max));
        out.len() - before
    }
}
