//! Results: one [`Row`] per subject and configuration, written as CSV, rendered as Markdown tables (the figures are
//! drawn by `figures/`). The paper's generator reads the CSV back through [`read_csv`], so the tables in `papers/` and the
//! ones printed by a run come from the same code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// The CSV header; [`Row::to_csv`] follows it field by field. [`read_csv`] finds its columns by name, so that
/// files written before a column was added (`stall`, `bytes_per_job`) still read, with the column empty.
pub const CSV_HEADER: &str = "workload,subject,kind,producers,consumers,segment_size,policy,stall,runs,jobs,\
ns_per_job,ns_per_job_min,ns_per_job_max,mjobs_per_s,p50_ns,p99_ns,allocs_per_job,peak_unreclaimed,\
segments_allocated,exhaustion_events,handed_back,bytes_per_job";

/// The columns a results file may lack: those added after the first version of the format.
const LATER_COLUMNS: [&str; 2] = ["stall", "bytes_per_job"];

/// One subject in one configuration: the median of its throughput runs and its memory run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub workload: String,
    pub subject: String,
    /// "strategy" (behind the segmented queue) or "peer".
    pub kind: String,
    pub producers: usize,
    pub consumers: usize,
    pub segment_size: usize,
    pub policy: String,
    /// The stall workload's stall length (`0ms`, `10ms`, `run`: [`crate::workloads::StallLength::name`]).
    pub stall: Option<String>,
    pub runs: usize,
    /// Jobs in the median throughput run.
    pub jobs: u64,
    pub ns_per_job: f64,
    pub ns_per_job_min: f64,
    pub ns_per_job_max: f64,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub allocs_per_job: Option<f64>,
    pub peak_unreclaimed: Option<u64>,
    pub segments_allocated: Option<u64>,
    pub exhaustion_events: Option<u64>,
    pub handed_back: u64,
    /// Bytes allocated per job, for rows whose harness reports it (Go's B/op: [`crate::wpool`]).
    pub bytes_per_job: Option<f64>,
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(String::new, |value| value.to_string())
}

impl Row {
    pub fn mjobs_per_s(&self) -> f64 {
        1e3 / self.ns_per_job
    }

    /// The configuration this row belongs to: rows with the same key share a table.
    pub fn table_key(&self) -> (String, usize, usize, String, Option<String>, usize) {
        (
            self.workload.clone(),
            self.producers,
            self.consumers,
            self.policy.clone(),
            self.stall.clone(),
            self.segment_size,
        )
    }

    pub fn to_csv(&self) -> String {
        [
            self.workload.clone(),
            self.subject.clone(),
            self.kind.clone(),
            self.producers.to_string(),
            self.consumers.to_string(),
            self.segment_size.to_string(),
            self.policy.clone(),
            optional(self.stall.clone()),
            self.runs.to_string(),
            self.jobs.to_string(),
            format!("{:.2}", self.ns_per_job),
            format!("{:.2}", self.ns_per_job_min),
            format!("{:.2}", self.ns_per_job_max),
            format!("{:.3}", self.mjobs_per_s()),
            optional(self.p50_ns),
            optional(self.p99_ns),
            optional(self.allocs_per_job.map(|a| format!("{a:.4}"))),
            optional(self.peak_unreclaimed),
            optional(self.segments_allocated),
            optional(self.exhaustion_events),
            self.handed_back.to_string(),
            optional(self.bytes_per_job),
        ]
        .join(",")
    }

    /// A line of a file whose header is `header` (its column names, in the file's order).
    pub fn from_csv(header: &[&str], line: &str) -> Result<Row, String> {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            return Err(format!("{} fields, the header has {}", fields.len(), header.len()));
        }
        let field = |name: &str| header.iter().position(|&column| column == name).map_or("", |at| fields[at]);
        fn parse<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
            text.parse().map_err(|_| format!("field `{name}`: cannot read {text:?}"))
        }
        fn parse_optional<T: std::str::FromStr>(name: &str, text: &str) -> Result<Option<T>, String> {
            if text.is_empty() { Ok(None) } else { parse(name, text).map(Some) }
        }
        let text = |name: &str| field(name).to_owned();
        Ok(Row {
            workload: text("workload"),
            subject: text("subject"),
            kind: text("kind"),
            producers: parse("producers", field("producers"))?,
            consumers: parse("consumers", field("consumers"))?,
            segment_size: parse("segment_size", field("segment_size"))?,
            policy: text("policy"),
            stall: Some(text("stall")).filter(|stall| !stall.is_empty()),
            runs: parse("runs", field("runs"))?,
            jobs: parse("jobs", field("jobs"))?,
            ns_per_job: parse("ns_per_job", field("ns_per_job"))?,
            ns_per_job_min: parse("ns_per_job_min", field("ns_per_job_min"))?,
            ns_per_job_max: parse("ns_per_job_max", field("ns_per_job_max"))?,
            p50_ns: parse_optional("p50_ns", field("p50_ns"))?,
            p99_ns: parse_optional("p99_ns", field("p99_ns"))?,
            allocs_per_job: parse_optional("allocs_per_job", field("allocs_per_job"))?,
            peak_unreclaimed: parse_optional("peak_unreclaimed", field("peak_unreclaimed"))?,
            segments_allocated: parse_optional("segments_allocated", field("segments_allocated"))?,
            exhaustion_events: parse_optional("exhaustion_events", field("exhaustion_events"))?,
            handed_back: parse("handed_back", field("handed_back"))?,
            bytes_per_job: parse_optional("bytes_per_job", field("bytes_per_job"))?,
        })
    }
}

pub fn write_csv(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let mut text = String::from(CSV_HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(&row.to_csv());
        text.push('\n');
    }
    fs::write(path, text)
}

pub fn read_csv(path: &Path) -> Result<Vec<Row>, String> {
    let text = fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let missing: Vec<&str> =
        CSV_HEADER.split(',').filter(|column| !header.contains(column) && !LATER_COLUMNS.contains(column)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{}: not a segpool results file (its header lacks {})",
            path.display(),
            missing.join(", ")
        ));
    }
    lines
        .enumerate()
        .map(|(index, line)| {
            Row::from_csv(&header, line).map_err(|error| format!("{}:{}: {error}", path.display(), index + 2))
        })
        .collect()
}

/// A duration in nanoseconds, in the unit that keeps three significant digits readable.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Rows grouped into tables, in the order their configurations first appear.
pub fn tables(rows: &[Row]) -> Vec<Vec<&Row>> {
    let mut order = Vec::new();
    let mut groups: BTreeMap<_, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        let key = row.table_key();
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(row);
    }
    order.into_iter().map(|key| groups.remove(&key).unwrap_or_default()).collect()
}

/// `count` and `noun`, plural when `count` is not 1 ("1 producer", "2 producers").
pub fn count(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// A table's title: its workload and configuration.
pub fn title(row: &Row) -> String {
    let consumer = if matches!(row.workload.as_str(), "queue" | "stall") { "consumer" } else { "worker" };
    let stall = match row.stall.as_deref() {
        Some("run") => ", stalled for the whole run".to_owned(),
        Some(length) => format!(", stalled for {}", length.replace("ms", " ms")),
        None => String::new(),
    };
    format!(
        "{}: {}, {}, segment size {}, {}{stall}",
        row.workload,
        count(row.producers, "producer"),
        count(row.consumers, consumer),
        row.segment_size,
        row.policy
    )
}

/// A Markdown table: one line per subject, with time ratios against `leak` in the same table.
pub fn markdown_table(rows: &[&Row]) -> String {
    let leak = rows.iter().find(|row| row.subject == "leak").map(|row| row.ns_per_job);
    let mut text = String::from(
        "| subject | Mjobs/s | ns/job (min–max) | ×leak | p50 | p99 | allocs/job | peak unreclaimed | exhaustion events \
         | handed back |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let dash = || "–".to_owned();
        let _ = writeln!(
            text,
            "| {} | {:.2} | {:.1} ({:.1}–{:.1}) | {} | {} | {} | {} | {} | {} | {} |",
            row.subject,
            row.mjobs_per_s(),
            row.ns_per_job,
            row.ns_per_job_min,
            row.ns_per_job_max,
            leak.map_or_else(dash, |leak| format!("{:.2}", row.ns_per_job / leak)),
            row.p50_ns.map_or_else(dash, human_ns),
            row.p99_ns.map_or_else(dash, human_ns),
            match row.bytes_per_job {
                Some(bytes) => crate::wpool::allocs_cell(row.allocs_per_job, bytes),
                None => row.allocs_per_job.map_or_else(dash, |a| format!("{a:.4}")),
            },
            row.peak_unreclaimed.map_or_else(dash, |p| p.to_string()),
            row.exhaustion_events.map_or_else(dash, |e| e.to_string()),
            row.handed_back,
        );
    }
    text
}

/// Every table, each under its title.
pub fn markdown_report(rows: &[Row]) -> String {
    let mut text = String::new();
    for table in tables(rows) {
        let _ = write!(text, "### {}\n\n{}\n", title(table[0]), markdown_table(&table));
    }
    if rows.iter().any(|row| row.kind == crate::wpool::KIND) {
        let _ = writeln!(text, "{}", crate::wpool::FOOTNOTE);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            workload: "empty".into(),
            subject: "hazard".into(),
            kind: "strategy".into(),
            producers: 1,
            consumers: 2,
            segment_size: 64,
            policy: "grow".into(),
            stall: None,
            runs: 3,
            jobs: 1000,
            ns_per_job: 12.5,
            ns_per_job_min: 11.0,
            ns_per_job_max: 14.25,
            p50_ns: Some(900),
            p99_ns: None,
            allocs_per_job: Some(0.0),
            peak_unreclaimed: Some(3),
            segments_allocated: None,
            exhaustion_events: Some(0),
            handed_back: 7,
            bytes_per_job: None,
        }
    }

    fn header() -> Vec<&'static str> {
        CSV_HEADER.split(',').collect()
    }

    #[test]
    fn csv_round_trips() {
        for original in [row(), Row { workload: "stall".into(), stall: Some("10ms".into()), ..row() }] {
            assert_eq!(Row::from_csv(&header(), &original.to_csv()), Ok(original));
        }
    }

    #[test]
    fn a_go_row_round_trips_and_old_files_still_read() {
        let go = Row { kind: crate::wpool::KIND.into(), bytes_per_job: Some(41.0), ..row() };
        assert_eq!(Row::from_csv(&header(), &go.to_csv()), Ok(go));
        // A file from before the `stall` and `bytes_per_job` columns: its columns are found by name.
        let old_header: Vec<&str> = header().into_iter().filter(|column| !LATER_COLUMNS.contains(column)).collect();
        let old_line: Vec<String> = header()
            .iter()
            .zip(row().to_csv().split(','))
            .filter(|(column, _)| !LATER_COLUMNS.contains(column))
            .map(|(_, field)| field.to_owned())
            .collect();
        assert_eq!(Row::from_csv(&old_header, &old_line.join(",")), Ok(row()), "a line without the later columns");
        let folder = std::env::temp_dir().join(format!("segpool-report-{}", std::process::id()));
        fs::create_dir_all(&folder).unwrap();
        let (old, foreign) = (folder.join("old.csv"), folder.join("foreign.csv"));
        fs::write(&old, format!("{}\n{}\n", old_header.join(","), old_line.join(","))).unwrap();
        assert_eq!(read_csv(&old), Ok(vec![row()]));
        fs::write(&foreign, "name,value\nx,1\n").unwrap();
        let error = read_csv(&foreign).unwrap_err();
        assert!(error.contains("not a segpool results file") && error.contains("ns_per_job"), "{error}");
        fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn csv_errors_name_the_field() {
        let line = row().to_csv().replace(",hazard,strategy,1,", ",hazard,strategy,one,");
        assert_eq!(Row::from_csv(&header(), &line), Err("field `producers`: cannot read \"one\"".to_owned()));
    }

    #[test]
    fn titles_are_plural_correct_and_name_the_stall() {
        assert_eq!(title(&row()), "empty: 1 producer, 2 workers, segment size 64, grow");
        let stalled = Row { workload: "stall".into(), consumers: 1, stall: Some("10ms".into()), ..row() };
        assert_eq!(title(&stalled), "stall: 1 producer, 1 consumer, segment size 64, grow, stalled for 10 ms");
    }

    #[test]
    fn ratios_are_against_leak_of_the_same_table() {
        let mut leak = row();
        leak.subject = "leak".into();
        leak.ns_per_job = 10.0;
        let table = markdown_table(&[&row(), &leak]);
        assert!(table.contains("| hazard | 80.00 | 12.5 (11.0–14.2) | 1.25 |"), "{table}");
        assert!(table.contains("| leak | 100.00 | 10.0 (11.0–14.2) | 1.00 |"), "{table}");
        let without_leak = markdown_table(&[&row()]);
        assert!(without_leak.contains("| hazard | 80.00 | 12.5 (11.0–14.2) | – |"), "{without_leak}");
    }
}
