// Miri cannot run the child process or make io_uring system calls; the model checkers have no `Uring`. seccompiler
// generates filters for these three architectures only.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64"),
    feature = "uring",
    not(miri),
    segpool_std
))]
//! Where io_uring is unavailable, building a pool on the `Uring` backend returns an error that names the
//! `backend` field and says io_uring is unavailable; it never panics.
//!
//! The tests make io_uring unavailable for real, with a seccomp filter that fails its system calls the way a
//! kernel without io_uring (`ENOSYS`) or a sandbox that forbids it (`EPERM`: `kernel.io_uring_disabled`, Docker's
//! default profile) does. A filter cannot be removed once installed, so each test re-runs this test binary as a
//! child process that runs only that test (`support::in_child_process`): the child installs the filter and builds the pool;
//! the parent checks that the child passed.

mod support;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};
use segpool::Pool;
use segpool::pool::Uring;
use support::{HANG_LIMIT, in_child_process};

/// In the parent: runs `test` in a child process (`support::in_child_process`, which kills it past
/// [`HANG_LIMIT`]: a build that hung would otherwise hang the parent's wait) and asserts that it passed. In that
/// child: fails the system calls `denied` with `errno`, then checks that building a `Uring` pool returns the
/// promised error.
fn with_io_uring_denied(test: &str, denied: &'static [i64], errno: i32) {
    in_child_process(test, HANG_LIMIT, move || {
        deny(denied, errno);
        check_build_fails(errno);
    });
}

/// Installs a seccomp filter on this thread (the one that builds the pool) that fails the system calls `denied`
/// with `errno` and allows every other. seccompiler sets `PR_SET_NO_NEW_PRIVS` first, which an unprivileged
/// process needs to install a filter.
fn deny(denied: &[i64], errno: i32) {
    let rules = denied.iter().map(|&call| (call, Vec::new())).collect(); // no conditions: every call matches
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno.try_into().expect("errno values are positive")),
        std::env::consts::ARCH.try_into().expect("an architecture seccompiler supports (see the cfg above)"),
    )
    .expect("a valid filter");
    let program: BpfProgram = filter.try_into().expect("the filter compiles to BPF");
    seccompiler::apply_filter(&program).expect("the filter is installed");
}

/// Builds a `Uring` pool and checks the error.
fn check_build_fails(errno: i32) {
    let built = std::panic::catch_unwind(|| Pool::builder().workers(1).handler(|_: u64| {}).backend::<Uring>().build());
    let error = match built {
        Err(_) => panic!("building the pool panicked"),
        Ok(Ok(pool)) => panic!("built a Uring pool although io_uring is denied: {pool:?}"),
        Ok(Err(error)) => error,
    };
    let message = error.to_string();
    assert_eq!(error.field(), "backend", "{message}");
    assert!(message.contains("io_uring is unavailable"), "{message}");
    // The cause is reported too, and it is the filter's errno: the refusal came from the filter.
    let cause = std::io::Error::from_raw_os_error(errno).to_string();
    assert!(message.contains(&cause), "`{message}` does not report `{cause}`");
}

/// As on a kernel built without io_uring.
#[test]
fn no_io_uring_in_the_kernel() {
    with_io_uring_denied(
        "no_io_uring_in_the_kernel",
        &[libc::SYS_io_uring_setup, libc::SYS_io_uring_enter, libc::SYS_io_uring_register],
        libc::ENOSYS,
    );
}

/// As under `kernel.io_uring_disabled = 2` or Docker's default seccomp profile.
#[test]
fn io_uring_forbidden() {
    with_io_uring_denied(
        "io_uring_forbidden",
        &[libc::SYS_io_uring_setup, libc::SYS_io_uring_enter, libc::SYS_io_uring_register],
        libc::EPERM,
    );
}

/// A sandbox that lets a ring be set up but not entered: the backend must find out while building, not at the
/// first submit.
#[test]
fn io_uring_enter_forbidden() {
    with_io_uring_denied("io_uring_enter_forbidden", &[libc::SYS_io_uring_enter], libc::EPERM);
}
