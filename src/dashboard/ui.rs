//! Drawing: the frame's layout, the tab bar, the status line and the popups;
//! each tab's body is its own widget in `tabs/`.
//!
//! Layout is a pure function of the terminal's area ([`screen_layout`],
//! [`list_rows`]) shared by drawing and by the mouse handling in `app`, so a
//! click lands on the row that was drawn there, at any size.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Link, Mode, Tab};
use super::form::Value;
use super::tabs;
use super::theme::Theme;

/// The three bands of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// The tab bar (top line).
    pub tabs: Rect,
    /// A warning line when the node is out of reach (height 0 otherwise).
    pub banner: Rect,
    /// The current tab.
    pub body: Rect,
    /// The status or command line (bottom line).
    pub status: Rect,
}

/// Split the terminal's area.
pub fn screen_layout(area: Rect, banner: bool) -> Screen {
    let [tabs, banner_r, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    Screen {
        tabs,
        banner: banner_r,
        body,
        status,
    }
}

/// Where a tab's selectable rows are drawn within its body, for tabs that
/// have them.
pub fn list_rows(tab: Tab, body: Rect) -> Option<Rect> {
    match tab {
        Tab::Peers => Some(tabs::peers::list_rows(body)),
        Tab::Files => Some(tabs::files::list_rows(body)),
        Tab::Transfers => Some(tabs::transfers::list_rows(body)),
        Tab::Logs => Some(tabs::logs::list_rows(body)),
        Tab::Overview | Tab::Market | Tab::Pair => None,
    }
}

const BRAND: &str = " cairn ";

/// Columns each tab's title occupies in the tab bar: `(start, end, tab)`.
fn tab_spans() -> impl Iterator<Item = (u16, u16, Tab)> {
    let mut x = BRAND.chars().count() as u16 + 1;
    Tab::ALL.into_iter().map(move |t| {
        let w = tab_label(t).chars().count() as u16;
        let span = (x, x + w, t);
        x += w;
        span
    })
}

fn tab_label(t: Tab) -> String {
    format!(" {} {} ", t.index() + 1, t.title())
}

/// The tab whose title is drawn at `column` of the tab bar.
pub fn tab_at(column: u16) -> Option<Tab> {
    tab_spans()
        .find(|&(a, b, _)| column >= a && column < b)
        .map(|(_, _, t)| t)
}

/// Draw the whole frame.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let screen = screen_layout(area, app.link != Link::Live);
    draw_tab_bar(app, frame, screen.tabs);
    if let Link::Lost(reason) = &app.link {
        let text = format!(
            " ⚠ node unreachable: {reason} · showing snapshot #{}",
            app.snapshot.seq
        );
        frame.render_widget(
            Paragraph::new(Line::styled(text, app.theme.bad)),
            screen.banner,
        );
    }
    match app.tab {
        Tab::Overview => tabs::overview::draw(app, frame, screen.body),
        Tab::Peers => tabs::peers::draw(app, frame, screen.body),
        Tab::Files => tabs::files::draw(app, frame, screen.body),
        Tab::Transfers => tabs::transfers::draw(app, frame, screen.body),
        Tab::Market => tabs::market::draw(app, frame, screen.body),
        Tab::Logs => tabs::logs::draw(app, frame, screen.body),
        Tab::Pair => tabs::pair::draw(app, frame, screen.body),
    }
    draw_status(app, frame, screen.status);
    match &app.mode {
        Mode::Help { scroll } => draw_help(&app.theme, frame, area, *scroll),
        Mode::Confirm(action) => {
            let text = vec![
                Line::from(format!("{}?", confirm_question(action))),
                Line::from(""),
                Line::from(vec![
                    Span::styled("y", app.theme.key),
                    Span::raw(" / Enter: yes    "),
                    Span::styled("n", app.theme.key),
                    Span::raw(" / Esc: no"),
                ]),
            ];
            let popup = centered(area, 60, 7);
            frame.render_widget(Clear, popup);
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(popup_block(&app.theme, "Are you sure?")),
                popup,
            );
        }
        Mode::Form(form) => draw_form(&app.theme, frame, area, form),
        Mode::Output { title, text } => {
            // Wrapped height: the popup is 76 wide, 74 inside.
            let rows: u16 = text
                .lines()
                .map(|l| (l.chars().count().max(1) as u16).div_ceil(74))
                .fold(0u16, u16::saturating_add);
            let popup = centered(area, 76, rows.saturating_add(3).max(5));
            frame.render_widget(Clear, popup);
            let mut body: Vec<Line> = text.lines().map(Line::from).collect();
            body.push(Line::styled("Esc / Enter closes", app.theme.dim));
            frame.render_widget(
                Paragraph::new(body)
                    .wrap(Wrap { trim: false })
                    .block(popup_block(&app.theme, title)),
                popup,
            );
        }
        Mode::Normal | Mode::Command(_) | Mode::Search(_) => {}
    }
}

fn confirm_question(action: &crate::api::snapshot::Action) -> String {
    use crate::api::snapshot::Action;
    match action {
        Action::Ban { peer } => format!(
            "Ban peer {}: disconnect it and refuse it from now on",
            super::fmt::short(peer, 16)
        ),
        Action::Remove { path } => {
            format!("Remove {path} from the store (its blocks go at the next gc)")
        }
        Action::Gc => "Collect garbage: drop every block nothing refers to".into(),
        Action::CancelTransfer { id } => format!("Cancel transfer #{id}"),
        other => format!("Run `{other}`"),
    }
}

fn draw_tab_bar(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(BRAND, t.accent), Span::styled("│", t.border)];
    for (_, _, tab) in tab_spans() {
        let style = if tab == app.tab { t.selected } else { t.dim };
        spans.push(Span::styled(tab_label(tab), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Key hints for the status line, per tab.
fn hints(tab: Tab) -> &'static [(&'static str, &'static str)] {
    match tab {
        Tab::Overview => &[],
        Tab::Peers => &[
            ("c", "connect"),
            ("b", "ban"),
            ("a", "allow"),
            ("p", "perms"),
        ],
        Tab::Files => &[
            ("a", "add"),
            ("r", "redund."),
            ("o", "get"),
            ("e", "cap"),
            ("d", "rm"),
        ],
        Tab::Transfers => &[("x", "cancel")],
        Tab::Market => &[("e", "lend")],
        Tab::Logs => &[("+/-", "level"), ("/", "search"), ("f", "follow")],
        Tab::Pair => &[("i", "new ticket"), ("c", "connect")],
    }
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    match &app.mode {
        Mode::Command(line) | Mode::Search(line) => {
            let prompt = if matches!(app.mode, Mode::Command(_)) {
                ":"
            } else {
                "/"
            };
            let mut spans = vec![Span::styled(prompt, t.key), Span::raw(line.text())];
            if let Some(s) = &app.status
                && s.error
                && matches!(app.mode, Mode::Command(_))
            {
                spans.push(Span::raw("  "));
                spans.push(Span::styled(s.text.clone(), t.bad));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
            let x = area.x + 1 + line.text().chars().take(line.cursor()).count() as u16;
            frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        }
        _ => {
            let line = match &app.status {
                Some(s) => Line::styled(s.text.clone(), if s.error { t.bad } else { t.good }),
                None => {
                    let mut spans = Vec::new();
                    let common = [("?", "help"), (":", "command"), ("q", "quit")];
                    for (i, (k, what)) in common.iter().chain(hints(app.tab)).enumerate() {
                        if i > 0 {
                            spans.push(Span::raw("  "));
                        }
                        spans.push(Span::styled(*k, t.key));
                        spans.push(Span::styled(format!(" {what}"), t.dim));
                    }
                    Line::from(spans)
                }
            };
            frame.render_widget(Paragraph::new(line), area);
        }
    }
}

/// Every key, by context: the help popup and docs/DASHBOARD.md list these.
pub const KEYS: &[(&str, &str, &str)] = &[
    ("everywhere", "?  F1", "this help"),
    ("everywhere", ":", "command line (the CLI's commands)"),
    ("everywhere", "q  Ctrl-C", "quit"),
    ("everywhere", "Tab  l  →", "next tab"),
    ("everywhere", "S-Tab  h  ←", "previous tab"),
    ("everywhere", "1 … 7", "go to tab"),
    ("everywhere", "j k  ↓ ↑", "move the selection"),
    ("everywhere", "g G  Home End", "first / last row"),
    ("everywhere", "PgDn PgUp  ^d ^u", "page / half page"),
    ("everywhere", "mouse", "click a tab or a row, wheel scrolls"),
    ("everywhere", "Esc", "clear the message, close a popup"),
    ("Peers", "c", "connect to a node by ticket"),
    ("Peers", "b", "ban the selected peer (asks first)"),
    ("Peers", "a", "allow (unban) the selected peer"),
    ("Peers", "p", "set the selected peer's permissions"),
    ("Files", "Enter  Space", "fold / unfold a directory"),
    ("Files", "a", "add a local path"),
    ("Files", "r", "set the redundancy of the selected path"),
    (
        "Files",
        "o",
        "get (fetch) the selected path to a local path",
    ),
    ("Files", "e", "export the selected path's cap"),
    ("Files", "v", "view the selected file (cat)"),
    ("Files", "d  Del", "remove the selected path (asks first)"),
    ("Files", "V", "verify the store"),
    ("Files", "X", "collect garbage (asks first)"),
    (
        "Transfers",
        "x  d",
        "cancel the selected transfer (asks first)",
    ),
    ("Market", "e", "edit what this node lends"),
    ("Logs", "+  -", "raise / lower the level shown"),
    ("Logs", "/", "search (Enter keeps, Esc clears)"),
    ("Logs", "f", "follow the newest events"),
    ("Pair", "i", "make a one-time pairing ticket"),
    ("Pair", "c", "connect to a node by ticket"),
    ("forms", "Tab  ↓ / S-Tab  ↑", "next / previous field"),
    ("forms", "Space", "toggle a yes/no field"),
    ("forms", "Enter / Esc", "submit / cancel"),
    ("command line", "Enter / Esc", "run / cancel"),
    ("command line", "↑ ↓", "history"),
    (
        "command line",
        "^u ^w ^a ^e",
        "clear, delete word, start, end",
    ),
];

/// Commands of the `:` line, for the help popup.
pub const COMMANDS: &[&str] = &[
    "add PATH [K+M|copies=N]    get CAP|PATH DEST    cat CAP|PATH",
    "ls [CAP|PATH]    rm PATH    cap PATH    gc    verify",
    "redundancy PATH K+M|copies=N    cancel ID",
    "peers ban|allow NODE    peers set NODE store=on fetch=off …",
    "join TICKET    invite [--pairing]",
    "lend storage=SIZE up=RATE down=RATE cpu=PERCENT",
    "market …  stream …    overview|peers|files|…|pair    help    quit",
];

fn help_lines(t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut ctx = "";
    for (c, keys, what) in KEYS {
        if *c != ctx {
            if !ctx.is_empty() {
                lines.push(Line::from(""));
            }
            lines.push(Line::styled(c.to_string(), t.header));
            ctx = c;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {keys:<18}"), t.key),
            Span::raw(what.to_string()),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled("commands at the : line", t.header));
    for c in COMMANDS {
        lines.push(Line::from(format!("  {c}")));
    }
    lines
}

/// Lines in the help popup (bounds its scrolling).
pub fn help_len() -> u16 {
    help_lines(&Theme::mono()).len() as u16
}

fn draw_help(t: &Theme, frame: &mut Frame, area: Rect, scroll: u16) {
    let popup = centered(area, 72, area.height.saturating_sub(2));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(help_lines(t))
            .scroll((scroll, 0))
            .block(popup_block(t, "Keys — j/k scroll, Esc closes")),
        popup,
    );
}

fn draw_form(t: &Theme, frame: &mut Frame, area: Rect, form: &super::form::Form) {
    let mut lines = Vec::new();
    let mut cursor = None;
    for (i, f) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let label_style = if focused { t.selected } else { t.header };
        let label = format!("{:<15}", f.label);
        let mut spans = vec![Span::styled(label.clone(), label_style), Span::raw(" ")];
        match &f.value {
            Value::Text(line) => {
                if line.text().is_empty() {
                    spans.push(Span::styled(f.hint, t.dim));
                } else {
                    spans.push(Span::raw(line.text().to_owned()));
                }
                if focused {
                    cursor = Some((
                        label.chars().count() as u16 + 1 + line.cursor() as u16,
                        lines.len() as u16,
                    ));
                }
            }
            Value::Toggle(on) => {
                spans.push(Span::raw(if *on { "[x] yes" } else { "[ ] no" }));
            }
        }
        lines.push(Line::from(spans));
        if let Some(e) = &f.error {
            lines.push(Line::styled(format!("{:16}⚠ {e}", ""), t.bad));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "Tab/↓ next field · Enter submit · Esc cancel",
        t.dim,
    ));
    // Room for wrapped lines: the popup is 70 wide, 68 inside.
    let rows: u16 = lines
        .iter()
        .map(|l| (l.width().max(1) as u16).div_ceil(68))
        .sum();
    let popup = centered(area, 70, rows + 2);
    frame.render_widget(Clear, popup);
    let title = form.title();
    let block = popup_block(t, &title);
    let inner = block.inner(popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
    if let Some((x, y)) = cursor {
        let x = (inner.x + x).min(inner.right().saturating_sub(1));
        if inner.y + y < inner.bottom() {
            frame.set_cursor_position((x, inner.y + y));
        }
    }
}

fn popup_block<'a>(t: &Theme, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.popup)
        .title(Span::styled(format!(" {title} "), t.accent))
}

/// A box of at most `width`×`height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// A bordered block with a title, the frame of every tab's panels.
pub fn panel<'a>(t: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(title.into().style(t.header))
}
