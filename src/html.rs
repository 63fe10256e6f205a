//! HTML building blocks shared by the operator's console (`serve`) and the reconciliation
//! report (`check_report.html`): the page shell, the stylesheet, bar charts as inline SVG.
//!
//! Pages are [`maud`] templates: every value interpolated into one is escaped, so text that
//! came from data (a symbol, an account, an error message) can never become markup. Nothing
//! here reads the lake.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The stylesheet: served as `/static/style.css` by the console, inlined into report files.
pub const STYLE: &str = r#"
:root { --done:#2e7d32; --stale:#ef8f00; --failed:#c62828; --running:#1565c0; --pending:#cfd8dc;
        --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#fafbfc; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink);
       background:var(--bg); }
header.top { background:#102a43; color:#fff; padding:10px 24px; display:flex; gap:24px;
             align-items:baseline; }
header.top a { color:#d9e2ec; text-decoration:none; }
header.top a:hover { color:#fff; text-decoration:underline; }
header.top .brand { font-weight:700; font-size:16px; color:#fff; }
main { padding:16px 24px 48px; max-width:1500px; }
h1 { font-size:20px; margin:8px 0 12px; }
h2 { font-size:16px; margin:28px 0 8px; border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { font-size:14px; margin:16px 0 6px; }
table { border-collapse:collapse; background:#fff; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; vertical-align:top; }
th { background:#f0f4f8; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; }
pre.sql { background:#fff; border:1px solid var(--line); padding:12px; overflow:auto; }
.muted { color:var(--muted); }
.pill { display:inline-block; padding:0 8px; border-radius:10px; color:#fff; font-size:12px; }
.state-done { background:var(--done); } .state-stale { background:var(--stale); }
.state-failed { background:var(--failed); } .state-running { background:var(--running); }
.state-pending { background:var(--pending); color:var(--ink); }
.state-pass { background:var(--done); } .state-warn { background:var(--stale); }
.state-fail { background:var(--failed); }
.verdict { font-size:16px; font-weight:700; padding:8px 12px; border-radius:4px; color:#fff;
           display:inline-block; }
table.grid td.cell { padding:0; height:22px; min-width:6px; border:1px solid #fff; }
table.grid td.cell a { display:block; width:100%; height:100%; }
table.grid td.name { white-space:nowrap; }
table.grid th.hour { font-weight:400; font-size:11px; color:var(--muted); background:none;
                     border:none; padding:0 2px; }
table.days td.cell { width:26px; height:22px; padding:0; border:2px solid #fff; }
.legend span { margin-right:12px; }
.legend i { display:inline-block; width:12px; height:12px; vertical-align:-1px; margin-right:4px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
svg .bar { fill:#4c7bd9; } svg .bar.fail { fill:var(--failed); } svg .bar.warn { fill:var(--stale); }
svg .bar.pass { fill:var(--done); }
svg .node rect { fill:#fff; stroke:#486581; rx:4; } svg .node.source rect { fill:#f0f4f8; }
svg .node.done rect { stroke:var(--done); stroke-width:2; }
svg .node.running rect { stroke:var(--running); stroke-width:2; }
svg .node.stale rect { stroke:var(--stale); stroke-width:2; }
svg .node.failed rect { stroke:var(--failed); stroke-width:2; }
svg .edge { stroke:#9fb3c8; fill:none; }
.cards { display:flex; gap:12px; flex-wrap:wrap; }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 14px; }
.card b { display:block; font-size:18px; }
"#;

/// A whole page. `linked_css`: link the console's stylesheet (its pages allow no inline
/// style); otherwise the stylesheet is inlined (a report file that stands alone).
pub fn page(title: &str, nav: Option<Markup>, linked_css: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                @if linked_css {
                    link rel="stylesheet" href="/static/style.css";
                    script src="/static/console.js" defer {}
                } @else {
                    style { (PreEscaped(STYLE)) }
                }
            }
            body {
                @if let Some(nav) = nav { (nav) }
                main { (body) }
            }
        }
    }
}

/// One bar of a [`bar_chart`].
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Shown after the bar (the value with its unit).
    pub text: String,
    /// Extra CSS class of the bar (`fail`, `warn`, `pass`), or empty.
    pub class: &'static str,
}

/// Horizontal bars, one per item, scaled to the largest value.
pub fn bar_chart(bars: &[Bar], label_width: u32) -> Markup {
    const ROW: u32 = 20;
    const BAR_WIDTH: f64 = 420.0;
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let height = ROW * bars.len() as u32 + 4;
    let width = label_width + BAR_WIDTH as u32 + 120;
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox=(format!("0 0 {width} {height}")) role="img" {
            @for (i, b) in bars.iter().enumerate() {
                @let y = i as u32 * ROW + 2;
                @let w = if max > 0.0 { (b.value / max * BAR_WIDTH).max(if b.value > 0.0 { 1.0 } else { 0.0 }) } else { 0.0 };
                text x=(label_width - 6) y=(y + 13) text-anchor="end" { (b.label) }
                rect class=(format!("bar {}", b.class)) x=(label_width) y=(y + 2)
                    width=(format!("{w:.1}")) height=(ROW - 6) {
                    title { (b.label) ": " (b.text) }
                }
                text x=(format!("{:.1}", label_width as f64 + w + 6.0)) y=(y + 13) { (b.text) }
            }
        }
    }
}

/// Milliseconds as a short duration: `850 ms`, `12.4 s`, `3 min 05 s`.
pub fn fmt_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60),
    }
}

/// Bytes as a short size: `512 B`, `3.2 KiB`, `41.0 MiB`.
pub fn fmt_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.2} GiB", b / KIB / KIB / KIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_charts_and_pages() {
        let bars = [Bar {
            label: "<script>alert(1)</script>".into(),
            value: 3.0,
            text: "a&b".into(),
            class: "",
        }];
        let out = page("t<i>", None, false, bar_chart(&bars, 100)).into_string();
        assert!(!out.contains("<script>alert"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
        assert!(out.contains("a&amp;b"), "{out}");
        assert!(out.contains("<title>t&lt;i&gt;</title>"), "{out}");
    }

    #[test]
    fn durations_and_sizes_read_short() {
        assert_eq!(fmt_ms(850), "850 ms");
        assert_eq!(fmt_ms(12_400), "12.4 s");
        assert_eq!(fmt_ms(185_000), "3 min 05 s");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(3 * 1024 + 300), "3.3 KiB");
    }
}
