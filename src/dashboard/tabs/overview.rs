//! Overview: who this node is, space per class as gauges, upload and
//! download sparklines, credit, and the alerts that need the owner.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Sparkline, Wrap};

use crate::api::snapshot::{ClassUsage, Severity};

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Theme;
use super::super::ui::panel;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let [top, mid, bottom] = Layout::vertical([
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Min(3),
    ])
    .areas(area);
    let [node_a, space_a] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    draw_node(app, frame, node_a);
    draw_space(app, frame, space_a);
    let [up_a, down_a] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(mid);
    let tr = &app.snapshot.traffic;
    sparkline(frame, up_a, &app.theme, "↑ up", &tr.up, tr.total_up, true);
    sparkline(
        frame,
        down_a,
        &app.theme,
        "↓ down",
        &tr.down,
        tr.total_down,
        false,
    );
    draw_alerts(app, frame, bottom);
}

fn draw_node(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let s = &app.snapshot;
    let n = &s.node;
    let label = |x: &'static str| Span::styled(x, t.header);
    let (connected, banned) = (app.counts.peers_connected, app.counts.peers_banned);
    let width = area.width.saturating_sub(10) as usize;
    let addr = match n.addresses.as_slice() {
        [] => "none".to_owned(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} +{}", rest.len()),
    };
    let lines = vec![
        Line::from(vec![
            label("id      "),
            Span::raw(fmt::fit(&n.node_id, width)),
        ]),
        Line::from(vec![label("address "), Span::raw(addr)]),
        Line::from(vec![
            label("uptime  "),
            Span::raw(format!("{}  v{}", fmt::duration(n.uptime_secs), n.version)),
        ]),
        Line::from(vec![
            label("peers   "),
            Span::raw(format!(
                "{connected}/{} connected, {banned} banned",
                s.peers.len()
            )),
        ]),
        Line::from(vec![
            label("credit  "),
            Span::styled(
                fmt::signed(s.credit.balance),
                if s.credit.balance < 0 { t.warn } else { t.good },
            ),
            Span::raw(format!(" (+{} / -{})", s.credit.earned, s.credit.spent)),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).block(panel(t, " Node ")), area);
}

fn draw_space(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let sp = &app.snapshot.space;
    let block = panel(t, " Space ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let disk_used = sp.disk_total.saturating_sub(sp.disk_free);
    // A class without a quota is measured against what the disk could still give it.
    let class = |c: ClassUsage| (c.used, c.quota.unwrap_or(c.used + sp.disk_free));
    let rows = [
        ("own", class(sp.own)),
        ("lent", class(sp.hosted)),
        ("cache", class(sp.cache)),
        ("disk", (disk_used, sp.disk_total)),
        (
            "peers",
            (
                sp.stored_on_peers,
                sp.network_quota.unwrap_or(sp.stored_on_peers),
            ),
        ),
    ];
    let areas = Layout::vertical([Constraint::Length(1); 5]).split(inner);
    for ((name, (used, cap)), a) in rows.into_iter().zip(areas.iter()) {
        let ratio = if cap == 0 {
            0.0
        } else {
            (used as f64 / cap as f64).clamp(0.0, 1.0)
        };
        let style = if ratio >= 0.95 {
            t.bad
        } else if ratio >= 0.8 {
            t.warn
        } else {
            t.gauge
        };
        let label = format!(
            "{name:<6}{:>20} ",
            format!("{} / {}", fmt::bytes(used), fmt::bytes(cap))
        );
        frame.render_widget(
            LineGauge::default()
                .ratio(ratio)
                .label(label)
                .filled_symbol("━")
                .unfilled_symbol("─")
                .filled_style(style)
                .unfilled_style(t.dim),
            *a,
        );
    }
}

fn sparkline(
    frame: &mut Frame,
    area: Rect,
    t: &Theme,
    name: &str,
    samples: &[u64],
    total: u64,
    up: bool,
) {
    let now = samples.last().copied().unwrap_or(0);
    let block = panel(
        t,
        format!(" {name} {} · total {} ", fmt::rate(now), fmt::bytes(total)),
    );
    let inner = block.inner(area);
    // The newest samples, right-aligned to the panel's width.
    let shown = &samples[samples.len().saturating_sub(inner.width as usize)..];
    let peak = shown.iter().copied().max().unwrap_or(0);
    frame.render_widget(
        Sparkline::default()
            .block(block)
            .data(shown)
            .max(peak.max(1))
            .style(if up { t.up } else { t.down }),
        area,
    );
}

fn draw_alerts(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let alerts = &app.snapshot.alerts;
    let title = format!(" Alerts ({}) ", alerts.len());
    let lines: Vec<Line> = if alerts.is_empty() {
        vec![Line::styled(
            "All clear: every path meets its target, no peer is banned, space is fine.",
            t.good,
        )]
    } else {
        alerts
            .iter()
            .map(|a| {
                let (mark, style) = match a.severity {
                    Severity::Critical => ("✖ ", t.bad),
                    Severity::Warning => ("▲ ", t.warn),
                    Severity::Info => ("• ", t.dim),
                };
                Line::from(vec![
                    Span::styled(mark, style),
                    Span::raw(a.message.clone()),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(panel(t, title)),
        area,
    );
}
