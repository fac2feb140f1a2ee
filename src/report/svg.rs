//! The report's charts as inline SVG, drawn here so the page needs no script library and no
//! network: horizontal stacked bars (amounts or counts by outcome) and median/p95 bars.

use std::fmt::Write;

use super::format::escape;

/// Chart width in SVG units; the page scales it to the column.
const WIDTH: i64 = 960;
/// Left column for the bar labels.
const LABEL_WIDTH: i64 = 190;
/// Right column for the totals.
const TOTAL_WIDTH: i64 = 170;
const ROW_HEIGHT: i64 = 28;
const BAR_HEIGHT: i64 = 18;
const LEGEND_HEIGHT: i64 = 34;

/// One stacked series: a name for the legend and a fill colour.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
}

/// One bar: a label, one value per series (not negative), and how each value and the total read.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub values: Vec<i64>,
    pub value_texts: Vec<String>,
    pub total_text: String,
}

/// Horizontal stacked bars, scaled to the largest total; each segment has a tooltip.
pub fn stacked_bars(id: &str, title: &str, series: &[Series], bars: &[Bar]) -> String {
    let area = WIDTH - LABEL_WIDTH - TOTAL_WIDTH;
    let largest = bars
        .iter()
        .map(|bar| bar.values.iter().map(|v| (*v).max(0)).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let height = LEGEND_HEIGHT + ROW_HEIGHT * bars.len().max(1) as i64 + 8;
    let mut svg = open(id, title, height);
    legend(&mut svg, series);
    for (row, bar) in bars.iter().enumerate() {
        let y = LEGEND_HEIGHT + ROW_HEIGHT * row as i64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text>"#,
            LABEL_WIDTH - 8,
            y + BAR_HEIGHT - 4,
            escape(&bar.label)
        );
        let mut x = LABEL_WIDTH;
        for (index, value) in bar.values.iter().enumerate() {
            let value = (*value).max(0);
            if value == 0 {
                continue;
            }
            // At least one unit wide, so a small but present value is still visible.
            let width = ((value as i128 * area as i128) / largest as i128).max(1) as i64;
            let (name, color) = series.get(index).map(|s| (s.name, s.color)).unwrap_or(("", "#999"));
            let text = bar.value_texts.get(index).map(String::as_str).unwrap_or("");
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="{color}"><title>{}: {} — {}</title></rect>"#,
                escape(&bar.label),
                escape(name),
                escape(text)
            );
            x += width;
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="total">{}</text>"#,
            x + 6,
            y + BAR_HEIGHT - 4,
            escape(&bar.total_text)
        );
    }
    if bars.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{LABEL_WIDTH}" y="{}" class="label">No payments.</text>"#,
            LEGEND_HEIGHT + BAR_HEIGHT - 4
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One row of a median/p95 chart: a label and the two times in milliseconds.
#[derive(Clone, Debug)]
pub struct Spread {
    pub label: String,
    pub median_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub text: String,
}

/// A light bar to the p95 with a dark bar to the median on top of it.
pub fn median_p95_bars(id: &str, title: &str, rows: &[Spread]) -> String {
    let area = WIDTH - LABEL_WIDTH - TOTAL_WIDTH;
    let largest = rows
        .iter()
        .filter_map(|row| row.p95_ms.or(row.median_ms))
        .max()
        .unwrap_or(0)
        .max(1);
    let height = LEGEND_HEIGHT + ROW_HEIGHT * rows.len().max(1) as i64 + 8;
    let mut svg = open(id, title, height);
    legend(
        &mut svg,
        &[
            Series {
                name: "median",
                color: "#1565c0",
            },
            Series {
                name: "95th percentile",
                color: "#90caf9",
            },
        ],
    );
    for (index, row) in rows.iter().enumerate() {
        let y = LEGEND_HEIGHT + ROW_HEIGHT * index as i64;
        let scaled = |ms: i64| ((ms.max(0) as i128 * area as i128) / largest as i128).max(1) as i64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text>"#,
            LABEL_WIDTH - 8,
            y + BAR_HEIGHT - 4,
            escape(&row.label)
        );
        let mut end = LABEL_WIDTH;
        if let Some(p95) = row.p95_ms {
            let width = scaled(p95);
            end = end.max(LABEL_WIDTH + width);
            let _ = write!(
                svg,
                "<rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{width}\" height=\"{BAR_HEIGHT}\" fill=\"#90caf9\"></rect>"
            );
        }
        if let Some(median) = row.median_ms {
            let width = scaled(median);
            end = end.max(LABEL_WIDTH + width);
            let _ = write!(
                svg,
                "<rect x=\"{LABEL_WIDTH}\" y=\"{}\" width=\"{width}\" height=\"{}\" fill=\"#1565c0\"></rect>",
                y + 4,
                BAR_HEIGHT - 8
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="total">{}</text>"#,
            end + 6,
            y + BAR_HEIGHT - 4,
            escape(&row.text)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open(id: &str, title: &str, height: i64) -> String {
    format!(
        r#"<svg id="{}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(id),
        escape(title)
    )
}

fn legend(svg: &mut String, series: &[Series]) {
    let mut x = LABEL_WIDTH;
    for item in series {
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="6" width="14" height="14" fill="{}"></rect><text x="{}" y="18" class="legend">{}</text>"#,
            item.color,
            x + 19,
            escape(item.name)
        );
        x += 30 + 8 * item.name.chars().count() as i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: [Series; 2] = [
        Series {
            name: "Paid",
            color: "#2e7d32",
        },
        Series {
            name: "Failed",
            color: "#c62828",
        },
    ];

    #[test]
    fn bars_scale_to_the_largest_total_and_escape_labels() {
        let bars = vec![
            Bar {
                label: "Đề Thám <1>".to_string(),
                values: vec![300, 100],
                value_texts: vec!["300 ₫".to_string(), "100 ₫".to_string()],
                total_text: "400 ₫".to_string(),
            },
            Bar {
                label: "Quang Trung".to_string(),
                values: vec![200, 0],
                value_texts: vec!["200 ₫".to_string(), "0 ₫".to_string()],
                total_text: "200 ₫".to_string(),
            },
        ];
        let svg = stacked_bars("amounts", "Amounts", &SERIES, &bars);
        let area = WIDTH - LABEL_WIDTH - TOTAL_WIDTH;
        assert!(svg.contains(&format!(r#"width="{}""#, area * 3 / 4)), "{svg}");
        assert!(svg.contains(&format!(r#"width="{}""#, area / 4)));
        assert!(svg.contains(&format!(r#"width="{}""#, area / 2)));
        assert!(svg.contains("Đề Thám &lt;1&gt;"));
        assert!(!svg.contains("<1>"));
        // The zero segment is not drawn: two legend squares and three bar segments.
        assert_eq!(svg.matches("<rect").count(), 5);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn an_empty_chart_says_so() {
        assert!(stacked_bars("x", "X", &SERIES, &[]).contains("No payments."));
    }

    #[test]
    fn spreads_draw_both_bars_only_when_known() {
        let rows = vec![
            Spread {
                label: "bank_transfer".to_string(),
                median_ms: Some(1_000),
                p95_ms: Some(4_000),
                text: "1.0 s / 4.0 s".to_string(),
            },
            Spread {
                label: "mobile_money".to_string(),
                median_ms: None,
                p95_ms: None,
                text: "–".to_string(),
            },
        ];
        let svg = median_p95_bars("times", "Times", &rows);
        // Two legend squares, then p95 and median of the first row only.
        assert_eq!(svg.matches("<rect").count(), 4);
        let area = WIDTH - LABEL_WIDTH - TOTAL_WIDTH;
        assert!(svg.contains(&format!(r#"width="{}""#, area / 4)));
    }
}
