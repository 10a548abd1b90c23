//! [`MutexDeque`]: the classic pool's queue, the baseline every lock-free backend has to beat.

use std::collections::VecDeque;
use std::fmt;

use super::{Backend, BackendKind, Refused};
use crate::sync::Mutex;
use crate::{Config, ConfigError};

/// A `Mutex<VecDeque>`: unbounded, one lock per push and per batch.
pub struct MutexDeque<J = ()> {
    jobs: Mutex<VecDeque<J>>,
}

impl<J> fmt::Debug for MutexDeque<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexDeque").finish_non_exhaustive()
    }
}

impl<X: 'static> BackendKind for MutexDeque<X> {
    type Of<T: Send + 'static> = MutexDeque<T>;
}

impl<J: Send + 'static> Backend<J> for MutexDeque<J> {
    const NAME: &'static str = "mutex-deque";
    type Local<'a> = ();

    fn build(_config: &Config) -> Result<Self, ConfigError> {
        Ok(MutexDeque { jobs: Mutex::new(VecDeque::new()) })
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push_back(job);
        Ok(())
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        let mut jobs = self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = max.min(jobs.len());
        out.extend(jobs.drain(..n));
        n
    }
}
