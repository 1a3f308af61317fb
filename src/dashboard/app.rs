//! The dashboard's state and its reaction to input, with no I/O.
//!
//! [`App::handle`] is the pure heart of the dashboard: it takes one terminal
//! event (a key, a mouse event, a resize) and changes the state, returning
//! the [`Action`] to send to the node when there is one. Nothing here draws,
//! reads a clock or touches the network, so every key of every tab is a unit
//! test. The interaction state is a small [`Mode`] enum, as in ratatui's
//! demo2: what a key means depends first on the mode, then on the tab.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::api::snapshot::{Action, EntryKind, Level, Notice, Snapshot};

use super::command::{self, Command};
use super::form::{Form, FormOutcome};
use super::input::LineInput;
use super::theme::Theme;
use super::tree::FileTree;
use super::ui;

/// The tabs, in order (their number is their key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Overview,
    Peers,
    Files,
    Transfers,
    Market,
    Logs,
    Pair,
}

impl Tab {
    pub const ALL: [Tab; 7] = [
        Tab::Overview,
        Tab::Peers,
        Tab::Files,
        Tab::Transfers,
        Tab::Market,
        Tab::Logs,
        Tab::Pair,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Peers => "Peers",
            Tab::Files => "Files",
            Tab::Transfers => "Transfers",
            Tab::Market => "Market",
            Tab::Logs => "Logs",
            Tab::Pair => "Pair",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|&t| t == self).unwrap_or(0)
    }

    fn offset(self, by: isize) -> Tab {
        let n = Tab::ALL.len() as isize;
        Tab::ALL[(self.index() as isize + by).rem_euclid(n) as usize]
    }
}

/// What keys mean right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Browsing the tabs.
    Normal,
    /// The help popup, scrolled by this many lines.
    Help { scroll: u16 },
    /// Typing at the `:` command line.
    Command(LineInput),
    /// Typing a log search.
    Search(LineInput),
    /// Filling in a form.
    Form(Form),
    /// Asking before something destructive.
    Confirm(Action),
    /// A popup with the node's answer (a cap, a ticket, `cat` output).
    Output { title: String, text: String },
}

/// A selection in a list, and the first row shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

impl Cursor {
    /// Move by `delta` rows within `len` rows, keeping the selection inside a
    /// window of `view` rows.
    pub fn move_by(&mut self, delta: isize, len: usize, view: usize) {
        if len == 0 {
            *self = Cursor::default();
            return;
        }
        let max = len - 1;
        self.selected = (self.selected as isize + delta).clamp(0, max as isize) as usize;
        self.scroll_into_view(len, view);
    }

    /// Keep the selection inside the window and the window inside the list.
    pub fn scroll_into_view(&mut self, len: usize, view: usize) {
        if len == 0 {
            *self = Cursor::default();
            return;
        }
        self.selected = self.selected.min(len - 1);
        let view = view.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + view {
            self.offset = self.selected + 1 - view;
        }
        self.offset = self.offset.min(len.saturating_sub(view));
    }
}

/// The log tab's view settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogView {
    /// Least severe level shown.
    pub level: Level,
    /// Only events whose target or message contain this (case-insensitive).
    pub search: String,
    /// Stick to the newest event.
    pub follow: bool,
    pub cursor: Cursor,
}

/// The link to the node, as the integrator reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Live,
    Lost(String),
}

/// A line in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// Most commands kept in the `:` history.
const HISTORY: usize = 50;

/// Everything the dashboard knows.
#[derive(Debug, Clone)]
pub struct App {
    pub snapshot: Snapshot,
    pub tab: Tab,
    pub mode: Mode,
    pub peers: Cursor,
    pub files: Cursor,
    pub transfers: Cursor,
    pub logs: LogView,
    pub tree: FileTree,
    pub link: Link,
    pub status: Option<Status>,
    pub theme: Theme,
    /// The terminal's area, for layout-dependent keys and the mouse.
    pub area: Rect,
    pub history: Vec<String>,
    pub quit: bool,
    /// Bumped by every change that needs a redraw.
    pub generation: u64,
    /// The ticket's QR code, made when the ticket changes, not per frame.
    pub qr: Option<PairCode>,
    /// Counts over the whole snapshot, made once per snapshot, not per frame.
    pub counts: Counts,
}

/// Counts the tabs' titles show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub peers_connected: usize,
    pub peers_banned: usize,
    /// Paths with a policy of their own.
    pub policies: usize,
    /// Of those, the ones below target.
    pub policies_below_target: usize,
}

impl Counts {
    fn of(s: &Snapshot) -> Counts {
        let policies = s.files.iter().filter(|f| f.policy_here);
        Counts {
            peers_connected: s.peers.iter().filter(|p| p.connected).count(),
            peers_banned: s.peers.iter().filter(|p| p.banned).count(),
            policies: policies.clone().count(),
            policies_below_target: policies
                .filter(|f| f.health.state() != crate::api::snapshot::HealthState::Healthy)
                .count(),
        }
    }
}

/// A ticket and its QR code as lines of half blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairCode {
    pub ticket: String,
    pub lines: Vec<String>,
}

fn qr_for(ticket: &str, theme: &Theme, old: Option<PairCode>) -> Option<PairCode> {
    if ticket.is_empty() {
        return None;
    }
    if let Some(old) = old.filter(|o| o.ticket == ticket) {
        return Some(old);
    }
    // Dark modules are ink on the colour theme's light field; without
    // colour, light modules are ink on the terminal's (usually dark) background.
    let lines = super::qr::lines(&super::qr::qr_text(ticket), theme.color)?;
    Some(PairCode {
        ticket: ticket.to_owned(),
        lines,
    })
}

impl App {
    pub fn new(snapshot: Snapshot, theme: Theme, area: Rect) -> App {
        let mut app = App {
            snapshot: Snapshot::default(),
            tab: Tab::Overview,
            mode: Mode::Normal,
            peers: Cursor::default(),
            files: Cursor::default(),
            transfers: Cursor::default(),
            logs: LogView {
                level: Level::Info,
                search: String::new(),
                follow: true,
                cursor: Cursor::default(),
            },
            tree: FileTree::default(),
            link: Link::Live,
            status: None,
            theme,
            area,
            history: Vec::new(),
            quit: false,
            generation: 0,
            qr: None,
            counts: Counts::default(),
        };
        app.set_snapshot(snapshot);
        app
    }

    /// Take a new snapshot from the node, keeping selections on the same
    /// peer and path where they still exist.
    pub fn set_snapshot(&mut self, snapshot: Snapshot) {
        let peer = self.selected_peer_id();
        let path = self.selected_path();
        // Most snapshots leave the paths as they were: keep the sorted tree.
        let same_files = self.snapshot.files == snapshot.files;
        self.snapshot = snapshot;
        if !same_files {
            self.tree.rebuild(&self.snapshot.files);
        }
        self.counts = Counts::of(&self.snapshot);
        self.qr = qr_for(&self.snapshot.node.ticket, &self.theme, self.qr.take());
        if let Some(id) = peer
            && let Some(i) = self.snapshot.peers.iter().position(|p| p.node_id == id)
        {
            self.peers.selected = i;
        }
        if let Some(p) = path
            && let Some(i) = self.tree.position(&p, &self.snapshot.files)
        {
            self.files.selected = i;
        }
        self.clamp_cursors();
        self.generation += 1;
    }

    /// Take a notice from the integrator.
    pub fn notice(&mut self, notice: Notice) {
        match notice {
            Notice::Connected => {
                self.link = Link::Live;
                self.info("connected to the node");
            }
            Notice::Disconnected { reason } => self.link = Link::Lost(reason),
            Notice::Done { action, message } => {
                let popup = matches!(
                    action,
                    Action::ExportCap { .. }
                        | Action::Cat { .. }
                        | Action::Ls { .. }
                        | Action::Invite { .. }
                        | Action::Cli { .. }
                ) || message.contains('\n');
                if popup {
                    self.mode = Mode::Output {
                        title: action.to_string(),
                        text: message,
                    };
                } else if message.is_empty() {
                    self.info(format!("done: {action}"));
                } else {
                    self.info(format!("{action}: {message}"));
                }
            }
            Notice::Failed { action, error } => self.error(format!("{action} failed: {error}")),
        }
        self.generation += 1;
    }

    fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    /// React to one terminal event; the action to send, if any.
    pub fn handle(&mut self, event: &Event) -> Option<Action> {
        let action = match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.area = Rect::new(0, 0, *w, *h);
                self.clamp_cursors();
                None
            }
            _ => return None,
        };
        self.generation += 1;
        action
    }

    fn on_key(&mut self, key: &KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            self.quit = true;
            return None;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(key),
            Mode::Help { scroll } => {
                self.mode = match key.code {
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => {
                        Mode::Normal
                    }
                    KeyCode::Down | KeyCode::Char('j') => Mode::Help {
                        scroll: scroll.saturating_add(1).min(ui::help_len()),
                    },
                    KeyCode::Up | KeyCode::Char('k') => Mode::Help {
                        scroll: scroll.saturating_sub(1),
                    },
                    KeyCode::PageDown | KeyCode::Char(' ') => Mode::Help {
                        scroll: scroll.saturating_add(10).min(ui::help_len()),
                    },
                    KeyCode::PageUp => Mode::Help {
                        scroll: scroll.saturating_sub(10),
                    },
                    _ => Mode::Help { scroll },
                };
                None
            }
            Mode::Output { title, text } => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
                    self.mode = Mode::Output { title, text };
                }
                None
            }
            Mode::Confirm(action) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    self.info(format!("sent: {action}"));
                    Some(action)
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    self.info("cancelled");
                    None
                }
                _ => {
                    self.mode = Mode::Confirm(action);
                    None
                }
            },
            Mode::Form(mut form) => match form.handle(key) {
                FormOutcome::Editing => {
                    self.mode = Mode::Form(form);
                    None
                }
                FormOutcome::Cancelled => None,
                FormOutcome::Submit(action) => self.request(action),
            },
            Mode::Command(mut line) => match key.code {
                KeyCode::Esc => None,
                KeyCode::Enter => self.run_command(line),
                KeyCode::Up => {
                    let pos = self.history.iter().rposition(|h| h == line.text());
                    let idx = match pos {
                        Some(0) => 0,
                        Some(i) => i - 1,
                        None => self.history.len().saturating_sub(1),
                    };
                    if let Some(h) = self.history.get(idx) {
                        line = LineInput::new(h);
                    }
                    self.mode = Mode::Command(line);
                    None
                }
                KeyCode::Down => {
                    let next = self
                        .history
                        .iter()
                        .rposition(|h| h == line.text())
                        .and_then(|i| self.history.get(i + 1));
                    line = LineInput::new(next.map_or("", String::as_str));
                    self.mode = Mode::Command(line);
                    None
                }
                KeyCode::Backspace if line.text().is_empty() => None,
                _ => {
                    line.handle(key);
                    self.mode = Mode::Command(line);
                    None
                }
            },
            Mode::Search(mut line) => {
                match key.code {
                    KeyCode::Esc => {
                        self.logs.search.clear();
                    }
                    KeyCode::Enter => {
                        self.logs.search = line.text().to_owned();
                    }
                    _ => {
                        line.handle(key);
                        self.logs.search = line.text().to_owned();
                        self.mode = Mode::Search(line);
                    }
                }
                self.logs.cursor = Cursor::default();
                self.logs.follow = true;
                None
            }
        }
    }

    /// Parse and carry out a `:` line. A bad line stays open with its error.
    fn run_command(&mut self, line: LineInput) -> Option<Action> {
        let text = line.text().trim().to_owned();
        let parsed = command::parse(&text).and_then(|c| match c {
            Command::Action(a) => self.resolve(a).map(Command::Action),
            other => Ok(other),
        });
        let parsed = match parsed {
            Ok(c) => c,
            Err(e) => {
                self.error(e.to_string());
                self.mode = Mode::Command(line);
                return None;
            }
        };
        if !text.is_empty() {
            self.history.retain(|h| h != &text);
            self.history.push(text);
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.status = None;
        match parsed {
            Command::Quit => {
                self.quit = true;
                None
            }
            Command::Help => {
                self.mode = Mode::Help { scroll: 0 };
                None
            }
            Command::Tab(t) => {
                self.tab = t;
                None
            }
            Command::Action(a) => self.request(a),
        }
    }

    /// Checks that need the snapshot: resolve a peer prefix, refuse an
    /// unknown stored path.
    fn resolve(&self, action: Action) -> Result<Action, command::CommandError> {
        Ok(match action {
            Action::Ban { peer } => Action::Ban {
                peer: self.resolve_peer(&peer)?,
            },
            Action::Allow { peer } => Action::Allow {
                peer: self.resolve_peer(&peer)?,
            },
            Action::SetPermissions { peer, changes } => Action::SetPermissions {
                peer: self.resolve_peer(&peer)?,
                changes,
            },
            other => other,
        })
    }

    fn resolve_peer(&self, given: &str) -> Result<String, command::CommandError> {
        if given.len() == 52 {
            return Ok(given.to_owned());
        }
        let mut matches = self
            .snapshot
            .peers
            .iter()
            .filter(|p| p.node_id.starts_with(given));
        match (matches.next(), matches.next()) {
            (Some(p), None) => Ok(p.node_id.clone()),
            (None, _) => Err(command::CommandError::NoPeer(given.to_owned())),
            (Some(_), Some(_)) => Err(command::CommandError::AmbiguousPeer(given.to_owned())),
        }
    }

    /// Send an action, asking first when it is destructive.
    fn request(&mut self, action: Action) -> Option<Action> {
        if action.is_destructive() {
            self.mode = Mode::Confirm(action);
            None
        } else {
            self.info(format!("sent: {action}"));
            Some(action)
        }
    }

    fn on_normal_key(&mut self, key: &KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let page = self.view_rows() as isize;
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help { scroll: 0 },
            KeyCode::Char(':') => self.mode = Mode::Command(LineInput::default()),
            KeyCode::Esc => self.status = None,
            KeyCode::Tab | KeyCode::Right | KeyCode::Char('l') => self.tab = self.tab.offset(1),
            KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => self.tab = self.tab.offset(-1),
            KeyCode::Char(c @ '1'..='7') => {
                self.tab = Tab::ALL[(c as u8 - b'1') as usize];
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Char('d') if ctrl => self.move_by(page / 2),
            KeyCode::Char('u') if ctrl => self.move_by(-page / 2),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_by(isize::MAX / 2),
            _ => return self.on_tab_key(key),
        }
        None
    }

    /// Keys that act on the current tab's selection.
    fn on_tab_key(&mut self, key: &KeyEvent) -> Option<Action> {
        let KeyCode::Char(c) = key.code else {
            if key.code == KeyCode::Enter && self.tab == Tab::Files {
                self.tree.toggle(self.files.selected, &self.snapshot.files);
                self.clamp_cursors();
            }
            if key.code == KeyCode::Delete {
                return self.on_tab_key(&KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE));
            }
            return None;
        };
        match (self.tab, c) {
            (Tab::Peers | Tab::Pair, 'c') => self.mode = Mode::Form(Form::join()),
            (Tab::Peers, 'b') => {
                let peer = self.selected_peer_id()?;
                return self.request(Action::Ban { peer });
            }
            (Tab::Peers, 'a') => {
                let peer = self.selected_peer_id()?;
                return self.request(Action::Allow { peer });
            }
            (Tab::Peers, 'p') => {
                let p = self.snapshot.peers.get(self.peers.selected)?;
                self.mode = Mode::Form(Form::permissions(&p.node_id, p.permissions));
            }
            (Tab::Files, 'a') => self.mode = Mode::Form(Form::add("")),
            (Tab::Files, ' ') => {
                self.tree.toggle(self.files.selected, &self.snapshot.files);
                self.clamp_cursors();
            }
            (Tab::Files, 'r') => {
                let e = self.selected_entry()?;
                self.mode = Mode::Form(Form::redundancy(&e.path, &e.redundancy.to_string()));
            }
            (Tab::Files, 'o') => {
                let path = self.selected_path()?;
                self.mode = Mode::Form(Form::get(&path));
            }
            (Tab::Files, 'e') => {
                let path = self.selected_path()?;
                return self.request(Action::ExportCap { path });
            }
            (Tab::Files, 'v') => {
                return self.request(Action::Cat {
                    source: self.selected_file_path()?,
                });
            }
            (Tab::Files, 'd') => {
                let path = self.selected_path()?;
                return self.request(Action::Remove { path });
            }
            (Tab::Files, 'V') => return self.request(Action::Verify),
            (Tab::Files, 'X') => return self.request(Action::Gc),
            (Tab::Transfers, 'x' | 'd') => {
                let t = self.snapshot.transfers.get(self.transfers.selected)?;
                return self.request(Action::CancelTransfer { id: t.id });
            }
            (Tab::Market, 'e') => {
                self.mode = Mode::Form(Form::lend(self.snapshot.market.lending));
            }
            (Tab::Logs, '/') => self.mode = Mode::Search(LineInput::new(&self.logs.search)),
            (Tab::Logs, '+' | '=') => self.set_log_level(1),
            (Tab::Logs, '-') => self.set_log_level(-1),
            (Tab::Logs, 'f') => {
                self.logs.follow = !self.logs.follow;
                if self.logs.follow {
                    self.move_by(isize::MAX / 2);
                }
            }
            (Tab::Pair, 'i') => return self.request(Action::Invite { pairing: true }),
            _ => {}
        }
        None
    }

    fn set_log_level(&mut self, by: i8) {
        const LEVELS: [Level; 5] = [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ];
        let i = LEVELS
            .iter()
            .position(|&l| l == self.logs.level)
            .unwrap_or(2) as i8;
        self.logs.level = LEVELS[(i + by).clamp(0, 4) as usize];
        self.logs.follow = true;
        self.clamp_cursors();
    }

    fn on_mouse(&mut self, m: &MouseEvent) -> Option<Action> {
        if self.mode != Mode::Normal {
            return None;
        }
        let at = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::ScrollDown => self.move_by(3),
            MouseEventKind::ScrollUp => self.move_by(-3),
            MouseEventKind::Down(MouseButton::Left) => {
                let layout = ui::screen_layout(self.area, self.link != Link::Live);
                if layout.tabs.contains(at) {
                    if let Some(t) = ui::tab_at(m.column) {
                        self.tab = t;
                    }
                    return None;
                }
                let list = ui::list_rows(self.tab, layout.body);
                if let Some(list) = list
                    && list.contains(at)
                {
                    let row = (m.row - list.y) as usize;
                    let len = self.list_len();
                    let view = list.height as usize;
                    if let Some(cur) = self.cursor_mut() {
                        let target = cur.offset + row;
                        if target < len {
                            let same = cur.selected == target;
                            cur.selected = target;
                            cur.scroll_into_view(len, view);
                            if same && self.tab == Tab::Files {
                                self.tree.toggle(target, &self.snapshot.files);
                                self.clamp_cursors();
                            }
                        }
                    }
                    if self.tab == Tab::Logs {
                        self.logs.follow = false;
                    }
                }
            }
            _ => {}
        }
        None
    }

    /// Rows the current tab's list shows at the current size.
    fn view_rows(&self) -> usize {
        let body = ui::screen_layout(self.area, self.link != Link::Live).body;
        ui::list_rows(self.tab, body).map_or(1, |r| r.height.max(1) as usize)
    }

    /// Rows in the current tab's list.
    fn list_len(&self) -> usize {
        match self.tab {
            Tab::Peers => self.snapshot.peers.len(),
            Tab::Files => self.tree.visible_len(),
            Tab::Transfers => self.snapshot.transfers.len(),
            Tab::Logs => super::tabs::logs::filtered(self).len(),
            _ => 0,
        }
    }

    fn cursor_mut(&mut self) -> Option<&mut Cursor> {
        match self.tab {
            Tab::Peers => Some(&mut self.peers),
            Tab::Files => Some(&mut self.files),
            Tab::Transfers => Some(&mut self.transfers),
            Tab::Logs => Some(&mut self.logs.cursor),
            _ => None,
        }
    }

    fn move_by(&mut self, delta: isize) {
        let len = self.list_len();
        let view = self.view_rows();
        if self.tab == Tab::Logs {
            // Moving up leaves follow mode; reaching the end re-enters it.
            self.logs.follow = false;
        }
        if let Some(cur) = self.cursor_mut() {
            cur.move_by(delta, len, view);
        }
        if self.tab == Tab::Logs && self.logs.cursor.selected + 1 >= len {
            self.logs.follow = true;
        }
    }

    /// After a snapshot, a fold or a resize: keep every cursor valid.
    fn clamp_cursors(&mut self) {
        let body = ui::screen_layout(self.area, self.link != Link::Live).body;
        let view = |t: Tab| ui::list_rows(t, body).map_or(1, |r| r.height as usize);
        self.peers
            .scroll_into_view(self.snapshot.peers.len(), view(Tab::Peers));
        self.files
            .scroll_into_view(self.tree.visible_len(), view(Tab::Files));
        self.transfers
            .scroll_into_view(self.snapshot.transfers.len(), view(Tab::Transfers));
        let logs = super::tabs::logs::filtered(self).len();
        if self.logs.follow {
            self.logs.cursor.selected = logs.saturating_sub(1);
        }
        let v = view(Tab::Logs);
        self.logs.cursor.scroll_into_view(logs, v);
    }

    pub fn selected_peer_id(&self) -> Option<String> {
        self.snapshot
            .peers
            .get(self.peers.selected)
            .map(|p| p.node_id.clone())
    }

    fn selected_entry(&self) -> Option<&crate::api::snapshot::FileEntry> {
        let row = self.tree.visible(self.files.selected)?;
        self.snapshot.files.get(row.entry)
    }

    pub fn selected_path(&self) -> Option<String> {
        self.selected_entry().map(|e| e.path.clone())
    }

    fn selected_file_path(&self) -> Option<String> {
        self.selected_entry()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.path.clone())
    }
}
