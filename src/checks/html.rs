//! The reconciliation report as HTML (`check_report.html`, beside the Markdown and JSON), and
//! the checks section of the console's day page: the verdict, a chart of failing rows per
//! check, the table of checks, and every failing check's keys and sample rows.

use chrono::NaiveDate;
use maud::{Markup, html};

use super::{CheckResult, Status};
use crate::html::{Bar, bar_chart, page};

/// Failing keys listed per check (the JSON results keep all of them).
const KEYS_SHOWN: usize = 50;

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    }
}

/// The checks of one day: verdict, chart, table, failing rows.
pub fn section(results: &[CheckResult]) -> Markup {
    let failed = results.iter().filter(|r| r.status == Status::Fail).count();
    let warned = results.iter().filter(|r| r.status == Status::Warn).count();
    let bars: Vec<Bar> = results
        .iter()
        .map(|r| Bar {
            label: r.check.clone(),
            value: r.failing as f64,
            text: format!("{} failing", r.failing),
            class: status_class(r.status),
        })
        .collect();
    html! {
        div class="checks" {
            @if failed == 0 {
                p { span class="verdict state-pass" id="checks-verdict" { "PASS" }
                    " " (results.len() - warned) " of " (results.len()) " checks passed"
                    @if warned > 0 { ", " (warned) " warned" } }
            } @else {
                p { span class="verdict state-fail" id="checks-verdict" { "FAIL" }
                    " " (failed) " error-level check(s) failed: do not submit reports for this day" }
            }
            h3 { "Failing rows per check" }
            (bar_chart(&bars, 200))
            table class="check-table" {
                tr { th { "check" } th { "severity" } th { "status" } th class="num" { "failing" }
                     th class="num" { "threshold" } th { "what it checks" } }
                @for r in results {
                    tr class=(format!("check check-{}", status_class(r.status))) data-check=(r.check) {
                        td { @if r.status != Status::Pass { a href=(format!("#check-{}", r.check)) { (r.check) } } @else { (r.check) } }
                        td { (format!("{:?}", r.severity).to_lowercase()) }
                        td { span class=(format!("pill state-{}", status_class(r.status))) { (format!("{:?}", r.status).to_lowercase()) } }
                        td class="num" { (r.failing) }
                        td class="num" { (r.threshold) }
                        td { (r.description) }
                    }
                }
            }
            @for r in results.iter().filter(|r| r.status != Status::Pass) {
                section class="failing-check" id=(format!("check-{}", r.check)) {
                    h3 { (r.check) " " span class=(format!("pill state-{}", status_class(r.status))) { (format!("{:?}", r.status).to_lowercase()) } }
                    p { (r.description) }
                    p { "Failing keys (" (r.keys.len()) "): "
                        @for (i, k) in r.keys.iter().take(KEYS_SHOWN).enumerate() {
                            @if i > 0 { ", " }
                            code class="failing-key" { (k) }
                        }
                        @if r.keys.len() > KEYS_SHOWN { " …" }
                    }
                    (sample_table(&r.sample))
                }
            }
        }
    }
}

/// The sample rows as a table, one column per field of the first row (in its order).
fn sample_table(rows: &[serde_json::Value]) -> Markup {
    let columns: Vec<String> = rows
        .first()
        .and_then(|r| r.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    html! {
        @if !columns.is_empty() {
            table class="sample" {
                tr { @for c in &columns { th { (c) } } }
                @for row in rows {
                    tr { @for c in &columns { td { (cell(row.get(c))) } } }
                }
            }
        }
    }
}

fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `check_report.html`: a page that stands alone (styles inlined, no script), for an alert to
/// link to.
pub fn report(date: NaiveDate, results: &[CheckResult]) -> String {
    let body = html! {
        h1 { "ordertrail checks, trade date " (date.to_string()) }
        (section(results))
    };
    page(&format!("ordertrail checks {date}"), None, false, body).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Severity;

    fn result(check: &str, status: Status, key: &str) -> CheckResult {
        CheckResult {
            check: check.into(),
            description: "what it checks".into(),
            severity: Severity::Error,
            status,
            failing: u64::from(status != Status::Pass),
            threshold: 0,
            keys: if status == Status::Pass {
                vec![]
            } else {
                vec![key.into()]
            },
            sample: if status == Status::Pass {
                vec![]
            } else {
                vec![serde_json::json!({"check_key": key, "symbol": "<b>X</b>"})]
            },
            millis: 0,
            peak_rss_kib: None,
            buckets: 1,
        }
    }

    #[test]
    fn a_failing_check_shows_its_keys_and_rows_escaped() {
        let page = report(
            NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            &[
                result("fills_match", Status::Pass, ""),
                result("overfill", Status::Fail, "ORD<1>"),
            ],
        );
        assert!(page.contains(">FAIL<"), "{page}");
        assert!(page.contains("id=\"check-overfill\""), "{page}");
        assert!(page.contains("ORD&lt;1&gt;"), "{page}");
        assert!(page.contains("&lt;b&gt;X&lt;/b&gt;"), "{page}");
        assert!(!page.contains("<b>X</b>"), "{page}");
        assert!(!page.contains("id=\"check-fills_match\""), "{page}");
    }
}
