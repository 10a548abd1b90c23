//! A `SegQueue` with a chosen reclamation strategy: a producer thread and a consumer, `push`, `pop_batch` and
//! `pop`, then the queue's segment accounting.
//!
//! `cargo run --example queue [limbo|hazard|epoch|hazard-eras|ibr|qsbr|hyaline|leak|haphazard|fast-smr|seize|crossbeam-epoch]`
//! (default: hazard).

use std::thread;

use segpool::{Config, Epoch, Hazard, HazardEras, Hyaline, Ibr, Leak, Limbo, OnExhausted, Qsbr, Reclaim, SegQueue};

const VALUES: u64 = 10_000;

fn main() {
    match std::env::args().nth(1).as_deref().unwrap_or("hazard") {
        "limbo" => run::<Limbo>(),
        "hazard" => run::<Hazard>(),
        "epoch" => run::<Epoch>(),
        "hazard-eras" => run::<HazardEras>(),
        "ibr" => run::<Ibr>(),
        "qsbr" => run::<Qsbr>(),
        "hyaline" => run::<Hyaline>(),
        "leak" => run::<Leak>(),
        #[cfg(all(feature = "reference", segpool_std))]
        "haphazard" => run::<segpool::Haphazard>(),
        #[cfg(all(feature = "reference", segpool_std))]
        "fast-smr" => run::<segpool::FastSmr>(),
        #[cfg(all(feature = "reference", segpool_std))]
        "seize" => run::<segpool::Seize>(),
        #[cfg(all(feature = "reference", segpool_std))]
        "crossbeam-epoch" => run::<segpool::CrossbeamEpoch>(),
        other => panic!("unknown strategy {other:?}"),
    }
}

fn run<R: Reclaim>() {
    // A small bounded pool: 8 segments of 4 slots, and a push that finds none free hands its value back.
    let bounded = Config { segment_size: 4, segment_count: 8, on_exhausted: OnExhausted::Fail, limbo_len: 2 };
    // A strategy refuses a configuration under which it could never recycle (Leak under Fail, say).
    let config = bounded.validate_for::<R>().map_or_else(
        |refusal| {
            println!("{}: {refusal}; growing instead", R::NAME);
            Config { on_exhausted: OnExhausted::Grow, ..bounded.clone() }
        },
        |()| bounded.clone(),
    );
    let queue: SegQueue<u64, R> = SegQueue::with_config(config).expect("a valid configuration");

    thread::scope(|scope| {
        scope.spawn(|| {
            let mut producer = queue.handle(); // one handle per thread: it owns the thread's reclamation state
            for mut value in 0..VALUES {
                while let Err(refused) = producer.push(value) {
                    value = refused.into_inner(); // nothing is lost: retry once the consumer has freed a segment
                    thread::yield_now();
                }
            }
        });
        let mut consumer = queue.handle();
        let (mut batch, mut expected) = (Vec::new(), 0);
        while expected < VALUES {
            // One contiguous run of published values, never more than one segment's worth.
            if consumer.pop_batch(&mut batch, 64) == 0 {
                thread::yield_now();
            }
            for value in batch.drain(..) {
                assert_eq!(value, expected, "FIFO, exactly once");
                expected += 1;
            }
        }
    });

    queue.push(VALUES).expect("a free segment"); // `&self` methods register a handle per call
    assert_eq!(queue.pop(), Some(VALUES));
    assert_eq!(queue.pop(), None);
    let stats = queue.stats();
    println!("{}: {} values through {} segments", R::NAME, VALUES + 1, stats.segments_allocated);
    println!("  {stats:#?}");
    assert_eq!(stats.stale_views, 0, "a sound strategy never lets a protected segment be reused");
}
