//! The io_uring backend's unit tests (they see its private state: `capacity`, `overflowed`, the reap hook).
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, mpsc};
use std::thread;

use super::*;

fn build<J: Send + 'static>(on_exhausted: OnExhausted) -> Uring<J> {
    Uring::build(&Config { on_exhausted, ..Config::default() }).expect("io_uring works here")
}

/// Pops until the backend looks empty.
fn drain<J: Send + 'static>(uring: &Uring<J>) -> Vec<J> {
    let mut out = Vec::new();
    while uring.pop_batch(&mut (), &mut out, 1000) > 0 {}
    out
}

/// Under `Grow`, pushes into a full ring return at once (they used to wait for a reaper, which a pool whose
/// only worker submits from a handler never gets), and every job comes out once, oldest first, also when
/// pops and pushes interleave while the overflow holds jobs.
#[test]
fn grow_overflows_without_blocking_or_reordering() {
    let uring = Arc::new(build::<usize>(OnExhausted::Grow));
    let first = uring.capacity + 5;
    let (done, finished) = mpsc::channel();
    let pusher = uring.clone();
    // On a thread, so that a push that blocks fails the test instead of hanging it.
    thread::spawn(move || {
        for job in 0..first {
            pusher.push(&mut (), job).expect("Grow accepts");
        }
        done.send(()).unwrap();
    });
    finished.recv_timeout(Duration::from_secs(30)).expect("pushes into a full ring returned");
    assert_eq!(uring.overflowed.load(Ordering::Relaxed), 5);
    let mut out = Vec::new();
    assert_eq!(uring.pop_batch(&mut (), &mut out, 3), 3);
    // The ring has room again, but older jobs wait in the overflow: these must queue behind them.
    for job in first..first + 2 {
        uring.push(&mut (), job).expect("Grow accepts");
    }
    out.extend(drain(&uring));
    assert_eq!(out, (0..first + 2).collect::<Vec<_>>());
    assert_eq!(uring.in_flight.load(Ordering::Relaxed), 0);
}

/// Fails, naming the first job out of place, unless `out` is exactly `0..jobs` in order (an `assert_eq!` on
/// two vectors the size of a ring would print both).
fn assert_in_order(out: &[usize], jobs: usize) {
    if let Some(position) = (0..jobs).find(|&position| out.get(position) != Some(&position)) {
        panic!("job {:?} came out at position {position} of {}, expected job {position}", out.get(position), jobs);
    }
    assert_eq!(out.len(), jobs, "extra jobs came out");
}

/// Per-submitter FIFO under `Grow` when a popper is descheduled right after reaping the ring: meanwhile the
/// submitter fills the ring and sends one more job to the overflow. The popper must not return that job while
/// the older ones are still in the ring. Replayed deterministically: the hook pushes at exactly that point.
#[test]
fn popper_descheduled_after_reap_keeps_submitter_order() {
    let uring = Arc::new(build::<usize>(OnExhausted::Grow));
    let jobs = uring.capacity + 1;
    let submitter = uring.clone();
    AFTER_UNLOCKED_REAP.set(Some(Box::new(move || {
        for job in 0..jobs {
            submitter.push(&mut (), job).expect("Grow accepts");
        }
        assert_eq!(submitter.overflowed.load(Ordering::Relaxed), 1, "the last job went to the overflow");
    })));
    let mut out = Vec::new();
    uring.pop_batch(&mut (), &mut out, 1000);
    assert!(AFTER_UNLOCKED_REAP.take().is_none(), "pop_batch reached the hook");
    out.extend(drain(&uring));
    assert_in_order(&out, jobs);
}

/// Several submitters, several poppers, the overflow in use: every popper sees each submitter's jobs in the
/// order they were pushed, and every job comes out once. Timing-dependent cover for the ring/overflow hand-off
/// and the lock order under concurrency; the deterministic test above is the one that pins the reordering.
#[test]
fn concurrent_submitters_keep_fifo_per_popper() {
    const SUBMITTERS: usize = 3;
    const POPPERS: usize = 2;
    const PER_SUBMITTER: usize = 20_000;
    let uring = Arc::new(build::<(usize, usize)>(OnExhausted::Grow));
    // Poppers start once the ring is full and the overflow holds jobs, so that both are in play from then on.
    let start = Arc::new(AtomicBool::new(false));
    let popped = Arc::new(AtomicUsize::new(0));
    // Bounded like every waiting std test (tests/support/watchdog.rs: 30 s), far above a healthy run (~0.1 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (report, reports) = mpsc::channel();
    for submitter in 0..SUBMITTERS {
        let (uring, start) = (uring.clone(), start.clone());
        thread::spawn(move || {
            for seq in 0..PER_SUBMITTER {
                uring.push(&mut (), (submitter, seq)).expect("Grow accepts");
                if uring.overflowed.load(Ordering::Relaxed) > 0 {
                    start.store(true, Ordering::Relaxed);
                }
            }
            start.store(true, Ordering::Relaxed); // in case the poppers kept up after all
        });
    }
    for _ in 0..POPPERS {
        let (uring, start, popped, report) = (uring.clone(), start.clone(), popped.clone(), report.clone());
        thread::spawn(move || {
            let mut last: [Option<usize>; SUBMITTERS] = [None; SUBMITTERS];
            let (mut out, mut seen) = (Vec::new(), Vec::new());
            let verdict = 'popping: loop {
                if popped.load(Ordering::Relaxed) == SUBMITTERS * PER_SUBMITTER {
                    break Ok(seen);
                }
                if Instant::now() > deadline {
                    break Err(format!("{} jobs came out in 30 s", popped.load(Ordering::Relaxed)));
                }
                if !start.load(Ordering::Relaxed) {
                    thread::yield_now();
                    continue;
                }
                popped.fetch_add(uring.pop_batch(&mut (), &mut out, 64), Ordering::Relaxed);
                for &(submitter, seq) in &out {
                    if let Some(previous) = last[submitter].filter(|&previous| seq <= previous) {
                        break 'popping Err(format!("submitter {submitter}'s job {seq} came after its {previous}"));
                    }
                    last[submitter] = Some(seq);
                }
                seen.append(&mut out);
            };
            report.send(verdict).unwrap();
        });
    }
    let mut seen = Vec::new();
    for _ in 0..POPPERS {
        match reports.recv_timeout(Duration::from_secs(40)) {
            Ok(verdict) => seen.extend(verdict.unwrap()),
            Err(error) => panic!("a popper did not report: {error}"),
        }
    }
    seen.sort_unstable();
    let all: Vec<_> =
        (0..SUBMITTERS).flat_map(|submitter| (0..PER_SUBMITTER).map(move |seq| (submitter, seq))).collect();
    assert!(seen == all, "some job came out twice or never");
}

/// `Wait(Duration::MAX)` waits as long as it takes: a push into a full ring succeeds once a pop makes room.
#[test]
fn wait_without_deadline_waits_for_room() {
    let uring = Arc::new(build::<usize>(OnExhausted::Wait(Duration::MAX)));
    for job in 0..uring.capacity {
        uring.push(&mut (), job).expect("room in the ring");
    }
    let (done, pushed) = mpsc::channel();
    let pusher = uring.clone();
    // On threads, so that a push that never returns fails the test instead of hanging it.
    let push = thread::spawn(move || done.send(pusher.push(&mut (), usize::MAX).is_ok()).unwrap());
    let popper = uring.clone();
    let pop = thread::spawn(move || {
        // Give the push time to find the ring full and start waiting (it succeeds either way).
        thread::sleep(Duration::from_millis(50));
        popper.pop_batch(&mut (), &mut Vec::new(), 1)
    });
    match pushed.recv_timeout(Duration::from_secs(30)) {
        Ok(accepted) => assert!(accepted, "the push was refused"),
        // The pusher dropped its sender without sending: it panicked; fail with its panic.
        Err(RecvTimeoutError::Disconnected) => std::panic::resume_unwind(push.join().expect_err("the pusher panicked")),
        Err(RecvTimeoutError::Timeout) => panic!("the push did not return within 30 s"),
    }
    assert_eq!(pop.join().expect("the popper ran"), 1);
    let out = drain(&uring);
    assert_eq!(out.len(), uring.capacity);
    assert_eq!(out.last(), Some(&usize::MAX));
}

/// Under `Fail` and `Wait`, a push into a full ring hands its job back; a pop makes room.
#[test]
fn full_ring_hands_jobs_back() {
    let cases = [
        (OnExhausted::Fail, RefusalKind::Exhausted),
        (OnExhausted::Wait(Duration::from_millis(5)), RefusalKind::TimedOut),
    ];
    for (on_exhausted, why) in cases {
        let uring = build::<usize>(on_exhausted);
        for job in 0..uring.capacity {
            uring.push(&mut (), job).expect("room in the ring");
        }
        let refused = uring.push(&mut (), usize::MAX).expect_err("the ring is full");
        assert_eq!((refused.kind, refused.job), (why, usize::MAX));
        let mut out = Vec::new();
        assert_eq!(uring.pop_batch(&mut (), &mut out, 1), 1);
        uring.push(&mut (), usize::MAX).expect("a pop made room");
        out.extend(drain(&uring));
        assert_eq!(out.len(), uring.capacity + 1);
    }
}

/// Dropping the backend drops the jobs still in the ring and in the overflow.
#[test]
fn drop_frees_queued_jobs() {
    let job = Arc::new(());
    let uring = build::<Arc<()>>(OnExhausted::Grow);
    for _ in 0..uring.capacity + 3 {
        uring.push(&mut (), job.clone()).expect("Grow accepts");
    }
    drop(uring);
    assert_eq!(Arc::strong_count(&job), 1);
}
