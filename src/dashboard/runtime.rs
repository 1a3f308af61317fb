//! The dashboard's event loop: one tokio `select!` over a render tick, the
//! terminal's events and the node's snapshots and notices.
//!
//! It never waits on the network: snapshots arrive through a `watch` channel
//! that a task of the integrator fills, and actions leave through a bounded
//! `mpsc` channel with `try_send`, so a slow or dead node never freezes the
//! screen. Redraws follow changes only: input is drawn at once, new
//! snapshots at the next tick (so a chatty node costs at most one frame per
//! tick), and an idle dashboard draws nothing at all.
//!
//! The loop is generic over the ratatui backend and the event stream, so it
//! runs under test on a `TestBackend` with scripted events.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::layout::Rect;
use tokio::sync::{mpsc, watch};

use crate::api::snapshot::{Action, Notice, Snapshot};

use super::app::App;
use super::theme::Theme;
use super::ui;

/// How often new snapshots may be drawn: at most 5 frames a second from the
/// node's side; input is drawn at once regardless.
pub const TICK: Duration = Duration::from_millis(200);

/// Why the dashboard stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    #[error("terminal I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// Set while the terminal is in raw mode, so the panic hook restores it once.
static RAW: AtomicBool = AtomicBool::new(false);

fn restore_terminal() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen);
    }
}

/// Restores the terminal when dropped: on return, on error and on unwinding.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore_terminal();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        RAW.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture) {
            restore_terminal();
            return Err(e);
        }
        Ok(TerminalGuard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Run the dashboard on the real terminal until the user quits.
///
/// - `snapshots`: the node's latest [`Snapshot`]; the integrator's feed
///   task replaces it whenever the node pushes one.
/// - `actions`: where the dashboard puts what the user asks for; the
///   integrator's task carries each out through the API. Bounded: when it is
///   full the user is told the node is busy, the dashboard never waits.
/// - `notices`: outcomes of those actions and changes in the link to the
///   node, from the integrator.
///
/// Returns when the user quits (`q`, `:quit`, Ctrl-C) or the terminal's
/// event stream ends. The terminal is restored on return and on panic.
/// Theme from `NO_COLOR`.
pub async fn run(
    snapshots: watch::Receiver<Snapshot>,
    actions: mpsc::Sender<Action>,
    notices: mpsc::Receiver<Notice>,
) -> Result<(), DashboardError> {
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    drive(
        &mut terminal,
        EventStream::new(),
        snapshots,
        actions,
        notices,
        Theme::from_env(),
    )
    .await
    .map(|_| ())
}

/// The loop itself, on any backend and event stream; returns the final
/// state (for tests).
pub async fn drive<B, E>(
    terminal: &mut Terminal<B>,
    mut events: E,
    mut snapshots: watch::Receiver<Snapshot>,
    actions: mpsc::Sender<Action>,
    mut notices: mpsc::Receiver<Notice>,
    theme: Theme,
) -> Result<App, DashboardError>
where
    B: Backend,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let draw_err = |e: B::Error| DashboardError::Draw(e.to_string());
    let size = terminal.size().map_err(draw_err)?;
    let first = snapshots.borrow_and_update().clone();
    let mut app = App::new(first, theme, Rect::new(0, 0, size.width, size.height));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut drawn: Option<u64> = None;
    // A new snapshot waits for the next tick to be drawn; input does not.
    let mut deferred = false;
    let mut snapshots_open = true;
    let mut notices_open = true;
    loop {
        if app.quit {
            return Ok(app);
        }
        if drawn != Some(app.generation) && !deferred {
            terminal.draw(|f| ui::draw(&app, f)).map_err(draw_err)?;
            drawn = Some(app.generation);
        }
        tokio::select! {
            _ = tick.tick() => deferred = false,
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    deferred = false;
                    if let Some(action) = app.handle(&ev) {
                        send(&mut app, &actions, action);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(app),
            },
            changed = snapshots.changed(), if snapshots_open => match changed {
                Ok(()) => {
                    let s = snapshots.borrow_and_update().clone();
                    app.set_snapshot(s);
                    deferred = true;
                }
                Err(_) => {
                    snapshots_open = false;
                    app.notice(Notice::Disconnected {
                        reason: "the snapshot feed ended".into(),
                    });
                }
            },
            notice = notices.recv(), if notices_open => match notice {
                Some(n) => app.notice(n),
                None => notices_open = false,
            },
        }
    }
}

fn send(app: &mut App, actions: &mpsc::Sender<Action>, action: Action) {
    match actions.try_send(action) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(a)) => {
            app.notice(Notice::Failed {
                action: a,
                error: "the node is busy with earlier requests; try again in a moment".into(),
            });
        }
        Err(mpsc::error::TrySendError::Closed(a)) => {
            app.notice(Notice::Failed {
                action: a,
                error: "the dashboard is no longer connected to the node".into(),
            });
        }
    }
}
