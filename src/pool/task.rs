//! [`Task`]: a boxed closure job with an optional cleanup, for pools built with [`Pool::closures`].
//!
//! A task's cleanup runs exactly once whatever becomes of the task: after it ran (also when it panicked), when it is
//! cancelled, or when it is dropped without having run (a task handed back in a [`SubmitError`] or in
//! [`ShutdownReport::not_run`](super::ShutdownReport::not_run) and then dropped). A handed-back task can be run
//! ([`Task::run`]) or cancelled ([`Task::cancel`]) by its receiver, and its label ([`Task::with_label`]) tells
//! which one it is.
//!
//! [`Pool::closures`]: super::Pool::closures
//! [`SubmitError`]: super::SubmitError

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use super::{Submit, SubmitError, SubmitErrorKind};
use crate::pool::CancelToken;

/// A task's closure: it gets a context for submitting further tasks.
type TaskBody = Box<dyn FnOnce(&dyn Submit<Task>) + Send>;

/// A task's cleanup.
type Cleanup = Box<dyn FnOnce() + Send>;

/// A boxed closure job, for [`Pool::closures`](super::Pool::closures). It may submit further tasks through the
/// context it receives. See the module docs for when its cleanup runs.
pub struct Task {
    /// `None` once the task ran or was cancelled (then `cleanup` is `None` too).
    body: Option<TaskBody>,
    cleanup: Option<Cleanup>,
    label: Option<String>,
}

impl Task {
    /// A task that runs `f`.
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Self::with_context(move |_| f())
    }

    /// A task that runs `f` with a context to submit more tasks.
    pub fn with_context(f: impl FnOnce(&dyn Submit<Task>) + Send + 'static) -> Self {
        Task { body: Some(Box::new(f)), cleanup: None, label: None }
    }

    /// Adds a cleanup that runs exactly once: after the task (also if it panics), or when it is cancelled or
    /// dropped without running.
    pub fn cleanup(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.cleanup = Some(Box::new(f));
        self
    }

    /// Names the task, for its `Debug` output and [`Self::label`]: a handed-back task says which it is.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The label given by [`Self::with_label`].
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Runs the task on this thread, then its cleanup (also if the task panics; the panic then continues once the
    /// cleanup is done). Submits from inside the task are handed back as closed: there is no pool here. To run it
    /// on a pool, submit it again.
    pub fn run(self) {
        self.run_with(&NoPool);
    }

    /// Runs the task with `context` for the submits it makes, then its cleanup (see [`Self::run`]).
    pub fn run_with(mut self, context: &dyn Submit<Task>) {
        let body = self.body.take().expect("a task's body is taken only by a method that consumes the task");
        let cleanup = self.cleanup.take();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(context)));
        // Outside the unwind: a cleanup that panicked while the task's own panic unwound would abort the process.
        if let Some(cleanup) = cleanup {
            cleanup();
        }
        if let Err(payload) = outcome {
            panic::resume_unwind(payload);
        }
    }

    /// Discards the task without running it; its cleanup runs (a panic in the cleanup continues to the caller).
    pub fn cancel(mut self) {
        self.body = None;
        if cfg!(segpool_mutant = "pool_cancel_skips_cleanup") {
            // Mutant: cancelling discards the cleanup with the body, as if a cancelled task had never been (wpool
            // skips the cleanup of a cancelled task so).
            self.cleanup = None;
        }
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

impl Drop for Task {
    /// A task dropped without running (handed back and discarded) still runs its cleanup. Drop may run while the
    /// thread unwinds, where a second panic would abort the process, so a panic of the cleanup is caught here and
    /// discarded; call [`Task::cancel`] to see it.
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            let _ = panic::catch_unwind(AssertUnwindSafe(cleanup));
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("label", &self.label)
            .field("cleanup", &self.cleanup.is_some())
            .finish_non_exhaustive()
    }
}

/// The context of a task run outside a pool: every submit is handed back.
struct NoPool;

impl Submit<Task> for NoPool {
    fn submit(&self, job: Task) -> Result<(), SubmitError<Task>> {
        Err(SubmitError::new(SubmitErrorKind::Closed, job))
    }

    fn submit_cancellable(&self, job: Task, _token: &CancelToken) -> Result<(), SubmitError<Task>> {
        Err(SubmitError::new(SubmitErrorKind::Closed, job))
    }
}
