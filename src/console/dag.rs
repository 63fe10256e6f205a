//! The stage DAG as an SVG picture, top to bottom: raw tables in the first row, each stage one
//! row below the last table it reads, nodes in a row ordered by the mean position of what they
//! read (fewer crossings), every stage a link to its page.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::model::{DayView, State};
use crate::stages::StageGraph;

const NODE_W: f64 = 176.0;
const NODE_H: f64 = 24.0;
const COL: f64 = 192.0;
const ROW: f64 = 60.0;
const PAD: f64 = 12.0;

struct Node {
    name: String,
    source: bool,
    layer: usize,
    inputs: Vec<String>,
}

/// The picture; stages outlined by their state in `day` when given. `standalone`: with its
/// stylesheet inside (an .svg file), else styled by the page.
pub fn svg(graph: &StageGraph, day: Option<&DayView>, standalone: bool) -> Markup {
    let mut nodes: Vec<Node> = Vec::new();
    let mut layer_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut sources: Vec<&String> = graph.stages.iter().flat_map(|s| &s.sources).collect();
    sources.sort();
    sources.dedup();
    for s in sources {
        layer_of.insert(s.clone(), 0);
        nodes.push(Node {
            name: s.clone(),
            source: true,
            layer: 0,
            inputs: vec![],
        });
    }
    // Stages come in dependency order, so what a stage reads is placed before it.
    for s in &graph.stages {
        let inputs: Vec<String> = s.sources.iter().chain(&s.deps).cloned().collect();
        let layer = 1 + inputs
            .iter()
            .filter_map(|i| layer_of.get(i))
            .max()
            .copied()
            .unwrap_or(0);
        layer_of.insert(s.name.clone(), layer);
        nodes.push(Node {
            name: s.name.clone(),
            source: false,
            layer,
            inputs,
        });
    }
    let layers = nodes.iter().map(|n| n.layer).max().unwrap_or(0) + 1;
    // Row of each node within its layer: by the mean row of its inputs, then by name.
    let mut row_of: BTreeMap<String, f64> = BTreeMap::new();
    let mut height = 0usize;
    for layer in 0..layers {
        let mut here: Vec<(f64, &Node)> = nodes
            .iter()
            .filter(|n| n.layer == layer)
            .map(|n| {
                let rows: Vec<f64> = n
                    .inputs
                    .iter()
                    .filter_map(|i| row_of.get(i))
                    .copied()
                    .collect();
                let mean = if rows.is_empty() {
                    0.0
                } else {
                    rows.iter().sum::<f64>() / rows.len() as f64
                };
                (mean, n)
            })
            .collect();
        here.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.name.cmp(&b.1.name)));
        for (i, (_, n)) in here.iter().enumerate() {
            row_of.insert(n.name.clone(), i as f64);
        }
        height = height.max(here.len());
    }
    let pos = |name: &str| -> Option<(f64, f64)> {
        let n = nodes.iter().find(|n| n.name == name)?;
        Some((
            PAD + row_of.get(name).copied().unwrap_or(0.0) * COL,
            PAD + n.layer as f64 * ROW,
        ))
    };
    let state_of = |name: &str| -> Option<State> {
        day.and_then(|d| d.stages.iter().find(|s| s.name == name))
            .map(|s| s.state)
    };
    let width = PAD * 2.0 + (height as f64 - 1.0).max(0.0) * COL + NODE_W;
    let total_h = PAD * 2.0 + (layers as f64 - 1.0) * ROW + NODE_H;
    html! {
        svg id="dag" xmlns="http://www.w3.org/2000/svg" width=(width) height=(total_h)
            viewBox=(format!("0 0 {width} {total_h}")) role="img" {
            @if standalone {
                style { (maud::PreEscaped(crate::html::STYLE)) }
                rect width="100%" height="100%" fill="#fafbfc" {}
            }
            @for n in &nodes {
                @for i in &n.inputs {
                    @if let (Some((x1, y1)), Some((x2, y2))) = (pos(i), pos(&n.name)) {
                        @let (sx, sy, ex, ey) = (x1 + NODE_W / 2.0, y1 + NODE_H, x2 + NODE_W / 2.0, y2);
                        path class="edge" data-from=(i) data-to=(n.name)
                            d=(format!("M{sx:.1},{sy:.1} C{sx:.1},{:.1} {ex:.1},{:.1} {ex:.1},{ey:.1}", sy + 24.0, ey - 24.0)) {}
                    }
                }
            }
            @for n in &nodes {
                @if let Some((x, y)) = pos(&n.name) {
                    @let class = match (n.source, state_of(&n.name)) {
                        (true, _) => "node source".to_string(),
                        (false, Some(s)) => format!("node {}", s.name()),
                        (false, None) => "node".to_string(),
                    };
                    @if n.source {
                        g class=(class) data-node=(n.name) {
                            rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) {}
                            text x=(x + 8.0) y=(y + 16.0) { (n.name) }
                        }
                    } @else {
                        a href=(format!("/stage/{}", n.name)) {
                            g class=(class) data-node=(n.name) {
                                rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) {}
                                text x=(x + 8.0) y=(y + 16.0) { (n.name) }
                                title { (n.name) @if let Some(s) = state_of(&n.name) { ": " (s.name()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
