//! [`CachePadded`]: the one padding utility every module uses against false sharing.

/// Keeps a value on its own pair of cache lines (128 bytes: adjacent-line prefetch pairs lines on x86), so that
/// producers hammering one word do not slow consumers reading another.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
