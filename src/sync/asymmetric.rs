//! Asymmetric fences: [`light_fence`] for a path taken at every operation, [`heavy_fence`] for a rare one, such
//! that a pair of them orders as two `SeqCst` fences would: of the two, one comes first, and the loads after the
//! second see the stores before the first.
//!
//! On Linux (std build) the heavy fence is the `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` system call, which
//! makes every thread of the process that is running at that moment execute a full memory barrier (an IPI), and
//! the light fence only stops the compiler from moving memory accesses across it. A thread that is not running
//! passed through the kernel's scheduler, which is a full barrier too. So a light fence either ran before the
//! heavy one's barrier reached its thread (its stores are then visible to every load after the heavy fence) or
//! after (its loads then see every store before the heavy fence): the same two cases as two `SeqCst` fences.
//! The process registers its intent once ([`prepare`], `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`, Linux 4.14);
//! if the kernel refuses it (older kernel, a seccomp filter) both fences are `fence(SeqCst)`, decided once, before
//! any pair of fences that relies on it (a pool calls `prepare` when it is built).
//!
//! Elsewhere (other systems, Miri, and under loom and shuttle, which cannot see the kernel) both are `fence(SeqCst)`:
//! the models check the protocol as if the light fence were a full fence, which is what the argument above makes
//! it.

#[cfg(all(segpool_std, target_os = "linux", not(miri)))]
mod imp {
    use std::sync::Once;
    use std::sync::atomic::{AtomicBool, Ordering, compiler_fence, fence};

    // From linux/membarrier.h (the libc crate's constants for it are not in every 0.2 release).
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    /// The process registered for private expedited membarriers: set once, before the first pool is built.
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    static REGISTER: Once = Once::new();

    fn membarrier(command: libc::c_long) -> bool {
        // SAFETY: membarrier takes two integer arguments (command, flags) and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, command, 0 as libc::c_long) == 0 }
    }

    pub fn prepare() {
        REGISTER.call_once(|| {
            if membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
                REGISTERED.store(true, Ordering::Relaxed);
            }
        });
    }

    #[inline]
    pub fn light_fence() {
        // Relaxed: `prepare` happened before any pool existed, so before every light fence of a pool's protocol.
        if REGISTERED.load(Ordering::Relaxed) {
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }

    pub fn heavy_fence() {
        if !REGISTERED.load(Ordering::Relaxed) {
            fence(Ordering::SeqCst);
        } else if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            // The kernel promises success once registered; a light fence may already have relied on it, and no
            // fence here can stand in for the barrier on the other threads. Going on could lose a job.
            eprintln!("segpool: membarrier failed after registration: {}", std::io::Error::last_os_error());
            std::process::abort();
        }
    }
}

#[cfg(not(all(segpool_std, target_os = "linux", not(miri))))]
mod imp {
    use super::super::{Ordering, fence};

    pub fn prepare() {}

    #[inline]
    pub fn light_fence() {
        fence(Ordering::SeqCst);
    }

    pub fn heavy_fence() {
        fence(Ordering::SeqCst);
    }
}

/// Registers the process for [`heavy_fence`]'s system call, once; call it before the first pair of fences.
pub fn prepare_asymmetric_fences() {
    imp::prepare();
}

/// The cheap half of an asymmetric fence pair (module docs): a compiler fence on Linux, `fence(SeqCst)` elsewhere.
#[inline]
pub fn light_fence() {
    imp::light_fence();
}

/// The expensive half of an asymmetric fence pair (module docs): a `membarrier` system call on Linux (microseconds),
/// `fence(SeqCst)` elsewhere.
pub fn heavy_fence() {
    imp::heavy_fence();
}
