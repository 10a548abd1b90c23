//! The orphan list of the strategies with per-handle retired lists (Hazard, Epoch, the era family): what a handle
//! still held when it unregistered or parked, left for any other handle to reclaim later.
//!
//! Reclaiming paths only `try_lock` it (they skip it when it is busy, so they never wait), and a lock-free hint of
//! its length lets them skip it when it is empty. [`Orphans::lock`], which waits, is for `unregister` and `park`
//! only. The list is a `Vec` for Hazard and Epoch; the era strategies keep theirs in a `LifeList`, which remembers
//! which of its lives need no second look ([`Listed`] is all the orphan list needs of it).

use std::ops::{Deref, DerefMut};
use std::sync::TryLockError; // only the error type of `try_lock`; the mutex itself comes from the facade

use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// A list the orphan list can hold: it only needs its length, for the lock-free hint.
pub(crate) trait Listed {
    fn listed(&self) -> usize;
}

impl<E> Listed for Vec<E> {
    fn listed(&self) -> usize {
        self.len()
    }
}

pub(crate) struct Orphans<L> {
    list: Mutex<L>,
    /// The list's length as of the last guard drop: a hint read without the lock.
    waiting: AtomicUsize,
}

impl<E> Orphans<Vec<E>> {
    /// An empty list with room for `capacity` entries. The strategies pass the pool's initial segment count (no
    /// segment is ever retired twice at once), so handing segments over never allocates in a pool that does not
    /// grow: pool workers hand theirs over every time they go to sleep.
    pub fn with_capacity(capacity: usize) -> Self {
        Orphans::new(Vec::with_capacity(capacity))
    }
}

impl<L: Listed> Orphans<L> {
    /// An orphan list holding `list` (empty, with the room it will need).
    pub fn new(list: L) -> Self {
        Orphans { waiting: AtomicUsize::new(list.listed()), list: Mutex::new(list) }
    }

    /// Whether the list looked empty when last unlocked (a hint).
    pub fn seem_empty(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) == 0
    }

    /// The list, if it is non-empty and free right now.
    pub fn try_lock(&self) -> Option<OrphansGuard<'_, L>> {
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
    pub fn lock(&self) -> OrphansGuard<'_, L> {
        let list = self.list.lock().unwrap_or_else(|poison| poison.into_inner());
        OrphansGuard { list, waiting: &self.waiting }
    }
}

/// The locked orphan list; dropping it publishes the new length hint (while still holding the lock).
pub(crate) struct OrphansGuard<'a, L: Listed> {
    list: MutexGuard<'a, L>,
    waiting: &'a AtomicUsize,
}

impl<L: Listed> Deref for OrphansGuard<'_, L> {
    type Target = L;
    fn deref(&self) -> &L {
        &self.list
    }
}

impl<L: Listed> DerefMut for OrphansGuard<'_, L> {
    fn deref_mut(&mut self) -> &mut L {
        &mut self.list
    }
}

impl<L: Listed> Drop for OrphansGuard<'_, L> {
    fn drop(&mut self) {
        self.waiting.store(self.list.listed(), Ordering::Relaxed);
    }
}
