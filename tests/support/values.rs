//! The values the multi-threaded tests push: each names its producer and its place in that producer's sequence,
//! so that a consumer can check exactly-once delivery and per-producer FIFO order.

/// The value producer `producer` pushes as its `seq`-th (both below 2^32).
pub fn encode(producer: u64, seq: u64) -> u64 {
    (producer << 32) | seq
}

/// `(producer, seq)` of a value made by [`encode`].
pub fn decode(value: u64) -> (u64, u64) {
    (value >> 32, value & 0xffff_ffff)
}
