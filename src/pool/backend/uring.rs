//! The io_uring backend (Linux): the kernel's completion queue as the pool's queue, the Linux counterpart of the
//! IOCP backend.
//!
//! A push stores the job in a slab slot ([`slab`]: no allocation once the slab has grown to the backlog) and queues
//! a no-op (`IORING_OP_NOP`) whose `user_data` names the slot; the kernel completes a no-op as it takes it, so the
//! job appears in the completion queue, where workers reap it in batches. It exists to measure what a kernel
//! completion queue costs against the in-process queues.
//!
//! Submission is batched: a push only writes its entry into the submission queue and publishes the queue's tail;
//! it enters the kernel (`io_uring_enter`) only when it finds the submission queue full. A pop that finds no
//! completion while entries are pending submits them all, with one `io_uring_enter`, and reaps again. So a job
//! is visible to any pop from the moment its push returns, though it may still be in the submission queue: the
//! pool's wake-up protocol relies on that (a woken worker must find the job), and so does shutdown (its pops
//! submit what is pending and hand it back). A lone job is never stranded: whoever pops next submits it. The
//! cost is one system call per popped batch instead of one per push. Submitting only when the completion queue
//! is empty lets the entries pushed while a worker runs its batch pile up into the next submission.
//!
//! Tried and dropped (empty job, 2-core VM): pushes submitting every 32 or 128 pending entries themselves, to
//! share the kernel's work with the poppers (faster with one producer on a loaded machine, slower on a quiet one,
//! and twice as slow with two producers: a pusher preempted right after its `io_uring_enter` holds up the
//! poppers that wait for its count; with poppers that no longer wait for counts, 1 producer and 1 worker got
//! 40% faster and every configuration with 3 or 4 threads 1.5 to 2 times slower), and `IORING_SETUP_SQPOLL` (its
//! kernel thread polls on a core this machine does not have to spare: 2 to 20 times slower).
//!
//! The submission queue is single-producer in io_uring, so pushes write it under the `submitting` mutex (which
//! also guards the submitters' list of vacant slots). Entering the kernel needs no lock: the kernel serializes
//! threads that enter one ring and takes only the entries up to the tail it reads, which a push publishes
//! (`Release`) only after writing its entry, so a pop submits without holding up the pushes. Two counters say
//! what is pending: `published` (entries whose tail is published, counted right after) and `consumed` (entries
//! the kernel took, summed from what each `io_uring_enter` returns; it can run ahead of `published` for a moment).
//! The completion queue is single-consumer, so reaps hold the `reaping` mutex.
//!
//! A ring cannot grow. At most `cq_entries` jobs are ever pushed and not yet reaped (`in_flight`, which counts
//! the submission queue too), so the completion queue never overflows: an overflowing completion is dropped by
//! kernels without `IORING_FEAT_NODROP`, and even with it the kernel may drop one it cannot allocate room for, and
//! parks the rest where only an `io_uring_enter` flushes them. The slab holds `cq_entries` slots at most, so a
//! push that reserved room in the ring always finds a slot. A push that finds the ring full hands the job back
//! under `OnExhausted::Fail` and waits up to the timeout under `Wait` (a timeout too long to represent as an
//! `Instant`, such as `Duration::MAX`, waits as long as it takes). Under `Grow` it queues the job in an
//! in-process `Mutex<VecDeque>` instead, because waiting for room would deadlock a pool whose every worker is
//! submitting from a handler into the full ring. A workload that keeps more than `cq_entries` jobs queued
//! therefore measures that deque, not io_uring.
//!
//! Order (what `Backend::pop_batch`'s "oldest first" means here: each popper sees each submitter's jobs in push
//! order). It rests on three facts: a submitter's pushes are sequential, and each returns only once its entry is
//! in the submission queue (written under the mutex, so the queue's order agrees with every submitter's push
//! order) or its job is in the overflow; the kernel takes entries in queue order and completes each no-op as it
//! takes it, posting the completions in that order before `io_uring_enter` returns (a no-op never goes to the
//! kernel's async workers without `IOSQE_ASYNC`, and the ring uses neither `SQPOLL` nor deferred task work); and
//! reaps are serialized and take completions in queue order. Then no job is handed out before an older job of its
//! submitter, by these two rules:
//!
//! - While the overflow holds jobs, pushes join it instead of the ring (a push that sees `overflowed > 0` queues
//!   there, and `overflowed` drops to 0 only once the overflow is empty), so a ring job never has an older job of
//!   its submitter still waiting in the overflow.
//! - A pop takes from the overflow only under the overflow lock, after submitting every entry published before
//!   it took that lock and then reaping the ring under that same lock, and only if that reap took fewer than `max`
//!   jobs, that is, emptied the ring as it stood. The overflow jobs it takes were there before it took the lock,
//!   so their submitters' older ring jobs were published by then, were submitted and completed before the reap,
//!   and that reap or an earlier one took them. Reaping first and locking the overflow only afterwards is not
//!   enough: a popper descheduled in between lets a submitter fill the ring and overflow meanwhile, and the popper
//!   would then hand out the newest job before the ones in the ring. A pop that finds the overflow empty (the
//!   common case) reaps the ring without that lock and does not look at the overflow at all.
//!
//! Lock order: `overflow` before `reaping`; `submitting` is never held together with either.
//!
//! If io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, or a seccomp filter such as a
//! container's), [`Backend::build`] returns an error naming the `backend` field; it never panics. It submits and
//! reaps one no-op first, so a sandbox that allows setting a ring up but not entering it is caught there too.
//!
//! Invariant: every `user_data` in the ring after `build` was returned by [`Slab::insert`] for a job that stays in
//! its slot until the reap of that completion takes it (the slab's own invariants, in `slab.rs`, make every such
//! take safe, and a `user_data` taken twice or stale fails there instead of reading a job twice). The jobs still
//! in the slab when the backend is dropped (pushed but never reaped) are dropped with the slab.

mod slab;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode};

use self::slab::{Chain, Slab, Vacant};
use super::{Backend, BackendKind, RefusalKind, Refused};
use crate::cache_padded::CachePadded;
use crate::config::deadline_after;
use crate::{Config, ConfigError, OnExhausted};

/// Ring size (submission entries; the kernel makes the completion queue twice as large, which bounds the jobs in
/// the ring). Pushes submit only when the submission queue is full, so it bounds the batch a pop submits too.
const SUBMISSION_ENTRIES: u32 = 4096;

/// `user_data` of the no-op `build` submits to check the ring works; reaped before any job is pushed (and no
/// slot's `user_data`: its generation, 0, is even).
const PROBE: u64 = 0;

#[cfg(test)]
thread_local! {
    /// Test-only hook (compiled into the crate's unit tests, nowhere else): run by `pop_batch` on this thread
    /// right after it reaped the ring without the overflow lock, the point where a real popper can be descheduled.
    /// A test installs a closure that pushes there, to replay that interleaving deterministically.
    static AFTER_UNLOCKED_REAP: std::cell::Cell<Option<Box<dyn FnOnce()>>> = const { std::cell::Cell::new(None) };
}

/// A worker-pool backend on one io_uring instance.
pub struct Uring<J = ()> {
    ring: IoUring,
    /// The jobs in the ring, by the slot their `user_data` names.
    slab: Slab<J>,
    /// Held while using the submission queue (io_uring allows one writer at a time); guards the submitters' list
    /// of vacant slots too.
    submitting: Mutex<Vacant>,
    /// Held while reaping the completion queue (one reaper at a time); taken after `overflow` when a pop holds both.
    reaping: Mutex<()>,
    /// Entries written to the submission queue, counted after their tail is published.
    published: CachePadded<AtomicU64>,
    /// Entries the kernel took, as the `io_uring_enter` calls that took them report.
    consumed: CachePadded<AtomicU64>,
    /// Jobs pushed and not yet reaped; kept at most `capacity` so that the completion queue never overflows. These
    /// counters are each on their own cache lines: pushers and poppers update different ones on every job.
    in_flight: CachePadded<AtomicUsize>,
    /// The completion queue's size.
    capacity: usize,
    on_exhausted: OnExhausted,
    /// Under `Grow`: jobs that found the ring full, or arrived while older jobs were waiting here; oldest first.
    /// A pop that takes from it holds its lock while it submits and reaps the ring (module docs, "Order").
    overflow: Mutex<VecDeque<J>>,
    /// `overflow.len()`, stored under its lock, so that pushes and pops can skip the lock when it is empty.
    overflowed: AtomicUsize,
}

// SAFETY: the ring's queues are only touched under their mutexes (one `SubmissionQueue` and one
// `CompletionQueue` at a time, as `submission_shared`/`completion_shared` require; entering the kernel through
// `submitter()` needs no exclusivity), the ring itself is `Send` and `Sync`, and the jobs it carries are
// `J: Send`, in a slab that is `Send` and `Sync` for `J: Send` (each job is moved in and out by one thread at a
// time; no `&J` is ever shared between threads, so `J: Sync` is not needed, as for a channel).
unsafe impl<J: Send> Send for Uring<J> {}
// SAFETY: as above: every shared access goes through a mutex, an atomic or the slab, and only moves whole jobs.
unsafe impl<J: Send> Sync for Uring<J> {}

impl<J> fmt::Debug for Uring<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uring")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("capacity", &self.capacity)
            .field("published", &self.published.load(Ordering::Relaxed))
            .field("consumed", &self.consumed.load(Ordering::Relaxed))
            .field("overflowed", &self.overflowed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Locks `mutex`; a panic elsewhere cannot leave these guards' data inconsistent (`()`, a deque, or a free list
/// that `Slab::insert` updates only once it has a slot in hand).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a failed `io_uring_enter` may simply be retried: interrupted (`EINTR`), or the kernel briefly short
/// of resources (`EAGAIN`, `EBUSY`).
fn is_transient(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::ResourceBusy)
}

/// Submits one no-op on the fresh `ring` and reaps its completion, to find out whether this process may enter
/// the ring at all.
fn probe(ring: &mut IoUring) -> io::Result<()> {
    let nop = opcode::Nop::new().build().user_data(PROBE);
    // SAFETY: a no-op reads and writes no memory, and its `user_data` is not a pointer.
    unsafe { ring.submission().push(&nop) }.map_err(|_| io::Error::other("a new ring's submission queue is full"))?;
    // No retries: a fresh ring with one entry has no transient reason to fail (the no-op completes during the
    // call, so the wait does not sleep and cannot be interrupted), and a sandbox may answer with any errno.
    ring.submit_and_wait(1)?;
    let completion = ring.completion().next().ok_or_else(|| io::Error::other("the no-op did not complete"))?;
    if completion.result() < 0 {
        return Err(io::Error::from_raw_os_error(-completion.result()));
    }
    Ok(())
}

impl<J: Send + 'static> Uring<J> {
    /// Takes a slot for one more job in the completion queue, if one is free.
    fn try_reserve(&self) -> bool {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) < self.capacity {
            return true;
        }
        // Give the slot back: the count may exceed `capacity` only while failed attempts are being undone.
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        false
    }

    /// Takes a slot, retrying until `deadline`; `None` retries as long as it takes.
    fn reserve_by(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.try_reserve() {
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Queues `job`, for which room in the ring is reserved, in the submission queue, without entering the kernel
    /// unless that queue is full.
    fn submit(&self, job: J) {
        let mut vacant = lock(&self.submitting);
        // SAFETY: `submitting` is held, so this is the only `SubmissionQueue` of the ring.
        let mut submissions = unsafe { self.ring.submission_shared() };
        // Make room first, while the job is still ours to drop if the ring turns out broken.
        while submissions.is_full() {
            self.flush();
            submissions.sync();
        }
        // Room in the ring is reserved, and the slab has as many slots as the ring has room (module docs).
        let Ok(user_data) = self.slab.insert(&mut vacant, job) else {
            unreachable!("a job with room reserved in the ring finds a vacant slot")
        };
        let entry = opcode::Nop::new().build().user_data(user_data);
        // SAFETY: a no-op reads no buffer, and its `user_data` is a slot's name, not a pointer.
        unsafe { submissions.push(&entry) }.unwrap_or_else(|_| unreachable!("room was made above"));
        // Publishes the tail (`Release`), so a thread that then enters the kernel submits this entry.
        submissions.sync();
        self.published.fetch_add(1, Ordering::Release);
    }

    /// Whether entries are published and not yet taken by the kernel.
    fn pending(&self) -> bool {
        self.published.load(Ordering::Acquire) > self.consumed.load(Ordering::Acquire)
    }

    /// Returns once the kernel has taken every entry published before the call (and so completed its no-op).
    /// Needs no lock (module docs). Loops because the kernel may take fewer entries than queued (when short of
    /// memory), and because another thread entering meanwhile may take some of them: then this call's enter takes
    /// none, and it waits for that thread to count them.
    fn flush(&self) {
        let target = self.published.load(Ordering::Acquire);
        let mut idle_rounds = 0u32;
        while self.consumed.load(Ordering::Acquire) < target {
            match self.ring.submitter().submit() {
                Ok(0) => {
                    // The other thread is between its `io_uring_enter` and its count: a few microseconds, unless
                    // it was preempted there, so spin a little before yielding.
                    idle_rounds += 1;
                    if idle_rounds < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                Ok(taken) => {
                    self.consumed.fetch_add(taken as u64, Ordering::AcqRel);
                }
                Err(error) if is_transient(&error) => std::thread::yield_now(),
                // The ring broke after `build` checked it, which this backend cannot recover from.
                Err(error) => panic!("io_uring_enter failed after the ring was set up: {error}"),
            }
        }
    }

    /// Reaps up to `max` completions into `out`; if there were none, submits the pending entries and reaps again.
    /// Submitting only when the completion queue is empty, rather than whenever it holds fewer than `max`, lets
    /// the entries pushed while the popper runs what it reaped pile up into one larger submission.
    fn reap_flushing(&self, out: &mut Vec<J>, max: usize) -> usize {
        let taken = self.reap(out, max);
        if taken > 0 || !self.pending() {
            return taken;
        }
        self.flush();
        self.reap(out, max)
    }

    /// Reaps up to `max` completions into `out`.
    fn reap(&self, out: &mut Vec<J>, max: usize) -> usize {
        let _reaping = lock(&self.reaping);
        // SAFETY: `reaping` is held, so this is the only `CompletionQueue` of the ring.
        let mut completions = unsafe { self.ring.completion_shared() };
        debug_assert_eq!(completions.overflow(), 0, "the in-flight bound keeps the completion queue from overflowing");
        let mut emptied = Chain::new();
        let mut taken = 0;
        for completion in completions.by_ref().take(max) {
            let job = self.slab.take(completion.user_data(), &mut emptied);
            out.push(job.expect("a completion names a slot holding its job (module invariant)"));
            taken += 1;
        }
        // Hand the room back only after the kernel can see it free and the slots are vacant again.
        completions.sync();
        self.slab.release(&mut emptied);
        self.in_flight.fetch_sub(taken, Ordering::AcqRel);
        taken
    }
}

impl<X: 'static> BackendKind for Uring<X> {
    type Of<T: Send + 'static> = Uring<T>;
}

impl<J: Send + 'static> Backend<J> for Uring<J> {
    const NAME: &'static str = "io_uring";
    type Local<'a> = ();

    fn build(config: &Config) -> Result<Self, ConfigError> {
        let unavailable = |call: &str, error: io::Error| {
            ConfigError::new("backend", format!("io_uring is unavailable here ({call}: {error})"))
        };
        let mut ring = IoUring::new(SUBMISSION_ENTRIES).map_err(|error| unavailable("io_uring_setup", error))?;
        probe(&mut ring).map_err(|error| unavailable("io_uring_enter", error))?;
        let capacity = ring.params().cq_entries() as usize;
        let (slab, vacant) = Slab::new(capacity);
        Ok(Uring {
            ring,
            slab,
            submitting: Mutex::new(vacant),
            reaping: Mutex::new(()),
            published: CachePadded(AtomicU64::new(0)),
            consumed: CachePadded(AtomicU64::new(0)),
            in_flight: CachePadded(AtomicUsize::new(0)),
            capacity,
            on_exhausted: config.on_exhausted,
            overflow: Mutex::new(VecDeque::new()),
            overflowed: AtomicUsize::new(0),
        })
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        let reserved = match self.on_exhausted {
            OnExhausted::Fail => self.try_reserve(),
            // Not `now + timeout`: that panics for a timeout such as `Duration::MAX`, which means "no deadline".
            OnExhausted::Wait(timeout) => self.reserve_by(deadline_after(timeout)),
            OnExhausted::Grow => {
                if self.overflowed.load(Ordering::Acquire) == 0 && self.try_reserve() {
                    true
                } else {
                    let mut overflow = lock(&self.overflow);
                    overflow.push_back(job);
                    self.overflowed.store(overflow.len(), Ordering::Release);
                    return Ok(());
                }
            }
        };
        if !reserved {
            let kind = match self.on_exhausted {
                OnExhausted::Wait(_) => RefusalKind::TimedOut,
                _ => RefusalKind::Exhausted,
            };
            return Err(Refused { kind, job });
        }
        self.submit(job);
        Ok(())
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        if self.overflowed.load(Ordering::Acquire) == 0 {
            // The fast path: the ring alone, no overflow lock. A job that reaches the overflow after the load above
            // waits for the next pop; taking it after this unlocked reap could hand it out before older jobs its
            // submitter put into the ring meanwhile (module docs, "Order").
            let taken = if self.in_flight.load(Ordering::Acquire) > 0 { self.reap_flushing(out, max) } else { 0 };
            #[cfg(test)]
            if let Some(hook) = AFTER_UNLOCKED_REAP.take() {
                hook();
            }
            return taken;
        }
        // The overflow holds jobs: lock it first, so that the jobs taken from it below were there before the ring
        // was submitted and reaped, then the ring (older for each submitter), then the overflow for the rest of
        // the batch.
        let mut overflow = lock(&self.overflow);
        let taken = if self.in_flight.load(Ordering::Acquire) > 0 {
            self.flush();
            self.reap(out, max)
        } else {
            0
        };
        let more = (max - taken).min(overflow.len());
        out.extend(overflow.drain(..more));
        self.overflowed.store(overflow.len(), Ordering::Release);
        taken + more
    }
}

#[cfg(all(test, not(miri)))] // Miri cannot make io_uring system calls
mod tests;
