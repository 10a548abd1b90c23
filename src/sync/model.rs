//! Running a model: [`model`] runs a closure once per schedule its build's checker explores. The verification
//! suites (`verification/loom`, `verification/shuttle`) call it; the primitives the closure uses are the parent
//! module's.
//!
//! | build                | [`model`] runs its closure                                                       |
//! |----------------------|----------------------------------------------------------------------------------|
//! | default              | once, directly                                                                   |
//! | `--features loom`    | under `loom::model`: every interleaving within a preemption bound (`LOOM_*`)     |
//! | `--features shuttle` | under shuttle: PCT, random or a replayed schedule (`SEGPOOL_SHUTTLE_*`)          |
//!
//! Each build's `model` documents the environment variables it reads. Under shuttle, a failing schedule is
//! recorded as it runs and printed with the command that replays it.

#[cfg(feature = "loom")]
mod imp {
    /// Default preemption bound when `LOOM_MAX_PREEMPTIONS` is not set (loom's docs: 2-3 catch most bugs).
    pub const DEFAULT_PREEMPTION_BOUND: usize = 3;

    /// Branch limit per execution when `LOOM_MAX_BRANCHES` is not set. loom's default (1,000) is too small for
    /// the longer SegmentSize=1 scenarios, whose executions are long but finite.
    const DEFAULT_MAX_BRANCHES: usize = 20_000;

    /// Runs `f` under loom: every interleaving with at most `LOOM_MAX_PREEMPTIONS` (default
    /// [`DEFAULT_PREEMPTION_BOUND`]) preemptions. The other `LOOM_*` variables apply as documented by loom.
    pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
        model_with_bound(DEFAULT_PREEMPTION_BOUND, f);
    }

    /// [`model`] with a different default preemption bound, for models too large for the default one
    /// (`LOOM_MAX_PREEMPTIONS` still overrides it). Only the loom build has it: only loom models need it.
    pub fn model_with_bound<F: Fn() + Sync + Send + 'static>(preemptions: usize, f: F) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound.get_or_insert(preemptions);
        if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
            builder.max_branches = DEFAULT_MAX_BRANCHES;
        }
        builder.check(f);
    }
}

#[cfg(feature = "shuttle")]
mod imp {
    use std::cell::RefCell;
    use std::fmt::Write as _;
    use std::panic::{self, AssertUnwindSafe};
    use std::rc::Rc;

    use shuttle::scheduler::{PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler, Task, TaskId};

    /// Runs `f` under shuttle. Environment variables:
    ///
    /// - `SEGPOOL_SHUTTLE_SCHEDULER`: `pct` (default: probabilistic concurrency testing, which finds a bug of depth
    ///   `d` with a known probability per schedule) or `random` (a uniformly random runnable task at every step).
    /// - `SEGPOOL_SHUTTLE_ITERATIONS` (default 1000): how many schedules to explore.
    /// - `SEGPOOL_SHUTTLE_DEPTH` (default 3): PCT's bug depth (`depth - 1` priority change points per schedule).
    /// - `SEGPOOL_SHUTTLE_SEED`: the scheduler's seed, so that a run explores the same schedules every time (CI's
    ///   quick mutation leg sets it, to kill its mutants deterministically). Unset, each run draws a fresh seed and
    ///   so explores new schedules.
    /// - `SEGPOOL_SHUTTLE_REPLAY`: a schedule printed by a failure (or `@file` holding one): runs exactly that
    ///   schedule instead of exploring. Set it for one test only (`--exact`): each test has its own schedules.
    ///
    /// When a schedule fails, the panic is followed by the command that replays it.
    pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
        model_with_iterations(DEFAULT_ITERATIONS, f);
    }

    /// Schedules per model when `SEGPOOL_SHUTTLE_ITERATIONS` is not set.
    pub const DEFAULT_ITERATIONS: usize = 1000;

    /// [`model`] with another default number of schedules, for a model whose bug needs more of them to be found
    /// every time (`SEGPOOL_SHUTTLE_ITERATIONS` still overrides it). Only the shuttle build has it.
    pub fn model_with_iterations<F: Fn() + Sync + Send + 'static>(default_iterations: usize, f: F) {
        let scheduler: Box<dyn Scheduler + Send> = match std::env::var("SEGPOOL_SHUTTLE_REPLAY") {
            Ok(text) => Box::new(ReplayScheduler::new_from_schedule(decode(&text))),
            Err(_) => {
                let iterations = env_usize("SEGPOOL_SHUTTLE_ITERATIONS", default_iterations);
                let seed = std::env::var("SEGPOOL_SHUTTLE_SEED").ok().map(|text| {
                    text.parse::<u64>()
                        .unwrap_or_else(|_| panic!("SEGPOOL_SHUTTLE_SEED must be a 64-bit integer, got {text:?}"))
                });
                let depth = env_usize("SEGPOOL_SHUTTLE_DEPTH", 3);
                match (std::env::var("SEGPOOL_SHUTTLE_SCHEDULER").as_deref(), seed) {
                    (Ok("pct") | Err(_), None) => Box::new(PctScheduler::new(depth, iterations)),
                    (Ok("pct") | Err(_), Some(seed)) => Box::new(PctScheduler::new_from_seed(seed, depth, iterations)),
                    (Ok("random"), None) => Box::new(RandomScheduler::new(iterations)),
                    (Ok("random"), Some(seed)) => Box::new(RandomScheduler::new_from_seed(seed, iterations)),
                    (Ok(other), _) => panic!("SEGPOOL_SHUTTLE_SCHEDULER must be `pct` or `random`, got {other:?}"),
                }
            }
        };
        let recording = Rc::new(RefCell::new(Recording::default()));
        let mut config = shuttle::Config::new();
        // Shuttle would print the schedule as hex for `shuttle::replay`; the command printed below replaces that.
        config.failure_persistence = shuttle::FailurePersistence::None;
        let runner = shuttle::Runner::new(Recorder { inner: scheduler, recording: recording.clone() }, config);
        if let Err(failure) = panic::catch_unwind(AssertUnwindSafe(|| runner.run(f))) {
            eprintln!("{}", replay_command(&recording.borrow()));
            panic::resume_unwind(failure);
        }
    }

    /// The decisions of the current execution: its seed and one byte per step, `a` + task id for a scheduled
    /// task, `_` for a random number drawn by the test.
    #[derive(Default)]
    struct Recording {
        seed: u64,
        steps: Vec<u8>,
    }

    /// A scheduler that passes every decision through and records it, because shuttle's `Runner` does not hand
    /// the failing schedule back to its caller.
    struct Recorder {
        inner: Box<dyn Scheduler + Send>,
        recording: Rc<RefCell<Recording>>,
    }

    impl Scheduler for Recorder {
        fn new_execution(&mut self) -> Option<Schedule> {
            let schedule = self.inner.new_execution()?;
            let mut recording = self.recording.borrow_mut();
            recording.seed = schedule.seed;
            recording.steps.clear();
            Some(schedule)
        }

        fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
            let next = self.inner.next_task(runnable, current, is_yielding)?;
            let id = u8::try_from(usize::from(next)).ok().filter(|&id| id < 26).expect("the models spawn < 26 tasks");
            self.recording.borrow_mut().steps.push(b'a' + id);
            Some(next)
        }

        fn next_u64(&mut self) -> u64 {
            self.recording.borrow_mut().steps.push(b'_');
            self.inner.next_u64()
        }
    }

    /// `seed:steps`, each run of equal steps written as the step and, if longer than one, its length: `a40b_3`.
    fn encode(recording: &Recording) -> String {
        let mut text = format!("{}:", recording.seed);
        for run in recording.steps.chunk_by(|a, b| a == b) {
            text.push(char::from(run[0]));
            if run.len() > 1 {
                write!(text, "{}", run.len()).expect("writing to a String cannot fail");
            }
        }
        text
    }

    /// The schedule written by [`encode`] (or the file it is in, after `@`), for shuttle's `ReplayScheduler`.
    fn decode(text: &str) -> Schedule {
        let text = match text.strip_prefix('@') {
            Some(path) => {
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("SEGPOOL_SHUTTLE_REPLAY: {path}: {e}"))
            }
            None => text.to_owned(),
        };
        let malformed = || -> ! { panic!("SEGPOOL_SHUTTLE_REPLAY is not a schedule printed by a failed model") };
        let (seed, steps) = text.trim().split_once(':').unwrap_or_else(|| malformed());
        let mut schedule = Schedule::new(seed.parse().unwrap_or_else(|_| malformed()));
        let mut steps = steps.chars().peekable();
        while let Some(step) = steps.next() {
            let mut count = 0;
            while let Some(digit) = steps.next_if(char::is_ascii_digit) {
                count = count * 10 + digit.to_digit(10).expect("an ASCII digit");
            }
            for _ in 0..count.max(1) {
                match step {
                    '_' => schedule.push_random(),
                    'a'..='z' => schedule.push_task(TaskId::from(step as usize - 'a' as usize)),
                    _ => malformed(),
                }
            }
        }
        schedule
    }

    /// The command that replays `recording` for the test running on this thread, built as this one was: same
    /// profile, target directory and `RUSTFLAGS` (a seeded mutant). Long schedules (a livelock runs to shuttle's
    /// step bound) go to a file, as one environment variable is limited to 128 KiB on Linux.
    fn replay_command(recording: &Recording) -> String {
        // libtest runs each test on a thread named after it; cargo names test executables
        // `<target dir>/<profile>/deps/<test target>-<hash>` and runs them in the package root.
        let test = std::thread::current().name().unwrap_or("<test name>").to_owned();
        let exe = std::env::current_exe().unwrap_or_default();
        let stem = exe.file_stem().and_then(|stem| stem.to_str());
        let target = stem.and_then(|stem| stem.rsplit_once('-')).map_or("<test target>", |(target, _)| target);
        let profile = exe.ancestors().nth(2).and_then(|dir| dir.file_name()).and_then(|name| name.to_str());
        let release = if profile == Some("debug") { "" } else { " --release" };
        let target_dir = exe.ancestors().nth(3).unwrap_or(&exe);
        let target_dir = match std::env::current_dir() {
            Ok(root) if target_dir == root.join("target") => String::new(),
            Ok(root) => format!(" --target-dir {}", target_dir.strip_prefix(&root).unwrap_or(target_dir).display()),
            Err(_) => format!(" --target-dir {}", target_dir.display()),
        };
        let rustflags = std::env::var("RUSTFLAGS").map(|flags| format!("RUSTFLAGS='{flags}' ")).unwrap_or_default();
        let mut schedule = encode(recording);
        if schedule.len() > 64 * 1024 {
            let path = std::env::temp_dir().join(format!("segpool-shuttle-{test}-{}.schedule", std::process::id()));
            match std::fs::write(&path, &schedule) {
                Ok(()) => schedule = format!("@{}", path.display()),
                Err(e) => eprintln!("could not write the schedule to {}: {e}; printing it", path.display()),
            }
        }
        format!(
            "failing schedule ({} steps); replay it with:\n{rustflags}SEGPOOL_SHUTTLE_REPLAY='{schedule}' \
             cargo test{release} --features shuttle{target_dir} --test {target} {test} -- --exact",
            recording.steps.len()
        )
    }

    fn env_usize(name: &str, default: usize) -> usize {
        match std::env::var(name) {
            Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name} must be a non-negative integer, got {text:?}")),
            Err(_) => default,
        }
    }
}

#[cfg(segpool_std)]
mod imp {
    /// Without a model checker a "model" is one ordinary run.
    pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
        f();
    }
}

pub use imp::*;
