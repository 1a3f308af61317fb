//! Peer management end to end: real daemons joined by tickets, the peer book
//! across restarts, bans, pairing, and bad input with its exit codes.

mod common;

use common::{Daemon, cairn, cairn_json, wait_for};

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn joining_by_ticket_makes_both_sides_know_each_other_with_default_rights() {
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Daemon::start(ta.path(), &[]);
    let b = Daemon::start(tb.path(), &[]);
    let v = a.join(&b);
    assert_eq!(v["id"], b.node_id());
    assert_eq!(v["source"], "join");
    assert_eq!(v["own_device"], false);
    // Defaults: a joined peer may store and fetch, not compute or relay.
    assert_eq!(v["permissions"]["store"], true);
    assert_eq!(v["permissions"]["fetch"], true);
    assert_eq!(v["permissions"]["compute"], false);
    let on_b = b.peer(&a.node_id()).expect("b knows a");
    assert_eq!(on_b["source"], "inbound");
    // The live link carries the transport's statistics.
    let link = &a.peer(&b.node_id()).unwrap()["link"];
    assert!(link["bytes_sent"].as_u64().unwrap() > 0, "{link}");
    assert_eq!(link["outbound"], true);

    // And the other way round over the same pair of nodes.
    let v = b.join(&a);
    assert_eq!(v["id"], a.node_id());
    assert_eq!(b.peers().len(), 1);

    // Rights can be changed per peer and stick.
    let v = cairn_json(
        &a.dir,
        &["peers", "set", &b.node_id(), "fetch=off", "compute=on"],
    );
    assert_eq!(v["permissions"]["fetch"], false);
    assert_eq!(v["permissions"]["compute"], true);
    assert_eq!(v["permissions"]["store"], true);
}

#[test]
fn a_restarted_daemon_keeps_its_peers_and_redials_them() {
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Daemon::start(ta.path(), &[]);
    let b = Daemon::start(tb.path(), &[]);
    a.join(&b);
    let (a_id, b_id) = (a.node_id(), b.node_id());
    assert!(a.terminate().success());
    wait_for(10, "b to see a disconnect", || {
        (!b.connected_to(&a_id)).then_some(())
    });
    let a = Daemon::start(ta.path(), &[]);
    assert_eq!(a.node_id(), a_id);
    wait_for(10, "the restarted a to redial b", || {
        (a.connected_to(&b_id) && b.connected_to(&a_id)).then_some(())
    });
    let rec = a.peer(&b_id).unwrap();
    assert_eq!(rec["source"], "join", "the record survived the restart");
    assert!(rec["addrs"][0]["last_success_ms"].as_u64().is_some());
}

#[test]
fn a_ban_disconnects_and_refuses_the_peer_until_allowed() {
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Daemon::start(ta.path(), &[]);
    let b = Daemon::start(tb.path(), &[]);
    a.join(&b);
    let (a_id, b_id) = (a.node_id(), b.node_id());

    let v = cairn_json(&a.dir, &["peers", "ban", &b_id]);
    assert!(v["banned"]["reason"].is_string(), "{v}");
    wait_for(10, "the ban to disconnect both sides", || {
        (!a.connected_to(&b_id) && !b.connected_to(&a_id)).then_some(())
    });
    // a will not dial b ...
    let out = cairn(&a.dir, &["join", &b.ticket()]);
    assert_eq!(code(&out), Some(9), "{}", stderr(&out));
    assert!(stderr(&out).contains("banned"));
    // ... and b's dial to a is closed at once: b never stays connected.
    let _ = cairn(&b.dir, &["join", &a.ticket()]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!a.connected_to(&b_id), "a banned peer stayed connected");
    assert!(a.peer(&b_id).unwrap()["banned"].is_object());

    let v = cairn_json(&a.dir, &["peers", "allow", &b_id]);
    assert!(v["banned"].is_null());
    wait_for(15, "a to reconnect to b once allowed", || {
        a.connected_to(&b_id).then_some(())
    });
}

#[test]
fn a_pairing_secret_pairs_once_and_is_refused_the_second_time() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = Daemon::start(dirs[0].path(), &[]);
    let b = Daemon::start(dirs[1].path(), &[]);
    let c = Daemon::start(dirs[2].path(), &[]);
    let inv = cairn_json(&a.dir, &["invite", "--pairing"]);
    assert_eq!(inv["pairing"], true);
    let ticket = inv["ticket"].as_str().unwrap().to_owned();
    assert_ne!(ticket, a.ticket(), "a pairing ticket carries a secret");

    let v = cairn_json(&b.dir, &["join", &ticket]);
    assert_eq!(v["own_device"], true);
    assert_eq!(v["permissions"]["relay"], true);
    let on_a = wait_for(10, "a to mark b as an own device", || {
        a.peer(&b.node_id()).filter(|p| p["own_device"] == true)
    });
    assert_eq!(on_a["permissions"]["compute"], true);

    let out = cairn(&c.dir, &["join", &ticket]);
    assert_eq!(code(&out), Some(9), "{}", stderr(&out));
    assert!(stderr(&out).contains("pairing secret was refused"));
    assert!(
        a.peer(&c.node_id())
            .is_none_or(|p| p["own_device"] == false)
    );
    // A plain invite is the node's ticket.
    assert_eq!(cairn_json(&a.dir, &["invite"])["ticket"], a.ticket());
}

#[test]
fn bad_input_gets_clear_errors_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    // No daemon: peer commands say so (7).
    let out = cairn(tmp.path(), &["peers"]);
    assert_eq!(code(&out), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("no cairn daemon"));

    let a = Daemon::start(tmp.path(), &[]);
    // Malformed ticket (6).
    let out = cairn(&a.dir, &["join", "cairnnotaticket"]);
    assert_eq!(code(&out), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("ticket"));
    // Malformed node id (6), unknown node (3).
    let out = cairn(&a.dir, &["peers", "ban", "nope"]);
    assert_eq!(code(&out), Some(6), "{}", stderr(&out));
    let stranger = {
        let t = tempfile::tempdir().unwrap();
        cairn_json(t.path(), &["id"])["node_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for args in [
        vec!["peers", "ban", stranger.as_str()],
        vec!["peers", "allow", stranger.as_str()],
        vec!["peers", "set", stranger.as_str(), "store=off"],
    ] {
        let out = cairn(&a.dir, &args);
        assert_eq!(code(&out), Some(3), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("unknown peer"), "{}", stderr(&out));
    }
    let out = cairn(&a.dir, &["peers", "set", &a.node_id(), "disk=on"]);
    assert_eq!(code(&out), Some(6), "{}", stderr(&out));
    // A ticket naming a node that is not the one at its address: the
    // handshake fails the id check and the join says it cannot reach it (8).
    let b_tmp = tempfile::tempdir().unwrap();
    let b = Daemon::start(b_tmp.path(), &[]);
    let mut forged: cairn::ticket::Ticket = b.ticket().parse().unwrap();
    forged.node_id = *stranger
        .parse::<cairn_transport::NodeId>()
        .unwrap()
        .as_bytes();
    let out = cairn(&a.dir, &["join", &forged.to_string()]);
    assert_eq!(code(&out), Some(8), "{}", stderr(&out));
    assert!(
        a.peer(&stranger).is_none(),
        "an unverified node is not remembered"
    );
    // Own ticket (6).
    let out = cairn(&a.dir, &["join", &a.ticket()]);
    assert_eq!(code(&out), Some(6), "{}", stderr(&out));
}
