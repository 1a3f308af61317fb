//! Logs: the node's tracing events, filtered by level and a search string,
//! following the newest unless the user scrolls up.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::api::snapshot::{Level, LogEvent};

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Theme;
use super::super::ui::panel;
use super::window;

/// Where the log lines are drawn (no header row).
pub fn list_rows(body: Rect) -> Rect {
    Rect {
        x: body.x + 1,
        y: body.y.saturating_add(1),
        width: body.width.saturating_sub(2),
        height: body.height.saturating_sub(2),
    }
}

/// The events shown under the current level and search, oldest first.
pub fn filtered(app: &App) -> Vec<&LogEvent> {
    let needle = app.logs.search.to_lowercase();
    app.snapshot
        .logs
        .iter()
        .filter(|e| e.level >= app.logs.level)
        .filter(|e| {
            needle.is_empty()
                || e.message.to_lowercase().contains(&needle)
                || e.target.to_lowercase().contains(&needle)
        })
        .collect()
}

fn level_style(l: Level, t: &Theme) -> Style {
    match l {
        Level::Error => t.bad,
        Level::Warn => t.warn,
        Level::Info => t.good,
        Level::Debug | Level::Trace => t.dim,
    }
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let events = filtered(app);
    let mut title = format!(" Logs ≥ {} ", app.logs.level);
    if !app.logs.search.is_empty() {
        title.push_str(&format!("· \"{}\" ", app.logs.search));
    }
    title.push_str(&format!(
        "· {}/{} · {} ",
        events.len(),
        app.snapshot.logs.len(),
        if app.logs.follow {
            "following"
        } else {
            "paused"
        }
    ));
    frame.render_widget(panel(t, title), area);
    let rows = list_rows(area);
    if events.is_empty() {
        let text = if app.snapshot.logs.is_empty() {
            "No events yet."
        } else {
            "No event matches the level and search (+/- level, / search, Esc clears)."
        };
        frame.render_widget(Paragraph::new(Line::styled(text, t.dim)), rows);
        return;
    }
    let lines: Vec<Line> = window(app.logs.cursor.offset, rows.height, events.len())
        .map(|i| {
            let e = events[i];
            let line = Line::from(vec![
                Span::styled(fmt::time_of_day(e.time_ms), t.dim),
                Span::raw(" "),
                Span::styled(
                    format!("{:<5}", e.level.to_string()),
                    level_style(e.level, t),
                ),
                Span::raw(" "),
                Span::styled(format!("{} ", e.target), t.dim),
                Span::raw(e.message.clone()),
            ]);
            if i == app.logs.cursor.selected && !app.logs.follow {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows);
}
