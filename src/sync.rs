//! The synchronisation facade: with its [`model`](fn@model) runner, the only module that knows about loom and
//! shuttle.
//!
//! Every atomic, lock, thread and shared cell that a model checker must see is taken from here. Three builds:
//!
//! | build                | primitives                                    |
//! |----------------------|-----------------------------------------------|
//! | default              | `std`                                         |
//! | `--features loom`    | `loom` (exhaustive within a preemption bound) |
//! | `--features shuttle` | `shuttle` (randomised / PCT schedulers)       |
//!
//! `build.rs` sets `cfg(segpool_std)` in the default build; the rest of the crate writes `#[cfg(segpool_std)]` for
//! what only that build has (the reference strategies, the kernel backends, CPU pinning) instead of naming the
//! checkers' features. A test runs its scenario under the build's checker through [`model`](fn@model) (and, under
//! loom, `model_with_bound`; under shuttle, `model_with_iterations`), which live in `sync/model.rs` with shuttle's
//! schedule recorder: this file holds the primitives only.
//!
//! [`UnsafeCell`] has loom's closure-shaped API (`with`, `with_mut`) in every build, so loom can track each access
//! to a slot and report a data race; in the std and shuttle builds it compiles down to `core::cell::UnsafeCell`.
//!
//! [`light_fence`] and [`heavy_fence`] are an asymmetric pair (`sync/asymmetric.rs`): a compiler fence against a
//! `membarrier` system call on Linux, two `SeqCst` fences under the checkers and elsewhere.
//!
//! [`unmodelled`] holds the few atomics that deliberately stay invisible to the checkers (statistics counters and
//! the write-once segment directory); each use explains why hiding it loses nothing.

#[cfg(all(feature = "loom", feature = "shuttle"))]
compile_error!("the `loom` and `shuttle` features are mutually exclusive: enable at most one model checker");

mod asymmetric;
mod model;

pub use asymmetric::{heavy_fence, light_fence, prepare_asymmetric_fences};
pub use model::model;
#[cfg(feature = "shuttle")]
pub use model::{DEFAULT_ITERATIONS, model_with_iterations};
#[cfg(feature = "loom")]
pub use model::{DEFAULT_PREEMPTION_BOUND, model_with_bound};

#[cfg(feature = "loom")]
mod imp {
    pub use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
    pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub use loom::thread;

    /// A loom-tracked cell: loom checks that no two threads touch it concurrently unless one happens-before the other.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// A cell holding `value`.
        pub fn new(value: T) -> Self {
            Self(loom::cell::UnsafeCell::new(value))
        }
        /// Runs `f` with a shared pointer to the contents; loom records a read.
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            self.0.with(f)
        }
        /// Runs `f` with a unique pointer to the contents; loom records a write.
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.0.with_mut(f)
        }
    }

    /// Spin-wait hint. Under loom it yields, so that a spinning thread lets the others run (otherwise loom would
    /// report an exceeded branch limit instead of exploring).
    pub fn spin_hint() {
        loom::thread::yield_now();
    }
}

#[cfg(feature = "shuttle")]
mod imp {
    pub use shuttle::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
    pub use shuttle::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub use shuttle::thread;

    pub use super::plain_cell::UnsafeCell;

    /// Spin-wait hint. Under shuttle it yields so the scheduler can run another task.
    pub fn spin_hint() {
        shuttle::thread::yield_now();
    }
}

#[cfg(segpool_std)]
mod imp {
    pub use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
    pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub use std::thread;

    pub use super::plain_cell::UnsafeCell;

    /// Spin-wait hint: a CPU pause instruction.
    pub fn spin_hint() {
        std::hint::spin_loop();
    }
}

/// `core::cell::UnsafeCell` behind loom's closure-shaped API (used by the std and shuttle builds).
#[cfg(not(feature = "loom"))]
mod plain_cell {
    /// A shared cell whose accesses go through closures, as with loom's tracked cell.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// A cell holding `value`.
        pub fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }
        /// Runs `f` with a shared pointer to the contents.
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        /// Runs `f` with a unique pointer to the contents.
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

pub use imp::*;

/// Atomics that the model checkers deliberately do not see.
///
/// Only two kinds of state live here, and neither carries synchronisation the checkers need to explore:
/// statistics counters (updated `Relaxed`, read after the threads that wrote them were joined) and the write-once
/// slots of the segment directory (every segment index a thread can hold was learned through a facade atomic whose
/// `Release`/`Acquire` pair happens after the slot was written). Keeping them out of loom's view keeps the models
/// small enough to explore exhaustively.
pub mod unmodelled {
    pub use std::sync::atomic::{AtomicPtr, AtomicU64};
}
