//! Checked claims: a hand-written sentence of the paper that states a result carries a `<!-- claim: … -->` marker,
//! and [`check_all`] evaluates every marker against the results before the paper is rewritten. The language is
//! described in the docs of [`crate::paper`].

use std::fmt::Write as _;

use super::criterion::Estimate;
use crate::report::Row;

mod parse;
pub use parse::parse;

/// What claims are checked against: the comparison's rows and criterion's saved estimates.
pub struct Data<'a> {
    pub rows: &'a [Row],
    pub criterion: &'a [Estimate],
}

/// A criterion benchmark: `criterion(group, function[, parameter])`, its median per value or job in ns.
#[derive(Clone, Debug, PartialEq)]
pub struct Benchmark {
    group: String,
    function: String,
    value: String,
}

impl Benchmark {
    fn value(&self, criterion: &[Estimate]) -> Result<f64, String> {
        if criterion.is_empty() {
            return Err(format!("{self}: no criterion estimates beside the paper (data/criterion.csv)"));
        }
        let estimate = criterion
            .iter()
            .find(|e| e.group == self.group && e.function == self.function && e.value == self.value)
            .ok_or_else(|| format!("{self}: no such benchmark in data/criterion.csv"))?;
        Ok(estimate.median_ns / estimate.elements.filter(|&elements| elements > 0).unwrap_or(1) as f64)
    }
}

impl std::fmt::Display for Benchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "criterion(\"{}\", {}", self.group, self.function)?;
        if !self.value.is_empty() {
            write!(f, ", {}", self.value)?;
        }
        write!(f, ")")
    }
}

/// A value of one row: `metric(workload, subject, size, PxC[, stall])`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    metric: Metric,
    workload: String,
    subject: String,
    size: usize,
    producers: usize,
    consumers: usize,
    /// The stall length, for the stall workload only (`run` when the selector names none).
    stall: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Metric {
    Ns,
    Min,
    Max,
    P50,
    P99,
    Allocs,
    Peak,
    Exhaustion,
    Runs,
}

const METRICS: [(&str, Metric); 9] = [
    ("ns", Metric::Ns),
    ("min", Metric::Min),
    ("max", Metric::Max),
    ("p50", Metric::P50),
    ("p99", Metric::P99),
    ("allocs", Metric::Allocs),
    ("peak", Metric::Peak),
    ("exhaustion", Metric::Exhaustion),
    ("runs", Metric::Runs),
];

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Number(f64),
    Value(Selector),
    Criterion(Benchmark),
    Times(Box<Expr>, Box<Expr>),
    Over(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

/// A parsed claim: comparisons joined by `and`, every one of which must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim(Vec<(Expr, Op, Expr)>);

/// The stall length a row stands for: files written before the `stall` column stalled for the whole run.
pub fn stall_of(row: &Row) -> Option<&str> {
    match row.stall.as_deref() {
        Some(stall) => Some(stall),
        None if row.workload == "stall" => Some("run"),
        None => None,
    }
}

impl Selector {
    fn row<'a>(&self, rows: &'a [Row]) -> Option<&'a Row> {
        rows.iter().find(|row| {
            row.workload == self.workload
                && row.subject == self.subject
                && row.segment_size == self.size
                && row.producers == self.producers
                && row.consumers == self.consumers
                && row.policy == "grow"
                && stall_of(row) == self.stall.as_deref()
        })
    }

    /// The selected value, or why there is none.
    fn value(&self, rows: &[Row]) -> Result<f64, String> {
        let row = self.row(rows).ok_or_else(|| format!("{self}: no such row in the results"))?;
        let optional =
            |value: Option<f64>| value.ok_or_else(|| format!("{self}: the row has no value (no memory run?)"));
        match self.metric {
            Metric::Ns => Ok(row.ns_per_job),
            Metric::Min => Ok(row.ns_per_job_min),
            Metric::Max => Ok(row.ns_per_job_max),
            Metric::P50 => optional(row.p50_ns.map(|ns| ns as f64)),
            Metric::P99 => optional(row.p99_ns.map(|ns| ns as f64)),
            Metric::Allocs => optional(row.allocs_per_job),
            Metric::Peak => optional(row.peak_unreclaimed.map(|peak| peak as f64)),
            Metric::Exhaustion => optional(row.exhaustion_events.map(|events| events as f64)),
            Metric::Runs => Ok(row.runs as f64),
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metric = METRICS.iter().find(|(_, metric)| *metric == self.metric).map_or("?", |(name, _)| name);
        let subject =
            if self.subject.chars().all(is_word) { self.subject.clone() } else { format!("\"{}\"", self.subject) };
        write!(f, "{metric}({}, {subject}, {}, {}x{}", self.workload, self.size, self.producers, self.consumers)?;
        match &self.stall {
            Some(stall) => write!(f, ", {stall})"),
            None => write!(f, ")"),
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl Expr {
    fn eval(&self, data: &Data, seen: &mut Vec<(String, f64)>) -> Result<f64, String> {
        Ok(match self {
            Expr::Number(number) => *number,
            Expr::Value(selector) => {
                let value = selector.value(data.rows)?;
                seen.push((selector.to_string(), value));
                value
            }
            Expr::Criterion(benchmark) => {
                let value = benchmark.value(data.criterion)?;
                seen.push((benchmark.to_string(), value));
                value
            }
            Expr::Times(a, b) => a.eval(data, seen)? * b.eval(data, seen)?,
            Expr::Over(a, b) => a.eval(data, seen)? / b.eval(data, seen)?,
        })
    }
}

impl Claim {
    /// `Ok` when every comparison holds; else the measured values and the comparison that failed.
    pub fn check(&self, data: &Data) -> Result<(), String> {
        let mut seen = Vec::new();
        for (left, op, right) in &self.0 {
            let (a, b) = (left.eval(data, &mut seen)?, right.eval(data, &mut seen)?);
            let holds = match op {
                Op::Less => a < b,
                Op::LessEqual => a <= b,
                Op::Greater => a > b,
                Op::GreaterEqual => a >= b,
            };
            if !holds {
                let mut text = String::from("the data contradict it: ");
                let measured: Vec<String> = seen.iter().map(|(name, value)| format!("{name} = {value}")).collect();
                let symbol = match op {
                    Op::Less => "<",
                    Op::LessEqual => "<=",
                    Op::Greater => ">",
                    Op::GreaterEqual => ">=",
                };
                let _ = write!(text, "{}; {a:.4} {symbol} {b:.4} is false", measured.join(", "));
                return Err(text);
            }
        }
        Ok(())
    }
}

/// One `<!-- claim: … -->` marker of the paper.
#[derive(Debug)]
pub struct Marker {
    pub line: usize,
    /// The sentence the claim stands behind (the text before the marker, back to the previous sentence).
    pub sentence: String,
    pub expression: String,
}

const OPEN: &str = "<!-- claim:";

/// Every claim marker of `text`.
pub fn markers(text: &str) -> Result<Vec<Marker>, String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find(OPEN) {
        let start = from + offset;
        let line = text[..start].matches('\n').count() + 1;
        let body = start + OPEN.len();
        let end = text[body..].find("-->").ok_or_else(|| format!("line {line}: the claim marker is not closed"))?;
        found.push(Marker {
            line,
            sentence: sentence_before(&text[..start]),
            expression: text[body..body + end].trim().to_owned(),
        });
        from = body + end + 3;
    }
    Ok(found)
}

/// The last sentence of `before`: back to a full stop, a table cell's edge, a blank line or another marker.
fn sentence_before(before: &str) -> String {
    let trimmed = before.trim_end();
    let mut start = [". ", ".\n", "|", "\n\n", "-->", ": "]
        .iter()
        .filter_map(|edge| trimmed.rfind(edge).map(|at| at + edge.len()))
        .max()
        .unwrap_or(0);
    if trimmed[start..].trim().is_empty() {
        start = 0;
    }
    let words: Vec<&str> = trimmed[start..].split_whitespace().collect();
    let sentence = words.join(" ");
    match sentence.char_indices().rev().nth(159) {
        Some((at, _)) => format!("…{}", &sentence[at..]),
        None => sentence,
    }
}

/// Checks every claim of `paper` (whose file is `name`) against `data`: all of them, so that one refusal names
/// every claim that fails.
pub fn check_all(name: &str, paper: &str, data: &Data) -> Result<usize, String> {
    let markers = markers(paper).map_err(|error| format!("{name}: {error}"))?;
    let failures: Vec<String> = markers
        .iter()
        .filter_map(|marker| {
            let verdict = parse(&marker.expression)
                .map_err(|error| format!("cannot read it: {error}"))
                .and_then(|claim| claim.check(data));
            verdict.err().map(|why| {
                format!("{name}:{}: claim `{}` behind \"{}\": {why}", marker.line, marker.expression, marker.sentence)
            })
        })
        .collect();
    if failures.is_empty() {
        Ok(markers.len())
    } else {
        Err(format!(
            "refusing to regenerate the paper; {} of its claims fail:\n{}",
            failures.len(),
            failures.join("\n")
        ))
    }
}
