//! Line charts of training curves and optimizer trajectories, written as SVG with the plotters
//! crate, made to be read at a glance: every series of a chart has its own colour and dash
//! pattern, axes whose values are all whole numbers (steps, layers) get whole-number ticks, and
//! a positive y range spanning two orders of magnitude or more is drawn on a log axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// One named curve.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// One panel of a multi-panel chart: a title and its curves.
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// Its curves.
    pub series: Vec<Series>,
}

/// What a chart draws besides its curves.
#[derive(Default)]
pub struct Layout<'a> {
    /// Fixed (x0, x1) and (y0, y1) ranges; fitted to the data when `None`.
    pub window: Option<((f64, f64), (f64, f64))>,
    /// Curves drawn thin and grey under the series (contours of a loss surface).
    pub background: &'a [Vec<(f64, f64)>],
    /// A point marked with a cross (a minimum).
    pub mark: Option<(f64, f64)>,
    /// Draw a dot at every point (iterates of an optimizer).
    pub markers: bool,
}

/// Okabe–Ito colours (told apart with colour-blindness too) without its yellow, which is
/// unreadable on white, then a dark red and a grey: nine curves get nine colours.
const COLORS: [RGBColor; 9] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(150, 0, 60),
    RGBColor(110, 110, 110),
];

/// Dash and gap lengths in pixels; (0, 0) is a solid line. 4 and 9 are coprime, so the first 36
/// series all differ in colour or dash, and no two of the first 9 share a colour.
const DASHES: [(u32, u32); 4] = [(0, 0), (10, 5), (3, 3), (16, 4)];

/// The colour and dash of series `i`.
fn style(i: usize) -> (RGBColor, (u32, u32)) {
    (COLORS[i % COLORS.len()], DASHES[i % DASHES.len()])
}

/// Writes a line chart of `series` to `path` (SVG). Returns a readable error on failure.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    let panel = Panel {
        title: title.to_string(),
        series: series
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                points: s.points.clone(),
            })
            .collect(),
    };
    panel_chart(path, "", x_label, y_label, &[panel], &Layout::default())
}

/// Writes `panels` side by side (two per row) to `path` (SVG), all with the same axes labels
/// and `layout`. Each distinct series name has one style in the whole chart, so a curve shown
/// in several panels (a baseline) looks the same in each.
pub fn panel_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[Panel],
    layout: &Layout,
) -> Result<(), String> {
    let cols = if panels.len() == 1 { 1 } else { 2 };
    let rows = panels.len().div_ceil(cols);
    let (w, h) = if cols == 1 {
        (800, 480)
    } else {
        (1100, 460 * rows as u32)
    };
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root =
            SVGBackend::new(path, (w, h + 30 * !title.is_empty() as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let area = if title.is_empty() {
            root.clone()
        } else {
            root.titled(title, ("sans-serif", 22))?
        };
        let mut names: Vec<&str> = Vec::new();
        for s in panels.iter().flat_map(|p| &p.series) {
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
        for (panel, cell) in panels.iter().zip(area.split_evenly((rows, cols))) {
            draw_panel(&cell, panel, &names, (x_label, y_label), layout)?;
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("{}: {e}", path.display()))
}

/// A tick label for a whole-number axis: the number without ".0", nothing between integers.
fn integer_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// A tick label for a log10 axis: the value 10^v it stands for, to two significant digits.
fn power_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        return match v.round() as i32 {
            k @ -3..=3 => format!("{}", 10f64.powi(k)),
            k => format!("1e{k}"),
        };
    }
    let value = 10f64.powf(v);
    let digits = (1 - value.log10().floor() as i32).max(0) as usize;
    if !(1e-3..1e4).contains(&value) {
        format!("{value:.1e}")
    } else {
        format!("{value:.digits$}")
    }
}

fn draw_panel(
    area: &DrawingArea<SVGBackend, Shift>,
    panel: &Panel,
    names: &[&str],
    (x_label, y_label): (&str, &str),
    layout: &Layout,
) -> Result<(), Box<dyn std::error::Error>> {
    let finite = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let ((x0, x1), (y0, y1), log_y, integer_x) = match layout.window {
        Some((x, y)) => (x, y, false, false),
        None => {
            let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for &(x, y) in finite() {
                (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
            }
            if x0 > x1 {
                return Err(format!("panel {:?}: no finite points to plot", panel.title).into());
            }
            let log_y = y0 > 0.0 && y1 / y0 >= 10.0;
            let integer_x = finite().all(|(x, _)| x.fract() == 0.0);
            let (y0, y1) = if log_y {
                let (lo, hi) = (y0.log10(), y1.log10());
                let pad = (hi - lo) * 0.03;
                (lo - pad, hi + pad)
            } else {
                let pad = ((y1 - y0) * 0.05).max(1e-9);
                (y0 - pad, y1 + pad)
            };
            ((x0, x1.max(x0 + 1.0)), (y0, y1), log_y, integer_x)
        }
    };
    let ty = move |y: f64| if log_y { y.log10() } else { y };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(38)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_format = |v: &f64| {
        if integer_x {
            integer_label(*v)
        } else {
            format!("{v}")
        }
    };
    let y_format = |v: &f64| {
        if log_y {
            power_label(*v)
        } else {
            format!("{}", (*v * 1e4).round() / 1e4)
        }
    };
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(if log_y {
            format!("{y_label} (log scale)")
        } else {
            y_label.to_string()
        })
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .light_line_style(WHITE)
        .draw()?;
    for curve in layout.background {
        chart.draw_series(LineSeries::new(
            curve.iter().copied(),
            RGBColor(190, 190, 190),
        ))?;
    }
    let mut dots = Vec::new();
    for s in panel.series.iter() {
        let index = names.iter().position(|n| *n == s.name).unwrap_or(0);
        let (color, (dash, gap)) = style(index);
        let stroke = color.stroke_width(2);
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
            .map(|&(x, y)| (x, ty(y)))
            .collect();
        let anno = if dash == 0 {
            chart.draw_series(LineSeries::new(points.iter().copied(), stroke))?
        } else {
            chart.draw_series(DashedLineSeries::new(
                points.iter().copied(),
                dash,
                gap,
                stroke,
            ))?
        };
        anno.label(s.name.clone()).legend(move |(x, y)| {
            if dash == 0 {
                PathElement::new(vec![(x, y), (x + 28, y)], stroke).into_dyn()
            } else {
                DashedPathElement::new(vec![(x, y), (x + 28, y)], dash, gap, stroke).into_dyn()
            }
        });
        dots.push((color, points));
    }
    // Dots after every line, so iterates stay visible where paths overlap.
    if layout.markers {
        for (color, points) in dots {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
        }
    }
    if let Some(m) = layout.mark {
        chart.draw_series(std::iter::once(Cross::new(m, 6, BLACK.stroke_width(2))))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
