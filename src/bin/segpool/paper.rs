//! `segpool paper`: rewrites the generated sections of the paper from a results file, so that every number in
//! `papers/` comes from a run of the comparison command.
//!
//! A generated section sits between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`; the text
//! around the sections is the authors'. The results file is copied beside the paper (`data/results.csv`), with the
//! raw rounds and the provenance found beside it (`data/rounds.csv`, `data/provenance.txt`), and the figures are
//! redrawn into `figures/`, so the paper and its data travel together.
//!
//! # The paper stays true to its data
//!
//! Every sentence of the paper that states a result of the run is either generated (the findings of Section 5.0
//! are, in [`findings`]: numbers and comparative words alike) or carries a *claim*, which [`regenerate`] checks
//! against the results before it writes anything. A claim the data contradict, one whose rows the results lack
//! and one that cannot be read all make it refuse, naming the claim, its line in the paper, the sentence before
//! it and the measured values; nothing is written then. A results file without the configurations the generated
//! sections need ([`REQUIRED`]) or with two rows for one subject and configuration is refused too.
//!
//! ## Claims
//!
//! A claim is an HTML comment right after the sentence it backs, on the same line (invisible in the rendered
//! paper; a comment at the start of a line would end the paragraph there):
//!
//! ```text
//! Qsbr's announcement costs a load where Hazard's protect costs a fence. <!-- claim: ns(queue, qsbr, 64, 1x1)
//! < ns(queue, hazard, 64, 1x1) -->
//! ```
//!
//! Its grammar:
//!
//! ```text
//! claim      := comparison ("and" comparison)*
//! comparison := product ("<" | "<=" | ">" | ">=") product
//! product    := factor (("*" | "/") factor)*
//! factor     := number | metric "(" workload "," subject "," size "," PxC ["," stall] ")"
//!             | "criterion" "(" group "," function ["," parameter] ")" | "(" product ")"
//! metric     := ns | min | max | p50 | p99 | allocs | peak | exhaustion | runs
//! ```
//!
//! A selector names one row: its workload, subject (quoted when it holds spaces: `"wpool (Go harness)"`), segment
//! size and producers x consumers (or workers), under `Grow`. `ns` is the row's median ns per job, `min` and
//! `max` the fastest and slowest round's, `p50`/`p99` the latency in ns, `allocs` allocations per job, `peak` the
//! peak of unreclaimed segments, `exhaustion` the exhaustion events, `runs` the row's rounds. The stall workload
//! takes a fifth argument, its stall length (`0ms`, `10ms`, … or `run`, the default); files written before the
//! `stall` column stalled for the whole run, so their stall rows are `run`. `criterion(…)` is a benchmark of
//! criterion's saved estimates (`data/criterion.csv`, Section 5.5): its median per value or job in ns, the group
//! quoted when it holds a `/` (`criterion("queue/pairs", hazard, 64)`, `criterion("pool/empty/1p1w", qsbr)`).
//! Examples:
//!
//! ```text
//! ns(empty, io_uring, 64, 1x1) / ns(empty, crossbeam-channel, 64, 1x1) <= 2.5
//! peak(stall, hazard, 1, 1x1) < 100 and peak(stall, epoch, 1, 1x1, run) > 1000
//! ```
//!
//! Claims should be robust statements (orderings, bounds with slack), not the exact numbers of one run: a number
//! belongs in a generated section.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::figures::Figure;
use crate::provenance::{self, Provenance};
use crate::report::{self, Row};
use crate::rounds;

mod claims;
mod criterion;
mod findings;
mod stall;
mod targets;
#[cfg(test)]
mod tests;
use targets::{STRATEGIES, find, targets};

/// The configurations (workload, segment size; 1 producer and 1 consumer or worker, `Grow`) that every results
/// file must hold: the targets, the segment-size table and the findings are built on them.
pub const REQUIRED: [(&str, usize); 4] = [("queue", 1), ("queue", 64), ("empty", 1), ("empty", 64)];

/// The sections this generator owns, each with its content.
fn sections(rows: &[Row], provenance: Option<&Provenance>) -> Vec<(&'static str, String)> {
    let mut sections = vec![
        ("method", method_line(rows, provenance)),
        ("strategy-costs", strategy_costs(rows)),
        ("targets", targets(rows)),
        ("segment-size", segment_size_table(rows)),
        ("stall-length", stall::stall_length_tables(rows)),
        ("results", report::markdown_report(rows)),
    ];
    sections.extend(findings::sections(rows));
    sections
}

/// Each figure as a numbered title over its image.
fn figures_section(figures: &[Figure]) -> String {
    let mut text = String::new();
    for (index, figure) in figures.iter().enumerate() {
        let _ = write!(
            text,
            "**Figure {}.** {}\n\n![{}](figures/{})\n\n",
            index + 1,
            figure.title,
            figure.title,
            figure.file
        );
    }
    text
}

/// How many rounds the rows have: "5 rounds" or "3–5 rounds (400 rows with 5, 44 with 3)".
fn rounds(rows: &[Row]) -> String {
    let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for row in rows {
        *counts.entry(row.runs).or_default() += 1;
    }
    match (counts.keys().next(), counts.keys().last()) {
        (Some(low), Some(high)) if low != high => {
            let each: Vec<String> = counts
                .iter()
                .rev()
                .map(|(runs, rows)| format!("{} with {runs}", report::count(*rows, "row")))
                .collect();
            format!("{low}–{high} throughput rounds ({})", each.join(", "))
        }
        (Some(runs), _) => report::count(*runs, "throughput round"),
        _ => "no rounds".to_owned(),
    }
}

/// Refuses a results file the paper cannot be built on: one without a configuration of [`REQUIRED`], or with
/// two rows for one subject in one configuration (a lookup would silently take the first).
pub fn check_rows(rows: &[Row]) -> Result<(), String> {
    if rows.is_empty() {
        return Err("it holds no results".to_owned());
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|(workload, size)| {
            !rows.iter().any(|row| {
                row.workload == *workload
                    && row.segment_size == *size
                    && row.producers == 1
                    && row.consumers == 1
                    && row.policy == "grow"
            })
        })
        .map(|(workload, size)| format!("{workload} at 1x1, segment size {size}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "it lacks configurations the paper's generated sections need: {} (run the comparison with the queue \
             and empty workloads, 1 producer and 1 consumer, segment sizes 1 and 64, Grow)",
            missing.join(", ")
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for row in rows {
        if !seen.insert((row.table_key(), row.subject.clone())) {
            return Err(format!("it holds two rows of {} in \"{}\"", row.subject, report::title(row)));
        }
    }
    Ok(())
}

/// Section 3's measured column: per strategy, the queue's ns per value at SegmentSize 64 and 1 (1x1) and the
/// peak of unreclaimed segments with a handle stalled for the whole run (SegmentSize 1, 1x1).
fn strategy_costs(rows: &[Row]) -> String {
    let mut text = String::from(
        "| strategy | queue ns/value, size 64 | queue ns/value, size 1 | peak unreclaimed, stalled, size 1 |\n\
         |---|---:|---:|---:|\n",
    );
    let mut any = false;
    for name in STRATEGIES {
        let (at_64, at_1) = (find(rows, "queue", name, 64, 1), find(rows, "queue", name, 1, 1));
        let stalled = rows.iter().find(|row| {
            row.workload == "stall"
                && row.subject == name
                && row.segment_size == 1
                && row.producers == 1
                && row.consumers == 1
                && row.policy == "grow"
                && claims::stall_of(row) == Some("run")
        });
        if at_64.is_none() && at_1.is_none() && stalled.is_none() {
            continue;
        }
        any = true;
        let dash = || "not in this run".to_owned();
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} |",
            findings::display(name),
            at_64.map_or_else(dash, |row| format!("{:.1}", row.ns_per_job)),
            at_1.map_or_else(dash, |row| format!("{:.1}", row.ns_per_job)),
            stalled.and_then(|row| row.peak_unreclaimed).map_or_else(dash, findings::thousands),
        );
    }
    if any { text } else { "No strategy's queue or stall rows: not in this run.\n".to_owned() }
}

/// What the results file holds, how it was measured and, from its provenance, where and when.
pub fn method_line(rows: &[Row], provenance: Option<&Provenance>) -> String {
    let configurations = report::tables(rows).len();
    let go = if rows.iter().any(|row| row.kind == crate::wpool::KIND) {
        " The rows of wpool (Go harness) are wpool's own Go benchmark, one round after each of our rounds of the \
         same configuration, in the same run."
    } else {
        ""
    };
    format!(
        "{} rows in {configurations} configurations; each row is the median of {} of one subject, subjects and \
         segment sizes taking turns within each round, plus one memory run (allocations counted over its second \
         half, unreclaimed segments sampled every 100 µs). {}{go}",
        rows.len(),
        rounds(rows),
        provenance.map_or_else(
            || format!("Machine: not recorded (no {} beside the results).", provenance::FILE),
            Provenance::machine_sentence
        ),
    )
}

/// Time per job at SegmentSize 1 over SegmentSize 64, per strategy and workload (1p1c, Grow).
fn segment_size_table(rows: &[Row]) -> String {
    let mut text =
        String::from("| workload | strategy | ns/job size 1 | ns/job size 64 | ratio | allocs/job size 1 |\n");
    text.push_str("|---|---|---:|---:|---:|---:|\n");
    let mut any = false;
    for workload in ["queue", "stall", "empty"] {
        for name in STRATEGIES {
            if let (Some(one), Some(sixty_four)) = (find(rows, workload, name, 1, 1), find(rows, workload, name, 64, 1))
            {
                any = true;
                let _ = writeln!(
                    text,
                    "| {workload} | {name} | {:.1} | {:.1} | {:.2} | {} |",
                    one.ns_per_job,
                    sixty_four.ns_per_job,
                    one.ns_per_job / sixty_four.ns_per_job,
                    one.allocs_per_job.map_or_else(|| "–".to_owned(), |allocs| format!("{allocs:.4}")),
                );
            }
        }
    }
    if any { text } else { "No strategy with rows at both segment sizes: not in this run.\n".to_owned() }
}

/// Replaces the body of section `name` in `text`.
fn replace_section(text: &str, name: &str, body: &str) -> Result<String, String> {
    let begin = format!("<!-- BEGIN GENERATED: {name} -->");
    let end = format!("<!-- END GENERATED: {name} -->");
    let start = text.find(&begin).ok_or_else(|| format!("the paper has no `{begin}` marker"))? + begin.len();
    let stop = text[start..].find(&end).ok_or_else(|| format!("the paper has no `{end}` marker"))? + start;
    Ok(format!("{}\n{}\n{}", &text[..start], body.trim_end(), &text[stop..]))
}

/// Rewrites every generated section of `paper` from the results in `input`, after checking the results and every
/// claim of the paper: nothing is written unless all of them pass. With `criterion` (criterion's output folder),
/// its saved estimates replace `data/criterion.csv` beside the paper, from which Section 5.5's table is written.
/// The raw rounds and the provenance beside `input` are copied into `data/` too. With `companion` (the README),
/// the generated sections it holds (a subset of the paper's, by their markers) are rewritten from the same
/// results, and its claims are checked with the paper's, so that its results in brief cannot drift from the data.
pub fn regenerate(
    input: &Path,
    paper: &Path,
    criterion: Option<&Path>,
    companion: Option<&Path>,
) -> Result<(), String> {
    let rows = report::read_csv(input)?;
    check_rows(&rows).map_err(|why| format!("{}: refusing these results: {why}", input.display()))?;
    let original = fs::read_to_string(paper).map_err(|error| format!("{}: {error}", paper.display()))?;
    let folder = paper.parent().unwrap_or(Path::new("."));
    let (figures, data) = (folder.join("figures"), folder.join("data"));
    let saved = data.join("criterion.csv");
    let estimates = match criterion {
        Some(dir) => Some(criterion::collect(dir)?),
        None if saved.exists() => {
            let text = fs::read_to_string(&saved).map_err(|error| format!("{}: {error}", saved.display()))?;
            Some(criterion::from_csv(&text).map_err(|error| format!("{}: {error}", saved.display()))?)
        }
        None => None,
    };
    let checked = claims::Data { rows: &rows, criterion: estimates.as_deref().unwrap_or(&[]) };
    let mut claims = claims::check_all(&paper.display().to_string(), &original, &checked)?;
    let companion_text = match companion {
        Some(path) => {
            let text = fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
            claims += claims::check_all(&path.display().to_string(), &text, &checked)?;
            Some((path, text))
        }
        None => None,
    };
    // The sidecars beside the input, read before anything is written (`input` may be the copy in `data/`
    // itself). Without them the paper still regenerates, and says what is missing.
    let sidecar = |name: &str| {
        let text = fs::read(input.with_file_name(name)).ok();
        if text.is_none() {
            eprintln!("segpool paper: no {name} beside {}", input.display());
        }
        text
    };
    let provenance_text = sidecar(provenance::FILE);
    let provenance = provenance_text.as_deref().map(|text| Provenance::parse(&String::from_utf8_lossy(text)));
    let rounds_text = sidecar(rounds::FILE);
    // Every section is placed before anything is written, so that a missing marker refuses too; the figures'
    // section is filled in once the figures exist.
    let mut text = original;
    let late = [("figures", String::new()), ("criterion", criterion::section(estimates.as_deref()))];
    for (name, body) in sections(&rows, provenance.as_ref()).into_iter().chain(late) {
        text = replace_section(&text, name, &body).map_err(|error| format!("{}: {error}", paper.display()))?;
    }
    for dir in [&figures, &data] {
        fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    // Old figures no longer drawn from these results would linger: start from an empty folder.
    for entry in fs::read_dir(&figures).map_err(|error| error.to_string())? {
        let path = entry.map_err(|error| error.to_string())?.path();
        if path.extension().is_some_and(|ext| ext == "svg") {
            fs::remove_file(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        }
    }
    let companion_text = match companion_text {
        Some((path, mut text)) => {
            for (name, body) in sections(&rows, provenance.as_ref()) {
                if text.contains(&format!("<!-- BEGIN GENERATED: {name} -->")) {
                    text =
                        replace_section(&text, name, &body).map_err(|error| format!("{}: {error}", path.display()))?;
                }
            }
            Some((path, text))
        }
        None => None,
    };
    let caption = provenance.as_ref().map_or_else(|| "provenance not recorded".to_owned(), Provenance::caption);
    let drawn = crate::figures::draw_all(&rows, &figures, &caption)?;
    text = replace_section(&text, "figures", &figures_section(&drawn))?;
    report::write_csv(&data.join("results.csv"), &rows).map_err(|error| error.to_string())?;
    for (name, sidecar) in [(provenance::FILE, &provenance_text), (rounds::FILE, &rounds_text)] {
        let path = data.join(name);
        let written = match sidecar {
            Some(sidecar) => fs::write(&path, sidecar),
            // A copy from an earlier input would be taken for this one's.
            None => fs::remove_file(&path).or_else(|error| match error.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(error),
            }),
        };
        written.map_err(|error| format!("{}: {error}", path.display()))?;
    }
    if let (Some(estimates), Some(_)) = (&estimates, criterion) {
        fs::write(&saved, criterion::to_csv(estimates)).map_err(|error| format!("{}: {error}", saved.display()))?;
    }
    fs::write(paper, text).map_err(|error| format!("{}: {error}", paper.display()))?;
    if let Some((path, text)) = &companion_text {
        fs::write(path, text).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    crate::print_stdout(&format!(
        "{}: regenerated from {} ({} rows, {} figures in {}; {claims} claims checked)",
        paper.display(),
        input.display(),
        rows.len(),
        drawn.len(),
        figures.display()
    ))
}
