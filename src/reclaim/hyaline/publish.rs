//! Publishing a batch, dropping a reference to one, freeing one: the steps the module docs of
//! [`Hyaline`](super::Hyaline) argue, in "The reference count" and "Memory ordering".

use super::batch::{HyalineMeta, link, unlink};
use super::{ACTIVE, BATCH, Hyaline, HyalineHandle, HyalineRecord, INACTIVE, head};
use crate::reclaim::SegmentStore;
use crate::segment::SegmentId;
use crate::sync::{Ordering, fence};

fn address(record: &HyalineRecord) -> usize {
    std::ptr::from_ref(record).addr()
}

impl Hyaline {
    /// Drops one reference to the batch whose first node is `first`; the last one frees it.
    pub(super) fn release_ref<S: SegmentStore<Meta = HyalineMeta>>(&self, first: SegmentId, store: &S) {
        // AcqRel: every update of the count happens before the one that brings it to zero (module docs).
        let before = store.meta(first).batch_refs.fetch_sub(1, Ordering::AcqRel);
        // The mutant tests the value the count had before the decrement, a classic `fetch_sub` slip: it frees a
        // batch whose first leaver came before the publisher's addition, while other readers still hold it.
        let last = if cfg!(segpool_mutant = "hyaline_count_checks_old") { before == 0 } else { before == 1 };
        if last {
            self.free_batch(first, store);
        }
    }

    /// Makes every segment of the batch starting at `first` reusable.
    pub(super) fn free_batch<S: SegmentStore<Meta = HyalineMeta>>(&self, first: SegmentId, store: &S) {
        let mut next = link(first);
        while let Some(id) = unlink(next) {
            // Read before the reuse: once reusable, the segment can be retired into another batch.
            next = store.meta(id).batch_next.load(Ordering::Relaxed);
            self.counts.reused();
            store.make_reusable(id);
        }
    }

    /// Publishes the handle's batch (with the orphans, if they are free): see the module docs. Returns whether the
    /// batch is empty now; if not, too many slots were active and the handle will try again later.
    pub(super) fn publish<S: SegmentStore<Meta = HyalineMeta>>(&self, handle: &mut HyalineHandle, store: &S) -> bool {
        if let Some(mut orphans) = self.orphans.try_lock() {
            handle.batch.append(&mut orphans, store);
        }
        if handle.batch.is_empty() {
            return true;
        }
        if !cfg!(segpool_mutant = "hyaline_publish_no_fence") {
            // Every segment of the batch was unlinked before this point (module docs, "Memory ordering").
            fence(Ordering::SeqCst);
        }
        handle.active.clear();
        for record in self.registry.iter() {
            // Acquire: an inactive word read here is a `leave`'s, whose operation must happen before the free.
            let word = record.slot.load(Ordering::Acquire);
            if word != INACTIVE {
                handle.active.push((address(record), word));
            }
        }
        if handle.active.len() > handle.batch.len {
            // Every slot needs a node of its own: grow the batch to the number of active slots first.
            handle.next_publish = handle.active.len();
            return false;
        }
        let batch = std::mem::take(&mut handle.batch);
        let first = unlink(batch.first).expect("a non-empty batch has a first node");
        // Stored before the pushes (Release) that let leavers decrement it.
        store.meta(first).batch_refs.store(0, Ordering::Relaxed);
        let mut node = batch.first;
        while let Some(id) = unlink(node) {
            store.meta(id).batch_first.store(first, Ordering::Relaxed);
            node = store.meta(id).batch_next.load(Ordering::Relaxed);
        }
        let mut node = batch.first;
        let mut pushed = 0u64;
        let mut recorded = handle.active.iter();
        let mut want = recorded.next();
        for record in self.registry.iter() {
            let Some(&(address_seen, word_seen)) = want else { break };
            if address(record) != address_seen {
                continue; // inactive at pass 1, or registered after it: it cannot reach this batch
            }
            want = recorded.next();
            let id = unlink(node).expect("pass 1 found no more active slots than nodes");
            let meta = store.meta(id);
            let mut expected = word_seen;
            loop {
                if expected == INACTIVE && !cfg!(segpool_mutant = "hyaline_push_into_inactive") {
                    break; // that operation ended (its uses happen before this Acquire read: module docs)
                }
                meta.slot_next.store(head(expected), Ordering::Relaxed);
                let pushed_word = ACTIVE | u64::from(link(id));
                // The mutant pushes into a slot it saw inactive: the owner's next `enter` overwrites the node, and
                // its batch is never freed.
                match record.slot.compare_exchange(expected, pushed_word, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        pushed += 1;
                        node = meta.batch_next.load(Ordering::Relaxed);
                        break;
                    }
                    Err(now) => expected = now,
                }
            }
        }
        let before = store.meta(first).batch_refs.fetch_add(pushed, Ordering::AcqRel);
        if before.wrapping_add(pushed) == 0 {
            self.free_batch(first, store); // every slot we pushed into has left already, or there was none
        }
        handle.next_publish = BATCH;
        true
    }

    /// Publishes the batch if it can, else hands it to the orphan list (`park`, `unregister`: outside an
    /// operation).
    pub(super) fn publish_or_hand_over<S: SegmentStore<Meta = HyalineMeta>>(
        &self,
        handle: &mut HyalineHandle,
        store: &S,
    ) {
        if handle.batch.is_empty() && self.orphans.seem_empty() {
            return;
        }
        if !self.publish(handle, store) {
            let mut orphans = self.orphans.lock();
            self.counts.orphaned(handle.batch.len);
            orphans.append(&mut handle.batch, store);
            handle.next_publish = BATCH;
        }
    }
}
