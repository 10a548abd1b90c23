//! The comparison's plan: the thread configurations, and what `--wpool` adds to it.

use super::*;

fn plan(args: &[&str]) -> Plan {
    let args = Args::try_parse_from(["segpool"].iter().chain(args)).expect("arguments parse");
    Plan::from_args(&args).expect("a valid plan")
}

/// No Go needed: the turns are planned before anything runs (the harness's readiness is the flag here).
#[test]
fn a_plan_with_wpool_alternates_its_rounds_with_ours() {
    let plan = plan(&[
        "--workloads=empty,queue",
        "--subjects=leak,hazard",
        "--segment-size=1,64",
        "--runs=3",
        "--wpool=/no/such/wpool",
    ]);
    assert!(plan.wpool.is_some());
    let groups = plan.groups();
    let (entries, turns) = plan.rounds(&groups[0], plan.wpool.is_some());
    let subjects: Vec<_> = entries.iter().map(|(cell, subject)| (cell.segment_size, *subject)).collect();
    assert_eq!(subjects, [(1, Subject::Hazard), (1, Subject::Leak), (64, Subject::Hazard), (64, Subject::Leak)]);
    use Turn::{Ours, Wpool};
    // Each round: ours at size 1, wpool at size 1, ours at size 64, wpool at size 64 (A B A B).
    let round = [Ours(0), Ours(1), Wpool(0), Ours(2), Ours(3), Wpool(1)];
    assert_eq!(turns, round.repeat(3));
    let (_, queue) = plan.rounds(&groups[1], true);
    assert_eq!(queue, [Ours(0), Ours(1), Ours(2), Ours(3)].repeat(3), "no wpool row in queue workloads");
    let (_, not_ready) = plan.rounds(&groups[0], false);
    assert!(not_ready.iter().all(|turn| matches!(turn, Ours(_))), "no harness, no wpool turns");
    let fail = self::plan(&["--workloads=empty", "--subjects=hazard", "--policy=fail", "--wpool=/x"]);
    let (_, under_fail) = fail.rounds(&fail.groups()[0], true);
    assert!(under_fail.iter().all(|turn| matches!(turn, Ours(_))), "wpool cannot run under Fail");
}

/// `--threads` gives matched configurations (N producers, N consumers), not the cross product of the two lists;
/// it cannot be combined with either.
#[test]
fn threads_gives_matched_configurations() {
    let threads = |plan: &Plan| plan.groups().iter().map(|group| (group[0].producers, group[0].consumers)).collect();
    let matched: Vec<(usize, usize)> = threads(&plan(&["--workloads=queue", "--threads=1,2,4"]));
    assert_eq!(matched, [(1, 1), (2, 2), (4, 4)]);
    let crossed: Vec<(usize, usize)> = threads(&plan(&["--workloads=queue", "--producers=1,2", "--workers=1,2"]));
    assert_eq!(crossed, [(1, 1), (1, 2), (2, 1), (2, 2)]);
    assert!(Args::try_parse_from(["segpool", "--threads=2", "--producers=1"]).is_err());
}

/// `--threads auto`: powers of two up to the cores, the core count itself when it is not one, and one
/// oversubscribed point at twice the cores.
#[test]
fn threads_auto_sweeps_up_to_the_cores_and_one_past() {
    assert_eq!(auto_threads(1), [1, 2]);
    assert_eq!(auto_threads(2), [1, 2, 4]);
    assert_eq!(auto_threads(6), [1, 2, 4, 6, 12]);
    assert_eq!(auto_threads(8), [1, 2, 4, 8, 16]);
    assert_eq!(auto_threads(96), [1, 2, 4, 8, 16, 32, 64, 96, 192]);
    assert_eq!(auto_threads(0), [1, 2], "a machine that reports no cores counts as one");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = |plan: &Plan| plan.threads.iter().map(|&(producers, _)| producers).collect::<Vec<_>>();
    assert_eq!(threads(&plan(&["--threads=auto"])), auto_threads(cores));
    let mut mixed = auto_threads(cores);
    mixed.push(3);
    mixed.sort_unstable();
    mixed.dedup();
    assert_eq!(threads(&plan(&["--threads=3,auto"])), mixed, "explicit counts join the sweep");
    assert!(Args::try_parse_from(["segpool", "--threads=0"]).is_err());
    assert!(Args::try_parse_from(["segpool", "--threads=many"]).is_err());
}

/// Negative durations are named as such, not taken for flags (clap's "unexpected argument"), and a missing
/// duration names the flag that clap would have taken for it (before clap parses).
#[test]
fn negative_durations_get_a_plain_message() {
    for args in [&["--duration", "-1s"][..], &["--duration=-1s"], &["--stall", "-5ms"], &["--stall=0ms,-5ms"]] {
        let error = Args::try_parse_from(["segpool"].iter().chain(args)).unwrap_err().to_string();
        assert!(error.contains("durations cannot be negative"), "{args:?}: {error}");
    }
    assert_eq!(plan(&["--duration=20ms"]).duration, Duration::from_millis(20));
    for (args, message) in [
        (&["--duration", "--runs", "5"][..], "--duration needs a value before the next flag, --runs"),
        (&["--runs=1", "--stall", "--"], "--stall needs a value before the next flag, --"),
    ] {
        assert_eq!(missing_duration(&[&["segpool"][..], args].concat()).as_deref(), Some(message), "{args:?}");
    }
    for fine in [&["--duration", "1s", "--runs", "5"][..], &["--duration=-1s", "--runs=5"], &["--runs", "--stall"]] {
        assert_eq!(missing_duration(fine), None, "{fine:?}");
    }
}

/// The progress bar names the phase and the configuration.
#[test]
fn the_progress_label_names_the_phase_and_the_subject() {
    let plan = plan(&["--workloads=queue,stall", "--stall=10ms", "--segment-size=64", "--threads=2"]);
    let groups = plan.groups();
    assert_eq!(
        label("throughput round 2/3", &groups[0][0], "hazard"),
        "throughput round 2/3 · queue · hazard · size 64 · 2p2c"
    );
    assert_eq!(label("memory", &groups[1][0], "epoch"), "memory · stall · epoch · size 64 · 2p2c · stall 10ms");
}

/// The output folder is created and must take a file.
#[test]
fn the_output_folder_is_checked_before_the_run() {
    let folder = std::env::temp_dir().join(format!("segpool-out-{}", std::process::id()));
    let nested = folder.join("a").join("b");
    prepare_out(&nested).expect("a new folder is created");
    assert_eq!(std::fs::read_dir(&nested).unwrap().count(), 0, "the probe is removed");
    std::fs::write(folder.join("file"), "").unwrap();
    let error = prepare_out(&folder.join("file").join("x")).unwrap_err();
    assert!(
        error.starts_with(&format!("--out {}: cannot create the folder", folder.join("file").join("x").display())),
        "{error}"
    );
    std::fs::remove_dir_all(&folder).unwrap();
}

/// `--pin` reaches every configuration; where the build cannot pin it is refused up front.
#[test]
fn pin_is_planned_or_refused() {
    let args = Args::try_parse_from(["segpool", "--pin", "--workloads=queue"]).unwrap();
    match Plan::from_args(&args) {
        Ok(plan) => assert!(plan.groups().iter().flatten().all(|cell| cell.pin)),
        Err(error) => assert!(crate::workloads::pinning_available().is_err(), "pinning works here: {error}"),
    }
    assert!(self::plan(&["--workloads=queue"]).groups().iter().flatten().all(|cell| !cell.pin));
}
