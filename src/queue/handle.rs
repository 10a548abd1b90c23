//! [`Handle`]: one thread's access to a [`SegQueue`], and [`Stall`], a handle stopped inside an operation.

use super::error::{PushError, PushErrorKind};
use super::{Blocked, SegQueue};
use crate::config::{OnExhausted, deadline_after};
use crate::reclaim::Reclaim;
use crate::sync::Ordering;

/// One thread's access to a [`SegQueue`]: it owns the thread's reclamation state, so operations through it skip
/// registration. Dropping it unregisters.
pub struct Handle<'q, T, R: Reclaim> {
    pub(super) queue: &'q SegQueue<T, R>,
    pub(super) local: R::Handle,
}

impl<'q, T, R: Reclaim> Handle<'q, T, R> {
    /// Pushes `value` at the tail. If a new segment is needed and none is free, `Config::on_exhausted` decides:
    /// grow, fail at once, or wait; a failed push hands `value` back in the error.
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let queue = self.queue;
        let mut spare = None;
        let mut value = value;
        let mut deadline = None;
        let outcome = loop {
            queue.reclaim.enter(&mut self.local);
            let attempt = queue.push_protected(&mut self.local, value, &mut spare);
            queue.reclaim.leave(&mut self.local, &queue.pool);
            match attempt {
                Ok(()) => break Ok(()),
                Err(Blocked::Exhausted(back)) => {
                    queue.counters.failed.fetch_add(1, Ordering::Relaxed);
                    break Err(PushError { value: back, kind: PushErrorKind::Exhausted });
                }
                Err(Blocked::MustWait(back)) => {
                    // Wait outside the operation: a waiting thread must not hold protections that would keep
                    // the very segments it waits for from being reclaimed. And it goes quiet, so it parks: Qsbr's
                    // record would otherwise hold every other handle's reclamation back for as long as it waits,
                    // and a per-handle retired list would keep what it holds from the other producers.
                    queue.reclaim.park(&mut self.local, &queue.pool);
                    let OnExhausted::Wait(timeout) = queue.config.on_exhausted else {
                        unreachable!("only OnExhausted::Wait asks to wait")
                    };
                    // `None` inside: the timeout is too long to be an `Instant`, so wait as long as it takes.
                    let until = *deadline.get_or_insert_with(|| deadline_after(timeout));
                    queue.counters.waited.fetch_add(1, Ordering::Relaxed);
                    match queue.pool.wait_take(until) {
                        Some(id) => {
                            spare = Some(id);
                            value = back;
                        }
                        None => {
                            queue.counters.wait_timeouts.fetch_add(1, Ordering::Relaxed);
                            break Err(PushError { value: back, kind: PushErrorKind::TimedOut });
                        }
                    }
                }
            }
        };
        if let Some(unused) = spare {
            queue.pool.push_free(unused); // never published, so it can go straight back
        }
        outcome
    }

    /// Pops the value at the head, or `None` if the queue is empty (or its next value is still being written).
    pub fn pop(&mut self) -> Option<T> {
        let mut popped = None;
        self.pop_run(1, &mut |value| popped = Some(value));
        popped
    }

    /// Tells the strategy that this thread is about to go quiet for a while (a pool worker about to sleep):
    /// retired segments only this handle would reclaim are handed where other handles reclaim them
    /// ([`Reclaim::park`]). The handle stays usable.
    pub fn park(&mut self) {
        self.queue.reclaim.park(&mut self.local, &self.queue.pool);
    }

    /// Declares that this thread holds nothing from the queue right now. A strategy built on quiescent states
    /// ([`Qsbr`](crate::Qsbr)) announces one ([`Reclaim::quiesce`]): a user who picked a long announcement period
    /// calls this between batches of operations. Every other strategy ignores it.
    pub fn quiesce(&mut self) {
        self.queue.reclaim.quiesce(&mut self.local, &self.queue.pool);
    }

    /// Pops one contiguous run of up to `max` published values, all from one segment (wpool's batch), appending
    /// them to `out` in FIFO order. Returns how many were appended; 0 if none was ready.
    pub fn pop_batch(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        if max == 0 {
            return 0;
        }
        // Reserve before claiming, so no allocation failure can strike between the claim and the reads.
        out.reserve(max.min(self.queue.config.segment_size));
        self.pop_run(max, &mut |value| out.push(value))
    }

    fn pop_run(&mut self, max: usize, sink: &mut impl FnMut(T)) -> usize {
        let queue = self.queue;
        queue.reclaim.enter(&mut self.local);
        let taken = queue.pop_protected(&mut self.local, max, sink);
        queue.reclaim.leave(&mut self.local, &queue.pool);
        taken
    }

    /// The queue this handle belongs to.
    pub fn queue(&self) -> &SegQueue<T, R> {
        self.queue
    }

    /// Enters an operation and protects the head segment, exactly as a consumer preempted in the middle of
    /// [`Self::pop`] would, and stays there until the returned guard is dropped. For experiments on robustness to
    /// stalled threads: meanwhile other handles keep working, and [`SegQueue::stats`] shows what the strategy
    /// cannot reclaim (`retired_pending`) because of the stall.
    pub fn stall(&mut self) -> Stall<'_, 'q, T, R> {
        let queue = self.queue;
        queue.reclaim.enter(&mut self.local);
        queue.protect(&mut self.local, &queue.head);
        Stall { handle: self }
    }
}

/// A handle stopped inside an operation; see [`Handle::stall`]. Dropping it ends the operation.
#[must_use = "the stall ends when the guard is dropped"]
pub struct Stall<'h, 'q, T, R: Reclaim> {
    handle: &'h mut Handle<'q, T, R>,
}

impl<T, R: Reclaim> Drop for Stall<'_, '_, T, R> {
    fn drop(&mut self) {
        let queue = self.handle.queue;
        queue.reclaim.leave(&mut self.handle.local, &queue.pool);
    }
}

impl<T, R: Reclaim> Drop for Handle<'_, T, R> {
    fn drop(&mut self) {
        self.queue.reclaim.unregister(&mut self.local, &self.queue.pool);
    }
}
