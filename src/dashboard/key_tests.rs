//! Key and mouse handling: each action of each tab, as `(state, event) ->
//! (state', Option<Action>)`.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::app::{App, Link, Mode, Tab};
use super::sample;
use super::theme::Theme;
use super::ui;
use crate::api::snapshot::{Action, Level, Notice, PermissionChanges, Redundancy};

fn app() -> App {
    App::new(
        sample::sample(30, 200),
        Theme::mono(),
        Rect::new(0, 0, 100, 30),
    )
}

fn press(a: &mut App, code: KeyCode) -> Option<Action> {
    a.handle(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(a: &mut App, c: char) -> Option<Action> {
    press(a, KeyCode::Char(c))
}

fn typed(a: &mut App, s: &str) {
    for c in s.chars() {
        assert_eq!(ch(a, c), None);
    }
}

fn command(a: &mut App, line: &str) -> Option<Action> {
    ch(a, ':');
    typed(a, line);
    press(a, KeyCode::Enter)
}

fn click(a: &mut App, column: u16, row: u16) {
    a.handle(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }));
}

#[test]
fn tabs_switch_by_number_tab_arrows_vim_keys_and_clicks() {
    let mut a = app();
    ch(&mut a, '3');
    assert_eq!(a.tab, Tab::Files);
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.tab, Tab::Transfers);
    ch(&mut a, 'h');
    press(&mut a, KeyCode::Left);
    assert_eq!(a.tab, Tab::Peers);
    press(&mut a, KeyCode::BackTab);
    press(&mut a, KeyCode::BackTab);
    assert_eq!(a.tab, Tab::Pair);
    ch(&mut a, 'l');
    assert_eq!(a.tab, Tab::Overview);
    for t in Tab::ALL {
        let x = (0..100).find(|&x| ui::tab_at(x) == Some(t)).unwrap();
        click(&mut a, x, 0);
        assert_eq!(a.tab, t);
    }
}

#[test]
fn vim_keys_arrows_and_pages_move_the_selection_within_bounds() {
    let mut a = app();
    a.tab = Tab::Peers;
    ch(&mut a, 'j');
    press(&mut a, KeyCode::Down);
    assert_eq!(a.peers.selected, 2);
    ch(&mut a, 'k');
    assert_eq!(a.peers.selected, 1);
    ch(&mut a, 'G');
    assert_eq!(a.peers.selected, 29);
    ch(&mut a, 'j');
    assert_eq!(a.peers.selected, 29);
    ch(&mut a, 'g');
    assert_eq!(a.peers.selected, 0);
    // 100x30: 19 peer rows are visible.
    press(&mut a, KeyCode::PageDown);
    assert_eq!(a.peers.selected, 19);
    assert_eq!(a.peers.offset, 1);
    a.handle(&Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(a.peers.selected, 10);
}

#[test]
fn ban_asks_first_and_sends_only_on_yes() {
    let mut a = app();
    a.tab = Tab::Peers;
    ch(&mut a, 'j');
    let peer = a.snapshot.peers[1].node_id.clone();
    assert_eq!(ch(&mut a, 'b'), None);
    assert_eq!(a.mode, Mode::Confirm(Action::Ban { peer: peer.clone() }));
    assert_eq!(ch(&mut a, 'n'), None);
    assert_eq!(a.mode, Mode::Normal);
    ch(&mut a, 'b');
    assert_eq!(ch(&mut a, 'x'), None, "other keys keep asking");
    assert_eq!(ch(&mut a, 'y'), Some(Action::Ban { peer }));
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn allow_is_sent_at_once() {
    let mut a = app();
    a.tab = Tab::Peers;
    let peer = a.snapshot.peers[0].node_id.clone();
    assert_eq!(ch(&mut a, 'a'), Some(Action::Allow { peer }));
}

#[test]
fn permissions_form_sends_every_right() {
    let mut a = app();
    a.tab = Tab::Peers;
    let p = a.snapshot.peers[0].clone();
    ch(&mut a, 'p');
    assert!(matches!(a.mode, Mode::Form(_)));
    ch(&mut a, ' ');
    assert_eq!(
        press(&mut a, KeyCode::Enter),
        Some(Action::SetPermissions {
            peer: p.node_id,
            changes: PermissionChanges {
                store: Some(!p.permissions.store),
                fetch: Some(p.permissions.fetch),
                compute: Some(p.permissions.compute),
                relay: Some(p.permissions.relay),
            }
        })
    );
}

#[test]
fn connect_by_ticket_from_peers_and_pair_tabs() {
    for tab in [Tab::Peers, Tab::Pair] {
        let mut a = app();
        a.tab = tab;
        let ticket = a.snapshot.node.ticket.clone();
        ch(&mut a, 'c');
        typed(&mut a, &ticket);
        assert_eq!(press(&mut a, KeyCode::Enter), Some(Action::Join { ticket }));
    }
}

#[test]
fn pairing_ticket_is_asked_for_on_the_pair_tab() {
    let mut a = app();
    a.tab = Tab::Pair;
    assert_eq!(ch(&mut a, 'i'), Some(Action::Invite { pairing: true }));
    a.notice(Notice::Done {
        action: Action::Invite { pairing: true },
        message: "cairnabc".into(),
    });
    assert!(matches!(&a.mode, Mode::Output { text, .. } if text == "cairnabc"));
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn files_add_redundancy_get_export_view_remove_verify_gc() {
    let mut a = app();
    a.tab = Tab::Files;
    ch(&mut a, 'a');
    typed(&mut a, "/home/ada/notes");
    press(&mut a, KeyCode::Tab);
    typed(&mut a, "copies=2");
    assert_eq!(
        press(&mut a, KeyCode::Enter),
        Some(Action::Add {
            path: "/home/ada/notes".into(),
            redundancy: Some(Redundancy::Copies { n: 2 })
        })
    );

    let path = a.selected_path().unwrap();
    ch(&mut a, 'r');
    // The form starts from the current target; replace it.
    a.handle(&Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    typed(&mut a, "6+3");
    assert_eq!(
        press(&mut a, KeyCode::Enter),
        Some(Action::SetRedundancy {
            path: path.clone(),
            redundancy: Redundancy::Erasure { k: 6, m: 3 }
        })
    );

    ch(&mut a, 'o');
    typed(&mut a, "/tmp/restore");
    assert_eq!(
        press(&mut a, KeyCode::Enter),
        Some(Action::Get {
            source: path.clone(),
            dest: "/tmp/restore".into()
        })
    );

    assert_eq!(
        ch(&mut a, 'e'),
        Some(Action::ExportCap { path: path.clone() })
    );
    // `v` views files only: the first row is a directory.
    assert_eq!(ch(&mut a, 'v'), None);
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    let file = a.selected_path().unwrap();
    assert_eq!(
        ch(&mut a, 'v'),
        Some(Action::Cat {
            source: file.clone()
        })
    );

    assert_eq!(ch(&mut a, 'd'), None);
    assert_eq!(ch(&mut a, 'y'), Some(Action::Remove { path: file }));
    assert_eq!(ch(&mut a, 'V'), Some(Action::Verify));
    assert_eq!(ch(&mut a, 'X'), None);
    assert_eq!(press(&mut a, KeyCode::Enter), Some(Action::Gc));
}

#[test]
fn enter_space_and_a_second_click_fold_directories() {
    let mut a = app();
    a.tab = Tab::Files;
    let before = a.tree.visible_len();
    press(&mut a, KeyCode::Enter);
    assert!(a.tree.visible_len() < before);
    ch(&mut a, ' ');
    assert_eq!(a.tree.visible_len(), before);
    let rows = ui::list_rows(Tab::Files, ui::screen_layout(a.area, false).body).unwrap();
    click(&mut a, rows.x + 2, rows.y + 1);
    assert_eq!(a.files.selected, 1);
    click(&mut a, rows.x + 2, rows.y + 1);
    assert!(a.tree.visible_len() < before);
}

#[test]
fn clicking_a_row_selects_it_and_the_wheel_scrolls() {
    let mut a = app();
    a.tab = Tab::Peers;
    let rows = ui::list_rows(Tab::Peers, ui::screen_layout(a.area, false).body).unwrap();
    click(&mut a, rows.x + 3, rows.y + 4);
    assert_eq!(a.peers.selected, 4);
    a.handle(&Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 5,
        row: 5,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.peers.selected, 7);
    // A click below the last row selects nothing new.
    let mut b = App::new(
        sample::sample(2, 5),
        Theme::mono(),
        Rect::new(0, 0, 100, 30),
    );
    b.tab = Tab::Peers;
    click(&mut b, rows.x + 3, rows.y + 10);
    assert_eq!(b.peers.selected, 0);
}

#[test]
fn cancel_a_transfer_after_confirmation() {
    let mut a = app();
    a.tab = Tab::Transfers;
    ch(&mut a, 'j');
    let id = a.snapshot.transfers[1].id;
    assert_eq!(ch(&mut a, 'x'), None);
    assert_eq!(ch(&mut a, 'y'), Some(Action::CancelTransfer { id }));
}

#[test]
fn lend_form_on_the_market_tab() {
    let mut a = app();
    a.tab = Tab::Market;
    ch(&mut a, 'e');
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::End);
    a.handle(&Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    typed(&mut a, "2MiB/s");
    let Some(Action::Lend { changes }) = press(&mut a, KeyCode::Enter) else {
        panic!("no lend action");
    };
    assert_eq!(changes.upload_rate, Some(Some(2 << 20)));
    assert_eq!(changes.storage, Some(a.snapshot.market.lending.storage));
}

#[test]
fn log_level_search_and_follow() {
    let mut a = app();
    a.tab = Tab::Logs;
    let all = super::tabs::logs::filtered(&a).len();
    ch(&mut a, '+');
    assert_eq!(a.logs.level, Level::Warn);
    assert!(super::tabs::logs::filtered(&a).len() < all);
    ch(&mut a, '-');
    ch(&mut a, '-');
    assert_eq!(a.logs.level, Level::Debug);
    ch(&mut a, '/');
    typed(&mut a, "audit");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.logs.search, "audit");
    let hits = super::tabs::logs::filtered(&a);
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|e| e.message.contains("audit")));
    ch(&mut a, '/');
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.logs.search, "");
    assert!(a.logs.follow);
    ch(&mut a, 'k');
    assert!(!a.logs.follow, "scrolling up pauses following");
    ch(&mut a, 'G');
    assert!(a.logs.follow);
    ch(&mut a, 'f');
    assert!(!a.logs.follow);
}

#[test]
fn command_line_runs_commands_resolves_peer_prefixes_and_keeps_bad_lines() {
    let mut a = app();
    assert_eq!(
        command(&mut a, "add /srv/music 6+3"),
        Some(Action::Add {
            path: "/srv/music".into(),
            redundancy: Some(Redundancy::Erasure { k: 6, m: 3 })
        })
    );
    let peer = a.snapshot.peers[3].node_id.clone();
    assert_eq!(command(&mut a, &format!("peers ban {}", &peer[..10])), None);
    assert_eq!(a.mode, Mode::Confirm(Action::Ban { peer: peer.clone() }));
    assert_eq!(ch(&mut a, 'y'), Some(Action::Ban { peer }));

    assert_eq!(command(&mut a, "peers allow zzzzzz"), None);
    assert!(matches!(a.mode, Mode::Command(_)), "a bad line stays open");
    assert_eq!(
        a.status.as_ref().unwrap().text,
        "no known peer's id starts with `zzzzzz`"
    );
    press(&mut a, KeyCode::Esc);
    assert_eq!(command(&mut a, "bogus"), None);
    assert!(a.status.as_ref().unwrap().error);
    press(&mut a, KeyCode::Esc);

    // History: Up recalls the last good command.
    ch(&mut a, ':');
    press(&mut a, KeyCode::Up);
    assert!(matches!(&a.mode, Mode::Command(l) if l.text().starts_with("peers ban")));
    press(&mut a, KeyCode::Esc);

    assert_eq!(command(&mut a, "files"), None);
    assert_eq!(a.tab, Tab::Files);
    assert_eq!(command(&mut a, "help"), None);
    assert!(matches!(a.mode, Mode::Help { .. }));
    press(&mut a, KeyCode::Esc);
    assert_eq!(command(&mut a, "quit"), None);
    assert!(a.quit);
}

#[test]
fn help_opens_scrolls_and_closes() {
    let mut a = app();
    ch(&mut a, '?');
    assert_eq!(a.mode, Mode::Help { scroll: 0 });
    ch(&mut a, 'j');
    assert_eq!(a.mode, Mode::Help { scroll: 1 });
    ch(&mut a, '?');
    assert_eq!(a.mode, Mode::Normal);
    // Every key of every tab is in the help.
    for tab in ["Peers", "Files", "Transfers", "Market", "Logs", "Pair"] {
        assert!(ui::KEYS.iter().any(|(c, _, _)| *c == tab), "{tab}");
    }
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut a = app();
    ch(&mut a, 'q');
    assert!(a.quit);
    let mut a = app();
    ch(&mut a, ':');
    a.handle(&Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(a.quit, "Ctrl-C quits even from the command line");
}

#[test]
fn notices_set_the_status_line_and_the_link_state() {
    let mut a = app();
    a.notice(Notice::Failed {
        action: Action::Gc,
        error: "the store is busy".into(),
    });
    let s = a.status.clone().unwrap();
    assert!(s.error);
    assert_eq!(s.text, "gc failed: the store is busy");
    a.notice(Notice::Disconnected {
        reason: "refused".into(),
    });
    assert_eq!(a.link, Link::Lost("refused".into()));
    a.notice(Notice::Connected);
    assert_eq!(a.link, Link::Live);
}

#[test]
fn a_new_snapshot_keeps_the_selection_on_the_same_peer() {
    let mut a = app();
    a.tab = Tab::Peers;
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    let id = a.selected_peer_id().unwrap();
    let mut s = a.snapshot.clone();
    s.peers.reverse();
    a.set_snapshot(s);
    assert_eq!(a.selected_peer_id().unwrap(), id);
    // And a shrunken list clamps it.
    let mut s = a.snapshot.clone();
    s.peers.truncate(1);
    a.set_snapshot(s);
    assert_eq!(a.peers.selected, 0);
}
