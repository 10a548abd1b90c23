//! Optional CPU pinning of pool workers: worker `i` runs only on core `i mod cores` (feature `affinity`, through
//! the core_affinity crate). Pinning removes the OS's thread migrations from a measurement; it does not remove the
//! other processes sharing the cores.

use crate::ConfigError;

/// The cores workers are pinned to; empty when pinning is off.
#[derive(Debug, Default)]
pub(super) struct Pinning {
    #[cfg(all(feature = "affinity", segpool_std))]
    cores: Vec<core_affinity::CoreId>,
}

impl Pinning {
    /// Pinning as the builder asked for it, or why it cannot be done here.
    pub(super) fn new(enabled: bool) -> Result<Self, ConfigError> {
        if !enabled {
            return Ok(Pinning::default());
        }
        #[cfg(all(feature = "affinity", segpool_std))]
        {
            match core_affinity::get_core_ids() {
                Some(cores) if !cores.is_empty() => Ok(Pinning { cores }),
                _ => {
                    Err(ConfigError::new("pin_workers", "this platform does not report the cores this process may use"))
                }
            }
        }
        #[cfg(not(all(feature = "affinity", segpool_std)))]
        Err(ConfigError::new("pin_workers", "needs the `affinity` feature (and a std build, not a model checker)"))
    }

    /// Pins the calling thread, worker number `worker`, if pinning is on. Returns whether it is pinned.
    pub(super) fn apply(&self, worker: usize) -> bool {
        #[cfg(all(feature = "affinity", segpool_std))]
        if !self.cores.is_empty() {
            return core_affinity::set_for_current(self.cores[worker % self.cores.len()]);
        }
        let _ = worker;
        false
    }
}
