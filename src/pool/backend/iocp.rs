//! [`Iocp`]: a backend whose queue is a Windows I/O completion port, with no file attached to it.
//!
//! ## Design
//!
//! - **The port is the queue.** [`Backend::push`] boxes the job and posts it with `PostQueuedCompletionStatus`;
//!   the job's pointer travels in the packet's `lpOverlapped` field (it never points at an `OVERLAPPED`: nothing is
//!   read through it but our own `Box<J>`), and a *command code* travels in the byte count
//!   (`dwNumberOfBytesTransferred`). The completion key is always 0.
//! - **Command codes.** `1` = run the job the pointer carries. `2` = retire a worker (no pointer) is reserved: the
//!   pool retires workers itself today, so nothing posts it, and receiving it is a bug. Any other code is a bug too.
//! - **Batches.** [`Backend::pop_batch`] removes up to 64 packets with one `GetQueuedCompletionStatusEx` call with
//!   a timeout of 0: it never blocks (idle workers park on the pool's condition variable, not on the port), and an
//!   empty port fails with `WAIT_TIMEOUT`, which is reported as 0 jobs. Packets come out in the order they were
//!   posted.
//! - **One allocation per job.** A packet carries a pointer-sized value, not the job, so every push allocates a
//!   `Box<J>` and every pop frees one. Unbounded: the pool's `segment_size`, `segment_count` and `on_exhausted` do
//!   not apply; a push is refused (as [`RefusalKind::Exhausted`]) only when the kernel cannot queue the packet.
//! - **Drop** drains the port with the same non-blocking call and drops every job still in it, then closes the
//!   handle. (Closing a port frees its packets but knows nothing of our boxes: they would leak.)
//!
//! ## The port's concurrency value: never throttle
//!
//! The port is created with `NumberOfConcurrentThreads` = `u32::MAX` (DWORD's maximum), so that Windows never
//! throttles it; [`Iocp::concurrent_threads`] returns that value. The default, 0, means "the number of
//! processors", and is wrong for this pool:
//!
//! - **What the limit does.** A thread that calls `GetQueuedCompletionStatus(Ex)` on a port becomes associated
//!   with it and counts as *active* from then on (also after a call that timed out) until it blocks on any wait;
//!   being preempted does not count as blocking. While the active threads other than the caller are at the limit,
//!   Windows hands out no packet: with a timeout of 0 the call fails with `WAIT_TIMEOUT` although packets are
//!   queued. The limit is made for threads that *block in* the port: when an active thread blocks, the kernel
//!   wakes one of them.
//! - **Why that breaks the pool.** Our workers never block in the port (they park on the pool's condition
//!   variable), so nothing wakes a worker a false "empty" put to sleep, and the pool's wake-up protocol reads an
//!   empty second look as "no job was pushed before the submitter's fence" (see `src/pool/wake.rs`). Two
//!   workers on a one-processor machine (limit 1) can each see the other active (one still running its job, the
//!   other between its false "empty" and its sleep), and both sleep over a job submitted while both were busy.
//!   That is more than latency: the job waits for the next submit, and a drain that starts meanwhile finds every
//!   worker asleep and ends over it, so `shutdown(None)` hands back (and dropping the pool drops) a job it
//!   accepted. The same holds with more processors once the pool has more workers than the limit.
//! - **Why no other value.** The pool sizes itself (`workers`, `add_workers`, `retire_workers`), so there is
//!   nothing left for the port to limit; a limit equal to the worker count would have to follow `add_workers`,
//!   and a port's value is fixed when it is created. No more threads than `u32::MAX` can exist, so with it a
//!   `WAIT_TIMEOUT` means empty. Go's runtime creates its network poller's port the same way (`_DWORD_MAX`),
//!   since its own scheduler decides how many threads run.
//!
//! ## Under Wine
//!
//! Wine's completion ports live in `wineserver`: every post, and every *packet* a `GetQueuedCompletionStatusEx`
//! removes (Wine removes them one server request at a time, so a batch is not one kernel transition there and
//! another consumer's removals may interleave with it), is a round trip over a socket to that single-threaded
//! process. Wine also ignores the concurrency value (a FIXME in its `server/completion.c`). Timings measured
//! under Wine therefore describe Wine's wineserver, not Windows, and a test run under Wine cannot tell
//! `u32::MAX` from 0 (the test `running_consumers_do_not_throttle_the_port` can, on Windows).

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ptr;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE, WAIT_TIMEOUT};
use windows_sys::Win32::System::IO::{
    CreateIoCompletionPort, GetQueuedCompletionStatusEx, OVERLAPPED, OVERLAPPED_ENTRY, PostQueuedCompletionStatus,
};

use super::{Backend, BackendKind, RefusalKind, Refused};
use crate::{Config, ConfigError};

/// Command code (in the packet's byte count): run the `Box<J>` the packet's `lpOverlapped` carries.
const RUN: u32 = 1;
/// Command code, reserved: retire the worker that receives it (no job). Nothing posts it yet.
const RETIRE: u32 = 2;

/// Packets removed per `GetQueuedCompletionStatusEx` call at most (the size of the stack buffer).
const MAX_BATCH: usize = 64;

/// `NumberOfConcurrentThreads` for `CreateIoCompletionPort`: more than can ever be active, so the port never
/// throttles (module docs: the default, 0, can strand a job).
const CONCURRENT_THREADS: u32 = u32::MAX;

/// A zeroed entry, to fill the buffer `GetQueuedCompletionStatusEx` writes into.
const EMPTY_ENTRY: OVERLAPPED_ENTRY =
    OVERLAPPED_ENTRY { lpCompletionKey: 0, lpOverlapped: ptr::null_mut(), Internal: 0, dwNumberOfBytesTransferred: 0 };

/// A Windows I/O completion port as the pool's queue: unbounded, one `Box` per job (see the module docs).
pub struct Iocp<J = ()> {
    /// The completion port; owned, closed in Drop.
    port: HANDLE,
    /// What `CreateIoCompletionPort` was asked for.
    concurrent_threads: u32,
    /// The port owns the jobs it holds (as `Box<J>` pointers), and Drop drops them.
    _jobs: PhantomData<Box<J>>,
}

// SAFETY: a completion port handle is a kernel object handle, usable from any thread of the process, and every
// operation on it (post, remove, close) is thread-safe in the kernel. The port holds `Box<J>`s, which other threads
// take out, so sending or sharing an `Iocp<J>` moves `J`s between threads: that needs `J: Send` and nothing more
// (no `&J` is ever shared), as for a channel.
unsafe impl<J: Send> Send for Iocp<J> {}
// SAFETY: as for Send: `&Iocp<J>` only posts and removes whole jobs through the thread-safe port.
unsafe impl<J: Send> Sync for Iocp<J> {}

impl<J> Iocp<J> {
    /// The `NumberOfConcurrentThreads` the port was created with: `u32::MAX`, so that Windows never withholds a
    /// queued packet from a worker (see the module docs for why not 0, the number of processors).
    pub fn concurrent_threads(&self) -> u32 {
        self.concurrent_threads
    }

    /// Removes up to `max` (at most 64) packets without blocking and passes each job to `sink`, oldest first.
    /// Returns how many; 0 when the port looked empty.
    fn remove(&self, max: usize, mut sink: impl FnMut(J)) -> usize {
        let count = max.min(MAX_BATCH);
        if count == 0 {
            return 0;
        }
        let mut entries = [EMPTY_ENTRY; MAX_BATCH];
        let mut removed: u32 = 0;
        // SAFETY: `self.port` is a live completion port (closed only in Drop, which has `&mut self`); `entries`
        // has room for `count` <= 64 entries and `removed` is a valid out-pointer, both live for the call. A timeout
        // of 0 and not alertable: the call neither blocks nor runs APCs.
        let ok =
            unsafe { GetQueuedCompletionStatusEx(self.port, entries.as_mut_ptr(), count as u32, &mut removed, 0, 0) };
        if ok == 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(WAIT_TIMEOUT as i32) {
                return 0; // empty: the port never throttles (module docs)
            }
            // Only a closed or invalid handle fails otherwise, which `&self` rules out.
            panic!("GetQueuedCompletionStatusEx on the pool's completion port failed: {error}");
        }
        let removed = (removed as usize).min(count);
        for entry in &entries[..removed] {
            match entry.dwNumberOfBytesTransferred {
                RUN => {
                    // SAFETY: only `push` posts to this port (the handle never leaves this type), and it posts
                    // RUN packets with a pointer from `Box::into_raw(Box<J>)`. The kernel hands each packet out
                    // exactly once, so this is the only `from_raw` of that pointer. Posting and removing a packet
                    // synchronise through the port (one lock in the kernel, or in wineserver), so the pusher's
                    // write of the job happens before this read of it.
                    let job = unsafe { Box::from_raw(entry.lpOverlapped.cast::<J>()) };
                    sink(*job);
                }
                RETIRE => unreachable!("the retire command is reserved and never posted"),
                other => unreachable!("unknown command {other} on the pool's completion port"),
            }
        }
        removed
    }
}

impl<J> fmt::Debug for Iocp<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iocp")
            .field("port", &self.port)
            .field("concurrent_threads", &self.concurrent_threads)
            .finish_non_exhaustive()
    }
}

impl<X: 'static> BackendKind for Iocp<X> {
    type Of<T: Send + 'static> = Iocp<T>;
}

impl<J: Send + 'static> Backend<J> for Iocp<J> {
    const NAME: &'static str = "iocp";
    type Local<'a> = ();

    /// Creates the port. `config` does not apply: the port is unbounded.
    fn build(_config: &Config) -> Result<Self, ConfigError> {
        // SAFETY: with INVALID_HANDLE_VALUE as the file and a null existing port, the call only creates a new port
        // (no file is associated, the key is ignored); it reads no memory of ours.
        let port = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, ptr::null_mut(), 0, CONCURRENT_THREADS) };
        if port.is_null() {
            let error = io::Error::last_os_error();
            return Err(ConfigError::new("backend", format!("CreateIoCompletionPort failed: {error}")));
        }
        Ok(Iocp { port, concurrent_threads: CONCURRENT_THREADS, _jobs: PhantomData })
    }

    fn local(&self) {}

    /// Boxes `job` and posts it (module docs). Refused only if the kernel cannot queue the packet.
    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        let job = Box::into_raw(Box::new(job));
        // SAFETY: `self.port` is a live completion port (closed only in Drop). The kernel stores the pointer and
        // never dereferences it: a posted packet's `lpOverlapped` is an opaque value handed back to the remover.
        let ok = unsafe { PostQueuedCompletionStatus(self.port, RUN, 0, job.cast::<OVERLAPPED>()) };
        if ok == 0 {
            // SAFETY: the post failed, so the port does not hold the pointer: it is still ours alone, from
            // `Box::into_raw` just above.
            let job = unsafe { Box::from_raw(job) };
            return Err(Refused { kind: RefusalKind::Exhausted, job: *job });
        }
        Ok(())
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        self.remove(max, |job| out.push(job))
    }
}

impl<J> Drop for Iocp<J> {
    fn drop(&mut self) {
        // Drop every job still queued: closing the port would free the packets but leak the boxes. (If a job's
        // destructor panics, the rest of its batch, the packets still queued and the handle leak: safe, and not
        // worth a guard for a destructor that panics inside a drop.)
        while self.remove(MAX_BATCH, drop) > 0 {}
        // SAFETY: `self.port` came from CreateIoCompletionPort in `build`, is owned by this value and closed only
        // here, once.
        let closed = unsafe { CloseHandle(self.port) };
        debug_assert!(closed != 0, "CloseHandle on the pool's completion port failed: {}", io::Error::last_os_error());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn port<J: Send + 'static>() -> Iocp<J> {
        Iocp::build(&Config::default()).expect("CreateIoCompletionPort")
    }

    #[test]
    fn fifo_in_batches_of_at_most_64() {
        let iocp = port::<u32>();
        assert_eq!(iocp.concurrent_threads(), u32::MAX, "never throttles (module docs)");
        for job in 0..200 {
            iocp.push(&mut (), job).unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(iocp.pop_batch(&mut (), &mut out, 0), 0);
        assert_eq!(iocp.pop_batch(&mut (), &mut out, 3), 3);
        assert_eq!(iocp.pop_batch(&mut (), &mut out, usize::MAX), 64);
        while iocp.pop_batch(&mut (), &mut out, usize::MAX) > 0 {}
        assert_eq!(out, (0..200).collect::<Vec<_>>());
        assert_eq!(iocp.pop_batch(&mut (), &mut out, 8), 0, "empty: WAIT_TIMEOUT is 0 jobs");
    }

    /// Threads that took a job from the port and keep running (never blocking, as a worker running a job) do not
    /// keep another thread from taking the next one. With `NumberOfConcurrentThreads` = 0 this fails on Windows:
    /// the `holders` threads fill the limit (one per processor) and the last pop gets `WAIT_TIMEOUT` although a
    /// job is queued (module docs). Wine ignores the value, so under Wine it passes either way.
    #[test]
    fn running_consumers_do_not_throttle_the_port() {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant};

        let iocp = port::<usize>();
        let holders = std::thread::available_parallelism().map_or(1, |n| n.get());
        for job in 0..=holders {
            iocp.push(&mut (), job).unwrap();
        }
        let holding = AtomicUsize::new(0);
        let release = AtomicBool::new(false);
        // Generous: a holder only has to be scheduled once. Past it, the test fails rather than hangs.
        let deadline = Instant::now() + Duration::from_secs(20);
        let last = std::thread::scope(|scope| {
            for _ in 0..holders {
                scope.spawn(|| {
                    let mut out = Vec::with_capacity(1);
                    while iocp.pop_batch(&mut (), &mut out, 1) == 0 {
                        if Instant::now() > deadline {
                            return;
                        }
                        std::thread::yield_now();
                    }
                    holding.fetch_add(1, Ordering::SeqCst);
                    // Stay active on the port: spinning and yielding are not waits, so Windows keeps counting
                    // this thread against the limit until it returns.
                    while !release.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                        std::thread::yield_now();
                    }
                });
            }
            while holding.load(Ordering::SeqCst) < holders && Instant::now() < deadline {
                std::thread::yield_now();
            }
            let held = holding.load(Ordering::SeqCst);
            let mut out = Vec::new();
            let popped = iocp.pop_batch(&mut (), &mut out, 1);
            release.store(true, Ordering::Release);
            (held, popped)
        });
        assert_eq!(last, (holders, 1), "(threads holding a job, jobs the next pop got) with {holders} holders");
    }

    #[test]
    fn zero_sized_jobs() {
        let iocp = port::<()>();
        iocp.push(&mut (), ()).unwrap();
        iocp.push(&mut (), ()).unwrap();
        let mut out = Vec::new();
        assert_eq!(iocp.pop_batch(&mut (), &mut out, 64), 2);
    }

    #[test]
    fn drop_drops_queued_jobs() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let iocp = port::<Counted>();
        for _ in 0..150 {
            iocp.push(&mut (), Counted(dropped.clone())).unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(iocp.pop_batch(&mut (), &mut out, 10), 10);
        drop(out);
        assert_eq!(dropped.load(Ordering::Relaxed), 10);
        drop(iocp);
        assert_eq!(dropped.load(Ordering::Relaxed), 150);
    }

    #[test]
    fn many_producers_and_consumers() {
        let iocp = port::<u64>();
        let taken = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for producer in 0..4u64 {
                let iocp = &iocp;
                scope.spawn(move || {
                    for i in 0..5_000 {
                        iocp.push(&mut (), producer * 5_000 + i).unwrap();
                    }
                });
            }
            for _ in 0..4 {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    let mut idle = 0;
                    while idle < 1_000 {
                        if iocp.pop_batch(&mut (), &mut out, 16) == 0 {
                            idle += 1;
                            std::thread::yield_now();
                        }
                    }
                    taken.lock().unwrap().extend(out);
                });
            }
        });
        let mut out = taken.into_inner().unwrap();
        while iocp.pop_batch(&mut (), &mut out, 64) > 0 {}
        out.sort_unstable();
        assert_eq!(out, (0..20_000).collect::<Vec<_>>());
    }
}
