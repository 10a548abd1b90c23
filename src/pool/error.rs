//! What the pool hands back and reports: a refused submit ([`SubmitError`]), a caught panic ([`PanicReport`]) and
//! the outcome of a shutdown ([`ShutdownReport`]).

use std::fmt;

/// Why a submit handed its job back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitErrorKind {
    /// The pool is shutting down or shut down.
    Closed,
    /// The backend refused the job (for the segmented queue: its segment arena is exhausted under `Fail`).
    Exhausted,
    /// Under `OnExhausted::Wait`: the backend made no room before the timeout.
    TimedOut,
}

/// A submit that could not proceed; it holds the job.
pub struct SubmitError<J> {
    kind: SubmitErrorKind,
    job: J,
}

impl<J> SubmitError<J> {
    pub(crate) fn new(kind: SubmitErrorKind, job: J) -> Self {
        SubmitError { kind, job }
    }

    /// Why.
    pub fn kind(&self) -> SubmitErrorKind {
        self.kind
    }

    /// The job, untouched.
    pub fn into_inner(self) -> J {
        self.job
    }
}

impl<J> fmt::Debug for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitError").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl<J> fmt::Display for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SubmitErrorKind::Closed => f.write_str("the pool is closed; the job was handed back"),
            SubmitErrorKind::Exhausted => f.write_str("the queue is exhausted; the job was handed back"),
            SubmitErrorKind::TimedOut => f.write_str("the queue made no room in time; the job was handed back"),
        }
    }
}

impl<J> std::error::Error for SubmitError<J> {}

/// A panic the panic hook is told about.
#[derive(Debug)]
pub struct PanicReport {
    /// The worker's index (in spawn order).
    pub worker: usize,
    /// Where the panic happened.
    pub site: PanicSite,
    /// The panic message, if it was a string.
    pub message: Option<String>,
}

/// Where a panic reported to the panic hook happened. Either way the worker goes on with the next job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicSite {
    /// In the handler, running a job (counted in [`ShutdownReport::panicked`]).
    Job,
    /// In the cancellation hook, for a cancelled job (which still counts as cancelled; a [`Task`]'s cleanup runs
    /// there).
    ///
    /// [`Task`]: super::Task
    OnCancelled,
}

/// What [`Pool::shutdown`] did.
///
/// [`Pool::shutdown`]: super::Pool::shutdown
pub struct ShutdownReport<J> {
    /// Jobs that ran to completion over the pool's life.
    pub executed: u64,
    /// Jobs that panicked over the pool's life.
    pub panicked: u64,
    /// Jobs cancelled over the pool's life.
    pub cancelled: u64,
    /// Panics caught outside jobs over the pool's life: in the cancellation hook, the panic hook or the metrics
    /// sink. Each was caught on its worker, which went on working.
    pub hook_panics: u64,
    /// Accepted jobs that did not run because the deadline passed, in no particular order.
    pub not_run: Vec<J>,
    /// Whether the deadline passed before the backend was drained.
    pub deadline_passed: bool,
}

impl<J> fmt::Debug for ShutdownReport<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownReport")
            .field("executed", &self.executed)
            .field("panicked", &self.panicked)
            .field("cancelled", &self.cancelled)
            .field("hook_panics", &self.hook_panics)
            .field("not_run", &self.not_run.len())
            .field("deadline_passed", &self.deadline_passed)
            .finish()
    }
}
