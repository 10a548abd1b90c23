//! Where a result came from: the commit and compiler that built the binary, the machine it ran on, how it was
//! asked to run and when. Written as `provenance.txt` (`key: value` lines) beside `results.csv`, carried into
//! `summary.md`, the paper's method section and, in its short form ([`Provenance::caption`]), the figures.
//!
//! Everything is read from what the system already offers (git, `/proc`, the clock); what cannot be found is
//! "unknown", never a guess.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The sidecar's file name, beside `results.csv`.
pub const FILE: &str = "provenance.txt";

const UNKNOWN: &str = "unknown";

/// One run's provenance. Every field is text as written to the sidecar, so that a file read back is the file
/// written.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    /// The full commit hash of the checkout the binary was built from, or "unknown".
    pub commit: String,
    /// "yes" when the checkout had uncommitted changes at run time, "no", or "unknown".
    pub dirty: String,
    /// `rustc -V` at build time.
    pub rustc: String,
    /// `/proc/cpuinfo`'s `model name`.
    pub cpu: String,
    /// The operating system and, on Linux, the kernel release.
    pub kernel: String,
    pub logical_cores: String,
    /// "yes" or "no": `--pin`.
    pub pinned: String,
    /// Threads per core of the largest configuration, with its threads, e.g. "4 (8 threads on 2 cores)".
    pub threads_per_core: String,
    /// The command line, as given.
    pub command: String,
    /// ISO 8601, UTC, to the second.
    pub started: String,
    /// `/proc/loadavg`'s three averages at the start.
    pub load_average: String,
    /// The whole run, from the start to the files written; "unknown" until [`Provenance::finish`].
    pub wall_time: String,
}

/// The sidecar's keys, in its order, with the field each names.
fn fields(provenance: &mut Provenance) -> [(&'static str, &mut String); 12] {
    [
        ("commit", &mut provenance.commit),
        ("dirty", &mut provenance.dirty),
        ("rustc", &mut provenance.rustc),
        ("cpu", &mut provenance.cpu),
        ("kernel", &mut provenance.kernel),
        ("logical cores", &mut provenance.logical_cores),
        ("pinned", &mut provenance.pinned),
        ("threads per core", &mut provenance.threads_per_core),
        ("command", &mut provenance.command),
        ("started", &mut provenance.started),
        ("load average", &mut provenance.load_average),
        ("wall time", &mut provenance.wall_time),
    ]
}

impl Provenance {
    /// Every field "unknown".
    fn unknown() -> Self {
        let unknown = || UNKNOWN.to_owned();
        Provenance {
            commit: unknown(),
            dirty: unknown(),
            rustc: unknown(),
            cpu: unknown(),
            kernel: unknown(),
            logical_cores: unknown(),
            pinned: unknown(),
            threads_per_core: unknown(),
            command: unknown(),
            started: unknown(),
            load_average: unknown(),
            wall_time: unknown(),
        }
    }

    /// The provenance at the start of a run: `pinned` as asked, `threads` the largest configuration's thread
    /// count (producers plus consumers or workers).
    pub fn capture(pinned: bool, threads: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let (commit, dirty) = git();
        Provenance {
            commit,
            dirty,
            rustc: env!("SEGPOOL_RUSTC_VERSION").to_owned(),
            cpu: cpu_model(),
            kernel: kernel(),
            logical_cores: if cores == 0 { UNKNOWN.to_owned() } else { cores.to_string() },
            pinned: if pinned { "yes" } else { "no" }.to_owned(),
            threads_per_core: threads_per_core(threads, cores),
            command: command_line(std::env::args()),
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or_else(|_| UNKNOWN.to_owned(), |since| iso8601(since.as_secs())),
            load_average: std::fs::read_to_string("/proc/loadavg").map_or_else(
                |_| UNKNOWN.to_owned(),
                |text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            ),
            wall_time: UNKNOWN.to_owned(),
        }
    }

    /// Records the run's wall time.
    pub fn finish(&mut self, wall_time: Duration) {
        self.wall_time = format!("{:.1} s", wall_time.as_secs_f64());
    }

    /// The sidecar's text: one `key: value` line per field.
    pub fn to_text(&self) -> String {
        let mut copy = self.clone();
        let mut text = String::new();
        for (key, value) in fields(&mut copy) {
            let _ = writeln!(text, "{key}: {value}");
        }
        text
    }

    /// The inverse of [`Provenance::to_text`]; keys it does not know are ignored, missing ones are "unknown".
    pub fn parse(text: &str) -> Self {
        let mut provenance = Provenance::unknown();
        for line in text.lines() {
            if let Some((key, value)) = line.split_once(": ")
                && let Some((_, field)) = fields(&mut provenance).into_iter().find(|(name, _)| *name == key)
            {
                *field = value.trim().to_owned();
            }
        }
        provenance
    }

    /// The commit's short hash, with "+dirty" when the checkout had changes.
    fn short_commit(&self) -> String {
        let short: String = self.commit.chars().take(7).collect();
        if self.dirty == "yes" { format!("{short}+dirty") } else { short }
    }

    /// One line for a figure's caption, e.g. "segpool 90a63b2+dirty · rustc 1.91.1 · AMD EPYC 7B13 · 2 cores ·
    /// Linux 6.18 · not pinned · 2026-12-01 21:05 UTC".
    pub fn caption(&self) -> String {
        let rustc = self.rustc.split_whitespace().nth(1).unwrap_or(&self.rustc);
        // "Linux 6.18.0-1-cloud" → "Linux 6.18": the release's major and minor say enough in a caption.
        let kernel = match self.kernel.split_once(' ') {
            Some((os, release)) => {
                let version: Vec<&str> = release.split(['.', '-']).take(2).collect();
                format!("{os} {}", version.join("."))
            }
            None => self.kernel.clone(),
        };
        let started = match (self.started.get(..10), self.started.get(11..16)) {
            (Some(date), Some(time)) => format!("{date} {time} UTC"),
            _ => self.started.clone(),
        };
        let pinned = if self.pinned == "yes" { "pinned" } else { "not pinned" };
        let cores =
            if self.logical_cores == "1" { "1 core".to_owned() } else { format!("{} cores", self.logical_cores) };
        format!(
            "segpool {} · rustc {rustc} · {} · {cores} · {kernel} · {pinned} · {started}",
            self.short_commit(),
            self.cpu
        )
    }

    /// One sentence for the paper's method section and the summary.
    pub fn machine_sentence(&self) -> String {
        format!(
            "Machine: {}, {} logical CPUs, {}; threads {}, threads per core at the largest configuration: {}; load \
             average {} at the start. Built by {} from commit {}; started {}, wall time {}.",
            self.cpu,
            self.logical_cores,
            self.kernel,
            if self.pinned == "yes" { "pinned round-robin to cores" } else { "not pinned" },
            self.threads_per_core,
            self.load_average,
            self.rustc,
            self.short_commit(),
            self.started,
            self.wall_time,
        )
    }
}

/// The commit and dirty flag of the checkout this binary was built from; "unknown" outside one (or without git).
fn git() -> (String, String) {
    let run = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(commit) if !commit.trim().is_empty() => {
            let dirty = run(&["status", "--porcelain"])
                .map_or(UNKNOWN, |status| if status.trim().is_empty() { "no" } else { "yes" });
            (commit.trim().to_owned(), dirty.to_owned())
        }
        _ => (UNKNOWN.to_owned(), UNKNOWN.to_owned()),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
        })
        .unwrap_or_else(|| UNKNOWN.to_owned())
}

fn kernel() -> String {
    match std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        Ok(release) if !release.trim().is_empty() => format!("Linux {}", release.trim()),
        _ => std::env::consts::OS.to_owned(),
    }
}

/// E.g. "4 (8 threads on 2 cores)"; "unknown" without a core count.
pub fn threads_per_core(threads: usize, cores: usize) -> String {
    if cores == 0 {
        return UNKNOWN.to_owned();
    }
    let per_core = threads as f64 / cores as f64;
    let per_core = if per_core.fract() == 0.0 { format!("{per_core:.0}") } else { format!("{per_core:.2}") };
    format!("{per_core} ({threads} threads on {cores} cores)")
}

/// The command line as one line, the program called `segpool`; an argument with a space or a quote is quoted.
pub fn command_line(args: impl IntoIterator<Item = String>) -> String {
    let mut words = vec!["segpool".to_owned()];
    words.extend(args.into_iter().skip(1).map(|arg| {
        if arg.is_empty() || arg.contains([' ', '\'', '"']) { format!("'{}'", arg.replace('\'', "'\\''")) } else { arg }
    }));
    words.join(" ")
}

/// Seconds since the Unix epoch as ISO 8601 in UTC, e.g. "2026-12-01T21:05:33Z".
pub fn iso8601(seconds: u64) -> String {
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`): the year
/// is shifted to start in March, so that the leap day falls at the end of it, and split into 400-year eras.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_8601_in_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z", "a leap day of a 400-year leap year");
        assert_eq!(iso8601(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(iso8601(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(iso8601(4_107_542_400), "2100-03-01T00:00:00Z", "2100 is not a leap year");
        assert_eq!(iso8601(1_798_830_333), "2027-01-01T19:05:33Z");
        assert_eq!(iso8601(1_796_245_199), "2026-12-02T20:59:59Z");
        assert_eq!(iso8601(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    fn sample() -> Provenance {
        Provenance {
            commit: "90a63b2e0f0c1d2e3f405162738495a6b7c8d9e0".into(),
            dirty: "yes".into(),
            rustc: "rustc 1.91.1 (ed61e7d7e 2025-11-07)".into(),
            cpu: "AMD EPYC 7B13".into(),
            kernel: "Linux 6.18.0-1-cloud-amd64".into(),
            logical_cores: "2".into(),
            pinned: "no".into(),
            threads_per_core: threads_per_core(8, 2),
            command: command_line(["x", "--threads", "auto", "--out", "my results"].map(String::from)),
            started: iso8601(1_796_245_199),
            load_average: "0.52 0.61 0.70".into(),
            wall_time: "12.3 s".into(),
        }
    }

    #[test]
    fn the_sidecar_is_key_value_lines_and_reads_back() {
        let text = sample().to_text();
        let keys: Vec<&str> = text.lines().map(|line| line.split_once(": ").expect("key: value").0).collect();
        assert_eq!(
            keys,
            [
                "commit",
                "dirty",
                "rustc",
                "cpu",
                "kernel",
                "logical cores",
                "pinned",
                "threads per core",
                "command",
                "started",
                "load average",
                "wall time"
            ]
        );
        assert!(text.contains("threads per core: 4 (8 threads on 2 cores)\n"), "{text}");
        assert!(text.contains("command: segpool --threads auto --out 'my results'\n"), "{text}");
        assert_eq!(Provenance::parse(&text), sample());
        let partial = Provenance::parse("cpu: Apple M3\nnonsense line\nfuture key: x\n");
        assert_eq!(partial.cpu, "Apple M3");
        assert_eq!(partial.commit, "unknown", "a missing key is unknown");
    }

    #[test]
    fn the_caption_is_one_short_line() {
        assert_eq!(
            sample().caption(),
            "segpool 90a63b2+dirty · rustc 1.91.1 · AMD EPYC 7B13 · 2 cores · Linux 6.18 · not pinned · 2026-12-02 \
             20:59 UTC"
        );
        let unknown = Provenance::unknown().caption();
        assert_eq!(
            unknown,
            "segpool unknown · rustc unknown · unknown · unknown cores · unknown · not pinned · unknown"
        );
        assert_eq!(threads_per_core(3, 2), "1.50 (3 threads on 2 cores)");
    }

    /// This test runs inside the checkout (cargo test): the commit is a hash, the rustc version was recorded.
    /// Where no git runs (the Windows leg under Wine has none), the commit is `unknown`, not an error.
    #[test]
    fn capture_finds_the_checkout_and_the_compiler() {
        let provenance = Provenance::capture(false, 2);
        if Command::new("git").arg("--version").output().is_ok_and(|output| output.status.success()) {
            let hash = provenance.commit.len() == 40 && provenance.commit.chars().all(|c| c.is_ascii_hexdigit());
            assert!(hash, "{}", provenance.commit);
        } else {
            assert_eq!((provenance.commit.as_str(), provenance.dirty.as_str()), (UNKNOWN, UNKNOWN));
        }
        assert!(provenance.rustc.starts_with("rustc "), "{}", provenance.rustc);
        assert!(provenance.started.ends_with('Z') && provenance.started.len() == 20, "{}", provenance.started);
    }
}
