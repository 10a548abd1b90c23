//! Submitting: the [`Submit`] trait (the pool itself, and the context a running job receives) and [`Submitter`],
//! which keeps one thread's backend state between submits.
//!
//! A [`Submitter`] is both what [`Pool::submitter`] hands a submitting thread and what a worker hands each job it
//! runs (as the `&dyn Submit<J>` of the handler): the two differ only in which rule admits a submit, which
//! `admission` says (see [`Shared::submit`]). An external submitter owns a stripe of the submission gate while
//! there is one free (`gate.rs`), so its submits write no line that another submitter writes.
//!
//! [`Pool::submitter`]: super::Pool::submitter

use std::cell::RefCell;

use super::gate::Admission;
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
    /// How its submits are admitted: from jobs running on this thread, a worker ([`Admission::Job`]), they bypass
    /// the submission gate and are refused only once the shutdown deadline passed (`Shared::stop`). Otherwise they
    /// go through the gate, on this submitter's stripe if it claimed one, and are refused once shutdown began.
    admission: Admission,
}

impl<'p, J: Send + 'static, B: BackendKind, M: Metrics> Submitter<'p, J, B, M> {
    /// A submitter for a thread outside the pool ([`Pool::submitter`]).
    ///
    /// [`Pool::submitter`]: super::Pool::submitter
    pub(super) fn external(shared: &'p Shared<J, B, M>) -> Self {
        let admission = shared.gate.claim().map_or(Admission::Counted, Admission::Stripe);
        Submitter { shared, local: RefCell::new(shared.backend.local()), admission }
    }

    /// A worker's submitter: the context of every job it runs, and its own backend state for popping.
    pub(super) fn for_worker(shared: &'p Shared<J, B, M>) -> Self {
        Submitter { shared, local: RefCell::new(shared.backend.local()), admission: Admission::Job }
    }
}

impl<J: Send + 'static, B: BackendKind, M> Drop for Submitter<'_, J, B, M> {
    /// Gives the stripe back: no submit of this submitter is inside the gate (`submit` borrows it until it left).
    fn drop(&mut self) {
        if let Admission::Stripe(stripe) = self.admission {
            self.shared.gate.release(stripe);
        }
    }
}

impl<J: Send + 'static, B: BackendKind, M: Metrics> Submit<J> for Submitter<'_, J, B, M> {
    fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: None }, self.admission)
    }

    fn submit_cancellable(&self, job: J, token: &CancelToken) -> Result<(), SubmitError<J>> {
        self.shared.submit(&mut self.local.borrow_mut(), Envelope { job, token: Some(token.clone()) }, self.admission)
    }
}
