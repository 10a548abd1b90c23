//! [`Envelope`]: a job as the backend stores it, with the [`CancelToken`] it was submitted with, if any.
//!
//! The token lives here rather than in `task.rs`: it cancels a job of any type, not only a [`Task`], and it has
//! meaning only through the envelope it travels in, which the worker opens before the job runs (`run_one` in
//! `worker.rs`) to check it.
//!
//! [`Task`]: super::Task

use crate::sync::{Arc, AtomicBool, Ordering};

/// A flag that cancels the jobs submitted with it, if they have not started yet.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every job carrying this token that has not started.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A job as the backend stores it: the job and its cancellation token, if any. Only the pool opens one, and no
/// user needs to name it: a pool names its backend by kind ([`BackendKind`](super::BackendKind): `Segmented<Hazard>`,
/// `MutexDeque`), and a backend is written for any item type. Public (hidden) for the comparison binary.
#[doc(hidden)]
pub struct Envelope<J> {
    pub(super) job: J,
    pub(super) token: Option<CancelToken>,
}
