//! Queue micro-benchmarks: one thread pushing then popping through `SegQueue<u64, Limbo>`, at SegmentSize 1 and 64,
//! so the per-value cost of segment turnover (retire, limbo, recycle) shows as the ratio between the two.
//! Run: `cargo bench --bench queue`.

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod suite {
    use std::hint::black_box;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use segpool::{Config, Limbo, OnExhausted, SegQueue};

    const BURST: u64 = 256;

    pub fn push_pop(c: &mut Criterion) {
        let mut group = c.benchmark_group("queue/push_pop_burst");
        group.throughput(Throughput::Elements(BURST));
        for segment_size in [1usize, 64] {
            let queue: SegQueue<u64, Limbo> = SegQueue::with_config(Config {
                segment_size,
                segment_count: 64,
                on_exhausted: OnExhausted::Grow,
                limbo_len: 8,
            })
            .expect("valid config");
            let mut handle = queue.handle();
            group.bench_with_input(BenchmarkId::new("limbo", segment_size), &segment_size, |b, _| {
                b.iter(|| {
                    for value in 0..BURST {
                        handle.push(black_box(value)).expect("Grow never refuses");
                    }
                    for _ in 0..BURST {
                        black_box(handle.pop());
                    }
                });
            });
        }
        group.finish();
    }
}

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
criterion::criterion_group!(benches, suite::push_pop);
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
criterion::criterion_main!(benches);

/// Under a model-checker feature the queue's primitives only work inside a model: nothing to measure.
#[cfg(any(feature = "loom", feature = "shuttle"))]
fn main() {}
