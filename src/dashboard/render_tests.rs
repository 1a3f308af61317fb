//! Whole-screen snapshot tests on ratatui's `TestBackend`: every tab in its
//! normal, empty, error and 80×24 states, and the popups. The accepted
//! `.snap` files under `snapshots/` are the dashboard's visual spec: review
//! a changed one by eye before accepting it (`cargo insta review`).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Link, Tab};
use super::sample;
use super::theme::Theme;
use super::ui;
use crate::api::snapshot::Snapshot;

fn app(snapshot: Snapshot, w: u16, h: u16, theme: Theme) -> App {
    App::new(snapshot, theme, Rect::new(0, 0, w, h))
}

fn render_buffer(app: &App) -> Buffer {
    let mut terminal =
        Terminal::new(TestBackend::new(app.area.width, app.area.height)).expect("test backend");
    terminal.draw(|f| ui::draw(app, f)).expect("draw");
    terminal.backend().buffer().clone()
}

/// The screen as text, one line per row, trailing spaces trimmed.
fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &App) -> String {
    text(&render_buffer(app))
}

fn key(app: &mut App, code: KeyCode) {
    app.handle(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn name(tab: Tab) -> String {
    tab.title().to_lowercase()
}

#[test]
fn every_tab_normal_at_120x36() {
    for tab in Tab::ALL {
        let mut a = app(sample::sample(40, 300), 120, 36, Theme::colored());
        a.tab = tab;
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        insta::assert_snapshot!(format!("{}_normal", name(tab)), screen(&a));
    }
}

#[test]
fn every_tab_empty() {
    for tab in Tab::ALL {
        let mut a = app(sample::empty(), 100, 30, Theme::colored());
        a.tab = tab;
        insta::assert_snapshot!(format!("{}_empty", name(tab)), screen(&a));
    }
}

#[test]
fn every_tab_in_error_with_the_node_out_of_reach() {
    for tab in Tab::ALL {
        let mut a = app(sample::troubled(), 100, 30, Theme::colored());
        a.tab = tab;
        a.notice(crate::api::snapshot::Notice::Disconnected {
            reason: "connection refused (is `cairn daemon` running?)".into(),
        });
        assert_eq!(
            a.link,
            Link::Lost("connection refused (is `cairn daemon` running?)".into())
        );
        insta::assert_snapshot!(format!("{}_error", name(tab)), screen(&a));
    }
}

#[test]
fn every_tab_at_80x24() {
    for tab in Tab::ALL {
        let mut a = app(sample::sample(1000, 10_000), 80, 24, Theme::colored());
        a.tab = tab;
        insta::assert_snapshot!(format!("{}_80x24", name(tab)), screen(&a));
    }
}

#[test]
fn popups_at_80x24() {
    let base = || {
        let mut a = app(sample::sample(20, 100), 80, 24, Theme::colored());
        a.tab = Tab::Files;
        a
    };
    let mut a = base();
    key(&mut a, KeyCode::Char('?'));
    insta::assert_snapshot!("popup_help", screen(&a));

    let mut a = base();
    key(&mut a, KeyCode::Char('a'));
    for c in "/home/ada/notes".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Tab);
    for c in "4+x".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("popup_form_with_error", screen(&a));

    let mut a = base();
    key(&mut a, KeyCode::Char('d'));
    insta::assert_snapshot!("popup_confirm_remove", screen(&a));

    let mut a = base();
    key(&mut a, KeyCode::Char(':'));
    for c in "redundancy /photos 0+1".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    key(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("command_line_error", screen(&a));
}

#[test]
fn no_color_draws_no_colour_at_all() {
    for tab in Tab::ALL {
        let mut a = app(sample::troubled(), 100, 30, Theme::mono());
        a.tab = tab;
        a.link = Link::Lost("gone".into());
        let buf = render_buffer(&a);
        for cell in buf.content() {
            assert_eq!(cell.fg, Color::Reset, "{tab:?} has a foreground colour");
            assert_eq!(cell.bg, Color::Reset, "{tab:?} has a background colour");
        }
    }
    // And the colour theme does use colour, so the check above can fail.
    let a = app(sample::troubled(), 100, 30, Theme::colored());
    assert!(
        render_buffer(&a)
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

#[test]
fn resizing_redraws_the_whole_screen_at_the_new_size() {
    let mut a = app(sample::sample(200, 1000), 120, 40, Theme::colored());
    a.tab = Tab::Peers;
    key(&mut a, KeyCode::End);
    assert_eq!(a.peers.selected, 199);
    a.handle(&Event::Resize(80, 24));
    let s = screen(&a);
    assert_eq!(s.lines().count(), 24);
    assert!(s.lines().all(|l| l.chars().count() <= 80));
    // The selection is still on screen after shrinking.
    let rows = ui::list_rows(Tab::Peers, ui::screen_layout(a.area, false).body).unwrap();
    assert!(a.peers.selected >= a.peers.offset);
    assert!(a.peers.selected < a.peers.offset + rows.height as usize);
    // Tiny terminals do not panic.
    for (w, h) in [(1, 1), (10, 3), (30, 8), (0, 0)] {
        for tab in Tab::ALL {
            let mut a = app(sample::sample(5, 20), w, h, Theme::colored());
            a.tab = tab;
            if w > 0 && h > 0 {
                screen(&a);
            }
        }
    }
}
