//! Checks whose failure would take the whole test process down (an abort from a panic while unwinding) or leave it
//! spinning, run in a child process of their own ([`in_child_process`]).

use std::thread;
use std::time::Duration;

use super::watchdog::within;

/// Environment variable that names the test a child process runs (see [`in_child_process`]).
const CHILD: &str = "SEGPOOL_TEST_CHILD";

/// What a child prints when its test body returned, so the parent knows the body ran (a misspelt test name would
/// run no test at all, and succeed).
const PASSED: &str = "segpool-test-child: the body returned";

/// Runs `body` in a child process that runs only the test `test` (its full path, as libtest prints it), for a
/// check whose failure would take the whole process down (an abort from a panic while unwinding) or leave it
/// spinning. In the child, runs `body`. The parent asserts that the child exited successfully within `limit`,
/// and kills it otherwise. Where a child cannot be started the same way (Miri, Windows under Wine), runs `body`
/// in-process under [`within`].
pub fn in_child_process(test: &str, limit: Duration, body: impl FnOnce() + Send + 'static) {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        body();
        println!("{PASSED}");
        return;
    }
    if cfg!(any(miri, windows)) {
        return within(limit, test, body);
    }
    // Output to files, not pipes: a child blocked on a full pipe would look hung.
    let name = test.replace("::", "-");
    let log = |stream: &str| std::env::temp_dir().join(format!("segpool-{}-{name}-{stream}", std::process::id()));
    let (stdout_path, stderr_path) = (log("stdout"), log("stderr"));
    let file = |path: &std::path::Path| std::fs::File::create(path).expect("a temporary file for the child's output");
    let mut child = std::process::Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .stdout(file(&stdout_path))
        .stderr(file(&stderr_path))
        .spawn()
        .expect("the test binary runs again");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
    let _ = (std::fs::remove_file(&stdout_path), std::fs::remove_file(&stderr_path));
    let Some(status) = status else {
        panic!("watchdog: the child running `{test}` did not finish within {limit:?} (hung); killed\n{stderr}");
    };
    assert!(
        status.success() && stdout.contains(PASSED),
        "the child running `{test}` failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
    );
}
