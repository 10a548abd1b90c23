//! Reclamation benchmarks (being written).
fn main() {}
