//! The io_uring backend (Linux): the kernel's completion queue as the pool's queue, the Linux counterpart of the
//! IOCP backend.
//!
//! A push boxes the job and submits a no-op (`IORING_OP_NOP`) whose `user_data` is the job's pointer; the kernel
//! completes it at once, so the job appears in the completion queue, where workers reap it in batches. Like IOCP
//! this costs one allocation per job (the ring carries a pointer, not the job) and a system call per push; it
//! exists to measure what a kernel completion queue costs against the in-process queues, not to beat them.
//!
//! The submission queue and the completion queue are each single-threaded in io_uring, so each sits behind its
//! own mutex. A push submits while it holds the submission mutex and does not return until the kernel has taken
//! every queued entry, so when it returns its no-op has completed and the job is visible to any later reap (the
//! pool's wake-up protocol relies on that: a woken worker must find the job), and the submission queue is empty
//! for the next push.
//!
//! A ring cannot grow. At most `cq_entries` jobs are ever pushed and not yet reaped, so the completion queue never
//! overflows: an overflowing completion is dropped by kernels without `IORING_FEAT_NODROP`, and even with it the
//! kernel may drop one it cannot allocate room for, and parks the rest where only an `io_uring_enter` flushes
//! them. A push that finds the ring full hands the job back under `OnExhausted::Fail` and waits up to the timeout
//! under `Wait` (a timeout too long to represent as an `Instant`, such as `Duration::MAX`, waits as long as it
//! takes). Under `Grow` it queues the job in an in-process `Mutex<VecDeque>` instead, because waiting for room
//! would deadlock a pool whose every worker is submitting from a handler into the full ring. A workload that keeps
//! more than `cq_entries` jobs queued therefore measures that deque, not io_uring.
//!
//! Order under `Grow` (what `Backend::pop_batch`'s "oldest first" means here: each popper sees each submitter's
//! jobs in push order). It rests on two facts: a submitter's pushes are sequential and each returns only once its
//! job is in the completion queue or the overflow, and reaps are serialized and take completions in queue order.
//! Then no job is handed out before an older job of its submitter, by these two rules:
//!
//! - While the overflow holds jobs, pushes join it instead of the ring (a push that sees `overflowed > 0` queues
//!   there, and `overflowed` drops to 0 only once the overflow is empty), so a ring job never has an older job of
//!   its submitter still waiting in the overflow.
//! - A pop takes from the overflow only under the overflow lock, after reaping the ring under that same lock, and
//!   only if that reap took fewer than `max` jobs, that is, emptied the ring as it stood. The overflow jobs it
//!   takes were there before that reap began, so their submitters' older ring jobs had completed by then, and that
//!   reap or an earlier one took them. Reaping first and locking the overflow only afterwards is not enough: a popper
//!   descheduled in between lets a submitter fill the ring and overflow meanwhile, and the popper would then hand
//!   out the newest job before the ones in the ring. A pop that finds the overflow empty (the common case) reaps
//!   the ring without that lock and does not look at the overflow at all.
//!
//! Lock order: `overflow` before `reaping`; `submitting` is never held together with either.
//!
//! If io_uring is unavailable (an old kernel, `kernel.io_uring_disabled`, or a seccomp filter such as a
//! container's), [`Backend::build`] returns an error naming the `backend` field; it never panics. It submits and
//! reaps one no-op first, so a sandbox that allows setting a ring up but not entering it is caught there too.
//!
//! Invariant (the one every `unsafe` block here relies on): every `user_data` in the ring after `build` is a
//! pointer obtained from `Box::into_raw(Box<J>)` by [`Uring::push`], and it is turned back into a box exactly once,
//! by the thread that reaps its completion (`pop_batch` or `Drop`).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode};

use super::{Backend, BackendKind, RefusalKind, Refused};
use crate::config::deadline_after;
use crate::{Config, ConfigError, OnExhausted};

/// Ring size (submission entries; the kernel makes the completion queue twice as large, which bounds the jobs in
/// the ring). A push leaves the submission queue empty, so it only ever holds one entry.
const SUBMISSION_ENTRIES: u32 = 4096;

/// `user_data` of the no-op `build` submits to check the ring works; reaped before any job is pushed.
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
    /// Held while using the submission queue and submitting (io_uring allows one submitter at a time).
    submitting: Mutex<()>,
    /// Held while reaping the completion queue (one reaper at a time); taken after `overflow` when a pop holds both.
    reaping: Mutex<()>,
    /// Jobs pushed and not yet reaped; kept at most `capacity` so that the completion queue never overflows.
    in_flight: AtomicUsize,
    /// The completion queue's size.
    capacity: usize,
    on_exhausted: OnExhausted,
    /// Under `Grow`: jobs that found the ring full, or arrived while older jobs were waiting here; oldest first.
    /// A pop that takes from it holds its lock while it reaps the ring (module docs, "Order").
    overflow: Mutex<VecDeque<J>>,
    /// `overflow.len()`, stored under its lock, so that pushes and pops can skip the lock when it is empty.
    overflowed: AtomicUsize,
    _jobs: PhantomData<J>,
}

// SAFETY: the ring's queues are only touched under their mutexes (one `SubmissionQueue` and one
// `CompletionQueue` at a time, as `submission_shared`/`completion_shared` require), the ring itself is `Send` and
// `Sync`, and the jobs it carries are `J: Send`, each owned by exactly one thread at a time (the module's
// invariant); no `&J` is ever shared between threads, so `J: Sync` is not needed, as for a channel.
unsafe impl<J: Send> Send for Uring<J> {}
// SAFETY: as above: every shared access goes through a mutex or an atomic, and only moves whole jobs.
unsafe impl<J: Send> Sync for Uring<J> {}

impl<J> fmt::Debug for Uring<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uring")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("capacity", &self.capacity)
            .field("overflowed", &self.overflowed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Locks `mutex`; a panic elsewhere cannot leave these guards' data (`()` or a deque) inconsistent.
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

    /// Submits `job`, for which a slot is reserved, through the ring.
    fn submit(&self, job: J) {
        let pointer = Box::into_raw(Box::new(job));
        let entry = opcode::Nop::new().build().user_data(pointer as u64);
        let _submitting = lock(&self.submitting);
        // SAFETY: `submitting` is held, so this is the only `SubmissionQueue` of the ring.
        let mut submissions = unsafe { self.ring.submission_shared() };
        // SAFETY: a no-op reads no buffer; its `user_data` is a pointer the ring only carries (module invariant).
        // Every push leaves the queue empty before releasing the lock (below), so this push cannot fail.
        unsafe { submissions.push(&entry) }.expect("every push empties the submission queue");
        submissions.sync();
        // Until the kernel has taken the entry, the job is neither reachable by a reaper nor droppable by `Drop`:
        // retry transient refusals, and submit again if the kernel took fewer entries than queued (it may, when
        // short of memory). Any other error means the ring broke after `build` checked it, which this backend
        // cannot recover from.
        loop {
            match self.ring.submitter().submit() {
                Ok(_) => {}
                Err(error) if is_transient(&error) => std::thread::yield_now(),
                Err(error) => panic!("io_uring_enter failed after the ring was set up: {error}"),
            }
            submissions.sync();
            if submissions.is_empty() {
                return;
            }
        }
    }

    /// Reaps up to `max` completions into `out`.
    fn reap(&self, out: &mut Vec<J>, max: usize) -> usize {
        let _reaping = lock(&self.reaping);
        // SAFETY: `reaping` is held, so this is the only `CompletionQueue` of the ring.
        let mut completions = unsafe { self.ring.completion_shared() };
        debug_assert_eq!(completions.overflow(), 0, "the in-flight bound keeps the completion queue from overflowing");
        let mut taken = 0;
        for completion in completions.by_ref().take(max) {
            // SAFETY: module invariant: `user_data` came from `Box::into_raw` in `push`, and this completion is
            // reaped once, here (the probe's was reaped in `build`).
            let job = unsafe { Box::from_raw(completion.user_data() as *mut J) };
            out.push(*job);
            taken += 1;
        }
        // Hand the slots back only after the kernel can see them free.
        completions.sync();
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
        Ok(Uring {
            ring,
            submitting: Mutex::new(()),
            reaping: Mutex::new(()),
            in_flight: AtomicUsize::new(0),
            capacity,
            on_exhausted: config.on_exhausted,
            overflow: Mutex::new(VecDeque::new()),
            overflowed: AtomicUsize::new(0),
            _jobs: PhantomData,
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
            let taken = if self.in_flight.load(Ordering::Acquire) > 0 { self.reap(out, max) } else { 0 };
            #[cfg(test)]
            if let Some(hook) = AFTER_UNLOCKED_REAP.take() {
                hook();
            }
            return taken;
        }
        // The overflow holds jobs: lock it first, so that the jobs taken from it below were there before the ring
        // was reaped, then the ring (older for each submitter), then the overflow for the rest of the batch.
        let mut overflow = lock(&self.overflow);
        let taken = if self.in_flight.load(Ordering::Acquire) > 0 { self.reap(out, max) } else { 0 };
        let more = (max - taken).min(overflow.len());
        out.extend(overflow.drain(..more));
        self.overflowed.store(overflow.len(), Ordering::Release);
        taken + more
    }
}

impl<J> Drop for Uring<J> {
    fn drop(&mut self) {
        // Drop the jobs still in the ring (the overflow drops its own). A push returns only after the kernel took
        // its entry and so completed its no-op, so every pushed job is in the completion queue by now; only a push
        // that panicked on a broken ring can have left one behind, and that job leaks.
        for completion in self.ring.completion() {
            // SAFETY: module invariant; reaped once, here.
            drop(unsafe { Box::from_raw(completion.user_data() as *mut J) });
        }
    }
}

#[cfg(all(test, not(miri)))] // Miri cannot make io_uring system calls
mod tests;
