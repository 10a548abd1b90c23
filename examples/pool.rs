//! A worker pool on a chosen backend: typed jobs, a job that panics, a job cancelled before it starts, a
//! shutdown report, and a submit after shutdown that hands its job back.
//!
//! `cargo run --example pool [hazard|epoch|limbo|mutex-deque]` (default: hazard).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use segpool::pool::{BackendKind, MutexDeque, Segmented};
use segpool::{CancelToken, Epoch, Hazard, Limbo, Pool, SubmitErrorKind};

fn main() {
    match std::env::args().nth(1).as_deref().unwrap_or("hazard") {
        "hazard" => run::<Segmented<Hazard>>(),
        "epoch" => run::<Segmented<Epoch>>(),
        "limbo" => run::<Segmented<Limbo>>(),
        "mutex-deque" => run::<MutexDeque>(),
        other => panic!("unknown backend {other:?}"),
    }
}

fn run<B: BackendKind>() {
    // The pool catches its workers' panics and reports them to `on_panic`; keep Rust's message for other threads.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !thread::current().name().is_some_and(|name| name.starts_with("segpool-worker")) {
            default_hook(info);
        }
    }));
    let sum = Arc::new(AtomicU64::new(0));
    let total = Arc::clone(&sum);
    let pool = Pool::builder()
        .workers(2)
        .handler(move |job: u64| {
            if job == 13 {
                panic!("job 13 panics on purpose"); // caught: it costs this job, not the worker
            }
            total.fetch_add(job, Ordering::Relaxed);
        })
        .on_panic(|report| println!("caught on worker {}: {:?}", report.worker, report.message))
        .on_cancelled(|job| println!("job {job} was cancelled before it started"))
        .backend::<B>()
        .build()
        .expect("a valid pool");

    for job in 1..=100 {
        pool.submit(job).expect("an open pool with a growing queue accepts every job");
    }
    let token = CancelToken::new();
    token.cancel(); // cancelled before any worker can start the job
    pool.submit_cancellable(1_000, &token).expect("accepted, then skipped");

    let report = pool.shutdown(Some(Duration::from_secs(5)));
    println!("{}: {report:?}", B::NAME);
    assert_eq!((report.executed, report.panicked, report.cancelled), (99, 1, 1));
    assert_eq!(sum.load(Ordering::Relaxed), 5050 - 13);

    let refused = pool.submit(7).expect_err("a shut-down pool takes no job");
    assert_eq!(refused.kind(), SubmitErrorKind::Closed);
    let message = refused.to_string();
    println!("after shutdown: {message} (job {})", refused.into_inner());
}
