//! The io_uring backend's unit tests (they see its private state: `capacity`, `overflowed`, the reap hook).
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, mpsc};
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

/// A lone job is visible to the next pop although its push did not enter the kernel: the pop submits it.
/// Fails if pushes stopped batching (`consumed` would count the entry at once) or if a pop reaped without
/// submitting what is pending (the job would be stranded in the submission queue).
#[test]
fn pop_submits_a_lone_pending_entry() {
    let uring = build::<usize>(OnExhausted::Fail);
    uring.push(&mut (), 7).expect("room in the ring");
    assert_eq!(uring.published.load(Ordering::Relaxed), 1);
    assert_eq!(uring.consumed.load(Ordering::Relaxed), 0, "a push that finds room does not enter the kernel");
    let mut out = Vec::new();
    assert_eq!(uring.pop_batch(&mut (), &mut out, 16), 1, "the pop submitted the pending entry and reaped it");
    assert_eq!(out, [7]);
    assert_eq!(uring.consumed.load(Ordering::Relaxed), 1);
}

/// Popping until empty (what `Pool::shutdown` does to hand back the jobs not run) returns every job, in order,
/// also those still in the submission queue when it starts, across several submission-queue fills.
#[test]
fn draining_returns_submitted_and_pending_jobs() {
    let uring = build::<usize>(OnExhausted::Fail);
    let jobs = SUBMISSION_ENTRIES as usize + 100; // one flush by a push that found the queue full, then pending
    for job in 0..jobs {
        uring.push(&mut (), job).expect("room in the ring");
    }
    assert!(uring.pending(), "the last pushes are still in the submission queue");
    assert_in_order(&drain(&uring), jobs);
    assert!(!uring.pending());
    assert_eq!(uring.in_flight.load(Ordering::Relaxed), 0);
}

/// Dropping the backend drops the jobs never submitted to the kernel (still in the submission queue) too.
#[test]
fn drop_frees_pending_jobs() {
    let job = Arc::new(());
    let uring = build::<Arc<()>>(OnExhausted::Fail);
    for _ in 0..3 {
        uring.push(&mut (), job.clone()).expect("room in the ring");
    }
    assert!(uring.pending());
    drop(uring);
    assert_eq!(Arc::strong_count(&job), 1);
}

/// The slab never hands one slot to two jobs: with every slot holding a job, each `user_data` is distinct, each
/// take returns its own job exactly once (a second take, or a stale `user_data` after the slot's reuse, returns
/// nothing), and a full slab refuses an insert instead of overwriting a slot.
#[test]
fn slab_hands_each_slot_out_once() {
    let slots = 2 * slab::CHUNK;
    let (slab, mut vacant) = Slab::<usize>::new(slots);
    let names: Vec<u64> = (0..slots).map(|job| slab.insert(&mut vacant, job).expect("a vacant slot")).collect();
    let mut distinct = names.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), slots, "two jobs got the same user_data");
    assert_eq!(slab.insert(&mut vacant, usize::MAX).err(), Some(usize::MAX), "a full slab refuses");
    let mut emptied = Chain::new();
    for (job, &name) in names.iter().enumerate().step_by(2) {
        assert_eq!(slab.take(name, &mut emptied), Some(job));
        assert_eq!(slab.take(name, &mut emptied), None, "job {job} taken twice");
    }
    slab.release(&mut emptied);
    // Refill the emptied slots: the old names must not reach the new jobs.
    let refills: Vec<u64> = (0..slots / 2).map(|job| slab.insert(&mut vacant, slots + job).expect("vacant")).collect();
    for &name in names.iter().step_by(2) {
        assert_eq!(slab.take(name, &mut emptied), None, "a stale user_data read a reused slot");
    }
    let mut out: Vec<usize> = names
        .iter()
        .skip(1)
        .step_by(2)
        .chain(&refills)
        .map(|&name| slab.take(name, &mut emptied).expect("each job is taken once"))
        .collect();
    out.sort_unstable();
    assert_eq!(out, (1..slots).step_by(2).chain(slots..slots + slots / 2).collect::<Vec<_>>());
}

/// A slot goes back to the free list only after its job was read out: a submitter that inserts while a take is
/// between claiming the slot and reading it must not get that slot (here it gets none: every other slot is
/// full). Replayed deterministically with the slab's hook. Kills the mutant `uring_slot_freed_before_take`, under
/// which the insert reuses the slot and the take returns the new job.
#[test]
fn slot_is_not_reused_before_its_job_is_read() {
    let (slab, vacant) = Slab::<usize>::new(slab::CHUNK);
    let (slab, vacant) = (Arc::new(slab), Arc::new(Mutex::new(vacant)));
    let names: Vec<u64> =
        (0..slab::CHUNK).map(|job| slab.insert(&mut lock(&vacant), job).expect("a vacant slot")).collect();
    let (refused, inserter) = (Arc::new(AtomicBool::new(false)), (slab.clone(), vacant.clone()));
    let refused_by_hook = refused.clone();
    slab::BEFORE_READ.set(Some(Box::new(move || {
        let (slab, vacant) = inserter;
        refused_by_hook.store(slab.insert(&mut lock(&vacant), usize::MAX).is_err(), Ordering::Relaxed);
    })));
    let mut emptied = Chain::new();
    assert_eq!(slab.take(names[0], &mut emptied), Some(0), "the take returned another job than its own");
    assert!(slab::BEFORE_READ.take().is_none(), "take reached the hook");
    assert!(refused.load(Ordering::Relaxed), "an insert reused a slot whose job was not read out yet");
}

/// Slots are reused: 2,000 jobs with at most 50 in flight take slots from the first chunk only (without reuse,
/// each job would take a fresh slot and the slab would grow to eight chunks). The process-wide allocation count
/// through a pool is in `tests/pool_alloc.rs`.
#[test]
fn slab_reuses_slots_in_steady_state() {
    let uring = build::<usize>(OnExhausted::Fail);
    let mut out = Vec::with_capacity(64);
    for job in 0..2000 {
        uring.push(&mut (), job).expect("room in the ring");
        if job % 50 == 49 {
            while uring.pop_batch(&mut (), &mut out, 64) > 0 {
                out.clear();
            }
        }
    }
    assert_eq!(lock(&uring.submitting).grown(), slab::CHUNK, "the slab grew although slots were free");
}
