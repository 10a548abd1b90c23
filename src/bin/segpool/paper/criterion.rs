//! Section 5.5's criterion table, from criterion's saved estimates: `paper --criterion DIR` reads every
//! `DIR/…/new/estimates.json` (with its `benchmark.json`) and keeps the medians in `data/criterion.csv` beside the
//! paper, so that later regenerations without the flag still have them. The file records when each benchmark was
//! measured (its estimates' modification time): criterion's runs are a separate measurement from the comparison's.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// One benchmark's median.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// criterion's group, function and parameter: `queue/pairs`, `hazard`, `64` (the parameter may be empty).
    pub group: String,
    pub function: String,
    pub value: String,
    /// The median time of one iteration, in ns.
    pub median_ns: f64,
    /// Elements per iteration (`Throughput::Elements`), when the benchmark declares them.
    pub elements: Option<u64>,
    /// When it was measured: `YYYY-MM-DD HH:MM` UTC.
    pub measured: String,
}

pub const HEADER: &str = "group,function,value,median_ns,elements,measured_utc";

/// The number after `"key":` in `json` at or after `from`.
fn number_after(json: &str, key: &str, from: usize) -> Option<f64> {
    let at = json[from..].find(&format!("\"{key}\":"))? + from + key.len() + 3;
    let text = json[at..].trim_start();
    let end = text.find([',', '}']).unwrap_or(text.len());
    text[..end].trim().parse().ok()
}

/// The string after `"key":` in `json`.
fn string_after(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let text = json[at..].trim_start().strip_prefix('"')?;
    Some(text[..text.find('"')?].to_owned())
}

/// A time as `YYYY-MM-DD HH:MM` UTC (Howard Hinnant's days-to-civil algorithm).
fn utc(seconds: u64) -> String {
    let (days, rest) = ((seconds / 86_400) as i64, seconds % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rest / 3600, rest % 3600 / 60)
}

/// Every benchmark under `dir` (criterion's output folder, `target/criterion`).
pub fn collect(dir: &Path) -> Result<Vec<Estimate>, String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = fs::read_dir(&folder).map_err(|error| format!("{}: {error}", folder.display()))?;
        for entry in entries {
            let path = entry.map_err(|error| error.to_string())?.path();
            if path.is_dir() && path.file_name().is_some_and(|name| name != "report") {
                pending.push(path);
            } else if path.file_name().is_some_and(|name| name == "estimates.json")
                && path.parent().and_then(Path::file_name).is_some_and(|name| name == "new")
            {
                found.push(read(&path)?);
            }
        }
    }
    if found.is_empty() {
        return Err(format!("{}: no criterion estimates (…/new/estimates.json) under it", dir.display()));
    }
    found.sort_by(|a, b| (&a.group, &a.value, &a.function).cmp(&(&b.group, &b.value, &b.function)));
    Ok(found)
}

fn read(estimates: &Path) -> Result<Estimate, String> {
    let name = |path: &Path| path.display().to_string();
    let json = fs::read_to_string(estimates).map_err(|error| format!("{}: {error}", name(estimates)))?;
    let median = json.find("\"median\":").ok_or_else(|| format!("{}: no median", name(estimates)))?;
    let median_ns = number_after(&json, "point_estimate", median)
        .ok_or_else(|| format!("{}: no point estimate of the median", name(estimates)))?;
    let benchmark_json = estimates.with_file_name("benchmark.json");
    let benchmark =
        fs::read_to_string(&benchmark_json).map_err(|error| format!("{}: {error}", name(&benchmark_json)))?;
    // The CSV is comma-separated and the names are criterion's: keep them free of commas.
    let field = |key: &str| {
        string_after(&benchmark, key)
            .map(|text| text.replace(',', ";"))
            .ok_or_else(|| format!("{}: no {key}", name(&benchmark_json)))
    };
    let (group, function) = (field("group_id")?, field("function_id").unwrap_or_default());
    let value = field("value_str").unwrap_or_default();
    let elements = number_after(&benchmark, "Elements", 0).map(|elements| elements as u64);
    let modified = fs::metadata(estimates)
        .and_then(|meta| meta.modified())
        .map_err(|error| format!("{}: {error}", name(estimates)))?;
    let seconds = modified.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    Ok(Estimate { group, function, value, median_ns, elements, measured: utc(seconds) })
}

pub fn to_csv(estimates: &[Estimate]) -> String {
    let mut text = format!("{HEADER}\n");
    for estimate in estimates {
        let elements = estimate.elements.map_or_else(String::new, |elements| elements.to_string());
        let _ = writeln!(
            text,
            "{},{},{},{:.3},{elements},{}",
            estimate.group, estimate.function, estimate.value, estimate.median_ns, estimate.measured
        );
    }
    text
}

pub fn from_csv(text: &str) -> Result<Vec<Estimate>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(format!("not a criterion summary (its header is not `{HEADER}`)"));
    }
    lines
        .enumerate()
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            let bad = || format!("line {}: cannot read {line:?}", index + 2);
            let [group, function, value, median, elements, measured] = fields[..] else { return Err(bad()) };
            Ok(Estimate {
                group: group.to_owned(),
                function: function.to_owned(),
                value: value.to_owned(),
                median_ns: median.parse().map_err(|_| bad())?,
                elements: if elements.is_empty() { None } else { Some(elements.parse().map_err(|_| bad())?) },
                measured: measured.to_owned(),
            })
        })
        .collect()
}

/// The generated section: one line per benchmark, in ns per element where criterion counted elements.
pub fn section(estimates: Option<&[Estimate]>) -> String {
    let Some(estimates) = estimates.filter(|estimates| !estimates.is_empty()) else {
        return "No saved criterion estimates beside the paper (`data/criterion.csv`): run the suites, then \
                `cargo run --release -- paper --criterion target/criterion`."
            .to_owned();
    };
    let first = estimates.iter().map(|estimate| estimate.measured.as_str()).min().unwrap_or("");
    let last = estimates.iter().map(|estimate| estimate.measured.as_str()).max().unwrap_or("");
    let when = if first == last { format!("on {first} UTC") } else { format!("between {first} and {last} UTC") };
    let mut text = format!(
        "{} benchmarks from criterion's saved estimates (`data/criterion.csv`), measured {when}: a separate \
         measurement from the comparison's run. Median time per value or job where the benchmark counts them \
         (`Throughput::Elements`), else per iteration.\n\n",
        estimates.len()
    );
    // One column per function, in the paper's order of subjects; one line per group and parameter. A function
    // without a parameter in a group whose others have one (a peer without segments) fills every line of it.
    let order = |function: &str| {
        let subjects = super::targets::STRATEGIES.iter().chain(PEERS.iter());
        subjects.clone().position(|name| *name == function).unwrap_or(subjects.count())
    };
    let mut columns: Vec<&str> = estimates.iter().map(|estimate| estimate.function.as_str()).collect();
    columns.sort_by_key(|function| (order(function), function.to_string()));
    columns.dedup();
    let mut lines: Vec<(&str, &str)> = estimates
        .iter()
        .filter(|estimate| {
            !estimate.value.is_empty()
                || !estimates.iter().any(|other| other.group == estimate.group && !other.value.is_empty())
        })
        .map(|estimate| (estimate.group.as_str(), estimate.value.as_str()))
        .collect();
    lines.sort_by_key(|(group, value)| (group.to_string(), value.parse::<u64>().unwrap_or(0), value.to_string()));
    lines.dedup();
    let header: Vec<&str> = columns.iter().map(|function| column_name(function)).collect();
    let _ = writeln!(text, "| | {} |", header.join(" | "));
    let _ = writeln!(text, "|---|{}", "---:|".repeat(columns.len()));
    for (group, value) in lines {
        let cells: Vec<String> = columns
            .iter()
            .map(|function| {
                let exact = estimates.iter().find(|e| e.group == group && e.function == *function && e.value == value);
                let shared =
                    || estimates.iter().find(|e| e.group == group && e.function == *function && e.value.is_empty());
                exact.or_else(shared).map_or_else(
                    || "–".to_owned(),
                    |estimate| match estimate.elements {
                        Some(elements) if elements > 0 => format!("{:.1}", estimate.median_ns / elements as f64),
                        _ => format!("{:.1} (iteration)", estimate.median_ns),
                    },
                )
            })
            .collect();
        let label = group.replace('/', " ");
        let label = if value.is_empty() { label } else { format!("{label}, size {value}") };
        let _ = writeln!(text, "| {label} | {} |", cells.join(" | "));
    }
    text
}

/// The peers, after the strategies in the table's columns.
const PEERS: [&str; 5] = ["segqueue", "crossbeam-channel", "mutex-deque", "io_uring", "iocp"];

/// A column's title: the paper's name of a subject, short.
fn column_name(function: &str) -> &str {
    match function {
        "segqueue" => "SegQueue",
        "crossbeam-channel" => "channel",
        "mutex-deque" => "Mutex&lt;VecDeque&gt;",
        other => super::findings::display(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_estimates_are_read_and_round_trip() {
        let dir = std::env::temp_dir().join(format!("segpool-criterion-{}", std::process::id()));
        let new = dir.join("queue_pairs/Hazard/64/new");
        fs::create_dir_all(&new).unwrap();
        fs::create_dir_all(dir.join("report")).unwrap();
        fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":99.0,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":3760.5,"standard_error":0.2}}"#,
        )
        .unwrap();
        fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"queue/pairs","function_id":"Hazard","value_str":"64","throughput":{"Elements":100},"full_id":"queue/pairs/Hazard/64","directory_name":"queue_pairs/Hazard/64","title":"queue/pairs/Hazard/64"}"#,
        )
        .unwrap();
        let estimates = collect(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(estimates.len(), 1);
        let name = (estimates[0].group.as_str(), estimates[0].function.as_str(), estimates[0].value.as_str());
        assert_eq!((name, estimates[0].median_ns), (("queue/pairs", "Hazard", "64"), 3760.5));
        assert_eq!(estimates[0].elements, Some(100));
        assert_eq!(from_csv(&to_csv(&estimates)).unwrap(), estimates);
        let table = section(Some(&estimates));
        assert!(table.contains("| | Hazard |\n|---|---:|\n| queue pairs, size 64 | 37.6 |"), "{table}");
        assert!(section(None).starts_with("No saved criterion estimates"));
        assert!(from_csv("a,b\n").unwrap_err().contains("not a criterion summary"));
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(1_796_160_000), "2026-12-01 21:20");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
    }
}
