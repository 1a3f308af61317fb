//! Peers: a table of every known peer with the transport's live figures
//! (latency, streams, cipher, key epochs and time since the last rotation,
//! bytes each way) and the market's (credit, reputation), and a detail pane
//! for the selected one. Columns drop by importance on narrow terminals.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::api::snapshot::Peer;

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Theme;
use super::super::ui::panel;
use super::{Column, constraints, fit_columns, table_rows, window};

const DETAIL_HEIGHT: u16 = 6;

const COLUMNS: [Column; 12] = [
    Column {
        header: "Node",
        width: 11,
        priority: 0,
    },
    Column {
        header: "Address",
        width: 21,
        priority: 9,
    },
    Column {
        header: "RTT",
        width: 6,
        priority: 1,
    },
    Column {
        header: "Str",
        width: 3,
        priority: 10,
    },
    Column {
        header: "Cipher",
        width: 8,
        priority: 8,
    },
    Column {
        header: "Epoch↑/↓",
        width: 9,
        priority: 2,
    },
    Column {
        header: "Rotated",
        width: 7,
        priority: 3,
    },
    Column {
        header: "Sent",
        width: 9,
        priority: 5,
    },
    Column {
        header: "Recv",
        width: 9,
        priority: 6,
    },
    Column {
        header: "Credit",
        width: 7,
        priority: 7,
    },
    Column {
        header: "Rep",
        width: 3,
        priority: 11,
    },
    Column {
        header: "Perm",
        width: 4,
        priority: 4,
    },
];

fn split(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Min(3), Constraint::Length(DETAIL_HEIGHT)]).areas(area)
}

/// Where the peer rows are drawn.
pub fn list_rows(body: Rect) -> Rect {
    table_rows(split(body)[0])
}

fn marker(p: &Peer) -> &'static str {
    if p.banned {
        "⊘"
    } else if p.connected {
        "●"
    } else {
        "○"
    }
}

fn cell(p: &Peer, col: usize, t: &Theme) -> Cell<'static> {
    let text = match col {
        0 => {
            let style = if p.banned {
                t.bad
            } else if p.connected {
                t.good
            } else {
                t.dim
            };
            return Cell::from(Line::from(vec![
                Span::styled(marker(p), style),
                Span::raw(" "),
                Span::raw(fmt::short(&p.node_id, 9)),
            ]));
        }
        1 => p.address.clone().unwrap_or_else(|| "–".into()),
        2 => p.latency_ms.map_or("–".into(), |l| format!("{l}ms")),
        3 => p.streams.to_string(),
        4 => p.cipher.map_or("–".into(), |c| c.to_string()),
        5 => format!("{}/{}", p.epoch_out, p.epoch_in),
        6 => p.since_rotation_secs.map_or("–".into(), fmt::duration),
        7 => fmt::bytes(p.bytes_out),
        8 => fmt::bytes(p.bytes_in),
        9 => fmt::signed(p.credit),
        10 => p.reputation.to_string(),
        11 => p.permissions.to_string(),
        _ => String::new(),
    };
    Cell::from(text)
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let [table_area, detail_area] = split(area);
    let peers = &app.snapshot.peers;
    let (connected, banned) = (app.counts.peers_connected, app.counts.peers_banned);
    let title = format!(
        " Peers {connected} connected · {} known · {banned} banned ",
        peers.len()
    );
    let block = panel(t, title);
    let keep = fit_columns(&COLUMNS, table_area.width.saturating_sub(2));
    let rows_area = table_rows(table_area);
    let range = window(app.peers.offset, rows_area.height, peers.len());
    let first = range.start;
    let rows = peers[range]
        .iter()
        .map(|p| Row::new(keep.iter().map(|&c| cell(p, c, t)).collect::<Vec<_>>()));
    let header = Row::new(keep.iter().map(|&c| COLUMNS[c].header)).style(t.header);
    let table = Table::new(rows, constraints(&COLUMNS, &keep))
        .header(header)
        .row_highlight_style(t.selected)
        .block(block);
    let mut state = TableState::default()
        .with_selected((!peers.is_empty()).then(|| app.peers.selected.saturating_sub(first)));
    frame.render_stateful_widget(table, table_area, &mut state);
    if peers.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("No peers yet.", t.dim),
                Line::styled(
                    "Press c to connect with a ticket, or open the Pair tab (7) to share yours.",
                    t.dim,
                ),
            ]),
            rows_area,
        );
    }
    draw_detail(app, frame, detail_area);
}

fn draw_detail(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let block = panel(t, " Selected ");
    let Some(p) = app.snapshot.peers.get(app.peers.selected) else {
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let state = if p.banned {
        Span::styled("banned", t.bad)
    } else if p.connected {
        Span::styled("connected", t.good)
    } else {
        Span::styled("not connected", t.dim)
    };
    let label = |s: &'static str| Span::styled(s, t.header);
    let lines = vec![
        Line::from(vec![label("id    "), Span::raw(p.node_id.clone())]),
        Line::from(vec![
            label("state "),
            state,
            Span::raw(format!(
                "  {}  {} streams  rtt {}",
                p.address.as_deref().unwrap_or("no address"),
                p.streams,
                p.latency_ms.map_or("–".into(), |l| format!("{l} ms"))
            )),
        ]),
        Line::from(vec![
            label("keys  "),
            Span::raw(format!(
                "{}  epoch ↑{} ↓{}  rotated {} ago",
                p.cipher.map_or("–".into(), |c| c.to_string()),
                p.epoch_out,
                p.epoch_in,
                p.since_rotation_secs.map_or("–".into(), fmt::duration)
            )),
        ]),
        Line::from(vec![
            label("rights"),
            Span::raw(format!(
                " store {} fetch {} compute {} relay {}  credit {} rep {}",
                yes(p.permissions.store),
                yes(p.permissions.fetch),
                yes(p.permissions.compute),
                yes(p.permissions.relay),
                fmt::signed(p.credit),
                p.reputation
            )),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
