//! The multi-producer, multi-consumer stress run that the queue tests share ([`Stress`]).
//!
//! Producers push values encoding `(producer, seq)` ([`encode`]); a refused push (`Fail`, or `Wait` timing out)
//! must hand back the value it was given, with the error kind of the policy, and the producer yields and retries
//! with it. Consumers mix `pop` and `pop_batch` until every value is received. Checked: every value received
//! exactly once, each consumer sees each producer's values in increasing `seq`, `pop_batch` never returns more than
//! `max` or more than one segment holds, no stale views, and the statistics agree with the policy (only `Grow`
//! allocates, refusals are counted as failed pushes or wait timeouts). A watchdog fails a run that makes no
//! progress.

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use segpool::{Config, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue};

use super::values::{decode, encode};
use super::watchdog::WATCHDOG;

/// One run: its queue configuration, its threads and their values, and the options the tests add.
#[derive(Clone, Debug)]
pub struct Stress {
    config: Config,
    producers: u64,
    consumers: usize,
    per_producer: u64,
    /// Producers stay at most this many values ahead of the consumers.
    backlog: Option<u64>,
    /// A consumer calls `pop` in every `pop_every`-th round, `pop_batch` in the others.
    pop_every: usize,
    watchdog: Duration,
    wedge_watchdog: Option<Duration>,
    nothing_pending_after: bool,
}

/// What a run leaves: the queue (every handle gone), the number of refused pushes, and the statistics at the end.
pub struct StressRun<R: Reclaim> {
    pub queue: Arc<SegQueue<u64, R>>,
    pub refusals: u64,
    pub stats: QueueStats,
}

impl Stress {
    /// `producers` producers push `per_producer` values each into a queue built with `config` (checked by
    /// `with_config`); two consumers, `pop` every other round, a watchdog of [`WATCHDOG`] (ten times that under
    /// Miri), no throttle, no check of what stays pending.
    pub fn new(config: Config, producers: u64, per_producer: u64) -> Self {
        Stress {
            config,
            producers,
            consumers: 2,
            per_producer,
            backlog: None,
            pop_every: 2,
            watchdog: if cfg!(miri) { 10 * WATCHDOG } else { WATCHDOG },
            wedge_watchdog: None,
            nothing_pending_after: false,
        }
    }

    pub fn consumers(mut self, consumers: usize) -> Self {
        self.consumers = consumers;
        self
    }

    /// Producers wait while they are more than `backlog` values ahead of the consumers. Without it, under `Grow`
    /// the producers can finish before the consumers start (the queue then just grows to hold everything), and no
    /// segment retired by a consumer is ever needed again.
    pub fn throttle(mut self, backlog: u64) -> Self {
        self.backlog = Some(backlog);
        self
    }

    /// Consumers call `pop` in every `n`-th round and `pop_batch` (of 1 to `2 * segment_size` values, so that more
    /// than one segment could hold them) in the others.
    pub fn pop_every(mut self, n: usize) -> Self {
        self.pop_every = n;
        self
    }

    /// The run fails when nothing is pushed or popped for `limit`.
    pub fn watchdog(mut self, limit: Duration) -> Self {
        self.watchdog = limit;
        self
    }

    /// ... or for `limit` while the statistics show that no segment can ever become free again (see [`wedged`]).
    pub fn wedge_watchdog(mut self, limit: Duration) -> Self {
        self.wedge_watchdog = Some(limit);
        self
    }

    /// After the run, with every handle gone, one more registration (nobody is active any more) must leave
    /// nothing pending: for the strategies that reclaim everything once no handle protects or pins anything.
    pub fn expect_nothing_pending(mut self) -> Self {
        self.nothing_pending_after = true;
        self
    }

    /// Runs the threads and checks everything the module docs list; panics on the first violation.
    pub fn run<R: Reclaim>(&self) -> StressRun<R> {
        let started = Instant::now();
        let q: Arc<SegQueue<u64, R>> = Arc::new(SegQueue::with_config(self.config.clone()).expect("valid config"));
        let total = self.producers * self.per_producer;
        let shared = Arc::new(Shared::default());
        // The main thread waits too, so that the watchdog's clock starts with the threads.
        let start = Arc::new(Barrier::new(self.producers as usize + self.consumers + 1));

        let producers: Vec<_> = (0..self.producers)
            .map(|p| {
                let (run, q, shared, start) = (self.clone(), q.clone(), shared.clone(), start.clone());
                thread::spawn(move || {
                    let _abort = AbortOnPanic(&shared.abort);
                    let mut h = q.handle();
                    start.wait();
                    run.produce(p, &mut h, &shared)
                })
            })
            .collect();
        let consumers: Vec<_> = (0..self.consumers)
            .map(|c| {
                let (run, q, shared, start) = (self.clone(), q.clone(), shared.clone(), start.clone());
                thread::spawn(move || {
                    let _abort = AbortOnPanic(&shared.abort);
                    let mut h = q.handle();
                    start.wait();
                    run.consume(c, &mut h, &shared)
                })
            })
            .collect();

        start.wait();
        self.watch(&q, &shared, || {
            producers.iter().all(|t| t.is_finished()) && consumers.iter().all(|t| t.is_finished())
        });
        let refusals: u64 = producers.into_iter().map(join).sum();
        let got: Vec<Vec<u64>> = consumers.into_iter().map(join).collect();

        let mut seen = vec![false; total as usize];
        for value in got.into_iter().flatten() {
            let (p, seq) = decode(value);
            let slot = &mut seen[(p * self.per_producer + seq) as usize];
            assert!(!*slot, "value (producer {p}, seq {seq}) received twice");
            *slot = true;
        }
        if let Some(missing) = seen.iter().position(|&s| !s) {
            let missing = missing as u64;
            panic!(
                "value (producer {}, seq {}) never received",
                missing / self.per_producer,
                missing % self.per_producer
            );
        }
        assert!(q.is_empty(), "everything was received, so the queue is empty");
        assert_eq!(q.pop(), None);
        let stats = q.stats();
        println!("{} {self:?}: {refusals} refusals in {:?}, {stats:?}", R::NAME, started.elapsed());
        self.check_stats(&stats, refusals);
        if self.nothing_pending_after {
            // Every handle is gone. Unregistering scanned or stepped, but a handle may have left while another was
            // still active; one more registration frees whatever orphans are left.
            drop(q.handle());
            let after = q.stats();
            assert_eq!(after.retired_pending, 0, "nothing is protected or pinned any more: {after:?}");
        }
        StressRun { queue: q, refusals, stats }
    }

    /// One producer's pushes; returns its refusals.
    fn produce<R: Reclaim>(&self, p: u64, h: &mut segpool::Handle<'_, u64, R>, shared: &Shared) -> u64 {
        let mut refusals = 0u64;
        for seq in 0..self.per_producer {
            if let Some(backlog) = self.backlog {
                while shared.pushed.load(Ordering::Relaxed) > shared.received.load(Ordering::Relaxed) + backlog {
                    if shared.abort.load(Ordering::Relaxed) {
                        return refusals;
                    }
                    thread::yield_now();
                }
            }
            let mut value = encode(p, seq);
            while let Err(refused) = h.push(value) {
                let expected_kind = match self.config.on_exhausted {
                    OnExhausted::Fail => PushErrorKind::Exhausted,
                    OnExhausted::Wait(_) => PushErrorKind::TimedOut,
                    OnExhausted::Grow => panic!("a push under Grow was refused ({:?})", refused.kind()),
                };
                assert_eq!(refused.kind(), expected_kind);
                value = refused.into_inner();
                assert_eq!(value, encode(p, seq), "a refused push must hand its own value back");
                refusals += 1;
                if shared.abort.load(Ordering::Relaxed) {
                    return refusals;
                }
                thread::yield_now();
            }
            shared.pushed.fetch_add(1, Ordering::Relaxed);
            shared.progress.fetch_add(1, Ordering::Relaxed);
        }
        refusals
    }

    /// One consumer's pops until every value was received; returns what it received, in order.
    fn consume<R: Reclaim>(&self, c: usize, h: &mut segpool::Handle<'_, u64, R>, shared: &Shared) -> Vec<u64> {
        let total = self.producers * self.per_producer;
        let segment_size = self.config.segment_size;
        let mut got = Vec::with_capacity(total as usize);
        let mut next_seq = vec![0u64; self.producers as usize];
        let mut batch = Vec::new();
        let mut round = c; // the consumers start out of phase
        while shared.received.load(Ordering::Relaxed) < total && !shared.abort.load(Ordering::Relaxed) {
            round += 1;
            batch.clear();
            let n = if round.is_multiple_of(self.pop_every) {
                usize::from(h.pop().map(|value| batch.push(value)).is_some())
            } else {
                // 1..=2*segment_size: sometimes more than one segment could hold.
                let max = 1 + round % (2 * segment_size);
                let n = h.pop_batch(&mut batch, max);
                assert!(n <= max, "pop_batch({max}) returned {n}");
                assert!(n <= segment_size, "pop_batch took {n} values, more than one segment holds");
                n
            };
            assert_eq!(n, batch.len(), "the count returned must be the number of values appended");
            if n == 0 {
                thread::yield_now();
                continue;
            }
            for &value in &batch {
                let (p, seq) = decode(value);
                assert!(p < self.producers && seq < self.per_producer, "value {value:#x} was never pushed");
                let next = &mut next_seq[p as usize];
                assert!(seq >= *next, "consumer {c}: producer {p}'s seq {seq} arrived after seq {}", *next - 1);
                *next = seq + 1;
            }
            got.extend_from_slice(&batch);
            shared.received.fetch_add(n as u64, Ordering::Relaxed);
            shared.progress.fetch_add(n as u64, Ordering::Relaxed);
        }
        got
    }

    /// Waits until `finished()`, failing instead of hanging when nothing is pushed or popped for too long.
    fn watch<R: Reclaim>(&self, q: &SegQueue<u64, R>, shared: &Shared, finished: impl Fn() -> bool) {
        let mut last = (shared.progress.load(Ordering::Relaxed), Instant::now());
        while !finished() {
            thread::sleep(Duration::from_millis(5));
            let now = shared.progress.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
                continue;
            }
            let stats = q.stats();
            let stalled = last.1.elapsed();
            let wedged = wedged(&self.config, &stats);
            if stalled > self.watchdog || (wedged && self.wedge_watchdog.is_some_and(|limit| stalled > limit)) {
                shared.abort.store(true, Ordering::Relaxed);
                let diagnosis = if wedged {
                    "the pool is wedged: every segment but the queue's last one is retired and pending, so no \
                     retirement (and no eviction) can happen again"
                } else {
                    "no diagnosis"
                };
                panic!(
                    "watchdog: no push or pop for {stalled:?} with {} in {self:?}; received {} of {}, len {}; \
                     {diagnosis}; {stats:?}",
                    R::NAME,
                    shared.received.load(Ordering::Relaxed),
                    self.producers * self.per_producer,
                    q.len(),
                );
            }
        }
    }

    /// The statistics at the end of a run agree with the policy and with the traffic.
    fn check_stats(&self, stats: &QueueStats, refusals: u64) {
        let segment_count = self.config.segment_count as u64;
        let total = self.producers * self.per_producer;
        assert_eq!(stats.stale_views, 0, "{self:?}: {stats:?}");
        match self.config.on_exhausted {
            OnExhausted::Grow => {
                assert_eq!((stats.failed_pushes, stats.waits, refusals), (0, 0, 0), "{stats:?}");
                assert_eq!(stats.segments_allocated, segment_count + stats.grown, "{stats:?}");
            }
            OnExhausted::Fail => {
                assert_eq!((stats.grown, stats.waits), (0, 0), "{stats:?}");
                assert_eq!(stats.failed_pushes, refusals, "{stats:?}");
                assert_eq!(stats.segments_allocated, segment_count, "only Grow allocates: {stats:?}");
            }
            OnExhausted::Wait(_) => {
                assert_eq!((stats.grown, stats.failed_pushes), (0, 0), "{stats:?}");
                assert_eq!(stats.wait_timeouts, refusals, "{stats:?}");
                assert!(stats.wait_timeouts <= stats.waits, "{stats:?}");
                assert_eq!(stats.segments_allocated, segment_count, "only Grow allocates: {stats:?}");
            }
        }
        assert!(stats.exhaustion_events >= stats.grown + stats.failed_pushes, "{stats:?}");
        // Every segment the values filled but the queue's last one was unlinked, and so retired.
        assert!(stats.segments_retired >= total / self.config.segment_size as u64 - 1, "{stats:?}");
        assert!(stats.retired_pending <= stats.segments_retired, "{stats:?}");
    }
}

/// Under a bounded policy, the pool holds nothing but the queue's one segment: every other segment is retired and
/// still waits for its strategy (Limbo: in the ring). Nothing can be retired any more (a retirement needs a second
/// segment in the queue), so if pushes are being refused, none will ever succeed again. (Limbo orphans are not
/// counted: they become reusable as soon as the threads referencing them leave their operations.)
pub fn wedged(config: &Config, stats: &QueueStats) -> bool {
    config.on_exhausted != OnExhausted::Grow && stats.segments_allocated <= stats.retired_pending + 1
}

/// Shared between the threads of one run.
#[derive(Default)]
struct Shared {
    pushed: AtomicU64,
    received: AtomicU64,
    /// Pushes and pops: what the watchdog watches.
    progress: AtomicU64,
    /// Set by the watchdog, or by a thread that panics: every thread stops.
    abort: AtomicBool,
}

/// Stops the other threads of the run when this one panics, so that the run fails with the panic at once rather
/// than with the watchdog later.
struct AbortOnPanic<'a>(&'a AtomicBool);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Joins a thread of the run, re-raising its panic.
fn join<T>(thread: thread::JoinHandle<T>) -> T {
    thread.join().unwrap_or_else(|payload| panic::resume_unwind(payload))
}
