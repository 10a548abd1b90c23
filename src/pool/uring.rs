//! The io_uring backend (Linux): the kernel's completion queue as the pool's queue, the Linux counterpart of the
//! IOCP backend.
//!
//! A push boxes the job and submits a no-op (`IORING_OP_NOP`) whose `user_data` is the job's pointer; the kernel
//! completes it at once, so the job appears in the completion queue, where workers reap it in batches. Like IOCP
//! this costs one allocation per job (the ring carries a pointer, not the job) and a system call per push; it
//! exists to measure what a kernel completion queue costs against the in-process queues, not to beat them.
//!
//! The submission queue and the completion queue are each single-threaded in io_uring, so each sits behind its
//! own mutex. A ring cannot grow: at most `cq_entries` jobs may wait in the completion queue (more would overflow
//! it). A push that finds it full hands the job back under `OnExhausted::Fail`, waits up to the timeout under
//! `Wait`, and waits for room under `Grow`.
//!
//! If io_uring is unavailable (an old kernel, or a sandbox that forbids it), [`Backend::build`] returns an error
//! naming the backend; it never panics.
//!
//! Invariant (the one every `unsafe` block here relies on): every `user_data` in the ring is a pointer obtained
//! from `Box::into_raw(Box<J>)` by [`Uring::push`], and it is turned back into a box exactly once, by the thread
//! that reaps its completion (`pop_batch` or `Drop`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode};

use super::backend::{Backend, BackendConfig, RefusalKind, Refused};
use crate::{ConfigError, OnExhausted};

/// The errno values `io_uring_enter` returns for transient conditions (Linux, every architecture).
mod libc_errno {
    pub const EINTR: i32 = 4;
    pub const EAGAIN: i32 = 11;
    pub const EBUSY: i32 = 16;
}

/// Ring size (submission entries; the kernel makes the completion queue twice as large).
const SUBMISSION_ENTRIES: u32 = 4096;

/// A worker-pool backend on one io_uring instance.
pub struct Uring<J> {
    ring: IoUring,
    /// Held while using the submission queue (io_uring allows one submitter at a time).
    submitting: Mutex<()>,
    /// Held while reaping the completion queue (one reaper at a time).
    reaping: Mutex<()>,
    /// Jobs pushed and not yet reaped; kept at most `capacity` so that the completion queue never overflows.
    in_flight: AtomicUsize,
    capacity: usize,
    on_exhausted: OnExhausted,
    _jobs: PhantomData<J>,
}

// SAFETY: the ring's queues are only touched under their mutexes (one `SubmissionQueue` and one
// `CompletionQueue` at a time, as `submission_shared`/`completion_shared` require), the ring's file descriptor may
// be used from any thread, and the jobs it carries are `J: Send`, each owned by exactly one thread at a time (the
// module's invariant).
unsafe impl<J: Send> Send for Uring<J> {}
// SAFETY: as above: every shared access goes through a mutex or an atomic.
unsafe impl<J: Send> Sync for Uring<J> {}

impl<J> fmt::Debug for Uring<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uring")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<J: Send + 'static> Uring<J> {
    /// Takes a slot for one more job in the completion queue, as the exhaustion policy says.
    fn reserve(&self) -> bool {
        let give_up = match self.on_exhausted {
            OnExhausted::Fail => Some(Instant::now()),
            OnExhausted::Wait(timeout) => Some(Instant::now() + timeout),
            OnExhausted::Grow => None,
        };
        loop {
            if self.in_flight.fetch_add(1, Ordering::AcqRel) < self.capacity {
                return true;
            }
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            if give_up.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Reaps up to `max` completions into `out`.
    fn reap(&self, out: &mut Vec<J>, max: usize) -> usize {
        let _reaping = self.reaping.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: `reaping` is held, so this is the only `CompletionQueue` of the ring.
        let mut completions = unsafe { self.ring.completion_shared() };
        completions.sync();
        let mut taken = 0;
        for completion in completions.by_ref().take(max) {
            // SAFETY: module invariant: `user_data` came from `Box::into_raw` in `push`, and this completion is
            // reaped once, here.
            let job = unsafe { Box::from_raw(completion.user_data() as *mut J) };
            out.push(*job);
            taken += 1;
        }
        completions.sync();
        self.in_flight.fetch_sub(taken, Ordering::AcqRel);
        taken
    }
}

impl<J: Send + 'static> Backend<J> for Uring<J> {
    const NAME: &'static str = "io_uring";
    type Local<'a> = ();

    fn build(config: &BackendConfig) -> Result<Self, ConfigError> {
        let ring = IoUring::new(SUBMISSION_ENTRIES)
            .map_err(|error| ConfigError::new("backend", format!("io_uring is unavailable here: {error}")))?;
        let capacity = ring.params().cq_entries() as usize;
        Ok(Uring {
            ring,
            submitting: Mutex::new(()),
            reaping: Mutex::new(()),
            in_flight: AtomicUsize::new(0),
            capacity,
            on_exhausted: config.on_exhausted,
            _jobs: PhantomData,
        })
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        if !self.reserve() {
            return Err(Refused { kind: RefusalKind::Exhausted, job });
        }
        let pointer = Box::into_raw(Box::new(job));
        let entry = opcode::Nop::new().build().user_data(pointer as u64);
        let _submitting = self.submitting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: `submitting` is held, so this is the only `SubmissionQueue` of the ring.
        let mut submissions = unsafe { self.ring.submission_shared() };
        // SAFETY: a no-op reads no buffer; its `user_data` is a pointer the ring only carries (module invariant).
        // Every push submits before releasing the lock, so the queue is empty here and the push cannot fail.
        unsafe { submissions.push(&entry) }.expect("the submission queue is emptied by every push");
        submissions.sync();
        drop(submissions);
        // Transient refusals (interrupted, or the kernel short of resources) are retried: the entry is already in
        // the ring, so giving up would strand the job. Any other error means the ring broke after `build`
        // accepted it, which this backend cannot recover from.
        loop {
            match self.ring.submitter().submit() {
                Ok(_) => return Ok(()),
                Err(error)
                    if matches!(
                        error.raw_os_error(),
                        Some(libc_errno::EINTR | libc_errno::EAGAIN | libc_errno::EBUSY)
                    ) =>
                {
                    std::thread::yield_now();
                }
                Err(error) => panic!("io_uring_enter failed after the ring was set up: {error}"),
            }
        }
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.reap(out, max)
    }
}

impl<J> Drop for Uring<J> {
    fn drop(&mut self) {
        // Drop the jobs still in the ring. The no-ops complete during `submit`, so every pushed job is in the
        // completion queue by now.
        // SAFETY: `&mut self`: no other queue of this ring exists.
        let completions = unsafe { self.ring.completion_shared() };
        for completion in completions {
            // SAFETY: module invariant; reaped once, here.
            drop(unsafe { Box::from_raw(completion.user_data() as *mut J) });
        }
    }
}
