//! A registry of per-thread records, for strategies that must look at every thread (hazard pointers scan every
//! hazard slot; epochs check every pinned thread).
//!
//! Records form a lock-free, grow-only, singly linked list: [`Registry::acquire`] reuses an inactive record (one
//! CAS on its `active` flag) or pushes a new one at the head; [`Registry::release`] marks it inactive again; the list
//! is walked with [`Registry::iter`]. Records are reference-counted (`Arc`): the registry holds one count for the
//! list and every handle holds another, so a handle can never point at freed memory, whatever order things drop in.

use std::marker::PhantomData;
use std::ptr;

use crate::sync::{Arc, AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// One registered record: the strategy's per-thread state plus list bookkeeping.
///
/// Aligned to 128 bytes (a pair of cache lines, as `CachePadded`): every handle writes its record at every
/// operation (Hazard publishes and clears a slot, Epoch pins and unpins), and records of handles registered one
/// after the other used to come from neighbouring small allocations, so two threads' writes landed on one cache
/// line and each operation of one thread evicted the other's record (false sharing).
#[repr(align(128))]
pub(crate) struct Entry<R> {
    /// The strategy's state (hazard slots, pinned epoch, ...).
    pub record: R,
    active: AtomicBool,
    /// Next entry; written before the entry is published and never changed afterwards.
    next: *const Entry<R>,
}

// SAFETY: `next` is immutable after publication and points at an entry kept alive by the registry's list count;
// everything else is `R` (required `Send + Sync`) or atomics.
unsafe impl<R: Send + Sync> Send for Entry<R> {}
// SAFETY: as above.
unsafe impl<R: Send + Sync> Sync for Entry<R> {}

pub(crate) struct Registry<R> {
    /// Head of the list: a pointer obtained from `Arc::into_raw`, owning one count of that entry.
    head: AtomicPtr<Entry<R>>,
    /// Number of entries ever created (active or not).
    len: AtomicUsize,
}

impl<R: Default + Send + Sync> Registry<R> {
    pub fn new() -> Self {
        Registry { head: AtomicPtr::new(ptr::null_mut()), len: AtomicUsize::new(0) }
    }

    /// An inactive record, now active and owned by the caller until [`Self::release`].
    pub fn acquire(&self) -> Arc<Entry<R>> {
        let mut next = self.head.load(Ordering::Acquire) as *const Entry<R>;
        while !next.is_null() {
            // SAFETY: list pointers come from `Arc::into_raw` and the registry holds their counts (see `Entries`).
            let entry = unsafe { &*next };
            if !entry.active.load(Ordering::Relaxed)
                && entry.active.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                // SAFETY: `next` is the pointer `Arc::into_raw` returned (not one derived from `&Entry`, whose
                // provenance would not cover the reference counts), and the registry holds its count.
                return unsafe {
                    Arc::increment_strong_count(next);
                    Arc::from_raw(next)
                };
            }
            next = entry.next;
        }
        let fresh = Arc::new(Entry { record: R::default(), active: AtomicBool::new(true), next: ptr::null() });
        let raw = Arc::into_raw(fresh.clone()) as *mut Entry<R>;
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            // SAFETY: `raw` is not published yet, so this thread has the only access to its `next` field.
            unsafe { (*raw).next = head };
            match self.head.compare_exchange_weak(head, raw, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        self.len.fetch_add(1, Ordering::Relaxed);
        fresh
    }

    /// Gives a record back; the caller must have cleared whatever in it other threads look at.
    pub fn release(&self, entry: &Entry<R>) {
        entry.active.store(false, Ordering::Release);
    }
}

impl<R> Registry<R> {
    /// Every record ever registered, active or not, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &R> {
        self.iter_entries().map(|entry| &entry.record)
    }

    /// Number of records ever registered.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn iter_entries(&self) -> Entries<'_, R> {
        Entries { next: self.head.load(Ordering::Acquire), _registry: PhantomData }
    }
}

struct Entries<'a, R> {
    next: *const Entry<R>,
    _registry: PhantomData<&'a Registry<R>>,
}

impl<'a, R> Iterator for Entries<'a, R> {
    type Item = &'a Entry<R>;

    fn next(&mut self) -> Option<&'a Entry<R>> {
        if self.next.is_null() {
            return None;
        }
        // SAFETY: every pointer in the list came from `Arc::into_raw` and the registry holds that count until its
        // Drop, which needs `&mut self`, so the entry outlives the `&'a Registry` borrow.
        let entry = unsafe { &*self.next };
        self.next = entry.next;
        Some(entry)
    }
}

impl<R> Drop for Registry<R> {
    fn drop(&mut self) {
        let mut next = self.head.load(Ordering::Acquire) as *const Entry<R>;
        while !next.is_null() {
            // SAFETY: each list pointer owns one count (from `Arc::into_raw` in `acquire`), given back exactly once
            // here; handles that still hold their own counts keep the entry alive.
            let entry = unsafe { Arc::from_raw(next) };
            next = entry.next;
        }
    }
}
