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
