//! Files: the tree of added paths with size, redundancy target and health
//! (shards of the worst chunk against the target, chunks at risk), and a
//! detail pane for the selected path. The tree is sorted once per snapshot
//! (`tree.rs`); drawing walks only the visible rows.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::api::snapshot::{EntryKind, FileEntry, HealthState};

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Theme;
use super::super::tree::TreeRow;
use super::super::ui::panel;
use super::{Column, constraints, fit_columns, table_rows, window};

const DETAIL_HEIGHT: u16 = 5;

const COLUMNS: [Column; 6] = [
    Column {
        header: "Path",
        width: 24,
        priority: 0,
    },
    Column {
        header: "Size",
        width: 9,
        priority: 1,
    },
    Column {
        header: "Target",
        width: 9,
        priority: 2,
    },
    Column {
        header: "Shards",
        width: 7,
        priority: 3,
    },
    Column {
        header: "At risk",
        width: 7,
        priority: 4,
    },
    Column {
        header: "Health",
        width: 8,
        priority: 5,
    },
];

fn split(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Min(3), Constraint::Length(DETAIL_HEIGHT)]).areas(area)
}

/// Where the file rows are drawn.
pub fn list_rows(body: Rect) -> Rect {
    table_rows(split(body)[0])
}

fn health_style(e: &FileEntry, t: &Theme) -> Style {
    match e.health.state() {
        HealthState::Healthy => t.good,
        HealthState::AtRisk => t.warn,
        HealthState::Lost => t.bad,
    }
}

fn health_word(e: &FileEntry) -> &'static str {
    match e.health.state() {
        HealthState::Healthy => "ok",
        HealthState::AtRisk => "at risk",
        HealthState::Lost => "LOST",
    }
}

fn name_cell(app: &App, row: TreeRow, e: &FileEntry) -> Cell<'static> {
    let indent = "  ".repeat(row.depth as usize);
    let fold = if !row.has_children {
        if e.kind == EntryKind::Dir {
            "▹ "
        } else {
            "  "
        }
    } else if app.tree.is_collapsed(&e.path) {
        "▸ "
    } else {
        "▾ "
    };
    let name = e.path.get(row.name_start..).unwrap_or(&e.path);
    let slash = if e.kind == EntryKind::Dir && !name.ends_with('/') {
        "/"
    } else {
        ""
    };
    Cell::from(format!("{indent}{fold}{name}{slash}"))
}

fn cell(app: &App, row: TreeRow, e: &FileEntry, col: usize) -> Cell<'static> {
    let t = &app.theme;
    match col {
        0 => name_cell(app, row, e),
        1 => Cell::from(fmt::bytes(e.size)),
        2 => {
            let s = e.redundancy.to_string();
            if e.policy_here {
                Cell::from(Span::styled(s, t.accent))
            } else {
                Cell::from(s)
            }
        }
        3 => Cell::from(Span::styled(
            format!("{}/{}", e.health.available, e.health.target),
            health_style(e, t),
        )),
        4 => Cell::from(e.health.chunks_at_risk.to_string()),
        5 => Cell::from(Span::styled(health_word(e), health_style(e, t))),
        _ => Cell::from(""),
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let [table_area, detail_area] = split(area);
    let files = &app.snapshot.files;
    let (roots, at_risk) = (app.counts.policies, app.counts.policies_below_target);
    let title = format!(
        " Files {} paths · {roots} policies · {at_risk} below target ",
        files.len()
    );
    let keep = fit_columns(&COLUMNS, table_area.width.saturating_sub(2));
    let rows_area = table_rows(table_area);
    let len = app.tree.visible_len();
    let range = window(app.files.offset, rows_area.height, len);
    let first = range.start;
    let rows = range.filter_map(|n| {
        let row = app.tree.visible(n)?;
        let e = files.get(row.entry)?;
        Some(Row::new(
            keep.iter()
                .map(|&c| cell(app, row, e, c))
                .collect::<Vec<_>>(),
        ))
    });
    let header = Row::new(keep.iter().map(|&c| COLUMNS[c].header)).style(t.header);
    let table = Table::new(rows, constraints(&COLUMNS, &keep))
        .header(header)
        .row_highlight_style(t.selected)
        .block(panel(t, title));
    let mut state = TableState::default()
        .with_selected((len > 0).then(|| app.files.selected.saturating_sub(first)));
    frame.render_stateful_widget(table, table_area, &mut state);
    if files.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("Nothing stored yet.", t.dim),
                Line::styled("Press a to add a path, or type :add PATH 4+2", t.dim),
            ]),
            rows_area,
        );
    }
    draw_detail(app, frame, detail_area);
}

fn draw_detail(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let block = panel(t, " Selected ");
    let entry = app
        .tree
        .visible(app.files.selected)
        .and_then(|r| app.snapshot.files.get(r.entry));
    let Some(e) = entry else {
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let h = &e.health;
    let label = |s: &'static str| Span::styled(s, t.header);
    let lines = vec![
        Line::from(vec![
            label("path   "),
            Span::raw(format!("{}  {}", e.path, fmt::bytes(e.size))),
        ]),
        Line::from(vec![
            label("target "),
            Span::raw(format!(
                "{} ({}), needs {} of {} per chunk",
                e.redundancy,
                if e.policy_here {
                    "set here"
                } else {
                    "inherited"
                },
                e.redundancy.needed(),
                e.redundancy.target()
            )),
        ]),
        Line::from(vec![
            label("health "),
            Span::styled(health_word(e), health_style(e, t)),
            Span::raw(format!(
                ": worst chunk {}/{} shards · {} chunks, {} at risk, {} lost · {} repairs",
                h.available, h.target, h.chunks, h.chunks_at_risk, h.chunks_lost, h.repairs
            )),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
