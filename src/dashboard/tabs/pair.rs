//! Pair: this node's ticket as a QR code beside its text form, for joining
//! a second device or a friend's node.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::App;
use super::super::ui::panel;

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let ticket = &app.snapshot.node.ticket;
    let block = panel(t, " Pair a device ");
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let code = app.qr.as_ref().map(|c| &c.lines);
    let code_w = code
        .as_ref()
        .and_then(|c| c.first())
        .map_or(0, |l| l.chars().count() as u16);
    let code_h = code.as_ref().map_or(0, |c| c.len() as u16);
    let fits = code.is_some() && code_w + 20 <= inner.width && code_h <= inner.height;
    let [qr_area, text_area] = if fits {
        Layout::horizontal([Constraint::Length(code_w + 2), Constraint::Min(0)]).areas(inner)
    } else {
        Layout::horizontal([Constraint::Length(0), Constraint::Min(0)]).areas(inner)
    };
    if fits && let Some(code) = &code {
        let lines: Vec<Line> = code.iter().map(|l| Line::styled(l.clone(), t.qr)).collect();
        frame.render_widget(Paragraph::new(lines), qr_area);
    }

    let mut lines = vec![
        Line::styled("Scan or copy this ticket on the other device:", t.header),
        Line::from(""),
    ];
    if ticket.is_empty() {
        lines.push(Line::styled("(the node has not made a ticket yet)", t.dim));
    } else {
        lines.push(Line::from(ticket.clone()));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("there: ", t.header),
        Span::raw("cairn join TICKET"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("addresses: ", t.header),
        Span::raw(app.snapshot.node.addresses.join(", ")),
    ]));
    lines.push(Line::from(""));
    if !fits && code.is_some() {
        lines.push(Line::styled(
            format!(
                "(enlarge the terminal to {}×{} to see the QR code)",
                code_w + 24,
                code_h + 4
            ),
            t.dim,
        ));
    }
    lines.push(Line::from(vec![
        Span::styled("i", t.key),
        Span::raw(" one-time pairing ticket  "),
        Span::styled("c", t.key),
        Span::raw(" join theirs"),
    ]));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);
}
