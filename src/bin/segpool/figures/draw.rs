//! Drawing primitives for the comparison's figures: line panels with whiskers, grouped bars with error bars, a
//! legend beside the plots and a caption under them (axes are in `axes.rs`). The choice of figures is in
//! `choice.rs`; nothing here knows what a strategy is.

use std::error::Error;
use std::path::Path;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{Scale, Ticked, YAxis, label_at, wrap};

/// The family every text uses: the SVG backend writes text as SVG `<text>`, so no font is loaded at draw time.
const FONT: &str = "sans-serif";
/// The figures' width in pixels: the paper's column, so text drawn at 13–15 px reads at print size.
const WIDTH: u32 = 1000;
const TITLE_HEIGHT: u32 = 34;
const CAPTION_HEIGHT: u32 = 22;
const LEGEND_WIDTH: u32 = 180;
const PANEL_HEIGHT: u32 = 330;
const GRID: RGBColor = RGBColor(226, 226, 226);
const INK: RGBColor = RGBColor(40, 40, 40);
const CAPTION_INK: RGBColor = RGBColor(110, 110, 110);

/// The axes every plot shares: horizontal grid lines only, dark axes, 13 px labels and 14 px axis titles.
fn house_style<'m, 'a, 'b, X, Y, DB>(mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    mesh.disable_x_mesh().bold_line_style(GRID).axis_style(INK).label_style((FONT, 13)).axis_desc_style((FONT, 14))
}

/// A marker shape. Colours tell 12 strategies apart; shapes cycle over 6, so series next to each other in the
/// legend differ in shape too, which is what survives grey print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Pentagon,
}

pub const MARKERS: [Marker; 6] =
    [Marker::Circle, Marker::Square, Marker::TriangleUp, Marker::Diamond, Marker::TriangleDown, Marker::Pentagon];

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Style {
    pub colour: RGBColor,
    pub marker: Marker,
    pub dashed: bool,
}

/// One measured point: `x` in axis coordinates, `y` the median, `whisker` the (min, max) when measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub whisker: Option<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub style: Style,
    pub points: Vec<Point>,
}

/// A horizontal axis: its title and its ticks (axis coordinate, label); the caller picks the coordinates
/// (`log2` of a thread count, the index of a category).
#[derive(Clone, Debug, PartialEq)]
pub struct XAxis {
    pub title: String,
    pub ticks: Vec<(f64, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub title: String,
    pub x: XAxis,
    pub y_title: String,
    pub y_scale: Scale,
    pub series: Vec<Series>,
}

/// One line of a legend.
#[derive(Clone, Debug, PartialEq)]
pub enum LegendItem {
    Heading(String),
    /// A line of plain text, e.g. what the whiskers mean.
    Note(String),
    Line(String, Style),
    Swatch(String, RGBColor),
}

/// One bar: its colour, the median and the (min, max) drawn as an error bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub colour: RGBColor,
    pub value: f64,
    pub min: f64,
    pub max: f64,
}

/// A group of bars; a slot without a measurement (`None`) stays empty, so every slot means the same thing in
/// every group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub name: String,
    pub bars: Vec<Option<Bar>>,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn Error>>;

/// A text style, vertically centred on its anchor.
fn text(size: u32, style: FontStyle, colour: &'static RGBColor, h: HPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font().style(style)).color(colour).pos(Pos::new(h, VPos::Center))
}

/// Splits a figure into its title, body and caption strips, draws title and caption, and returns the body.
fn frame<'a>(root: &Area<'a>, height: u32, title: &str, caption: &str) -> Result<Area<'a>, Box<dyn Error>> {
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(TITLE_HEIGHT);
    let (body, bottom) = rest.split_vertically(height - TITLE_HEIGHT - CAPTION_HEIGHT);
    let title_style = text(17, FontStyle::Normal, &INK, HPos::Center);
    top.draw(&Text::new(title.to_owned(), (WIDTH as i32 / 2, TITLE_HEIGHT as i32 / 2), title_style))?;
    if !caption.is_empty() {
        let caption_style = text(11, FontStyle::Normal, &CAPTION_INK, HPos::Left);
        bottom.draw(&Text::new(caption.to_owned(), (10, CAPTION_HEIGHT as i32 / 2), caption_style))?;
    }
    Ok(body)
}

/// A marker's outline, in pixels around its centre.
fn outline(marker: Marker) -> Vec<(i32, i32)> {
    let regular = |corners: usize, radius: f64, turn: f64| -> Vec<(i32, i32)> {
        (0..corners)
            .map(|k| {
                let angle = turn + k as f64 * 2.0 * std::f64::consts::PI / corners as f64;
                ((radius * angle.cos()).round() as i32, (radius * angle.sin()).round() as i32)
            })
            .collect()
    };
    let up = -std::f64::consts::FRAC_PI_2;
    match marker {
        Marker::Circle => regular(16, 4.2, 0.0),
        Marker::Square => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        Marker::TriangleUp => regular(3, 5.5, up),
        Marker::Diamond => regular(4, 5.5, up),
        Marker::TriangleDown => regular(3, 5.5, -up),
        Marker::Pentagon => regular(5, 5.0, up),
    }
}

type MarkerElement<C, DB> = plotters::element::ComposedElement<C, DB, Polygon<(i32, i32)>, Polygon<(i32, i32)>>;

/// A marker at `at` (in the coordinates of whatever it is drawn on), on a white rim so that it stays readable
/// where lines cross.
fn marker<C, DB: DrawingBackend>(at: C, shape: Marker, colour: RGBColor) -> MarkerElement<C, DB> {
    let points = outline(shape);
    let rim = points.iter().map(|&(x, y)| (x + x.signum(), y + y.signum())).collect::<Vec<_>>();
    EmptyElement::at(at) + Polygon::new(rim, WHITE.filled()) + Polygon::new(points, colour.filled())
}

fn draw_legend(area: &Area, items: &[LegendItem]) -> Drawn {
    let (plain, bold) = (text(13, FontStyle::Normal, &INK, HPos::Left), text(13, FontStyle::Bold, &INK, HPos::Left));
    let mut y = 44;
    for item in items {
        match item {
            LegendItem::Heading(name) => {
                y += 4;
                area.draw(&Text::new(name.clone(), (8, y), bold.clone()))?;
            }
            LegendItem::Note(note) => {
                area.draw(&Text::new(note.clone(), (8, y), plain.clone()))?;
            }
            LegendItem::Line(name, style) => {
                let line = vec![(8, y), (40, y)];
                if style.dashed {
                    area.draw(&DashedPathElement::new(line, 5, 3, style.colour.stroke_width(2)))?;
                } else {
                    area.draw(&PathElement::new(line, style.colour.stroke_width(2)))?;
                }
                area.draw(&marker((24, y), style.marker, style.colour))?;
                area.draw(&Text::new(name.clone(), (48, y), plain.clone()))?;
            }
            LegendItem::Swatch(name, colour) => {
                area.draw(&Rectangle::new([(12, y - 6), (36, y + 6)], colour.filled()))?;
                area.draw(&Text::new(name.clone(), (48, y), plain.clone()))?;
            }
        }
        y += 20;
    }
    Ok(())
}

/// Figures of line panels (up to 3 a row, 4 as 2 × 2) sharing one legend on the right: one line per series, a marker at
/// each point and a whisker for its min–max. Series are nudged apart horizontally so whiskers do not overlap.
pub fn lines(path: &Path, title: &str, caption: &str, panels: &[Panel], legend: &[LegendItem]) -> Result<(), String> {
    // Up to 3 panels a row; 4 as 2 × 2, which leaves no hole.
    let columns = if panels.len() == 4 { 2 } else { panels.len().clamp(1, 3) };
    let panel_rows = panels.len().div_ceil(columns).max(1);
    let legend_height = 60 + 20 * legend.len() as u32;
    let height = TITLE_HEIGHT + CAPTION_HEIGHT + (PANEL_HEIGHT * panel_rows as u32).max(legend_height);
    let draw = || -> Drawn {
        let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
        let body = frame(&root, height, title, caption)?;
        let (plots, legend_area) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
        for (panel, area) in panels.iter().zip(plots.split_evenly((panel_rows, columns))) {
            draw_panel(&area, panel)?;
        }
        draw_legend(&legend_area, legend)?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|error| format!("{}: {error}", path.display()))
}

fn draw_panel(area: &Area, panel: &Panel) -> Drawn {
    let xs: Vec<f64> = panel.x.ticks.iter().map(|&(at, _)| at).collect();
    let (x_low, x_high) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let x_span = (x_high - x_low).max(1.0);
    let x_pad = (0.1 * x_span).max(0.3);
    let values: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|series| &series.points)
        .flat_map(|point| [point.y].into_iter().chain(point.whisker.map(|(_, max)| max)))
        .collect();
    let y = YAxis::fit(panel.y_scale, &values);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 15))
        .margin(10)
        .margin_right(16)
        .x_label_area_size(46)
        .y_label_area_size(62)
        .build_cartesian_2d(
            Ticked::new(x_low - x_pad, x_high + x_pad, &panel.x.ticks),
            Ticked::new(y.range.0, y.range.1, &y.ticks),
        )?;
    house_style(&mut chart.configure_mesh())
        .x_desc(&panel.x.title)
        .y_desc(&panel.y_title)
        .x_label_formatter(&|at| label_at(&panel.x.ticks, *at))
        .y_label_formatter(&|at| label_at(&y.ticks, *at))
        .draw()?;
    // Nudged apart so whiskers do not overlap, but the spread stays well inside the gap between two x values.
    let count = panel.series.len();
    let gap = xs.windows(2).map(|pair| (pair[1] - pair[0]).abs()).fold(x_span, f64::min);
    let nudge = (0.012 * x_span).min(0.3 * gap / (count.max(2) - 1) as f64);
    for (index, series) in panel.series.iter().enumerate() {
        let shift = (index as f64 - (count as f64 - 1.0) / 2.0) * nudge;
        let colour = series.style.colour;
        let mut points: Vec<&Point> = series.points.iter().collect();
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        let line: Vec<(f64, f64)> = points.iter().map(|point| (point.x + shift, y.at(point.y))).collect();
        if series.style.dashed {
            chart.draw_series(std::iter::once(DashedPathElement::new(line.clone(), 6, 4, colour.stroke_width(2))))?;
        } else {
            chart.draw_series(std::iter::once(PathElement::new(line.clone(), colour.stroke_width(2))))?;
        }
        for point in &points {
            if let Some((min, max)) = point.whisker {
                let x = point.x + shift;
                let (low, high) = (y.at(min), y.at(max));
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, low), (x, high)],
                    colour.stroke_width(1),
                )))?;
                for end in [low, high] {
                    let cap =
                        EmptyElement::at((x, end)) + PathElement::new(vec![(-3, 0), (3, 0)], colour.stroke_width(1));
                    chart.draw_series(std::iter::once(cap))?;
                }
            }
        }
        chart.draw_series(line.iter().map(|&at| marker(at, series.style.marker, colour)))?;
    }
    Ok(())
}

/// Grouped vertical bars with min–max error bars, one group per name along x, the legend on the right. Group
/// names that would collide are turned to read upwards.
pub fn bars(
    path: &Path,
    title: &str,
    caption: &str,
    y_title: &str,
    groups: &[Group],
    legend: &[LegendItem],
) -> Result<(), String> {
    let per_group = (WIDTH - LEGEND_WIDTH - 90) / (groups.len() as u32).max(1);
    // 13 px sans-serif averages about 7 px a character: wrap names to the group's width, or, when a word is
    // still too wide, turn every name to read upwards.
    let fits = (per_group.saturating_sub(8) / 7).max(1) as usize;
    let wrapped: Vec<Vec<String>> = groups.iter().map(|group| wrap(&group.name, fits)).collect();
    let upright = wrapped.iter().flatten().any(|line| line.chars().count() > fits);
    let longest = groups.iter().map(|group| group.name.chars().count()).max().unwrap_or(0) as u32;
    let most_lines = wrapped.iter().map(Vec::len).max().unwrap_or(1) as u32;
    let x_label_area = if upright { 12 + longest * 13 / 2 } else { 12 + most_lines * 16 };
    let legend_height = 60 + 20 * legend.len() as u32;
    let plot_height = (PANEL_HEIGHT - 40 + x_label_area).max(legend_height);
    let height = TITLE_HEIGHT + CAPTION_HEIGHT + plot_height;
    let draw = || -> Drawn {
        let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
        let body = frame(&root, height, title, caption)?;
        let (plot, legend_area) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
        let values: Vec<f64> =
            groups.iter().flat_map(|group| group.bars.iter().flatten()).map(|bar| bar.max.max(bar.value)).collect();
        let y = YAxis::fit(Scale::Linear, &values);
        let count = groups.len();
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(16)
            .x_label_area_size(x_label_area)
            .y_label_area_size(62)
            .build_cartesian_2d(
                Ticked { range: -0.55..count as f64 - 0.45, ticks: (0..count).map(|index| index as f64).collect() },
                Ticked::new(y.range.0, y.range.1, &y.ticks),
            )?;
        house_style(&mut chart.configure_mesh())
            .y_desc(y_title)
            // The group names are drawn below, wrapped or turned: plotters' own placement of turned labels
            // guesses text widths and lands them on the axis.
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|at| label_at(&y.ticks, *at))
            .draw()?;
        for (index, group) in groups.iter().enumerate() {
            let width = 0.78 / group.bars.len().max(1) as f64;
            for (slot, bar) in group.bars.iter().enumerate() {
                let Some(bar) = bar else { continue };
                let left = index as f64 - 0.39 + slot as f64 * width;
                let corners = [(left, 0.0), (left + width, bar.value)];
                chart.draw_series([
                    Rectangle::new(corners, bar.colour.filled()),
                    Rectangle::new(corners, WHITE.stroke_width(1)),
                ])?;
                let centre = left + width / 2.0;
                let whisker = RGBColor(20, 20, 20).stroke_width(1);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(centre, bar.min), (centre, bar.max)],
                    whisker,
                )))?;
                let cap = |end: f64| EmptyElement::at((centre, end)) + PathElement::new(vec![(-3, 0), (3, 0)], whisker);
                chart.draw_series([cap(bar.min), cap(bar.max)])?;
            }
        }
        for (index, lines) in wrapped.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(index as f64, 0.0));
            if upright {
                let style = text(13, FontStyle::Normal, &INK, HPos::Right).transform(FontTransform::Rotate270);
                root.draw(&Text::new(groups[index].name.clone(), (x, y + 8), style))?;
            } else {
                for (line, words) in lines.iter().enumerate() {
                    let style = text(13, FontStyle::Normal, &INK, HPos::Center);
                    root.draw(&Text::new(words.clone(), (x, y + 14 + 16 * line as i32), style))?;
                }
            }
        }
        draw_legend(&legend_area, legend)?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|error| format!("{}: {error}", path.display()))
}
