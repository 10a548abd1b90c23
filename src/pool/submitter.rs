//! Submitting: the [`Submit`] trait (the pool itself, and the context a running job receives) and [`Submitter`],
//! which keeps one thread's backend state between submits.
//!
//! A [`Submitter`] is both what [`Pool::submitter`] hands a submitting thread and what a worker hands each job it
//! runs (as the `&dyn Submit<J>` of the handler): the two differ only in which rule admits a submit, which
//! `from_job` says (see [`Shared::submit`]).
//!
//! [`Pool::submitter`]: super::Pool::submitter

use std::cell::RefCell;

use super::shared::{Local, Shared};
use super::{Backend, BackendKind, CancelToken, Envelope, Metrics, SubmitError};

/// Submitting jobs: the pool itself, and the context a running job receives (so jobs can submit jobs).
pub trait Submit<J> {
    /// Submits `job`, or hands it back.
    fn submit(&self, job: J) -> Result<(), SubmitError<J>>;
    /// Submits `job` with a cancellation token, or hands it back.
    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>>;
}

/// Submits to a pool from one thread, keeping that thread's backend state (see [`Pool::submitter`]).
///
/// [`Pool::submitter`]: super::Pool::submitter
pub struct Submitter<'p, J: Send + 'static, B: BackendKind, M> {
    shared: &'p Shared<J, B, M>,
    /// This thread's backend state; a worker also pops through it.
    pub(super) local: RefCell<Local<'p, J, B>>,
    /// Whether the submits come from jobs running on this thread, a worker: they bypass the submission gate and
    /// are refused only once the shutdown deadline passed (`Shared::stop`). Otherwise they go through the gate and
    /// are refused once shutdown began.
    from_job: bool,
}

impl<'p, J: Send + 'static, B: BackendKind, M: Metrics> Submitter<'p, J, B, M> {
    /// A submitter for a thread outside the pool ([`Pool::submitter`]).
    ///
    /// [`Pool::submitter`]: super::Pool::submitter
    pub(super) fn external(shared: &'p Shared<J, B, M>) -> Self {
        Submitter { shared, local: RefCell::new(shared.backend.local()), from_job: false }
    }

    /// A worker's submitter: the context of every job it runs, and its own backend state for popping.
    pub(super) fn for_worker(shared: &'p Shared<J, B, M>) -> Self {
        Submitter { shared, local: RefCell::new(shared.backend.local()), from_job: true }
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Submit<J> for Submitter<'_, J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: None }, self.from_job)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: Some(token.clone()) }, self.from_job)
    }
}
