//! What the flags and a run need besides the plan: `--threads`'s values and its `auto` sweep, the check of the
//! output folder before anything runs, and the progress bar's label.

use std::ffi::OsStr;
use std::path::Path;

use crate::workloads::Cell;

/// The flags whose values may begin with a hyphen, so that a negative duration gets a plain message.
const DURATION_FLAGS: [&str; 2] = ["--duration", "--stall"];

/// A duration flag followed by another flag instead of its value (`--duration --runs 5`). Allowed hyphenated
/// values, clap would take the flag for the duration and report what follows it (`unrecognized subcommand '5'`);
/// this names the missing value instead.
pub fn missing_duration(args: &[impl AsRef<OsStr>]) -> Option<String> {
    args.windows(2).find_map(|pair| {
        let (flag, next) = (pair[0].as_ref().to_string_lossy(), pair[1].as_ref().to_string_lossy());
        (DURATION_FLAGS.contains(&flag.as_ref()) && next.starts_with("--"))
            .then(|| format!("{flag} needs a value before the next flag, {next}"))
    })
}

/// One value of `--threads`: a thread count, or `auto` for a sweep up to the machine's cores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threads {
    Count(usize),
    Auto,
}

impl Threads {
    pub(super) fn parse(text: &str) -> Result<Threads, String> {
        if text == "auto" {
            return Ok(Threads::Auto);
        }
        match text.parse::<usize>() {
            Ok(count @ 1..=1024) => Ok(Threads::Count(count)),
            _ => Err(format!("{text:?}: a thread count from 1 to 1024, or `auto`")),
        }
    }
}

/// `--threads auto` on `cores` logical cores: 1, 2, 4, … up to `cores`, `cores` itself if it is not a power of
/// two, and `2 × cores`, one oversubscribed point (where a strategy's cost of a preempted thread shows).
pub fn auto_threads(cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    let mut counts: Vec<usize> =
        std::iter::successors(Some(1usize), |&n| n.checked_mul(2)).take_while(|&n| n <= cores).collect();
    if !cores.is_power_of_two() {
        counts.push(cores);
    }
    counts.push(2 * cores);
    counts
}

/// The progress bar's label: the phase, then the configuration, e.g. "throughput round 2/3 · queue · hazard ·
/// size 64 · 1p1c".
pub(super) fn label(phase: &str, cell: &Cell, subject: &str) -> String {
    let stall = cell.stall.map_or_else(String::new, |stall| format!(" · stall {}", stall.name()));
    format!(
        "{phase} · {} · {subject} · size {} · {}p{}c{stall}",
        cell.workload.name(),
        cell.segment_size,
        cell.producers,
        cell.consumers
    )
}

/// Creates the output folder and checks that it takes a file (writes and removes a probe), so that a run
/// that could not save its results fails before it starts rather than after.
pub fn prepare_out(out: &Path) -> Result<(), String> {
    let folder = out.display();
    std::fs::create_dir_all(out).map_err(|error| format!("--out {folder}: cannot create the folder: {error}"))?;
    let probe = out.join(format!(".segpool-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|error| format!("--out {folder}: cannot write into the folder: {error}"))?;
    std::fs::remove_file(&probe).map_err(|error| format!("{}: cannot remove the probe: {error}", probe.display()))
}
