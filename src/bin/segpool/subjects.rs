//! What is compared: the reclamation strategies behind the segmented queue, and the peers beside them.
//!
//! Every subject is a [`Kind`]: a family of [`Backend`]s, one per job type, so that one subject runs both the queue
//! workloads (values `u64`) and the pool workloads (the pool's `Envelope<u64>`) through the same generic code.

use std::marker::PhantomData;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use segpool::pool::{Backend, BackendKind, Envelope, MutexDeque, Refused, Segmented};
use segpool::{Config, ConfigError, QueueStats, Reclaim};

use crate::workloads::StallLength;

/// A family of backends, one per job type.
pub trait Kind {
    /// The backend for jobs of type `J`.
    type Of<J: Send + 'static>: Backend<J> + Inspect;
    /// The same family as a pool names it (its [`BackendKind`]), whose backend of the pool's envelopes is ours.
    type Pool: BackendKind<Of<Envelope<u64>> = Self::Of<Envelope<u64>>>;
}

/// Segment accounting, for the subjects that have segments.
pub trait Inspect {
    /// The queue's statistics; `None` for a peer without segments.
    fn segment_stats(&self) -> Option<QueueStats>;

    /// The `stall` workload's extra thread: waits on `barrier` twice (set up, go) like every thread of a run, and
    /// for a segmented queue stays inside an operation holding the head segment for `length` after the go (or
    /// until `release` is set, whichever comes first), then drops its handle: a thread that was preempted and
    /// then finished, rather than one that idles on (an idle Qsbr handle would go on blocking grace periods).
    fn stall_until(&self, barrier: &Barrier, release: &AtomicBool, length: StallLength) {
        let _ = (release, length);
        barrier.wait();
        barrier.wait();
    }
}

/// The segmented queue under strategy `R`.
pub struct SegmentedKind<R>(PhantomData<R>);

impl<R: Reclaim> Kind for SegmentedKind<R> {
    type Of<J: Send + 'static> = Segmented<R, J>;
    type Pool = Segmented<R>;
}

impl<R: Reclaim, J> Inspect for Segmented<R, J> {
    fn segment_stats(&self) -> Option<QueueStats> {
        Some(self.queue().stats())
    }

    fn stall_until(&self, barrier: &Barrier, release: &AtomicBool, length: StallLength) {
        let mut handle = self.queue().handle();
        let stall = handle.stall();
        barrier.wait();
        barrier.wait();
        let until = match length {
            StallLength::For(length) => Some(Instant::now() + length),
            StallLength::WholeRun => None,
        };
        while !release.load(Ordering::Acquire) {
            let left = until.map_or(Duration::from_millis(1), |until| until.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(1)));
        }
        drop(stall);
        drop(handle);
    }
}

/// Implements [`Kind`] and [`Inspect`] for a peer without segments.
macro_rules! peer_kind {
    ($kind:ident, $backend:ident) => {
        pub struct $kind;

        impl Kind for $kind {
            type Of<J: Send + 'static> = $backend<J>;
            type Pool = $backend;
        }

        impl<J> Inspect for $backend<J> {
            fn segment_stats(&self) -> Option<QueueStats> {
                None
            }
        }
    };
}

peer_kind!(MutexDequeKind, MutexDeque);
peer_kind!(CrossbeamSegQueueKind, CrossbeamSegQueue);
#[cfg(feature = "reference")]
use segpool::pool::CrossbeamChannel;
#[cfg(feature = "reference")]
peer_kind!(CrossbeamChannelKind, CrossbeamChannel);
#[cfg(all(target_os = "linux", feature = "uring"))]
use segpool::pool::Uring;
#[cfg(all(target_os = "linux", feature = "uring"))]
peer_kind!(UringKind, Uring);
#[cfg(all(windows, feature = "iocp"))]
use segpool::pool::Iocp;
#[cfg(all(windows, feature = "iocp"))]
peer_kind!(IocpKind, Iocp);

/// `crossbeam_queue::SegQueue` as a backend: the lock-free segmented queue most Rust code would use, the peer the
/// queue targets are stated against. Unbounded, it never refuses.
pub struct CrossbeamSegQueue<J = ()>(crossbeam_queue::SegQueue<J>);

impl<X: 'static> BackendKind for CrossbeamSegQueue<X> {
    type Of<T: Send + 'static> = CrossbeamSegQueue<T>;
}

impl<J: Send + 'static> Backend<J> for CrossbeamSegQueue<J> {
    const NAME: &'static str = "segqueue";
    type Local<'a> = ();

    fn build(_config: &Config) -> Result<Self, ConfigError> {
        Ok(CrossbeamSegQueue(crossbeam_queue::SegQueue::new()))
    }

    fn local(&self) {}

    fn push(&self, _local: &mut (), job: J) -> Result<(), Refused<J>> {
        self.0.push(job);
        Ok(())
    }

    fn pop_batch(&self, _local: &mut (), out: &mut Vec<J>, max: usize) -> usize {
        let before = out.len();
        out.extend(std::iter::from_fn(|| self.0.pop()).take(max));
        out.len() - before
    }
}

/// Where a subject runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Queue and pool workloads.
    Both,
    /// Queue workloads only (a queue, not a pool backend).
    QueueOnly,
    /// Pool workloads only (a completion port or ring: a pool backend, not a general queue).
    PoolOnly,
}

/// A subject of the comparison, as named on the command line and in the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Subject {
    /// wpool's limbo ring.
    Limbo,
    /// Our hazard pointers.
    Hazard,
    /// Our epochs.
    Epoch,
    /// Our hazard eras.
    HazardEras,
    /// Our interval-based reclamation (2GEIBR).
    Ibr,
    /// Our quiescent-state-based reclamation.
    Qsbr,
    /// Our Hyaline-1 (reference-counted batches).
    Hyaline,
    /// No reclamation: the baseline every ratio is taken against.
    Leak,
    /// The haphazard crate's hazard pointers (reference).
    Haphazard,
    /// The fast-smr crate's 2GEIBR (reference).
    FastSmr,
    /// The seize crate's Hyaline (reference).
    Seize,
    /// The crossbeam-epoch crate (reference).
    CrossbeamEpoch,
    /// `Mutex<VecDeque>`.
    MutexDeque,
    /// `crossbeam_queue::SegQueue` (queue workloads).
    Segqueue,
    /// An unbounded crossbeam channel.
    CrossbeamChannel,
    /// io_uring completion queue (Linux, pool workloads).
    #[value(name = "io_uring", alias = "uring")]
    IoUring,
    /// IOCP completion port (Windows, pool workloads).
    Iocp,
}

impl Subject {
    /// The name used in tables and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Limbo => "limbo",
            Subject::Hazard => "hazard",
            Subject::Epoch => "epoch",
            Subject::HazardEras => "hazard-eras",
            Subject::Ibr => "ibr",
            Subject::Qsbr => "qsbr",
            Subject::Hyaline => "hyaline",
            Subject::Leak => "leak",
            Subject::Haphazard => "haphazard",
            Subject::FastSmr => "fast-smr",
            Subject::Seize => "seize",
            Subject::CrossbeamEpoch => "crossbeam-epoch",
            Subject::MutexDeque => "mutex-deque",
            Subject::Segqueue => "segqueue",
            Subject::CrossbeamChannel => "crossbeam-channel",
            Subject::IoUring => "io_uring",
            Subject::Iocp => "iocp",
        }
    }

    /// True for the reclamation strategies behind the segmented queue; false for the peers.
    pub fn is_strategy(self) -> bool {
        self <= Subject::CrossbeamEpoch
    }

    /// Where it runs.
    pub fn scope(self) -> Scope {
        match self {
            Subject::Segqueue => Scope::QueueOnly,
            Subject::IoUring | Subject::Iocp => Scope::PoolOnly,
            _ => Scope::Both,
        }
    }

    /// Whether this build and this operating system have it.
    pub fn available(self) -> bool {
        match self {
            Subject::Haphazard
            | Subject::FastSmr
            | Subject::Seize
            | Subject::CrossbeamEpoch
            | Subject::CrossbeamChannel => {
                cfg!(feature = "reference")
            }
            Subject::IoUring => cfg!(all(target_os = "linux", feature = "uring")),
            Subject::Iocp => cfg!(all(windows, feature = "iocp")),
            _ => true,
        }
    }

    /// Every subject this build has, in table order.
    pub fn all_available() -> Vec<Subject> {
        Subject::value_variants().iter().copied().filter(|subject| subject.available()).collect()
    }
}

/// Code generic over a subject's [`Kind`].
pub trait Visitor {
    /// The visit's result.
    type Output;
    /// Runs with the subject's backend family.
    fn visit<K: Kind>(self, subject: Subject) -> Self::Output;
}

/// Calls `visitor` with the [`Kind`] of `subject`. `subject` must be [`Subject::available`].
pub fn dispatch<V: Visitor>(subject: Subject, visitor: V) -> V::Output {
    match subject {
        Subject::Limbo => visitor.visit::<SegmentedKind<segpool::Limbo>>(subject),
        Subject::Hazard => visitor.visit::<SegmentedKind<segpool::Hazard>>(subject),
        Subject::Epoch => visitor.visit::<SegmentedKind<segpool::Epoch>>(subject),
        Subject::HazardEras => visitor.visit::<SegmentedKind<segpool::HazardEras>>(subject),
        Subject::Ibr => visitor.visit::<SegmentedKind<segpool::Ibr>>(subject),
        Subject::Qsbr => visitor.visit::<SegmentedKind<segpool::Qsbr>>(subject),
        Subject::Hyaline => visitor.visit::<SegmentedKind<segpool::Hyaline>>(subject),
        Subject::Leak => visitor.visit::<SegmentedKind<segpool::Leak>>(subject),
        #[cfg(feature = "reference")]
        Subject::Haphazard => visitor.visit::<SegmentedKind<segpool::Haphazard>>(subject),
        #[cfg(feature = "reference")]
        Subject::FastSmr => visitor.visit::<SegmentedKind<segpool::FastSmr>>(subject),
        #[cfg(feature = "reference")]
        Subject::Seize => visitor.visit::<SegmentedKind<segpool::Seize>>(subject),
        #[cfg(feature = "reference")]
        Subject::CrossbeamEpoch => visitor.visit::<SegmentedKind<segpool::CrossbeamEpoch>>(subject),
        #[cfg(feature = "reference")]
        Subject::CrossbeamChannel => visitor.visit::<CrossbeamChannelKind>(subject),
        Subject::MutexDeque => visitor.visit::<MutexDequeKind>(subject),
        Subject::Segqueue => visitor.visit::<CrossbeamSegQueueKind>(subject),
        #[cfg(all(target_os = "linux", feature = "uring"))]
        Subject::IoUring => visitor.visit::<UringKind>(subject),
        #[cfg(all(windows, feature = "iocp"))]
        Subject::Iocp => visitor.visit::<IocpKind>(subject),
        #[allow(unreachable_patterns)] // reachable only in builds without some features
        _ => unreachable!("{subject:?} is not available in this build; the arguments filter it out"),
    }
}
