//! [`PushError`]: a push that could not proceed hands its value back.

use std::fmt;

/// Why a push handed its value back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushErrorKind {
    /// `OnExhausted::Fail`: no free segment.
    Exhausted,
    /// `OnExhausted::Wait`: no segment became free before the timeout.
    TimedOut,
}

/// A push that could not proceed; it holds the value.
pub struct PushError<T> {
    pub(super) value: T,
    pub(super) kind: PushErrorKind,
}

impl<T> PushError<T> {
    /// Why the push failed.
    pub fn kind(&self) -> PushErrorKind {
        self.kind
    }

    /// The value that was not pushed.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushError").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PushErrorKind::Exhausted => f.write_str("segment arena exhausted (OnExhausted::Fail); value handed back"),
            PushErrorKind::TimedOut => {
                f.write_str("no segment became free in time (OnExhausted::Wait); value handed back")
            }
        }
    }
}

impl<T> std::error::Error for PushError<T> {}
