//! The report as one self-contained HTML page: UTF-8, styles, inline SVG charts and a small
//! inline script (sortable tables) in the file itself, nothing fetched when it is opened.
//! Figures carry stable `id`s (`total-paid-amount`, …) so tests and scripts can read them.

use std::fmt::Write;

use super::aggregate::{Figures, Outcome, Report};
use super::communes::CommuneNames;
use super::format::{count, dong, duration, escape};
use super::svg::{median_p95_bars, stacked_bars, Bar, Series, Spread};
use super::Scope;

/// The chart colour of each outcome, in [`Outcome::ALL`] order.
const SERIES: [Series; 6] = [
    Series {
        name: "Paid",
        color: "#2e7d32",
    },
    Series {
        name: "Failed",
        color: "#c62828",
    },
    Series {
        name: "Pending",
        color: "#f9a825",
    },
    Series {
        name: "Needs review",
        color: "#ef6c00",
    },
    Series {
        name: "Returned",
        color: "#6a1b9a",
    },
    Series {
        name: "Rejected",
        color: "#757575",
    },
];

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// The program's name as the province writes it, with the contract's name after it.
pub fn program_label(program: &str) -> String {
    match program {
        "meritorious" => "Người có công (meritorious)".to_string(),
        "social_assistance" => "Bảo trợ xã hội (social assistance)".to_string(),
        other => other.to_string(),
    }
}

/// The channel's name for people.
pub fn channel_label(channel: &str) -> String {
    match channel {
        "bank_transfer" => "Bank transfer".to_string(),
        "vnpost_account" => "VNPost account".to_string(),
        "mobile_money" => "Mobile money".to_string(),
        other => other.to_string(),
    }
}

/// The whole page. `notes` are sentences shown under the tables (what is and is not counted).
pub fn render(report: &Report, scope: &Scope, names: &CommuneNames, notes: &[String]) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let title = match &scope.batch_id {
        Some(batch) => format!("Payout report {} — batch {}", scope.period, batch),
        None => format!("Payout report {}", scope.period),
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = write!(
        page,
        "<header><h1>{}</h1><p class=\"scope\">Period <strong id=\"scope-period\">{}</strong>{} · \
         generated <time>{}</time> · amounts in whole đồng</p></header>\n<main>\n",
        escape(&title),
        escape(&scope.period),
        scope
            .batch_id
            .as_ref()
            .map(|batch| format!(" · batch <strong id=\"scope-batch\">{}</strong>", escape(batch)))
            .unwrap_or_default(),
        escape(&scope.generated_at)
    );
    tiles(&mut page, &report.total);
    charts(&mut page, report, names);
    lines_table(&mut page, report, names);
    reasons_table(&mut page, report);
    page.push_str("<section><h2>How to read this report</h2><ul class=\"notes\">");
    for note in notes {
        let _ = write!(page, "<li>{}</li>", escape(note));
    }
    page.push_str("</ul></section>\n</main>\n");
    let _ = write!(page, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    page
}

fn tiles(page: &mut String, total: &Figures) {
    page.push_str("<section class=\"tiles\" id=\"totals\">");
    let _ = write!(
        page,
        "<div class=\"tile\"><h3>Orders</h3><p class=\"big\" id=\"total-count\">{}</p>\
         <p id=\"total-amount\">{}</p></div>",
        count(total.total_count()),
        dong(total.total_amount())
    );
    for (outcome, series) in Outcome::ALL.iter().zip(SERIES) {
        let _ = write!(
            page,
            "<div class=\"tile\" style=\"border-top-color:{}\"><h3>{}</h3>\
             <p class=\"big\" id=\"total-{}-count\">{}</p><p id=\"total-{}-amount\">{}</p></div>",
            series.color,
            outcome.label(),
            outcome.as_str(),
            count(total.count(*outcome)),
            outcome.as_str(),
            dong(total.amount(*outcome))
        );
    }
    let _ = write!(
        page,
        "<div class=\"tile\"><h3>Order to credit</h3><p class=\"big\" id=\"total-median\">{}</p>\
         <p>median · p95 <span id=\"total-p95\">{}</span></p></div>",
        duration(total.median_ms()),
        duration(total.p95_ms())
    );
    page.push_str("</section>\n");
}

fn bar(label: String, figures: &Figures, amounts: bool) -> Bar {
    let values: Vec<i64> = Outcome::ALL
        .iter()
        .map(|outcome| {
            if amounts {
                figures.amount(*outcome)
            } else {
                i64::try_from(figures.count(*outcome)).unwrap_or(i64::MAX)
            }
        })
        .collect();
    let text = |value: i64| {
        if amounts {
            dong(value)
        } else {
            count(value.unsigned_abs())
        }
    };
    Bar {
        label,
        value_texts: values.iter().map(|v| text(*v)).collect(),
        total_text: if amounts {
            dong(figures.total_amount())
        } else {
            format!("{} orders", count(figures.total_count()))
        },
        values,
    }
}

fn charts(page: &mut String, report: &Report, names: &CommuneNames) {
    let communes: Vec<Bar> = report
        .communes
        .iter()
        .map(|(code, figures)| bar(names.name(code).to_string(), figures, true))
        .collect();
    let channels: Vec<Bar> = report
        .channels
        .iter()
        .map(|(channel, figures)| bar(channel_label(channel), figures, false))
        .collect();
    let mut spreads: Vec<Spread> = report
        .channels
        .iter()
        .map(|(channel, figures)| spread(channel_label(channel), figures))
        .collect();
    spreads.push(spread("All channels".to_string(), &report.total));
    let _ = write!(
        page,
        "<section><h2>Amounts by commune</h2>{}</section>\n\
         <section><h2>Orders by channel</h2>{}</section>\n\
         <section><h2>Time from order to credit</h2>{}</section>\n",
        stacked_bars("chart-communes", "Amounts by commune and outcome", &SERIES, &communes),
        stacked_bars("chart-channels", "Orders by channel and outcome", &SERIES, &channels),
        median_p95_bars(
            "chart-credit-times",
            "Median and 95th percentile time from order to credit",
            &spreads
        )
    );
}

fn spread(label: String, figures: &Figures) -> Spread {
    Spread {
        label,
        median_ms: figures.median_ms(),
        p95_ms: figures.p95_ms(),
        text: format!("{} / {}", duration(figures.median_ms()), duration(figures.p95_ms())),
    }
}

fn lines_table(page: &mut String, report: &Report, names: &CommuneNames) {
    page.push_str(
        "<section><h2>Per commune, program and channel</h2><div class=\"scroll\">\
         <table id=\"lines\" class=\"sortable\"><thead><tr><th>Commune</th><th>Program</th><th>Channel</th>",
    );
    for outcome in Outcome::ALL {
        let _ = write!(page, "<th class=\"num\">{}</th>", outcome.label());
    }
    page.push_str(
        "<th class=\"num\">Total</th><th class=\"num\">Median to credit</th><th class=\"num\">p95 to credit</th>\
         </tr></thead><tbody>",
    );
    for (key, figures) in &report.lines {
        let row_id = format!("line-{}-{}-{}", key.commune_code, key.program, key.channel);
        let _ = write!(
            page,
            "<tr id=\"{}\"><td data-value=\"{}\">{} <span class=\"code\">{}</span></td><td>{}</td><td>{}</td>",
            escape(&row_id),
            escape(names.name(&key.commune_code)),
            escape(names.name(&key.commune_code)),
            escape(&key.commune_code),
            escape(&program_label(&key.program)),
            escape(&channel_label(&key.channel))
        );
        for outcome in Outcome::ALL {
            figure_cell(page, outcome.as_str(), figures.count(outcome), figures.amount(outcome));
        }
        figure_cell(page, "total", figures.total_count(), figures.total_amount());
        let _ = write!(
            page,
            "<td class=\"num\" data-value=\"{}\">{}</td><td class=\"num\" data-value=\"{}\">{}</td></tr>",
            figures.median_ms().unwrap_or(-1),
            duration(figures.median_ms()),
            figures.p95_ms().unwrap_or(-1),
            duration(figures.p95_ms())
        );
    }
    page.push_str("</tbody></table></div></section>\n");
}

fn figure_cell(page: &mut String, name: &str, count_value: u64, amount: i64) {
    if count_value == 0 {
        let _ = write!(
            page,
            "<td class=\"num zero\" data-value=\"0\" data-outcome=\"{name}\">–</td>"
        );
    } else {
        let _ = write!(
            page,
            "<td class=\"num\" data-value=\"{amount}\" data-outcome=\"{name}\">{}<br><small>{}</small></td>",
            count(count_value),
            dong(amount)
        );
    }
}

fn reasons_table(page: &mut String, report: &Report) {
    page.push_str("<section><h2>Reasons</h2>");
    if report.reasons.is_empty() {
        page.push_str(
            "<p id=\"no-reasons\">No payment failed, was returned, rejected or sent to review.</p></section>\n",
        );
        return;
    }
    page.push_str(
        "<table id=\"reasons\" class=\"sortable\"><thead><tr><th>Outcome</th><th>Reason code</th>\
         <th class=\"num\">Orders</th><th class=\"num\">Amount</th></tr></thead><tbody>",
    );
    for reason in &report.reasons {
        let _ = write!(
            page,
            "<tr id=\"reason-{}-{}\"><td>{}</td><td><code>{}</code></td><td class=\"num\" data-value=\"{}\">{}</td>\
             <td class=\"num\" data-value=\"{}\">{}</td></tr>",
            reason.outcome.as_str(),
            escape(&reason.reason_code),
            reason.outcome.label(),
            escape(&reason.reason_code),
            reason.count,
            count(reason.count),
            reason.amount,
            dong(reason.amount)
        );
    }
    page.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::aggregate::{aggregate, PaymentFact};

    fn page(facts: &[PaymentFact]) -> String {
        let scope = Scope {
            period: "2026-12".to_string(),
            batch_id: Some("TB-<2026>".to_string()),
            generated_at: "2026-12-31T00:00:00Z".to_string(),
        };
        render(
            &aggregate(facts),
            &scope,
            &CommuneNames::pilot(),
            &["Returns are counted from reconciliation.".to_string()],
        )
    }

    fn fact(outcome: Outcome, amount: i64, reason: Option<&str>) -> PaymentFact {
        PaymentFact {
            commune_code: "12454".to_string(),
            program: "social_assistance".to_string(),
            channel: "mobile_money".to_string(),
            outcome,
            amount,
            reason_code: reason.map(str::to_string),
            order_to_credit_ms: (outcome == Outcome::Paid).then_some(2_500),
        }
    }

    #[test]
    fn the_page_is_utf8_self_contained_and_shows_the_figures() {
        let html = page(&[
            fact(Outcome::Paid, 2_789_000, None),
            fact(Outcome::Paid, 1_000_000, None),
            fact(Outcome::Failed, 1_250_000, Some("account_closed")),
        ]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("id=\"total-paid-amount\">3.789.000 ₫<"));
        assert!(html.contains("id=\"total-paid-count\">2<"));
        assert!(html.contains("id=\"total-failed-amount\">1.250.000 ₫<"));
        assert!(html.contains("id=\"total-median\">2.5 s<"));
        assert!(html.contains("Đề Thám"));
        assert!(html.contains("Bảo trợ xã hội"));
        assert!(html.contains("id=\"reason-failed-account_closed\""));
        assert!(html.contains("Returns are counted from reconciliation."));
        assert!(html.contains("TB-&lt;2026&gt;"), "the batch id is escaped");
        // Nothing is fetched when the page is opened.
        for fetch in ["src=\"http", "href=\"http", "@import", "url(http", "<link"] {
            assert!(!html.contains(fetch), "the page must not load {fetch}");
        }
    }

    #[test]
    fn a_period_without_failures_says_so() {
        let html = page(&[fact(Outcome::Paid, 500_000, None)]);
        assert!(html.contains("id=\"no-reasons\""));
    }
}
