//! The claims' parser: text to [`Claim`], with errors that say what was expected and what was found.

use super::{Benchmark, Claim, Expr, METRICS, Metric, Op, Selector, is_word};

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
