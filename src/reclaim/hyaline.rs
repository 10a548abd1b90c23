//! Hyaline: Hyaline-1 (Nikolaev & Ravindran, "Snapshot-free, transparent, and robust memory reclamation for
//! lock-free data structures", PLDI 2021), adapted to segment indices and a type-stable pool.
//!
//! Hyaline turns reclamation around: instead of a retirer scanning what readers hold, a retirer hands every reader
//! that might hold its segments a *reference* to them, and the last reader to drop its reference frees them.
//!
//! # The paper's steps on segments
//!
//! - **Slots are registry records.** Hyaline-1 gives every thread a slot of its own, so a slot needs no reference
//!   count of its own and every update is a single-width CAS. Each handle owns one record of the crate's registry,
//!   holding one word: `0` while the handle is outside an operation (*inactive*), otherwise [`ACTIVE`] plus, in the
//!   low 32 bits, the head of the slot's *list* (a segment index + 1, `0` for the empty list).
//! - **Batch nodes are retired segments.** [`Hyaline::retire`] appends the segment to the handle's *batch*,
//!   chained through its [`HyalineMeta`]'s `batch_next` (no allocation). The batch's *reference count* lives on its
//!   first node (`batch_refs`), and every node knows that node (`batch_first`).
//! - **enter** stores active-and-empty into the handle's slot and runs a `SeqCst` fence. **protect** is a plain
//!   load: the active slot covers the whole operation.
//! - **publish** (when the batch holds [`BATCH`] segments): a `SeqCst` fence (every segment of the batch was
//!   unlinked before it); pass 1 reads every slot and records the active ones; pass 2 pushes one node of the batch
//!   onto each recorded slot that is still active (a CAS that sets the node's `slot_next` to the list it replaces),
//!   and counts the successful pushes `n`; then it adds `n` to the batch's count. If more slots are active than the
//!   batch has nodes, it does not publish yet (each slot needs a node of its own to link it): the batch keeps
//!   growing and the handle tries again once it holds as many segments as it saw active slots.
//! - **leave** swaps the slot back to inactive and walks the list it held: for every node, it reads the node's
//!   `slot_next` and `batch_first`, then decrements that batch's count. The decrement that brings a count to zero
//!   makes every segment of the batch reusable.
//!
//! # The reference count
//!
//! A batch whose publisher pushed `n` nodes sees exactly `n + 1` updates of its count, which starts at 0 (stored
//! by the publisher before its first push): the publisher's `+n` and one `-1` per pushed node, by the leaver of
//! the slot it went to (a node is pushed into one slot, and a slot's list is taken by exactly one leave, the swap
//! that ends that operation). Leavers may come before the publisher's addition, so the count may go below zero
//! (wrapping arithmetic on a `u64`). Before the addition it is `-d` after `d <= n` decrements, zero only if `d = 0`,
//! and no update brings it there (a decrement gives `-d` with `d >= 1`); after the addition it is `n - d`. So
//! exactly one update leaves it at zero, the last one, whichever thread makes it: that thread frees the batch,
//! exactly once. With `n = 0` (no slot was active, or every one left before the push) the publisher's own addition
//! is that update, and it frees the batch at once.
//!
//! # Few segments: shortages, park and unregister
//!
//! A batch below [`BATCH`] holds segments nobody else can reach. With a small arena under `OnExhausted::Fail` or
//! `Wait`, the producers can run dry while a consumer's partial batch holds the free segments. So
//! [`Hyaline::collect`] raises the shared shortage signal (`reclaim::retired`) and publishes its own partial batch;
//! every handle that sees the signal (or a producer waiting, [`SegmentStore::starving`]) publishes its partial
//! batch at the end of its next `leave`, after its own slot went inactive (so its own operation holds none of it).
//! `park` and `unregister` publish the partial batch if they can, and otherwise (too many active slots) hand it to
//! the orphan list, which every publisher adopts into its own batch when it can lock it without waiting. A handle
//! dropped without `unregister` leaves its slot inactive; its batch, and the references its slot list held, are
//! lost (those segments are never reused).
//!
//! # The batch size
//!
//! [`BATCH`] is 4, Epoch's `COLLECT_THRESHOLD`, for the same reason: with few segments, what sits unpublished in a
//! batch is what the queue cannot use. A single handle doing push/pop pairs at SegmentSize=1 holds at most 3
//! segments unpublished (the fourth retirement publishes), and a published batch of a lone handle is freed at that
//! handle's `leave`. A larger batch amortises the publish (a fence and a pass over the registry) over more
//! retirements, but Hyaline needs a node per active slot anyway, so with more threads than [`BATCH`] inside
//! operations the batch grows to their number before it is published.
//!
//! # What Hyaline promises
//!
//! - **No stale views.** A segment is made reusable only after every operation that could have loaded it before
//!   its unlink has left (below), so [`QueueStats::stale_views`](crate::QueueStats) stays 0.
//! - **Stalled threads.** Hyaline-1 is not robust: a thread that stops inside an operation keeps its slot active,
//!   every batch published during the stall puts a node into its list, and none of those batches is freed until it
//!   leaves. Unreclaimed segments ([`Reclaim::pending`]) therefore grow without bound with the other threads'
//!   traffic, as with Epoch. When the thread leaves, its own `leave` frees all of them. (Hyaline-1S, with birth
//!   eras, bounds this; the era strategies, HazardEras and Ibr, already cover robustness here.)
//! - **Unreclaimed segments** without stalls: at most [`BATCH`] `- 1` per handle unpublished (more while more slots
//!   are active than the batch has nodes), plus the published batches whose readers are still inside their
//!   operations, plus the orphans.
//! - **Progress.** `enter`, `protect` and `leave` are wait-free (`leave` takes one step per node its slot
//!   received); a publish is lock-free (a push retries only when its slot changed: another publisher pushed, or the
//!   owner left or entered). The orphan list is only `try_lock`ed, except by `park` and `unregister` when they
//!   hand a batch over.
//! - **Costs.** One store and one `SeqCst` fence per `enter`; one swap per `leave`, plus two loads and one
//!   `fetch_sub` per node received; one load per `protect`; per publish (once per [`BATCH`] retirements), one
//!   fence, one load per registered record, one CAS per active slot and one `fetch_add`. No allocation after
//!   `register`: the list of active slots a publish records is allocated with room for the registry, and grows
//!   only when the registry does.
//!
//! # Memory ordering
//!
//! Orderings below are the C++20 model's, as in `epoch.rs`: `S` is the total order of `SeqCst` fences, and a fence
//! `X` precedes a fence `Y` in `S` whenever `X` happens before an access `a`, an access `b` happens before `Y`, and
//! `a` is coherence-ordered before `b`. Take a reader `T` whose `enter` stored active into its slot and ran fence
//! `F_T`, then loaded segment `s` (load `L`) before `s`'s unlink `U`; and a publisher of a batch holding `s`, whose
//! fence `F_P` comes after `U` (the unlinker retires `s` after `U`; an adopted orphan was handed over under the
//! orphan mutex after its unlink) and whose pass 1 then reads `T`'s slot (read `R1`).
//!
//! 1. **`F_T` precedes `F_P`:** `F_T` happens before `L`, `L` is coherence-ordered before `U`, and `U` happens
//!    before `F_P`.
//! 2. **Pass 1 sees `T` active:** if `R1` read a value from before `T`'s activating store, `R1` would be
//!    coherence-ordered before that store, so `F_P` would precede `F_T`, contradicting 1. So `R1` reads that store
//!    or a later value: `T` still active (in this operation or a later one), or a later `leave` of `T`. (A record
//!    the publisher did not find at all was linked into the registry after its walk began, and activated after
//!    that: the same argument, with the registry's head.)
//! 3. **`T`'s uses happen before the free.** If pass 2 pushes a node into `T`'s slot while this operation (or a
//!    later one of `T`) is active, the batch's count cannot reach zero before that operation's `leave` decrements
//!    it, and every update of the count is an `AcqRel` RMW: the free, made by the last update, happens after every
//!    earlier update, so after `T`'s `leave`, which is sequenced after `T`'s uses. If instead pass 1 or a failed
//!    CAS reads `T`'s slot inactive, it read (`Acquire`) the value of one of `T`'s `leave` swaps (`AcqRel`) at or
//!    after this operation, so `T`'s uses happen before the publisher's addition, and so before the free.
//!
//! The nodes' links are written `Relaxed` before the push (a `Release` CAS) and read after the leaver's swap
//! (`Acquire`), which reads the last push or a later one of the same list: every push is an RMW, so the swap
//! synchronises with each of them. The free walks `batch_next`, which the publisher wrote before its `AcqRel`
//! addition. A leaver reads a node's links *before* its decrement: after it, the batch may be freed, and the
//! segment reused and pushed again elsewhere. Without `F_T` (or `F_P`), pass 1 can miss an activation made
//! before the unlink was visible (store buffering), and the batch is freed under a reader.
//!
//! [`Reclaim::pending`]: super::Reclaim::pending

use std::fmt;

use crate::config::Config;
use crate::reclaim::orphans::Orphans;
use crate::reclaim::registry::{Entry, Registry};
use crate::reclaim::retired::{Answered, RetiredCounts, Shortage};
use crate::reclaim::{Reclaim, SegmentStore};
use crate::segment::SegmentId;
use crate::sync::{Arc, AtomicU64, Ordering, fence};
use batch::{Batch, Link, unlink};

pub use batch::HyalineMeta;

mod batch;
mod publish;

/// A handle publishes its batch once it holds this many segments. See the module docs for why 4.
pub const BATCH: usize = 4;

/// The active bit of a slot word; the low 32 bits are the head of the slot's list (a segment index + 1, `0`
/// for the empty list).
pub const ACTIVE: u64 = 1 << 32;

/// The slot word of a handle outside any operation.
const INACTIVE: u64 = 0;

const fn head(word: u64) -> Link {
    word as Link
}

/// One handle's slot.
#[derive(Default)]
struct HyalineRecord {
    slot: AtomicU64,
}

/// One thread's Hyaline state: its registry record (its slot), its batch, and room for a publish's pass 1.
pub struct HyalineHandle {
    entry: Arc<Entry<HyalineRecord>>,
    batch: Batch,
    /// Publish when the batch reaches this length.
    next_publish: usize,
    /// Pass 1's active slots: each record's address (an identity, never dereferenced) and the word read.
    active: Vec<(usize, u64)>,
    inside: bool,
    seen_shortage: Answered,
    /// Set by `unregister`: the record may belong to another handle now.
    released: bool,
}

impl fmt::Debug for HyalineHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyalineHandle")
            .field("batch", &self.batch.len)
            .field("next_publish", &self.next_publish)
            .field("inside", &self.inside)
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

impl HyalineHandle {
    /// Retired segments this handle holds unpublished (for tests).
    pub fn unpublished(&self) -> usize {
        self.batch.len
    }
}

impl Drop for HyalineHandle {
    /// A handle dropped without `unregister` (a bug, or unwinding) would leave its slot active and every batch
    /// published from then on would wait for it for good: make it inactive. What its list held is lost.
    fn drop(&mut self) {
        if !self.released && self.inside {
            self.entry.record.slot.store(INACTIVE, Ordering::Release);
        }
    }
}

/// Hyaline-1 reclamation. See the module docs.
pub struct Hyaline {
    registry: Registry<HyalineRecord>,
    /// Batches of parked or unregistered handles that could not be published then.
    orphans: Orphans<Batch>,
    /// Raised when a free list runs dry: handles that see it publish their partial batch at their next `leave`.
    shortage: Shortage,
    counts: RetiredCounts,
}

impl fmt::Debug for Hyaline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hyaline")
            .field("records", &self.registry.len())
            .field("pending", &self.pending())
            .field("orphaned", &self.orphaned())
            .finish_non_exhaustive()
    }
}

impl Reclaim for Hyaline {
    const NAME: &'static str = "hyaline";
    type SegmentMeta = HyalineMeta;
    type Handle = HyalineHandle;

    fn new(_config: &Config) -> Self {
        Hyaline {
            registry: Registry::new(),
            orphans: Orphans::new(Batch::default()),
            shortage: Shortage::new(),
            counts: RetiredCounts::new(),
        }
    }

    fn register(&self) -> HyalineHandle {
        let entry = self.registry.acquire();
        // A reused record was left inactive by its previous owner (`unregister`, or the handle's Drop).
        HyalineHandle {
            entry,
            batch: Batch::default(),
            next_publish: BATCH,
            // Room for every record there is, and a few more: pass 1 records at most one entry per record.
            active: Vec::with_capacity(self.registry.len() + 8),
            inside: false,
            seen_shortage: self.shortage.answered_now(),
            released: false,
        }
    }

    fn unregister<S: SegmentStore<Meta = HyalineMeta>>(&self, handle: &mut HyalineHandle, store: &S) {
        debug_assert!(!handle.released, "Hyaline handle unregistered twice");
        if handle.inside {
            self.leave(handle, store);
        }
        self.publish_or_hand_over(handle, store);
        self.registry.release(&handle.entry);
        handle.released = true;
    }

    /// Publishes the partial batch, or hands it over: a quiet handle never publishes, and a batch it kept could
    /// hold the segments a refused push waits for.
    fn park<S: SegmentStore<Meta = HyalineMeta>>(&self, handle: &mut HyalineHandle, store: &S) {
        debug_assert!(!handle.released, "Hyaline handle used after unregister");
        debug_assert!(!handle.inside, "Hyaline::park inside an operation");
        if !handle.batch.is_empty() {
            self.publish_or_hand_over(handle, store);
        }
    }

    // `#[inline]`: called at every queue operation from the user's crate (as Epoch's).
    #[inline]
    fn enter(&self, handle: &mut HyalineHandle) {
        debug_assert!(!handle.released, "Hyaline handle used after unregister");
        debug_assert!(!handle.inside, "Hyaline::enter inside an operation");
        // The slot is inactive, so no publisher pushes into it: this store overwrites no node.
        handle.entry.record.slot.store(ACTIVE, Ordering::Relaxed);
        if !cfg!(segpool_mutant = "hyaline_enter_no_fence") {
            // Pairs with every publisher's fence (module docs, "Memory ordering").
            fence(Ordering::SeqCst);
        }
        handle.inside = true;
    }

    fn protect<S: SegmentStore<Meta = HyalineMeta>>(
        &self,
        handle: &mut HyalineHandle,
        _slot: usize,
        src: &AtomicU64,
        _store: &S,
    ) -> u64 {
        debug_assert!(handle.inside, "Hyaline::protect outside an operation");
        // The active slot covers whatever this load returns (module docs).
        src.load(Ordering::Acquire)
    }

    fn leave<S: SegmentStore<Meta = HyalineMeta>>(&self, handle: &mut HyalineHandle, store: &S) {
        debug_assert!(!handle.released, "Hyaline handle used after unregister");
        if handle.inside {
            // AcqRel: acquires the pushes of the list's nodes; releases this operation to a publisher that reads
            // the slot inactive.
            let word = handle.entry.record.slot.swap(INACTIVE, Ordering::AcqRel);
            handle.inside = false;
            let mut next = head(word);
            while let Some(id) = unlink(next) {
                let meta = store.meta(id);
                let first = meta.batch_first.load(Ordering::Relaxed);
                if cfg!(segpool_mutant = "hyaline_next_after_release") {
                    // Models reading the link after dropping the reference: the batch may be freed by then, and
                    // the segment reused and pushed into another list.
                    self.release_ref(first, store);
                    next = meta.slot_next.load(Ordering::Relaxed);
                    continue;
                }
                next = meta.slot_next.load(Ordering::Relaxed);
                self.release_ref(first, store);
            }
        }
        if (!handle.batch.is_empty() || !self.orphans.seem_empty())
            && self.shortage.must_give_back(&mut handle.seen_shortage, store)
        {
            // The free list ran dry, or a producer waits: publish the partial batch (reclaim::retired).
            self.publish(handle, store);
        }
    }

    fn retire<S: SegmentStore<Meta = HyalineMeta>>(&self, handle: &mut HyalineHandle, id: SegmentId, store: &S) {
        debug_assert!(!handle.released, "Hyaline handle used after unregister");
        self.counts.retired();
        handle.batch.push(id, store);
        if handle.batch.len >= handle.next_publish {
            self.publish(handle, store);
        }
    }

    fn collect<S: SegmentStore<Meta = HyalineMeta>>(&self, handle: &mut HyalineHandle, store: &S) {
        debug_assert!(!handle.released, "Hyaline handle used after unregister");
        // Ask every handle to publish at the end of its current operation (this one too: the answer `raise`
        // returns is dropped on purpose, so our own `leave` tries again once our slot is inactive), then publish.
        let _ = self.shortage.raise();
        self.publish(handle, store);
    }

    fn pending(&self) -> u64 {
        self.counts.pending()
    }

    /// Retired segments handed to the orphan list by parking or unregistering handles (counted once each).
    fn orphaned(&self) -> u64 {
        self.counts.orphans()
    }
}
