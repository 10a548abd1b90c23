//! [`Segmented`]: the crate's segmented queue as the pool's backend, with any reclamation strategy.

use std::fmt;

use super::{Backend, BackendKind, RefusalKind, Refused};
use crate::{Config, ConfigError, Handle, PushErrorKind, Reclaim, SegQueue};

/// The segmented queue with reclamation strategy `R`.
pub struct Segmented<R: Reclaim, J = ()> {
    queue: SegQueue<J, R>,
}

impl<R: Reclaim, J> Segmented<R, J> {
    /// The queue, for its statistics.
    pub fn queue(&self) -> &SegQueue<J, R> {
        &self.queue
    }
}

impl<R: Reclaim, J> fmt::Debug for Segmented<R, J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segmented").field("strategy", &R::NAME).field("stats", &self.queue.stats()).finish()
    }
}

impl<R: Reclaim, X: 'static> BackendKind for Segmented<R, X> {
    type Of<T: Send + 'static> = Segmented<R, T>;
}

impl<R: Reclaim, J: Send + 'static> Backend<J> for Segmented<R, J> {
    const NAME: &'static str = R::NAME;
    type Local<'a> = Handle<'a, J, R>;

    fn build(config: &Config) -> Result<Self, ConfigError> {
        let queue = SegQueue::with_config(config.clone())?;
        Ok(Segmented { queue })
    }

    fn local(&self) -> Handle<'_, J, R> {
        self.queue.handle()
    }

    fn push(&self, local: &mut Handle<'_, J, R>, job: J) -> Result<(), Refused<J>> {
        local.push(job).map_err(|error| {
            let kind = match error.kind() {
                PushErrorKind::Exhausted => RefusalKind::Exhausted,
                PushErrorKind::TimedOut => RefusalKind::TimedOut,
            };
            Refused { kind, job: error.into_inner() }
        })
    }

    fn pop_batch(&self, local: &mut Handle<'_, J, R>, out: &mut Vec<J>, max: usize) -> usize {
        local.pop_batch(out, max)
    }

    fn park(&self, local: &mut Handle<'_, J, R>) {
        local.park();
    }
}
