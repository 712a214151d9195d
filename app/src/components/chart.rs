//! Charts as plain SVG, drawn where the page is rendered (on the server first), so they show
//! before hydration. One SVG per chart with one path per series, however many hours it spans.

use crate::components::Erase;
use leptos::prelude::*;

/// One series of a chart.
pub struct Series {
    pub label: &'static str,
    /// Tailwind classes that colour it (`fill-…` for bars, `stroke-…` for lines) and its
    /// legend swatch (`bg-…`).
    pub mark: &'static str,
    pub swatch: &'static str,
    /// One value per hour; `None` where there is nothing to draw (a line breaks there).
    pub values: Vec<Option<f64>>,
}

/// How a chart draws its series.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bars, each series stacked on the ones before it.
    StackedBars,
    /// A line per series.
    Lines,
}

/// The SVG's height in its own units; the width is one unit per hour.
const HEIGHT: f64 = 100.0;

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value` (1 for nothing), so the axis reads well.
pub fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// The top of the axis: the largest stack (bars) or point (lines), rounded up. An axis of
/// `whole` things (requests, tokens) keeps its middle line whole too: 2 at least, 10 not 5.
fn axis_max(kind: Kind, series: &[Series], points: usize, whole: bool) -> f64 {
    let largest = match kind {
        Kind::StackedBars => (0..points)
            .map(|i| series.iter().filter_map(|s| s.values[i]).sum::<f64>())
            .fold(0.0, f64::max),
        Kind::Lines => series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .fold(0.0, f64::max),
    };
    let max = nice_ceiling(largest);
    match whole {
        true if max < 2.0 => 2.0,
        true if (max / 2.0).fract() != 0.0 => max * 2.0,
        _ => max,
    }
}

/// Whether a chart has nothing to show: no value above zero anywhere.
fn is_empty(series: &[Series]) -> bool {
    (series.iter()).all(|s| s.values.iter().all(|v| v.is_none_or(|value| value <= 0.0)))
}

/// The `d` of each series' path.
fn paths(kind: Kind, series: &[Series], points: usize, max: f64) -> Vec<String> {
    let y = |value: f64| HEIGHT - (value / max * HEIGHT).clamp(0.0, HEIGHT);
    match kind {
        Kind::StackedBars => {
            let mut base = vec![0.0; points];
            series
                .iter()
                .map(|s| {
                    let mut d = String::new();
                    for (i, value) in s.values.iter().enumerate() {
                        let Some(value) = value.filter(|v| *v > 0.0) else {
                            continue;
                        };
                        let (bottom, top) = (y(base[i]), y(base[i] + value));
                        d.push_str(&format!("M{:.2} {bottom:.2}V{top:.2}h0.8V{bottom:.2}z", i as f64 + 0.1));
                        base[i] += value;
                    }
                    d
                })
                .collect()
        }
        Kind::Lines => series
            .iter()
            .map(|s| {
                let mut d = String::new();
                let mut drawing = false;
                for (i, value) in s.values.iter().enumerate() {
                    match value {
                        Some(value) => {
                            // A line's first point is also a dot (`h0` with round caps), so an
                            // hour alone between empty ones still shows.
                            let (x, y) = (i as f64 + 0.5, y(*value));
                            if drawing {
                                d.push_str(&format!("L{x:.2} {y:.2}"));
                            } else {
                                d.push_str(&format!("M{x:.2} {y:.2}h0"));
                            }
                            drawing = true;
                        }
                        None => drawing = false,
                    }
                }
                d
            })
            .collect(),
    }
}

/// A chart card: title, legend, the SVG with its axis labels, and the first, middle and last
/// hour under it. `format` writes an axis value, of `whole` things or not; `summary` says in
/// words what it shows, for screen readers. With nothing to show, it says so instead of an
/// axis.
pub fn chart(
    title: &'static str,
    kind: Kind,
    series: Vec<Series>,
    hours: &[String],
    (format, whole): (fn(f64) -> String, bool),
    summary: String,
) -> AnyView {
    let points = hours.len().max(1);
    let empty = is_empty(&series);
    let max = axis_max(kind, &series, points, whole);
    let labels = match empty {
        true => [String::new(), String::new(), String::new()],
        false => [format(max), format(max / 2.0), "0".into()],
    };
    let drawn = paths(kind, &series, points, max);
    let first = hours.first().cloned().unwrap_or_default();
    let middle = hours.get(hours.len() / 2).cloned().unwrap_or_default();
    let last = hours.last().cloned().unwrap_or_default();
    let testid = format!("chart-{}", title.to_lowercase().replace(' ', "-"));
    view! {
        <figure class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid=testid>
            <figcaption class="flex flex-wrap items-center justify-between gap-2">
                <span class="text-sm font-semibold text-slate-900">{title}</span>
                <span class="flex flex-wrap gap-3 text-xs text-slate-600">
                    {series.iter().map(|s| view! {
                        <span class="inline-flex items-center gap-1"><span class=format!("inline-block h-2.5 w-2.5 rounded-sm {}", s.swatch) aria-hidden="true"></span>{s.label}</span>
                    }).collect_view()}
                </span>
            </figcaption>
            <div class="mt-3 flex gap-2">
                <div class="flex w-12 flex-none flex-col justify-between text-right text-[11px] leading-none text-slate-500" aria-hidden="true">
                    {labels.into_iter().map(|label| view! { <span>{label}</span> }).collect_view()}
                </div>
                <div class="relative w-full">
                <svg viewBox=format!("0 0 {points} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=format!("{title}: {summary}")
                    class="h-36 w-full overflow-visible border-b border-l border-slate-200">
                    <line x1="0" x2=points.to_string() y1="50" y2="50" class="stroke-slate-100" vector-effect="non-scaling-stroke"/>
                    <line x1="0" x2=points.to_string() y1="0" y2="0" class="stroke-slate-100" vector-effect="non-scaling-stroke"/>
                    {series.iter().zip(drawn).map(|(s, d)| match kind {
                        Kind::StackedBars => view! { <path d=d class=s.mark/> }.erase(),
                        Kind::Lines => view! { <path d=d class=s.mark fill="none" stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round" vector-effect="non-scaling-stroke"/> }.erase(),
                    }).collect_view()}
                </svg>
                {empty.then(|| view! {
                    <p class="absolute inset-0 flex items-center justify-center text-xs text-slate-500" data-testid="chart-empty">"Nothing in this range"</p>
                })}
                </div>
            </div>
            <div class="ml-14 mt-1 flex justify-between text-[11px] text-slate-500" aria-hidden="true">
                <span>{first}</span><span class="hidden sm:inline">{middle}</span><span>{last}</span>
            </div>
        </figure>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_rounds_up_to_one_two_or_five() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(31.0), 50.0);
        assert_eq!(nice_ceiling(0.003), 0.005);
    }

    #[test]
    fn an_axis_of_whole_things_has_a_whole_middle_line() {
        let series = |values: Vec<Option<f64>>| Series {
            label: "s",
            mark: "",
            swatch: "",
            values,
        };
        let five = [series(vec![Some(3.0), Some(5.0)])];
        assert_eq!(
            axis_max(Kind::StackedBars, &five, 2, true),
            10.0,
            "not 5, whose middle is 2.5"
        );
        assert_eq!(axis_max(Kind::StackedBars, &five, 2, false), 5.0);
        let one = [series(vec![Some(1.0)])];
        assert_eq!(axis_max(Kind::StackedBars, &one, 1, true), 2.0);
        assert_eq!(axis_max(Kind::StackedBars, &[series(vec![Some(20.0)])], 1, true), 20.0);
        assert!(is_empty(&[series(vec![None, Some(0.0)])]));
        assert!(!is_empty(&one));
    }

    #[test]
    fn bars_stack_and_lines_break_where_there_is_no_value() {
        let series = |values: Vec<Option<f64>>| Series {
            label: "s",
            mark: "",
            swatch: "",
            values,
        };
        let bars = paths(
            Kind::StackedBars,
            &[series(vec![Some(5.0), Some(0.0)]), series(vec![Some(5.0), None])],
            2,
            10.0,
        );
        // The second series starts where the first one ends (half-way up).
        assert_eq!(bars, ["M0.10 100.00V50.00h0.8V100.00z", "M0.10 50.00V0.00h0.8V50.00z"]);
        let lines = paths(Kind::Lines, &[series(vec![Some(10.0), None, Some(0.0)])], 3, 10.0);
        assert_eq!(lines, ["M0.50 0.00h0M2.50 100.00h0"]);
    }
}
