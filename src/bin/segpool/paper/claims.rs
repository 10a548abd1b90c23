//! Checked claims: a hand-written sentence of the paper that states a result carries a `<!-- claim: … -->` marker,
//! and [`check_all`] evaluates every marker against the results before the paper is rewritten. The language is
//! described in the docs of [`crate::paper`].

use std::fmt::Write as _;

use super::criterion::Estimate;
use crate::report::Row;

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

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Symbol(&'static str),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if is_word(c) {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek().filter(|&&(_, c)| is_word(c)) {
                word.push(c);
                chars.next();
            }
            out.push(Token::Word(word));
        } else if c == '"' {
            chars.next();
            let mut quoted = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, c)) => quoted.push(c),
                    None => return Err(format!("the quote at character {} is not closed", at + 1)),
                }
            }
            out.push(Token::Quoted(quoted));
        } else {
            chars.next();
            let symbol = match (c, chars.peek().map(|&(_, next)| next)) {
                ('<', Some('=')) | ('>', Some('=')) => {
                    chars.next();
                    if c == '<' { "<=" } else { ">=" }
                }
                ('<', _) => "<",
                ('>', _) => ">",
                ('(', _) => "(",
                (')', _) => ")",
                (',', _) => ",",
                ('*', _) => "*",
                ('/', _) => "/",
                _ => return Err(format!("unexpected `{c}` at character {}", at + 1)),
            };
            out.push(Token::Symbol(symbol));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn describe(token: Option<&Token>) -> String {
        match token {
            Some(Token::Word(word)) => format!("`{word}`"),
            Some(Token::Quoted(text)) => format!("\"{text}\""),
            Some(Token::Symbol(symbol)) => format!("`{symbol}`"),
            None => "the end".to_owned(),
        }
    }

    fn expect(&mut self, symbol: &str, context: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Symbol(found)) if found == symbol => Ok(()),
            other => Err(format!("expected `{symbol}` {context}, found {}", Self::describe(other.as_ref()))),
        }
    }

    fn argument(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(word)) | Some(Token::Quoted(word)) => Ok(word),
            other => Err(format!("expected {what}, found {}", Self::describe(other.as_ref()))),
        }
    }

    fn claim(&mut self) -> Result<Claim, String> {
        let mut comparisons = vec![self.comparison()?];
        while let Some(token) = self.next() {
            if token != Token::Word("and".into()) {
                return Err(format!("expected `and` or the end, found {}", Self::describe(Some(&token))));
            }
            comparisons.push(self.comparison()?);
        }
        Ok(Claim(comparisons))
    }

    fn comparison(&mut self) -> Result<(Expr, Op, Expr), String> {
        let left = self.product()?;
        let op = match self.next() {
            Some(Token::Symbol("<")) => Op::Less,
            Some(Token::Symbol("<=")) => Op::LessEqual,
            Some(Token::Symbol(">")) => Op::Greater,
            Some(Token::Symbol(">=")) => Op::GreaterEqual,
            other => {
                return Err(format!("expected a comparison (<, <=, >, >=), found {}", Self::describe(other.as_ref())));
            }
        };
        Ok((left, op, self.product()?))
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut expr = self.factor()?;
        loop {
            match self.peek() {
                Some(Token::Symbol("*")) => {
                    self.next();
                    expr = Expr::Times(Box::new(expr), Box::new(self.factor()?));
                }
                Some(Token::Symbol("/")) => {
                    self.next();
                    expr = Expr::Over(Box::new(expr), Box::new(self.factor()?));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn factor(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Symbol("(")) => {
                let expr = self.product()?;
                self.expect(")", "to close the parenthesis")?;
                Ok(expr)
            }
            Some(Token::Word(word)) => {
                if let Ok(number) = word.parse::<f64>() {
                    return Ok(Expr::Number(number));
                }
                if word == "criterion" {
                    return self.benchmark().map(Expr::Criterion);
                }
                let metric =
                    METRICS.iter().find(|(name, _)| *name == word).map(|(_, metric)| *metric).ok_or_else(|| {
                        let names: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
                        format!("`{word}` is neither a number nor a metric ({}, criterion)", names.join(", "))
                    })?;
                self.selector(metric, &word).map(Expr::Value)
            }
            other => Err(format!("expected a number, a metric or `(`, found {}", Self::describe(other.as_ref()))),
        }
    }

    fn benchmark(&mut self) -> Result<Benchmark, String> {
        self.expect("(", "after `criterion`")?;
        let group = self.argument("a criterion group (quoted: \"queue/pairs\")")?;
        self.expect(",", "after the group")?;
        let function = self.argument("a benchmark's function")?;
        let value = match self.next() {
            Some(Token::Symbol(",")) => {
                let value = self.argument("a benchmark's parameter")?;
                self.expect(")", "after the parameter")?;
                value
            }
            Some(Token::Symbol(")")) => String::new(),
            other => {
                return Err(format!(
                    "expected `,` or `)` after `{function}`, found {}",
                    Self::describe(other.as_ref())
                ));
            }
        };
        Ok(Benchmark { group, function, value })
    }

    fn selector(&mut self, metric: Metric, name: &str) -> Result<Selector, String> {
        let context = format!("after `{name}`");
        self.expect("(", &context)?;
        let workload = self.argument("a workload")?;
        self.expect(",", "after the workload")?;
        let subject = self.argument("a subject")?;
        self.expect(",", "after the subject")?;
        let size = self.argument("a segment size")?;
        let size = size.parse().map_err(|_| format!("`{size}` is not a segment size (a whole number)"))?;
        self.expect(",", "after the segment size")?;
        let threads = self.argument("producers x consumers (e.g. 1x1)")?;
        let (producers, consumers) = threads
            .split_once('x')
            .and_then(|(p, c)| Some((p.parse().ok()?, c.parse().ok()?)))
            .ok_or_else(|| format!("`{threads}` is not producers x consumers (e.g. 1x1)"))?;
        let stall = match self.next() {
            Some(Token::Symbol(",")) => {
                let stall = self.argument("a stall length (e.g. 10ms or run)")?;
                self.expect(")", "after the stall length")?;
                Some(stall)
            }
            Some(Token::Symbol(")")) => None,
            other => {
                return Err(format!("expected `,` or `)` after `{threads}`, found {}", Self::describe(other.as_ref())));
            }
        };
        let stall = match (workload == "stall", stall) {
            (true, stall) => Some(stall.unwrap_or_else(|| "run".to_owned())),
            (false, None) => None,
            (false, Some(_)) => {
                return Err(format!("a stall length selects rows of the stall workload, not `{workload}`"));
            }
        };
        Ok(Selector { metric, workload, subject, size, producers, consumers, stall })
    }
}

/// Parses a claim's expression.
pub fn parse(text: &str) -> Result<Claim, String> {
    let mut parser = Parser { tokens: tokens(text)?, at: 0 };
    if parser.peek().is_none() {
        return Err("the claim is empty".to_owned());
    }
    parser.claim()
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
