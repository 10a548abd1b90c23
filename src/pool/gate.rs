//! The submission gate: how shutdown knows that every external submit it did not refuse has finished its push.
//!
//! Two kinds of entry, one closing.
//!
//! - **Striped**: a [`Submitter`](super::Submitter) from `Pool::submitter` claims one of [`STRIPES`] stripes when
//!   it is made (a bit of the `free` bitmap) and gives it back when dropped. Only its own submits write that
//!   stripe, so its cache line stays in the submitter's core: entering is a plain store of `true`, a light fence
//!   (below) and a load of `closed`; leaving is a `Release` store of `false`. No read-modify-write, and no line that
//!   another submitter writes.
//! - **Counted**: every other external submit (`Pool::submit`, which has no submitter to keep a stripe in, and a
//!   submitter made while every stripe is claimed) adds itself to `count`, whose top bit ([`CLOSED`]) shutdown
//!   sets, with one `SeqCst` `fetch_add` on the way in and a `fetch_sub` on the way out, as the whole gate did
//!   before the stripes. This line is shared by all such submits.
//!
//! Closing ([`Gate::close`]) stores `closed`, issues a fence, sets [`CLOSED`] in `count`, then waits for the count
//! to reach zero and for every stripe to read `false`. The striped entry is Dekker's handshake against it: the
//! submitter stores its stripe then reads `closed`, shutdown stores `closed` then reads each stripe, with a fence
//! between each pair. Of the two fences one comes first: if the submitter's, shutdown's scan sees its stripe set
//! (or cleared by its `Release` exit, after the push); if shutdown's, the submitter reads `closed` as set and
//! refuses. Without the submitter's fence its load may be satisfied before its store is visible (a store-load
//! reordering that x86's store buffer does), and both pass each other: the mutant `pool_stripe_enter_no_fence`,
//! which only loom sees (shuttle runs every atomic `SeqCst`).
//!
//! The two fences are an asymmetric pair (`sync/asymmetric.rs`): the submitter's is [`light_fence`], a compiler
//! fence on Linux, and shutdown's is [`heavy_fence`], a `membarrier` system call that makes every running thread
//! of the process execute a full barrier. Closing happens once per pool, entering at every submit, so the
//! submitter's entry is two plain accesses and its exit one. Under the model checkers and on other systems (or
//! if the kernel refuses `membarrier`) both are `SeqCst` fences, and the models check that version.
//! The counted entry needs no fence: its `fetch_add` and shutdown's `fetch_or` are `SeqCst` RMWs of one word.
//!
//! Both entries leave through a drop guard ([`Entry`]), so a submit that unwinds from a panicking push or metrics
//! sink leaves the gate as it found it, and shutdown still completes.
//!
//! Why not let the gate's fence also serve the wake-up check (`wake.rs`, "The wake-up protocol")? That fence must
//! order the submitter's push before its read of `idle`; the gate's fence comes before the push, so it cannot.

use crate::cache_padded::CachePadded;
use crate::sync::{AtomicBool, AtomicU64, Ordering, heavy_fence, light_fence, thread};

/// The closed bit of the counted gate; the bits below count the counted submits inside `submit`.
const CLOSED: u64 = 1 << 63;

/// Stripes per pool: 64 (one bitmap word; 8 KiB of padded flags), 2 under the model checkers, whose models use
/// at most two submitters and would otherwise step through 64 loads at every shutdown scan.
pub(super) const STRIPES: usize = if cfg!(segpool_std) { 64 } else { 2 };

/// How a submit is admitted (see [`Shared::submit`](super::shared::Shared::submit)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// From a job running on a worker: bypasses the gate, refused only once the shutdown deadline passed.
    Job,
    /// External, through the shared count.
    Counted,
    /// External, through this stripe, which the submitter owns.
    Stripe(usize),
}

/// The submission gate of one pool (module docs).
pub(super) struct Gate {
    /// Set once by shutdown; read by every striped entry. On its own line, which stays shared-clean until then.
    closed: CachePadded<AtomicBool>,
    /// [`CLOSED`] | counted submits inside `submit`.
    count: CachePadded<AtomicU64>,
    /// One flag per stripe: its submitter is inside `submit`.
    stripes: Box<[CachePadded<AtomicBool>]>,
    /// Bit `i` set: stripe `i` is unclaimed. Written when a submitter is made or dropped, never per submit.
    free: CachePadded<AtomicU64>,
}

/// One submit inside the gate; its drop leaves it, also when the submit unwinds: a submit left inside would make
/// shutdown wait for it forever.
pub(super) enum Entry<'g> {
    Counted(&'g AtomicU64),
    Stripe(&'g AtomicBool),
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        if cfg!(segpool_mutant = "pool_gate_leaks_on_unwind") && std::thread::panicking() {
            return;
        }
        match self {
            Entry::Counted(count) => {
                count.fetch_sub(1, Ordering::SeqCst);
            }
            // Release: shutdown's Acquire load that sees `false` then sees the push.
            Entry::Stripe(inside) => inside.store(false, Ordering::Release),
        }
    }
}

impl Default for Gate {
    fn default() -> Self {
        let free = if STRIPES == 64 { u64::MAX } else { (1 << STRIPES) - 1 };
        Gate {
            closed: CachePadded(AtomicBool::new(false)),
            count: CachePadded(AtomicU64::new(0)),
            stripes: (0..STRIPES).map(|_| CachePadded(AtomicBool::new(false))).collect(),
            free: CachePadded(AtomicU64::new(free)),
        }
    }
}

impl Gate {
    /// Claims a free stripe for a new submitter, or `None` when all are taken (it then uses the count).
    pub(super) fn claim(&self) -> Option<usize> {
        let mut free = self.free.load(Ordering::Relaxed);
        while free != 0 {
            let stripe = free.trailing_zeros() as usize;
            // Acquire/Release: the stripe's last exit (a store of `false`) happens before its next owner's entry.
            match self.free.compare_exchange_weak(free, free & !(1 << stripe), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(stripe),
                Err(now) => free = now,
            }
        }
        None
    }

    /// Gives back a stripe from [`Gate::claim`]; its submitter is outside `submit` (it is being dropped).
    pub(super) fn release(&self, stripe: usize) {
        self.free.fetch_or(1 << stripe, Ordering::Release);
    }

    /// Enters the gate, or `None` when it is closed. The entry must be held until the push returned.
    pub(super) fn enter(&self, admission: Admission) -> Option<Entry<'_>> {
        match admission {
            Admission::Job => unreachable!("a job's submit bypasses the gate"),
            Admission::Counted => {
                // SeqCst with the shutdown's `fetch_or`: a submit either sees the closed bit or is counted before
                // shutdown waits for the count to reach zero.
                let closed = self.count.fetch_add(1, Ordering::SeqCst) & CLOSED != 0;
                let entry = Entry::Counted(&self.count);
                (!closed).then_some(entry)
            }
            Admission::Stripe(stripe) => {
                let inside = &*self.stripes[stripe];
                inside.store(true, Ordering::Relaxed);
                let entry = Entry::Stripe(inside);
                // Dekker against `close` (module docs): orders the store above before the load of `closed`.
                // Mutant: no fence, as if a store and a later load kept their order (x86's store buffer does not).
                if !cfg!(segpool_mutant = "pool_stripe_enter_no_fence") {
                    light_fence();
                }
                (!self.closed.load(Ordering::Relaxed)).then_some(entry)
            }
        }
    }

    /// Whether shutdown has begun.
    pub(super) fn is_closed(&self) -> bool {
        self.count.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Closes the gate, true if it was already closed, and waits until no external submit is inside it: every
    /// submit it did not refuse has finished its push.
    pub(super) fn close(&self) -> bool {
        self.closed.store(true, Ordering::Relaxed);
        // Dekker against the striped entry (module docs): orders the store above before the scan below, and pairs
        // with the entry's light fence.
        heavy_fence();
        let already = self.count.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED != 0;
        if cfg!(segpool_mutant = "pool_shutdown_ignores_gate") {
            return already;
        }
        wait_until(|| self.count.load(Ordering::SeqCst) == CLOSED);
        // Mutant: shutdown waits for the count only, as if every submit were counted; a striped submit already
        // inside finishes its push after the drain began, and its job can be left in the backend.
        if !cfg!(segpool_mutant = "pool_shutdown_skips_stripes") {
            for inside in self.stripes.iter() {
                wait_until(|| !inside.load(Ordering::Acquire));
            }
        }
        already
    }
}

/// Spins briefly, then yields, until `done`. (A submit waiting for a segment under `OnExhausted::Wait` ends by its
/// own timeout, or when the working pool frees one.)
fn wait_until(mut done: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !done() {
        if spins < 64 {
            spins += 1;
            crate::sync::spin_hint();
        } else {
            thread::yield_now();
        }
    }
}
