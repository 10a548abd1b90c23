//! Bounds for checks that would hang if the property they guard broke: a whole check run on a thread of its own
//! ([`within`]), and loops that wait for another thread ([`wait_until`], [`WATCHDOG`]).

use std::panic;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a bounded check may take before it counts as hung. Generous: the machines are shared and slow, and a
/// check that passes takes well under a second; a broken one would never finish.
pub const HANG_LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 30 });

/// A loop that waits for another thread (a retried push, a consumer waiting for values, a producer waiting for a
/// segment) fails when it has made no progress for this long. (Under Miri, `Instant` follows a virtual clock that
/// advances with the instructions executed.)
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `f` on a thread of its own and returns its result, re-raising its panic; fails the test if `f` has not
/// finished within `limit`. The hung thread is left behind (it ends with the test process), so that a regression
/// fails in seconds instead of holding up CI until its time-out.
pub fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    let runner = thread::Builder::new()
        .name(format!("bounded: {what}"))
        .spawn(move || {
            let outcome = panic::catch_unwind(panic::AssertUnwindSafe(f));
            let _ = done.send(());
            outcome
        })
        .expect("a test thread starts");
    match finished.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match runner.join().expect("caught above") {
            Ok(value) => value,
            Err(payload) => panic::resume_unwind(payload),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: {what} did not finish within {limit:?} (hung)"),
    }
}

/// A whole test under [`within`] with [`HANG_LIMIT`], named after the test (libtest runs each test on a thread
/// named after it): for a test that waits on another thread (a pool's shutdown or drop, a join, a channel, a spin
/// until another thread acts), so that a broken property fails it instead of hanging the test binary.
pub fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let test = thread::current().name().unwrap_or("the test").to_owned();
    within(HANG_LIMIT, &test, f)
}

/// Yields until `done()` holds; panics, naming `what`, if it still does not after [`WATCHDOG`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + WATCHDOG;
    while !done() {
        assert!(Instant::now() < give_up, "watchdog: no progress for {WATCHDOG:?} while waiting until {what}");
        thread::yield_now();
    }
}
