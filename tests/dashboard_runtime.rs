//! The dashboard's event loop end to end on a `TestBackend`: scripted
//! terminal events in, snapshots through the watch channel, actions out
//! through the bounded mpsc channel, notices back.

use std::time::Duration;

use cairn::api::snapshot::{Action, Notice, Snapshot};
use cairn::dashboard::{App, Theme, drive, sample};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::SinkExt;
use futures::channel::mpsc as fmpsc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, watch};

type Keys = fmpsc::Sender<std::io::Result<Event>>;

struct Harness {
    keys: Keys,
    snapshots: watch::Sender<Snapshot>,
    actions: mpsc::Receiver<Action>,
    notices: mpsc::Sender<Notice>,
    done: tokio::task::JoinHandle<(App, Terminal<TestBackend>)>,
}

fn start(action_capacity: usize) -> Harness {
    let (keys, events) = fmpsc::channel(64);
    let (snap_tx, snap_rx) = watch::channel(sample::empty());
    let (act_tx, act_rx) = mpsc::channel(action_capacity);
    let (note_tx, note_rx) = mpsc::channel(16);
    let done = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let app = drive(
            &mut terminal,
            events,
            snap_rx,
            act_tx,
            note_rx,
            Theme::mono(),
        )
        .await
        .expect("the loop ends cleanly");
        (app, terminal)
    });
    Harness {
        keys,
        snapshots: snap_tx,
        actions: act_rx,
        notices: note_tx,
        done,
    }
}

async fn key(keys: &mut Keys, code: KeyCode) {
    keys.send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
        .await
        .unwrap();
}

async fn text(keys: &mut Keys, s: &str) {
    for c in s.chars() {
        key(keys, KeyCode::Char(c)).await;
    }
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

async fn next_action(rx: &mut mpsc::Receiver<Action>) -> Action {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an action within 10 s")
        .expect("the channel is open")
}

#[tokio::test]
async fn snapshots_are_drawn_keys_become_actions_and_notices_are_shown() {
    let mut h = start(8);
    h.snapshots.send(sample::sample(5, 20)).unwrap();
    text(&mut h.keys, ":gc").await;
    key(&mut h.keys, KeyCode::Enter).await;
    key(&mut h.keys, KeyCode::Char('y')).await;
    assert_eq!(next_action(&mut h.actions).await, Action::Gc);
    h.notices
        .send(Notice::Done {
            action: Action::Gc,
            message: "dropped 12 blocks".into(),
        })
        .await
        .unwrap();
    // Let the notice be taken before quitting.
    key(&mut h.keys, KeyCode::Char('2')).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    key(&mut h.keys, KeyCode::Char('q')).await;
    let (app, terminal) = h.done.await.unwrap();
    assert_eq!(app.snapshot.peers.len(), 5);
    let s = screen(&terminal);
    assert!(s.contains("gc: dropped 12 blocks"), "{s}");
    assert!(s.contains("Peers 3 connected · 5 known"), "{s}");
}

#[tokio::test]
async fn a_full_action_channel_is_reported_not_waited_on() {
    let mut h = start(1);
    h.snapshots.send(sample::sample(5, 20)).unwrap();
    key(&mut h.keys, KeyCode::Char('2')).await;
    key(&mut h.keys, KeyCode::Char('a')).await;
    key(&mut h.keys, KeyCode::Char('a')).await;
    key(&mut h.keys, KeyCode::Char('q')).await;
    let (app, _) = h.done.await.unwrap();
    let status = app.status.expect("a status line");
    assert!(status.error);
    assert!(status.text.contains("the node is busy"), "{}", status.text);
    assert!(matches!(h.actions.recv().await, Some(Action::Allow { .. })));
}

#[tokio::test]
async fn a_dead_feed_marks_the_node_unreachable_and_the_loop_ends_with_the_events() {
    let mut h = start(1);
    drop(h.snapshots);
    key(&mut h.keys, KeyCode::Char('1')).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(h.keys);
    let (app, terminal) = h.done.await.unwrap();
    assert!(!app.quit);
    let s = screen(&terminal);
    assert!(
        s.contains("node unreachable: the snapshot feed ended"),
        "{s}"
    );
}
