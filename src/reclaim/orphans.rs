//! The orphan list of the strategies with per-handle retired lists (Hazard, Epoch): what a handle still held when
//! it unregistered, left for any other handle to reclaim later.
//!
//! Reclaiming paths only `try_lock` it (they skip it when it is busy, so they never wait), and a lock-free hint of
//! its length lets them skip it when it is empty. [`Orphans::lock`], which waits, is for `unregister` only.

use std::ops::{Deref, DerefMut};
use std::sync::TryLockError; // only the error type of `try_lock`; the mutex itself comes from the facade

use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

pub(crate) struct Orphans<E> {
    list: Mutex<Vec<E>>,
    /// The list's length as of the last guard drop: a hint read without the lock.
    waiting: AtomicUsize,
}

impl<E> Orphans<E> {
    /// An empty list with room for `capacity` entries. The strategies pass the pool's initial segment count (no
    /// segment is ever retired twice at once), so handing segments over never allocates in a pool that does not
    /// grow: pool workers hand theirs over every time they go to sleep.
    pub fn with_capacity(capacity: usize) -> Self {
        Orphans { list: Mutex::new(Vec::with_capacity(capacity)), waiting: AtomicUsize::new(0) }
    }

    /// Whether the list looked empty when last unlocked (a hint).
    pub fn seem_empty(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) == 0
    }

    /// The list, if it is non-empty and free right now.
    pub fn try_lock(&self) -> Option<OrphansGuard<'_, E>> {
        if self.seem_empty() {
            return None;
        }
        let list = match self.list.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poison)) => poison.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(OrphansGuard { list, waiting: &self.waiting })
    }

    /// The list, waiting for it if another thread holds it.
    pub fn lock(&self) -> OrphansGuard<'_, E> {
        let list = self.list.lock().unwrap_or_else(|poison| poison.into_inner());
        OrphansGuard { list, waiting: &self.waiting }
    }
}

/// The locked orphan list; dropping it publishes the new length hint (while still holding the lock).
pub(crate) struct OrphansGuard<'a, E> {
    list: MutexGuard<'a, Vec<E>>,
    waiting: &'a AtomicUsize,
}

impl<E> Deref for OrphansGuard<'_, E> {
    type Target = Vec<E>;
    fn deref(&self) -> &Vec<E> {
        &self.list
    }
}

impl<E> DerefMut for OrphansGuard<'_, E> {
    fn deref_mut(&mut self) -> &mut Vec<E> {
        &mut self.list
    }
}

impl<E> Drop for OrphansGuard<'_, E> {
    fn drop(&mut self) {
        self.waiting.store(self.list.len(), Ordering::Relaxed);
    }
}
