//! The slab the io_uring backend keeps its jobs in, so that the ring carries a slot's name instead of a pointer to
//! a box, and a job costs no allocation once the slab has grown to the backlog's size.
//!
//! Slots live in chunks of [`CHUNK`], allocated when a submitter finds no vacant slot and never freed before the
//! slab; a chunk never moves, so a slot's address is stable. A job's `user_data` is its slot's index in the low 32
//! bits and the slot's generation in the high 32 bits.
//!
//! A slot's generation is odd while it holds a job and even while it is vacant: [`Slab::insert`] writes the job and
//! then makes it odd, [`Slab::take`] makes it even again (a compare-and-swap from the generation its `user_data`
//! carries) before it reads the job out. Of two takes of one `user_data` one fails the swap, and so does a take of a
//! `user_data` whose slot has been reused since: a slot is never read twice, nor while it is written.
//!
//! Vacant slots are on one of two free lists, linked through their `next` fields: the submitters' list ([`Vacant`],
//! which the backend keeps under its submission mutex, so one submitter at a time takes from it), and the list of
//! slots the reapers returned (`returned`, a stack that reapers push whole chains onto and that a submitter takes
//! whole, with one swap, when its own list is empty). Taking a whole stack at once is why it needs no ABA tag: a
//! pop of a single node would read a `next` that a concurrent pop-and-push had changed; a swap reads none.
//!
//! Invariants (every `unsafe` block below relies on them):
//! - A slot is in exactly one of three states: on the submitters' list, on the returned stack or in a reaper's
//!   [`Chain`] (vacant, even generation, `job` uninitialised, and nobody reads or writes `job`), being filled by
//!   the one `insert` that took it off the submitters' list (even generation), or holding a job (odd generation,
//!   `job` initialised) until the one `take` whose swap succeeds.
//! - A slot goes back to a free list only after its `take` has read its job out (the mutant
//!   `uring_slot_freed_before_take` breaks exactly this).
//!
//! Happens-before: `insert` writes `job` before its `Release` store of the generation, which `take`'s swap
//! acquires; `take` reads `job` before the `Release` push of its chain onto `returned`, which the submitter's
//! `Acquire` swap reads before it writes the slot again.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Slots per chunk: what the slab grows by.
pub(super) const CHUNK: usize = 256;

/// The end of a free list.
const NIL: u32 = u32::MAX;

#[cfg(test)]
thread_local! {
    /// Test-only hook: run by `take` on this thread between the swap that claims the slot and the read of its job,
    /// the window in which a slot freed too early would be reused (see the mutant in `take`).
    pub(super) static BEFORE_READ: std::cell::Cell<Option<Box<dyn FnOnce()>>> = const { std::cell::Cell::new(None) };
}

struct Slot<J> {
    job: UnsafeCell<MaybeUninit<J>>,
    /// The next vacant slot on this slot's free list (meaningful only while vacant).
    next: AtomicU32,
    /// Odd while the slot holds a job (module docs).
    generation: AtomicU32,
}

impl<J> Slot<J> {
    fn vacant() -> Self {
        Slot { job: UnsafeCell::new(MaybeUninit::uninit()), next: AtomicU32::new(NIL), generation: AtomicU32::new(0) }
    }
}

/// [`CHUNK`] slots, allocated once.
type Chunk<J> = Box<[Slot<J>]>;

/// Jobs by slot index, for the io_uring backend.
pub(super) struct Slab<J> {
    chunks: Box<[OnceLock<Chunk<J>>]>,
    /// Head of the stack of slots the reapers returned.
    returned: AtomicU32,
}

// SAFETY: a slot's job is only ever moved in (by `insert`) and out (by `take`), each by one thread at a time (module
// invariants), so sharing the slab between threads shares no `&J`: `J: Send` suffices, as for a channel.
unsafe impl<J: Send> Send for Slab<J> {}
// SAFETY: as above; every other field is atomic or immutable once set (`OnceLock`).
unsafe impl<J: Send> Sync for Slab<J> {}

/// The submitters' free list and how far the slab has grown; there is one per slab (made by [`Slab::new`]), and
/// `insert` takes it by `&mut`, which is what makes inserts exclusive.
pub(super) struct Vacant {
    head: u32,
    /// Slots in the chunks allocated so far.
    grown: usize,
}

/// Slots a reaper has emptied, to hand back with one push ([`Slab::release`]).
pub(super) struct Chain {
    head: u32,
    tail: u32,
}

impl Vacant {
    /// Slots allocated so far.
    #[cfg(test)]
    pub(super) fn grown(&self) -> usize {
        self.grown
    }
}

impl Chain {
    pub(super) const fn new() -> Self {
        Chain { head: NIL, tail: NIL }
    }
}

/// `user_data` for slot `index` at `generation`.
fn user_data(index: u32, generation: u32) -> u64 {
    u64::from(generation) << 32 | u64::from(index)
}

impl<J> Slab<J> {
    /// A slab of at most `capacity` slots (none allocated yet), and its one [`Vacant`].
    pub(super) fn new(capacity: usize) -> (Self, Vacant) {
        assert!(capacity < NIL as usize, "slot indices fit in 32 bits");
        let chunks = (0..capacity.div_ceil(CHUNK)).map(|_| OnceLock::new()).collect();
        (Slab { chunks, returned: AtomicU32::new(NIL) }, Vacant { head: NIL, grown: 0 })
    }

    /// Slot `index`, if its chunk has been allocated.
    fn slot(&self, index: u32) -> Option<&Slot<J>> {
        let index = index as usize;
        self.chunks.get(index / CHUNK)?.get().map(|chunk| &chunk[index % CHUNK])
    }

    /// Stores `job` in a vacant slot and returns its `user_data`, or hands `job` back if all `capacity` slots hold
    /// jobs. Allocates only when no slot is vacant.
    pub(super) fn insert(&self, vacant: &mut Vacant, job: J) -> Result<u64, J> {
        if vacant.head == NIL {
            vacant.head = self.returned.swap(NIL, Ordering::Acquire);
        }
        if vacant.head == NIL {
            let Some(chunk) = self.chunks.get(vacant.grown / CHUNK) else { return Err(job) };
            let first = vacant.grown as u32;
            let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| Slot::vacant()).collect());
            for (offset, slot) in chunk.iter().enumerate().take(CHUNK - 1) {
                slot.next.store(first + offset as u32 + 1, Ordering::Relaxed);
            }
            vacant.head = first;
            vacant.grown += CHUNK;
        }
        let index = vacant.head;
        let slot = self.slot(index).expect("a listed slot's chunk exists");
        vacant.head = slot.next.load(Ordering::Relaxed);
        let generation = slot.generation.load(Ordering::Relaxed).wrapping_add(1);
        debug_assert_eq!(generation % 2, 1, "a vacant slot has an even generation");
        // SAFETY: the slot came off the submitters' list, which `&mut Vacant` gives this call alone, so it is
        // vacant and nobody else touches its job until the store below publishes it (module invariants).
        unsafe { (*slot.job.get()).write(job) };
        slot.generation.store(generation, Ordering::Release);
        Ok(user_data(index, generation))
    }

    /// Moves the job out of the slot `user_data` names and adds the slot to `chain`; `None` if that slot does not
    /// hold the job `user_data` was given for (it was taken already, or never inserted).
    pub(super) fn take(&self, user_data: u64, chain: &mut Chain) -> Option<J> {
        let (index, generation) = (user_data as u32, (user_data >> 32) as u32);
        let slot = self.slot(index)?;
        if generation % 2 == 0
            || slot
                .generation
                .compare_exchange(generation, generation.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        if cfg!(segpool_mutant = "uring_slot_freed_before_take") {
            // Mutant: the slot goes back to the free list before its job is read out, so a submitter can refill
            // it in between and this take returns (and later the refill's take returns again) the new job, while
            // the old one is lost.
            let mut early = Chain::new();
            self.link(&mut early, index, slot);
            self.release(&mut early);
        }
        #[cfg(test)]
        if let Some(hook) = BEFORE_READ.take() {
            hook();
        }
        // SAFETY: the swap succeeded, so the slot held a job (odd generation) published by `insert`'s `Release`
        // store, which the swap acquired, and no other take can succeed for it; the slot is not on a free list
        // until `link` below, so no `insert` writes it meanwhile (module invariants).
        let job = unsafe { (*slot.job.get()).assume_init_read() };
        if !cfg!(segpool_mutant = "uring_slot_freed_before_take") {
            self.link(chain, index, slot);
        }
        Some(job)
    }

    fn link(&self, chain: &mut Chain, index: u32, slot: &Slot<J>) {
        slot.next.store(chain.head, Ordering::Relaxed);
        if chain.head == NIL {
            chain.tail = index;
        }
        chain.head = index;
    }

    /// Returns the slots on `chain` to the submitters, leaving `chain` empty.
    pub(super) fn release(&self, chain: &mut Chain) {
        if chain.head == NIL {
            return;
        }
        let tail = self.slot(chain.tail).expect("a chained slot's chunk exists");
        let mut head = self.returned.load(Ordering::Relaxed);
        loop {
            tail.next.store(head, Ordering::Relaxed);
            match self.returned.compare_exchange_weak(head, chain.head, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        *chain = Chain::new();
    }
}

impl<J> Drop for Slab<J> {
    /// Drops the jobs still in the slab: every slot with an odd generation.
    fn drop(&mut self) {
        for chunk in self.chunks.iter_mut().filter_map(OnceLock::get_mut) {
            for slot in chunk.iter_mut() {
                if *slot.generation.get_mut() % 2 == 1 {
                    // SAFETY: an odd generation means the slot holds a job (module invariants), and `&mut self`
                    // means no take can be reading it.
                    unsafe { slot.job.get_mut().assume_init_drop() };
                }
            }
        }
    }
}
