//! The values the models push, and the checks on what came out. A value carries its producer and its sequence
//! number ([`value`]), so that a consumer can check each producer's values arrived in order
//! ([`assert_fifo_per_producer`]) and the run can check every value arrived exactly once
//! ([`assert_exactly_once`]). The bookkeeping is plain std code, invisible to the model checkers.

use std::collections::BTreeMap;

/// Sequence numbers stay below this.
pub const STRIDE: u32 = 1000;

/// The `seq`-th value of producer `producer`.
pub fn value(producer: u32, seq: u32) -> u32 {
    assert!(seq < STRIDE, "sequence number {seq} out of range");
    producer * STRIDE + seq
}

/// The producer of a value made by [`value`].
pub fn producer(value: u32) -> u32 {
    value / STRIDE
}

/// The values `producers` producers push, `per_producer` each, producer by producer.
pub fn pushed(producers: u32, per_producer: u32) -> impl Iterator<Item = u32> {
    (0..producers).flat_map(move |p| (0..per_producer).map(move |seq| value(p, seq)))
}

/// In `seen` (what one consumer received, in order), each producer's values are in increasing order.
pub fn assert_fifo_per_producer(seen: &[u32]) {
    let mut last = BTreeMap::new();
    for &v in seen {
        if let Some(before) = last.insert(producer(v), v) {
            assert!(before < v, "producer {}'s values out of order: {seen:?}", producer(v));
        }
    }
}

/// `seen` holds every value of `expected` exactly once, and nothing else (in any order).
pub fn assert_exactly_once(mut seen: Vec<u32>, expected: impl IntoIterator<Item = u32>, what: &str) {
    let mut expected: Vec<u32> = expected.into_iter().collect();
    seen.sort_unstable();
    expected.sort_unstable();
    assert_eq!(seen, expected, "{what}");
}
