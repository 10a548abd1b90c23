//! Axes for the comparison's figures: tick labels, fitted vertical scales and the tick-exact axis plotters draws.
//!
//! Every axis is a plain `f64` axis whose ticks we pick ourselves ([`Ticked`]): plotters' own tick choice prints
//! `500.0` and leaves empty bands. A log axis is a linear axis over `log10(value)`, so that a zero can sit at the
//! floor under its own "0" tick.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// A tick label: integers without ".0", thousands as `1k`/`1.5k`/`100k`, millions as `2M`; a value that is not
/// a round number of thousands keeps its digits with separators (`1,024`); fractions keep up to two decimals.
pub fn tick_label(value: f64) -> String {
    fn trimmed(value: f64) -> String {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
    fn is_hundredths(value: f64) -> bool {
        ((value * 100.0).round() - value * 100.0).abs() < 1e-6
    }
    let magnitude = value.abs();
    if magnitude >= 1e6 && is_hundredths(value / 1e6) {
        format!("{}M", trimmed(value / 1e6))
    } else if magnitude >= 1e3 && is_hundredths(value / 1e3) {
        format!("{}k", trimmed(value / 1e3))
    } else if magnitude >= 1e3 && value.fract() == 0.0 {
        thousands(value as i64)
    } else {
        let text = trimmed(value);
        if text == "-0" { "0".to_owned() } else { text }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    if value < 0 { format!("-{text}") } else { text }
}

/// How values map onto a vertical axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    /// Powers of ten evenly spaced; a zero is drawn at the axis floor, which carries a "0" tick.
    Log,
}

/// A vertical axis fitted to its data: the drawn range, where each value goes, and the ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct YAxis {
    scale: Scale,
    /// The drawn range, in axis coordinates (`log10` for [`Scale::Log`]).
    pub range: (f64, f64),
    /// Where zeros go on a log axis.
    floor: f64,
    pub ticks: Vec<(f64, String)>,
}

impl YAxis {
    /// Fits an axis to `values` (every value drawn, whiskers included). A linear axis starts at 0 and ends just
    /// above the largest value, so the plot has no empty band at the top.
    pub fn fit(scale: Scale, values: &[f64]) -> YAxis {
        let max = values.iter().copied().filter(|value| value.is_finite()).fold(0.0, f64::max);
        match scale {
            Scale::Linear => {
                let max = if max > 0.0 { max } else { 1.0 };
                let top = max * 1.06;
                let step = nice_step(max / 6.0);
                let ticks = (0..)
                    .map(|k| k as f64 * step)
                    .take_while(|&tick| tick <= top)
                    .map(|t| (t, tick_label(t)))
                    .collect();
                YAxis { scale, range: (0.0, top), floor: 0.0, ticks }
            }
            Scale::Log => {
                let positive = || values.iter().copied().filter(|&value| value > 0.0 && value.is_finite());
                let low = positive().fold(f64::INFINITY, f64::min);
                let (low, high) = if low.is_finite() { (low.log10(), max.log10()) } else { (0.0, 1.0) };
                let has_zero = values.iter().any(|&value| value <= 0.0);
                // With a zero the axis reaches down to 1 (counts are whole numbers, so 1 is the smallest positive
                // value), and the floor sits most of a decade below that: visibly apart, the same in every panel.
                let low = if has_zero { low.min(0.0) } else { low };
                let floor = low.floor() - 0.7;
                let bottom = if has_zero { floor } else { low };
                let span = (high - bottom).max(1.0);
                let range = (bottom - 0.05 * span, high + 0.05 * span);
                let mut ticks: Vec<(f64, String)> = Vec::new();
                if has_zero {
                    ticks.push((floor, "0".to_owned()));
                }
                let ticks_of = |multiples: &[f64]| -> Vec<(f64, String)> {
                    let decades = (low.floor() as i32)..=(range.1.floor() as i32);
                    decades
                        .flat_map(|decade| multiples.iter().map(move |multiple| multiple * 10f64.powi(decade)))
                        .filter(|value| (range.0..=range.1).contains(&value.log10()) && value.log10() > floor + 0.3)
                        .map(|value| (value.log10(), tick_label(value)))
                        .collect()
                };
                // Powers of ten alone, unless that leaves fewer than three ticks: then 1, 2 and 5 of each decade.
                let powers = ticks_of(&[1.0]);
                ticks.extend(if powers.len() >= 3 { powers } else { ticks_of(&[1.0, 2.0, 5.0]) });
                YAxis { scale, range, floor, ticks }
            }
        }
    }

    /// Where `value` goes on this axis.
    pub fn at(&self, value: f64) -> f64 {
        match self.scale {
            Scale::Linear => value,
            Scale::Log if value <= 0.0 => self.floor,
            Scale::Log => value.log10(),
        }
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|multiple| multiple * power).find(|&step| step >= raw).unwrap_or(10.0 * power)
}

/// The label of the tick nearest `at` (plotters hands the formatter the key points we gave it).
pub fn label_at(ticks: &[(f64, String)], at: f64) -> String {
    ticks
        .iter()
        .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
        .map_or_else(String::new, |(_, label)| label.clone())
}

/// A linear `f64` axis whose ticks are exactly the ones given (plotters' own choice prints `500.0`).
pub struct Ticked {
    pub range: Range<f64>,
    pub ticks: Vec<f64>,
}

impl Ticked {
    pub fn new(low: f64, high: f64, ticks: &[(f64, String)]) -> Ticked {
        Ticked { range: low..high, ticks: ticks.iter().map(|&(at, _)| at).collect() }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points carry the labels and grid lines; no light grid.
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// `name` in lines of at most `width` characters, broken after a hyphen or at a space; a word longer than
/// `width` keeps its own line (the caller sees it is too long).
pub fn wrap(name: &str, width: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in name.chars() {
        if c == ' ' {
            words.push(std::mem::take(&mut word));
            continue;
        }
        word.push(c);
        if c == '-' {
            words.push(std::mem::take(&mut word));
        }
    }
    words.push(word);
    let mut lines: Vec<String> = Vec::new();
    for word in words.into_iter().filter(|word| !word.is_empty()) {
        match lines.last_mut() {
            Some(line) => {
                let joined = if line.ends_with('-') { format!("{line}{word}") } else { format!("{line} {word}") };
                if joined.chars().count() <= width {
                    *line = joined;
                } else {
                    lines.push(word);
                }
            }
            None => lines.push(word),
        }
    }
    lines
}
