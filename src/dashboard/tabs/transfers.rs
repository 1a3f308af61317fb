//! Transfers: one line per transfer with a progress bar, rate and ETA; the
//! selected one can be cancelled. Bars are `LineGauge`s laid out per visible
//! row, so only what is on screen is built.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use crate::api::snapshot::{Direction, Transfer, TransferState};

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Theme;
use super::super::ui::panel;
use super::{table_rows, window};

/// Where the transfer rows are drawn.
pub fn list_rows(body: Rect) -> Rect {
    table_rows(body)
}

fn state_text(t: &Transfer, theme: &Theme) -> Span<'static> {
    match &t.state {
        TransferState::Queued => Span::styled("queued", theme.dim),
        TransferState::Running => Span::raw(match t.eta_secs() {
            Some(s) => format!("ETA {}", fmt::duration(s)),
            None => "running".into(),
        }),
        TransferState::Done => Span::styled("done", theme.good),
        TransferState::Cancelled => Span::styled("cancelled", theme.dim),
        TransferState::Failed { error } => Span::styled(format!("failed: {error}"), theme.bad),
    }
}

fn columns(width: u16) -> [Rect; 5] {
    Layout::horizontal([
        Constraint::Length(2),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(11),
        Constraint::Fill(2),
    ])
    .spacing(1)
    .areas(Rect::new(0, 0, width, 1))
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let transfers = &app.snapshot.transfers;
    let running = transfers
        .iter()
        .filter(|x| x.state == TransferState::Running)
        .count();
    let up: u64 = transfers
        .iter()
        .filter(|x| x.direction == Direction::Up)
        .map(|x| x.rate)
        .sum();
    let down: u64 = transfers
        .iter()
        .filter(|x| x.direction == Direction::Down)
        .map(|x| x.rate)
        .sum();
    let title = format!(
        " Transfers {running} running · ↑ {} · ↓ {} ",
        fmt::rate(up),
        fmt::rate(down)
    );
    frame.render_widget(panel(t, title), area);
    let rows = list_rows(area);
    let cols = columns(rows.width);
    let at = |c: Rect, y: u16| Rect::new(rows.x + c.x, y, c.width, 1);
    let header_y = rows.y.saturating_sub(1);
    if rows.height > 0 || area.height >= 3 {
        for (c, h) in cols.iter().zip(["", "What", "Progress", "Rate", "State"]) {
            frame.render_widget(Paragraph::new(Span::styled(h, t.header)), at(*c, header_y));
        }
    }
    if transfers.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "No transfers. Adding or getting a file shows its progress here.",
                t.dim,
            )),
            rows,
        );
        return;
    }
    for (line, i) in window(app.transfers.offset, rows.height, transfers.len()).enumerate() {
        let x = &transfers[i];
        let y = rows.y + line as u16;
        let selected = i == app.transfers.selected;
        if selected {
            frame
                .buffer_mut()
                .set_style(Rect::new(rows.x, y, rows.width, 1), t.selected);
        }
        let (arrow, astyle) = match x.direction {
            Direction::Up => ("↑", t.up),
            Direction::Down => ("↓", t.down),
        };
        let base = if selected { t.selected } else { Style::new() };
        frame.render_widget(
            Paragraph::new(Span::styled(arrow, astyle)).style(base),
            at(cols[0], y),
        );
        frame.render_widget(
            Paragraph::new(fmt::fit(&x.name, cols[1].width as usize)).style(base),
            at(cols[1], y),
        );
        let ratio = x.ratio().unwrap_or(0.0);
        let label = match x.bytes_total {
            Some(_) => format!("{:>3.0}%", ratio * 100.0),
            None => fmt::bytes(x.bytes_done),
        };
        frame.render_widget(
            LineGauge::default()
                .ratio(ratio)
                .label(label)
                .filled_symbol("━")
                .unfilled_symbol("─")
                .filled_style(t.gauge)
                .unfilled_style(t.dim)
                .style(base),
            at(cols[2], y),
        );
        frame.render_widget(
            Paragraph::new(fmt::rate(x.rate)).style(base),
            at(cols[3], y),
        );
        frame.render_widget(Paragraph::new(state_text(x, t)).style(base), at(cols[4], y));
    }
}
