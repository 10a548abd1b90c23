//! Submitting: the [`Submit`] trait (the pool itself, and the context a running job receives) and [`Submitter`],
//! which keeps one thread's backend state between submits.

use std::cell::RefCell;

use super::shared::Shared;
use super::{Backend, CancelToken, Envelope, Metrics, SubmitError};

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
pub struct Submitter<'p, J: Send + 'static, B: Backend<Envelope<J>>, M> {
    pub(super) shared: &'p Shared<J, B, M>,
    pub(super) local: RefCell<B::Local<'p>>,
}

impl<J: Send + 'static, B: Backend<Envelope<J>>, M: Metrics> Submit<J> for Submitter<'_, J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: None }, false)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: Some(token.clone()) }, false)
    }
}
