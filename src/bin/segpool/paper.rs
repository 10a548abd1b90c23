//! `segpool paper`: rewrites the generated sections of the paper from a results file, so that every number in
//! `papers/` comes from a run of the comparison command.
//!
//! A generated section sits between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`; the text
//! around the sections is the authors'. The results file is copied beside the paper (`data/results.csv`), with the
//! raw rounds and the provenance found beside it (`data/rounds.csv`, `data/provenance.txt`), and the figures are
//! redrawn into `figures/`, so the paper and its data travel together.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::figures::Figure;
use crate::provenance::{self, Provenance};
use crate::report::{self, Row};
use crate::rounds;

mod stall;
mod targets;
use targets::{STRATEGIES, find, targets};

/// The sections this generator owns, each with its content.
fn sections(rows: &[Row], figures: &[Figure], provenance: Option<&Provenance>) -> Vec<(&'static str, String)> {
    vec![
        ("method", method_line(rows, provenance)),
        ("targets", targets(rows)),
        ("segment-size", segment_size_table(rows)),
        ("stall-length", stall::stall_length_tables(rows)),
        ("results", report::markdown_report(rows)),
        ("figures", figures_section(figures)),
    ]
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

/// What the results file holds, how it was measured and, from its provenance, where and when.
pub fn method_line(rows: &[Row], provenance: Option<&Provenance>) -> String {
    let runs = rows.iter().map(|row| row.runs).max().unwrap_or(0);
    let configurations = report::tables(rows).len();
    let go = if rows.iter().any(|row| row.kind == crate::wpool::KIND) {
        " The rows of wpool (Go harness) are wpool's own Go benchmark, one round after each of our rounds of the \
         same configuration, in the same run."
    } else {
        ""
    };
    format!(
        "{} rows in {configurations} configurations; each row is the median of {runs} throughput run(s) of one \
         subject, subjects and segment sizes taking turns within each round, plus one memory run (allocations \
         counted over its second half, unreclaimed segments sampled every 100 µs). {}{go}",
        rows.len(),
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
    for workload in ["queue", "stall", "empty"] {
        for name in STRATEGIES {
            if let (Some(one), Some(sixty_four)) = (find(rows, workload, name, 1, 1), find(rows, workload, name, 64, 1))
            {
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
    text
}

/// Replaces the body of section `name` in `text`.
fn replace_section(text: &str, name: &str, body: &str) -> Result<String, String> {
    let begin = format!("<!-- BEGIN GENERATED: {name} -->");
    let end = format!("<!-- END GENERATED: {name} -->");
    let start = text.find(&begin).ok_or_else(|| format!("the paper has no `{begin}` marker"))? + begin.len();
    let stop = text[start..].find(&end).ok_or_else(|| format!("the paper has no `{end}` marker"))? + start;
    Ok(format!("{}\n{}\n{}", &text[..start], body.trim_end(), &text[stop..]))
}

/// Rewrites every generated section of `paper` from the results in `input`.
pub fn regenerate(input: &Path, paper: &Path) -> Result<(), String> {
    let rows = report::read_csv(input)?;
    if rows.is_empty() {
        return Err(format!("{}: no results", input.display()));
    }
    let folder = paper.parent().unwrap_or(Path::new("."));
    let (figures, data) = (folder.join("figures"), folder.join("data"));
    for dir in [&figures, &data] {
        fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    // Old figures of configurations no longer in the results would linger: start from an empty folder.
    for entry in fs::read_dir(&figures).map_err(|error| error.to_string())? {
        let path = entry.map_err(|error| error.to_string())?.path();
        if path.extension().is_some_and(|ext| ext == "svg") {
            fs::remove_file(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        }
    }
    // The sidecars beside the input: without them the paper still regenerates (whether it should is the
    // authors' call), and says what is missing.
    let sidecar = |name: &str| {
        let path = input.with_file_name(name);
        let text = fs::read(&path).ok();
        if text.is_none() {
            // A copy from an earlier input would be taken for this one's.
            let stale = data.join(name);
            let removed = fs::remove_file(&stale).is_ok();
            eprintln!(
                "segpool paper: no {name} beside {}: none in {}{}",
                input.display(),
                data.display(),
                if removed { " (the earlier copy there is removed)" } else { "" }
            );
        }
        text
    };
    let provenance_text = sidecar(provenance::FILE);
    let provenance = provenance_text.as_deref().map(|text| Provenance::parse(&String::from_utf8_lossy(text)));
    // Read before anything is written: `input` may be the copy in `data/` itself.
    let rounds_text = sidecar(rounds::FILE);
    let caption = provenance.as_ref().map_or_else(|| "provenance not recorded".to_owned(), Provenance::caption);
    let drawn = crate::figures::draw_all(&rows, &figures, &caption)?;
    report::write_csv(&data.join("results.csv"), &rows).map_err(|error| error.to_string())?;
    for (name, text) in [(provenance::FILE, &provenance_text), (rounds::FILE, &rounds_text)] {
        if let Some(text) = text {
            let path = data.join(name);
            fs::write(&path, text).map_err(|error| format!("{}: {error}", path.display()))?;
        }
    }
    let mut text = fs::read_to_string(paper).map_err(|error| format!("{}: {error}", paper.display()))?;
    for (name, body) in sections(&rows, &drawn, provenance.as_ref()) {
        text = replace_section(&text, name, &body)?;
    }
    fs::write(paper, text).map_err(|error| format!("{}: {error}", paper.display()))?;
    crate::print_stdout(&format!(
        "{}: regenerated from {} ({} rows, {} figures in {})",
        paper.display(),
        input.display(),
        rows.len(),
        drawn.len(),
        figures.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::replace_section;

    #[test]
    fn a_section_is_replaced_and_the_rest_kept() {
        let text = "intro\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\noutro\n";
        let new = replace_section(text, "x", "new\n").unwrap();
        assert_eq!(new, "intro\n<!-- BEGIN GENERATED: x -->\nnew\n<!-- END GENERATED: x -->\noutro\n");
        assert_eq!(replace_section(&new, "x", "new").unwrap(), new, "regenerating is idempotent");
    }

    #[test]
    fn a_missing_marker_is_named() {
        let error = replace_section("no markers", "targets", "").unwrap_err();
        assert!(error.contains("BEGIN GENERATED: targets"), "{error}");
    }
}
