// Not under Miri: these tests spawn the binary, which Miri's isolation forbids (and which it could not interpret).
#![cfg(all(segpool_std, not(miri)))]
//! The comparison command as a user meets it: the binary itself, run in a child process with a tiny matrix (one
//! workload, one or two subjects, 10 ms rounds), each under a time limit after which it is killed and the test
//! fails, so that a hang fails fast. What a run writes (rounds.csv, provenance.txt), how it fails (an unwritable
//! output folder before any run) and how it ends when its reader goes away (a closed stdout).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Far longer than any of these runs takes (under a second each); a run still going then is hung.
const LIMIT: Duration = Duration::from_secs(60);

/// The flags of a matrix of two rounds of 10 ms for each subject, with a memory run.
const TINY: [&str; 8] = ["--workloads", "queue", "--segment-size", "64", "--duration", "10ms", "--runs", "2"];

/// A fresh folder for one test's output.
fn folder(test: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("segpool-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    folder
}

/// The binary with `args`, stderr into a file (a full pipe would look like a hang), stdout as given.
fn spawn(args: &[&str], stdout: Stdio, stderr: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_segpool"))
        .args(args)
        .stdout(stdout)
        .stderr(std::fs::File::create(stderr).expect("a file for stderr"))
        .spawn()
        .expect("the binary starts")
}

/// Waits for `child` at most [`LIMIT`]; kills it and fails the test after that.
fn wait(mut child: Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {LIMIT:?}, killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the binary to its end; returns its exit status and stderr.
fn run(args: &[&str], out: &Path) -> (ExitStatus, String) {
    std::fs::create_dir_all(out.parent().unwrap_or(out)).unwrap();
    let stderr = out.with_extension("stderr");
    let status = wait(spawn(args, Stdio::null(), &stderr), &args.join(" "));
    (status, std::fs::read_to_string(&stderr).unwrap_or_default())
}

/// rounds.csv: one line per metric of every round, in the order the rounds ran (the subjects take turns within
/// a round), then each subject's memory run.
#[test]
fn rounds_csv_has_a_line_per_metric_of_every_round() {
    let out = folder("rounds");
    let out_text = out.to_str().unwrap();
    let args: Vec<&str> = TINY.iter().copied().chain(["--subjects", "hazard,epoch", "--out", out_text]).collect();
    let (status, stderr) = run(&args, &out);
    assert!(status.success(), "{status}: {stderr}");
    let text = std::fs::read_to_string(out.join("rounds.csv")).expect("rounds.csv is written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("workload,subject,kind,producers,consumers,segment_size,policy,stall,round,metric,value,unit")
    );
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert!(rows.iter().all(|row| row.len() == 12), "12 columns in every line:\n{text}");
    // A strategy's throughput round: ns_per_job, jobs, elapsed, handed_back, latency_samples, p50, p99,
    // exhaustion_events; its memory run: allocs_per_job, peak_unreclaimed, segments_allocated, exhaustion_events.
    let (throughput_metrics, memory_metrics, rounds, subjects) = (8, 4, 2, 2);
    assert_eq!(rows.len(), subjects * (rounds * throughput_metrics + memory_metrics), "{text}");
    let order: Vec<(&str, &str)> = rows.iter().map(|row| (row[1], row[8])).collect();
    let mut expected = Vec::new();
    for (subject, round, metrics) in [
        ("hazard", "1", throughput_metrics),
        ("epoch", "1", throughput_metrics),
        ("hazard", "2", throughput_metrics),
        ("epoch", "2", throughput_metrics),
        ("hazard", "memory", memory_metrics),
        ("epoch", "memory", memory_metrics),
    ] {
        expected.extend(std::iter::repeat_n((subject, round), metrics));
    }
    assert_eq!(order, expected, "rounds in the order they ran");
    let ns_per_job: Vec<f64> =
        rows.iter().filter(|row| row[9] == "ns_per_job").map(|row| row[10].parse().expect("a number")).collect();
    assert!(ns_per_job.len() == 4 && ns_per_job.iter().all(|&ns| ns > 0.0), "{ns_per_job:?}");
    assert!(rows.iter().all(|row| row[..8] == ["queue", row[1], "strategy", "1", "1", "64", "grow", ""]));
    let provenance = std::fs::read_to_string(out.join("provenance.txt")).expect("provenance.txt is written");
    for key in ["commit", "rustc", "cpu", "kernel", "logical cores", "pinned", "command", "started", "wall time"] {
        assert!(provenance.lines().any(|line| line.starts_with(&format!("{key}: "))), "no {key}:\n{provenance}");
    }
    assert!(provenance.contains("pinned: no\n"), "{provenance}");
    assert!(provenance.contains(&format!("command: segpool {}", args.join(" "))), "{provenance}");
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md is written");
    assert!(summary.contains("## Provenance") && summary.contains(provenance.trim()), "{summary}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// An output folder that cannot be created fails before any run: the default matrix would run for minutes (and
/// be killed at the time limit), so a success here means nothing ran before the check.
#[test]
fn an_unusable_output_folder_fails_before_any_run() {
    let out = folder("unusable");
    std::fs::create_dir_all(&out).unwrap();
    // A file where the folder should be: creating the folder fails on every platform.
    let blocker = out.join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let target = blocker.join("results");
    let (status, stderr) = run(&["--duration", "600s", "--out", target.to_str().unwrap()], &out.join("log"));
    assert!(!status.success(), "an unusable folder is an error");
    assert!(stderr.contains(&format!("--out {}: cannot create the folder", target.display())), "{stderr}");
    assert!(!stderr.contains("configurations"), "nothing was planned to run: {stderr}");
    std::fs::remove_dir_all(&out).unwrap();
}

/// A reader that goes away (`segpool | head -1`) ends the run quietly: exit 0, no panic, and the files written.
#[test]
fn a_closed_stdout_ends_quietly_with_the_files_written() {
    let out = folder("pipe");
    std::fs::create_dir_all(&out).unwrap();
    let results = out.join("results");
    let args: Vec<&str> = TINY
        .iter()
        .copied()
        .chain(["--subjects", "hazard", "--no-memory", "--out", results.to_str().unwrap()])
        .collect();
    let stderr = out.join("stderr");
    let mut child = spawn(&args, Stdio::piped(), &stderr);
    // The binary writes to stdout only at the end: with the read end closed now, every write it makes fails.
    drop(child.stdout.take());
    let status = wait(child, "a run with a closed stdout");
    let stderr = std::fs::read_to_string(&stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for file in ["results.csv", "rounds.csv", "provenance.txt", "summary.md"] {
        assert!(results.join(file).is_file(), "{file} is written before stdout");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// Negative durations get a message that says so, whether the value follows the flag or an `=`; a missing one
/// names the flag that follows.
#[test]
fn negative_durations_are_named() {
    let out = folder("negative");
    for args in
        [["--duration", "-1s"], ["--duration=-1s", "--runs=1"], ["--stall", "-5ms"], ["--stall=0ms,-5ms", "--runs=1"]]
    {
        let (status, stderr) = run(&args, &out.join("log"));
        assert_eq!(status.code(), Some(2), "{args:?}: a usage error");
        assert!(stderr.contains("durations cannot be negative"), "{args:?}: {stderr}");
    }
    let (status, stderr) = run(&["--duration", "--runs", "1"], &out.join("log"));
    assert_eq!(status.code(), Some(2), "a missing duration is a usage error");
    assert!(stderr.contains("--duration needs a value before the next flag, --runs"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
