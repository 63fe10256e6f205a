//! The console's pages as HTML. Every value is interpolated by maud, which escapes it.

use chrono::NaiveDate;
use maud::{Markup, html};

use super::dag;
use super::model::{DayTotals, DayView, DestinationFiles, StageDay, State, clock_span};
use crate::checks::CheckResult;
use crate::html::{Bar, bar_chart, fmt_bytes, fmt_ms, page};
use crate::stages::StageGraph;

/// What every page knows: the lake it shows and the refresh period.
pub struct Frame<'a> {
    pub lake: &'a str,
    pub version: &'a str,
    pub refresh_secs: u64,
}

fn nav(frame: &Frame) -> Markup {
    html! {
        header class="top" {
            a class="brand" href="/" { "ordertrail" }
            a href="/" { "Days" }
            a href="/dag" { "Stage DAG" }
            a href="/trends" { "Trends" }
            span class="muted" { "lake " (frame.lake) " · sql " (frame.version) }
        }
    }
}

fn shell(frame: &Frame, title: &str, body: Markup) -> String {
    let body = html! {
        div id="live" data-refresh=(frame.refresh_secs) { (body) }
    };
    page(title, Some(nav(frame)), true, body).into_string()
}

fn legend() -> Markup {
    html! {
        p class="legend muted" {
            @for s in [State::Done, State::Running, State::Pending, State::Stale, State::Failed] {
                span { i class=(format!("state-{}", s.name())) {} (s.name()) }
            }
        }
    }
}

/// One row of the days table: the date, each stage's state, checks, report files.
pub struct DayRow {
    pub view: DayView,
    pub checks: Option<Vec<CheckResult>>,
    pub report_files: usize,
}

/// `/`: days by stages, newest first.
pub fn index(frame: &Frame, graph: &StageGraph, rows: &[DayRow]) -> String {
    let body = html! {
        h1 { "Days" }
        @if rows.is_empty() {
            p { "Nothing in this lake yet: land a day (" code { "ordertrail load" } ", "
                code { "sync" } " or " code { "ingest" } ") and run it." }
        } @else {
            (legend())
            table class="days" id="days" {
                tr {
                    th { "trade date" } th { "state" }
                    @for (i, s) in graph.stages.iter().enumerate() {
                        th class="num" title=(s.name) { (i + 1) }
                    }
                    th { "checks" } th class="num" { "report files" }
                }
                @for row in rows {
                    tr class="day" data-date=(row.view.date.to_string()) data-state=(row.view.state.name()) {
                        td { a href=(format!("/day/{}", row.view.date)) { (row.view.date.to_string()) } }
                        td { span class=(format!("pill state-{}", row.view.state.name())) { (row.view.state.name()) } }
                        @for s in &row.view.stages {
                            td class=(format!("cell state-{}", s.state.name())) data-stage=(s.name)
                                data-state=(s.state.name())
                                title=(format!("{}: {}{}", s.name, s.state.name(), if s.why.is_empty() { String::new() } else { format!(" ({})", s.why) })) {
                                a href=(format!("/day/{}#stage-{}", row.view.date, s.name)) {}
                            }
                        }
                        td { (checks_pill(row.checks.as_deref())) }
                        td class="num" { (row.report_files) }
                    }
                }
            }
            p class="muted" { "Columns are the stages in run order: "
                @for (i, s) in graph.stages.iter().enumerate() {
                    @if i > 0 { ", " }
                    (i + 1) " " a href=(format!("/stage/{}", s.name)) { (s.name) }
                }
            }
        }
    };
    shell(frame, "ordertrail: days", body)
}

fn checks_pill(checks: Option<&[CheckResult]>) -> Markup {
    use crate::checks::Status;
    html! {
        @match checks {
            None => span class="muted" { "not run" },
            Some(results) => {
                @let failed = results.iter().filter(|r| r.status == Status::Fail).count();
                @if failed > 0 {
                    span class="pill state-fail" data-checks="fail" { (failed) " failed" }
                } @else {
                    span class="pill state-pass" data-checks="pass" { "pass" }
                }
            }
        }
    }
}

/// `/day/D`: the day's windows, timings, checks and report files.
pub fn day(
    frame: &Frame,
    view: &DayView,
    checks: Option<&[CheckResult]>,
    reports: &[DestinationFiles],
) -> String {
    let done = view
        .stages
        .iter()
        .filter(|s| s.state == State::Done)
        .count();
    let rows: u64 = view.stages.iter().map(|s| s.rows).sum();
    let ms: u64 = view.stages.iter().map(|s| s.ms).sum();
    let peak = view.stages.iter().filter_map(|s| s.peak_rss_kib).max();
    let body = html! {
        h1 { "Trade date " (view.date.to_string()) " "
             span class=(format!("pill state-{}", view.state.name())) id="day-state" { (view.state.name()) } }
        @if let Some(claim) = &view.claim {
            p id="claim" { (claim) }
        }
        @for (stage, why) in &view.altered {
            p class="state-stale pill" { (stage) ": " (why) }
        }
        div class="cards" {
            div class="card" { b { (done) " / " (view.stages.len()) } "stages done" }
            div class="card" { b { (rows) } "rows written" }
            div class="card" { b { (fmt_ms(ms)) } "stage time" }
            div class="card" { b { (peak.map(|k| fmt_bytes(k * 1024)).unwrap_or_else(|| "–".into())) } "peak memory" }
            div class="card" { b { (checks_pill(checks)) } "checks" }
            div class="card" { b { (reports.iter().map(|d| d.files.len()).sum::<usize>()) } "report files" }
        }
        h2 { "Windows" }
        (legend())
        (grid(view))
        h2 { "Stage time and rows" }
        (timings(view))
        h2 id="checks" { "Checks" }
        @match checks {
            Some(results) => (crate::checks::html::section(results)),
            None => p class="muted" { "No check results for this day (they are written when the day is complete: "
                code { "ordertrail check --lake … --date " (view.date.to_string()) } ")." },
        }
        h2 id="reports" { "Report files" }
        (report_section(view.date, reports))
    };
    shell(frame, &format!("ordertrail: {}", view.date), body)
}

/// Stages by the 48 half hours of the day; a window spans the half hours it covers.
fn grid(view: &DayView) -> Markup {
    const SLOT: u32 = 30;
    html! {
        table class="grid" id="grid" {
            tr {
                th {} th {}
                @for h in 0..24 {
                    th class="hour" colspan="2" { (format!("{h:02}")) }
                }
            }
            @for s in &view.stages {
                tr class="stage" id=(format!("stage-{}", s.name)) data-stage=(s.name) data-state=(s.state.name()) {
                    td class="name" { a href=(format!("/stage/{}", s.name)) { (s.name) } }
                    td { span class=(format!("pill state-{}", s.state.name())) { (s.state.name()) } }
                    @for c in &s.cells {
                        @let from = c.start / SLOT;
                        @let to = c.end.div_ceil(SLOT).max(from + 1);
                        td class=(format!("cell state-{}", c.state.name())) colspan=(to - from)
                            data-state=(c.state.name()) data-window=(clock_span(c.start, c.end))
                            title=(format!("{} {}: {}", s.name, clock_span(c.start, c.end), c.detail)) {}
                    }
                }
            }
        }
        @let not_done: Vec<&StageDay> = view.stages.iter().filter(|s| s.state != State::Done).collect();
        @if !not_done.is_empty() {
            h3 { "Not done" }
            ul id="not-done" {
                @for s in not_done {
                    li { b { (s.name) } " (" (s.state.name()) "): " (s.why) }
                }
            }
        }
    }
}

fn timings(view: &DayView) -> Markup {
    let time: Vec<Bar> = view
        .stages
        .iter()
        .map(|s| Bar {
            label: s.name.clone(),
            value: s.ms as f64,
            text: fmt_ms(s.ms),
            class: "",
        })
        .collect();
    html! {
        (bar_chart(&time, 170))
        table id="stage-table" {
            tr { th { "stage" } th { "file" } th { "kind" } th class="num" { "windows" } th class="num" { "rows" }
                 th class="num" { "time" } th class="num" { "peak memory" } }
            @for s in &view.stages {
                tr {
                    td { a href=(format!("/stage/{}", s.name)) { (s.name) } }
                    td { code { (s.rel_path) } }
                    td { @if s.incremental { "incremental" } @else { "day" } }
                    td class="num" { (s.windows) }
                    td class="num" { (s.rows) }
                    td class="num" { (fmt_ms(s.ms)) }
                    td class="num" { (s.peak_rss_kib.map(|k| fmt_bytes(k * 1024)).unwrap_or_default()) }
                }
            }
        }
    }
}

fn report_section(date: NaiveDate, reports: &[DestinationFiles]) -> Markup {
    html! {
        @if reports.is_empty() {
            p class="muted" id="no-reports" { "No report files for this day." }
        }
        @for d in reports {
            section class="destination" data-destination=(d.name) {
                h3 { (d.name) " " span class="muted" { (d.kind.map(|k| format!("{k:?}").to_lowercase()).unwrap_or_else(|| "not in the configuration".into())) } }
                @match &d.validation {
                    Some(Ok(v)) => p class="validation" data-errors=(v.errors) {
                        @if v.is_ok() { span class="pill state-pass" { "valid" } } @else { span class="pill state-fail" { "invalid" } }
                        " CAT IM Tech Specs " (v.spec_version) ": " (v.files) " files, " (v.events) " events, "
                        (v.errors) " errors, " (v.warnings) " warnings"
                        @if !v.rules.is_empty() {
                            ul {
                                @for r in &v.rules {
                                    li { code { (r.rule) } " " (format!("{:?}", r.severity).to_lowercase()) ": " (r.count) }
                                }
                            }
                        }
                    },
                    Some(Err(e)) => p class="validation pill state-fail" { "could not validate: " (e) },
                    None => {},
                }
                table class="files" {
                    tr { th { "file" } th class="num" { "size" } th { "sha256" } }
                    @for f in &d.files {
                        tr class="report-file" {
                            td { a href=(format!("/files/{}/{}/{}", date, urlencode(&d.name), urlencode(&f.name))) download { (f.name) } }
                            td class="num" { (fmt_bytes(f.bytes)) }
                            td { code { (f.sha256) } }
                        }
                    }
                }
            }
        }
    }
}

/// Percent-encode a path segment (names are plain, but a crafted one must not break the link).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/dag`: the stage DAG drawn from the SQL.
pub fn dag_page(frame: &Frame, graph: &StageGraph, latest: Option<&DayView>) -> String {
    let body = html! {
        h1 { "Stage DAG" }
        p class="muted" { "Derived from the SQL: an arrow from a table to each stage that reads it. "
            @if let Some(v) = latest { "Stages outlined by their state on " (v.date.to_string()) "." } }
        (dag::svg(graph, latest, false))
    };
    shell(frame, "ordertrail: stage DAG", body)
}

/// `/stage/NAME`: the SQL file, what it reads and what reads it.
pub fn stage_page(
    frame: &Frame,
    graph: &StageGraph,
    stage: &crate::stages::Stage,
    checks: &[crate::checks::Check],
    columns: &[crate::lineage::ColumnLineage],
) -> String {
    let readers: Vec<&str> = graph
        .stages
        .iter()
        .filter(|s| s.deps.contains(&stage.name))
        .map(|s| s.name.as_str())
        .collect();
    let checkers: Vec<&str> = checks
        .iter()
        .filter(|c| c.reads.iter().any(|r| r == &stage.name))
        .map(|c| c.name.as_str())
        .collect();
    let body = html! {
        h1 { "Stage " (stage.name) }
        p { "File " code { (frame.version) "/" (stage.rel_path) } ", "
            @match &stage.incremental {
                Some(inc) => { "incremental by window (unique key " code { (inc.unique_key.join(", ")) } ", event time " code { (inc.event_time) } ")" },
                None => "computed once per trade date",
            }
        }
        h2 { "Lineage" }
        table id="lineage" {
            tr { th { "reads stages" } td { @for (i, d) in stage.deps.iter().enumerate() { @if i > 0 { ", " } a href=(format!("/stage/{d}")) { (d) } } } }
            tr { th { "reads raw tables" } td { @for (i, d) in stage.sources.iter().enumerate() { @if i > 0 { ", " } code { (d) } } } }
            tr { th { "reads configuration" } td { @for (i, d) in stage.config.iter().enumerate() { @if i > 0 { ", " } code { (d) } } } }
            tr { th { "read by stages" } td { @for (i, d) in readers.iter().enumerate() { @if i > 0 { ", " } a href=(format!("/stage/{d}")) { (d) } } } }
            tr { th { "read by checks" } td { @for (i, d) in checkers.iter().enumerate() { @if i > 0 { ", " } code { (d) } } } }
        }
        h2 { "Columns" }
        p class="muted" { "Where each column's values come from (one hop, and down to raw columns and FIX tags) and what reads it, from the logical plan (" code { "ordertrail lineage " (stage.name) } ")." }
        table id="columns" {
            tr { th { "column" } th { "from" } th { "raw" } th { "read by" } }
            @for c in columns {
                tr data-column=(c.column) {
                    td { code { (c.column.split_once('.').map(|(_, n)| n).unwrap_or(&c.column)) } }
                    td { @for (i, s) in c.direct.iter().enumerate() { @if i > 0 { br; } (s.to_string()) } }
                    td { @for (i, s) in c.raw.iter().enumerate() { @if i > 0 { br; } (s.to_string()) } }
                    td { @for (i, r) in c.read_by.iter().enumerate() { @if i > 0 { br; } (r) } }
                }
            }
        }
        h2 { "SQL" }
        pre class="sql" id="sql" { (stage.sql) }
    };
    shell(frame, &format!("ordertrail: {}", stage.name), body)
}

/// `/trends`: time and rows per stage and check failures, day by day.
pub fn trends(frame: &Frame, graph: &StageGraph, days: &[DayTotals]) -> String {
    let time: Vec<Bar> = days
        .iter()
        .map(|d| {
            let ms: u64 = d.stage_ms.values().sum();
            Bar {
                label: d.date.to_string(),
                value: ms as f64,
                text: fmt_ms(ms),
                class: "",
            }
        })
        .collect();
    let failures: Vec<Bar> = days
        .iter()
        .map(|d| {
            let (failed, rows) = d.checks_failed.unwrap_or((0, 0));
            Bar {
                label: d.date.to_string(),
                value: failed as f64,
                text: match d.checks_failed {
                    Some(_) => format!("{failed} failed ({rows} failing rows)"),
                    None => "not run".into(),
                },
                class: if failed > 0 { "fail" } else { "pass" },
            }
        })
        .collect();
    let body = html! {
        h1 { "Trends" }
        @if days.is_empty() {
            p class="muted" { "No processed days yet." }
        } @else {
            h2 { "Stage time per day" }
            (bar_chart(&time, 100))
            h2 { "Failed checks per day" }
            (bar_chart(&failures, 100))
            h2 { "Per stage" }
            table id="trend-table" {
                tr { th { "stage" } @for d in days { th class="num" { (d.date.to_string()) } } }
                @for s in &graph.stages {
                    tr {
                        td { a href=(format!("/stage/{}", s.name)) { (s.name) } }
                        @for d in days {
                            td class="num" {
                                @match (d.stage_ms.get(&s.name), d.stage_rows.get(&s.name)) {
                                    (Some(ms), Some(rows)) => { (fmt_ms(*ms)) br; span class="muted" { (rows) " rows" } },
                                    _ => span class="muted" { "–" },
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    shell(frame, "ordertrail: trends", body)
}

/// An error page: what went wrong, escaped.
pub fn error(frame: &Frame, message: &str) -> String {
    shell(
        frame,
        "ordertrail: error",
        html! { h1 { "Error" } pre id="error" { (message) } },
    )
}
