//! Bad input to every local-API route and every CLI command gets a clear
//! error and a non-zero exit (real daemons on 127.0.0.1).
//!
//! Two tables. The API table sends each route of `src/api/` a request with
//! no token, with a wrong token, and with a body, query or path segment
//! that does not parse, and checks the documented answer (docs/PROTOCOL.md
//! §5: the JSON object `{kind, message}` with its status). The CLI table
//! runs each subcommand with bad arguments against a running daemon and
//! checks the exit code the README lists and a message naming the problem.
//! What other test files already cover with the same rigour (store bad
//! input in tests/store_api.rs and tests/store_cli.rs, peers in
//! tests/peers_cli.rs) is not repeated beyond one line each.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Daemon, cairn, cairn_json, pseudo_random, wait_for};

/// One raw HTTP/1.1 request; returns (status code, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {resp:?}"));
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// The API's error object in `body` (chunked bodies: the JSON line).
fn api_error(body: &str) -> serde_json::Value {
    body.lines()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .filter(|v| v["kind"].is_string() && v["message"].is_string())
        .unwrap_or_else(|| panic!("not an API error object: {body:?}"))
}

struct Api {
    addr: String,
    token: String,
}

impl Api {
    fn of(d: &Daemon) -> Api {
        Api {
            addr: d.ready["api"].as_str().expect("api").to_owned(),
            token: std::fs::read_to_string(d.dir.join("api.token"))
                .unwrap()
                .trim()
                .to_owned(),
        }
    }

    /// Send with the right token; the answer must be the error `kind` with
    /// `status` and a message containing `says`.
    fn refuses(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        status: u16,
        kind: &str,
        says: &str,
    ) {
        let (got, text) = http(&self.addr, method, path, Some(&self.token), body);
        let what = format!("{method} {path} {body:?}");
        assert_eq!(got, status, "{what}: status; body {text}");
        let e = api_error(&text);
        assert_eq!(e["kind"], kind, "{what}: {e}");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.to_lowercase().contains(&says.to_lowercase()),
            "{what}: message {msg:?} does not name the problem ({says:?})"
        );
    }
}

/// Every route of the local API (src/api/: server.rs, server/store.rs,
/// peers.rs, dht.rs, limits.rs, feed.rs), with a request that would be
/// accepted given the token.
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/v1/status", None),
    (
        "POST",
        "/v1/store/add",
        Some(r#"{"paths":["/nonexistent"]}"#),
    ),
    (
        "POST",
        "/v1/store/get",
        Some(r#"{"cap":"x","output":"/tmp/x"}"#),
    ),
    ("GET", "/v1/store/cat?cap=x", None),
    ("GET", "/v1/store/cat/failure?id=1", None),
    ("GET", "/v1/store/ls", None),
    ("POST", "/v1/store/rm", Some(r#"{"cap":"x"}"#)),
    (
        "POST",
        "/v1/store/redundancy",
        Some(r#"{"cap":"x","redundancy":"2+1"}"#),
    ),
    ("POST", "/v1/store/gc", None),
    ("POST", "/v1/store/verify", None),
    ("GET", "/v1/store/stats", None),
    ("GET", "/v1/transfers", None),
    ("POST", "/v1/transfers/1/cancel", None),
    ("GET", "/v1/snapshot", None),
    ("GET", "/v1/events", None),
    ("GET", "/v1/invite", None),
    ("GET", "/v1/peers", None),
    ("POST", "/v1/peers/join", Some(r#"{"ticket":"x"}"#)),
    ("POST", "/v1/peers/x/ban", None),
    ("POST", "/v1/peers/x/allow", None),
    ("POST", "/v1/peers/x/permissions", Some(r#"{"store":true}"#)),
    ("GET", "/v1/dht", None),
    ("GET", "/v1/limits", None),
    ("POST", "/v1/limits", Some(r#"{"up":0}"#)),
];

#[test]
fn every_api_route_refuses_bad_input_with_the_documented_error() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Daemon::start(&tmp.path().join("a"), &[]);
    let api = Api::of(&a);

    // No token and a wrong token: 401 `unauthorized` on every route, before
    // anything else is looked at.
    for (method, path, body) in ROUTES {
        for token in [None, Some("0".repeat(64)), Some(String::new())] {
            let (status, text) = http(&api.addr, method, path, token.as_deref(), *body);
            assert_eq!(status, 401, "{method} {path} with token {token:?}: {text}");
            assert_eq!(api_error(&text)["kind"], "unauthorized", "{method} {path}");
        }
    }

    // A method the route does not take: 405 with the error object.
    for (_, path, _) in ROUTES {
        api.refuses("DELETE", path, None, 405, "invalid_input", "DELETE");
    }

    // Bodies that are not JSON, or not the JSON described: 400
    // `invalid_input` on every route that takes a body.
    for (method, path, body) in ROUTES {
        if body.is_none() {
            continue;
        }
        for bad in ["{", "null", r#""text""#, r#"{"unknown_field_only":1}"#] {
            api.refuses(method, path, Some(bad), 400, "invalid_input", "");
        }
    }

    // Queries and path segments that do not parse.
    let bad_queries: &[(&str, &str, &str)] = &[
        ("GET", "/v1/store/cat", "cap"),
        ("GET", "/v1/store/cat?cap=hello", "cap"),
        ("GET", "/v1/store/cat/failure", "id"),
        ("GET", "/v1/store/cat/failure?id=-1", "id"),
        ("GET", "/v1/store/ls?cap=cairn:zzzz", "cap"),
        ("GET", "/v1/invite?pairing=maybe", "pairing"),
        ("POST", "/v1/transfers/abc/cancel", "transfer"),
        ("POST", "/v1/peers/nope/ban", "node id"),
        ("POST", "/v1/peers/nope/allow", "node id"),
    ];
    for (method, path, says) in bad_queries {
        api.refuses(method, path, None, 400, "invalid_input", says);
    }
    api.refuses(
        "POST",
        "/v1/peers/nope/permissions",
        Some(r#"{"store":true}"#),
        400,
        "invalid_input",
        "node id",
    );

    // Well-formed but unknown: a node id never met, a transfer not running,
    // a route that does not exist.
    let stranger = cairn_json(&tmp.path().join("stranger"), &["id"])["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for verb in ["ban", "allow"] {
        api.refuses(
            "POST",
            &format!("/v1/peers/{stranger}/{verb}"),
            None,
            404,
            "not_found",
            "unknown peer",
        );
    }
    api.refuses(
        "POST",
        &format!("/v1/peers/{stranger}/permissions"),
        Some(r#"{"store":false}"#),
        404,
        "not_found",
        "unknown peer",
    );
    api.refuses(
        "POST",
        "/v1/transfers/999/cancel",
        None,
        404,
        "not_found",
        "999",
    );
    api.refuses("GET", "/v1/nope", None, 404, "not_found", "endpoint");

    // Tickets: malformed, this node's own.
    api.refuses(
        "POST",
        "/v1/peers/join",
        Some(r#"{"ticket":"cairnnotaticket"}"#),
        400,
        "invalid_input",
        "ticket",
    );
    let own = format!(r#"{{"ticket":"{}"}}"#, a.ticket());
    api.refuses(
        "POST",
        "/v1/peers/join",
        Some(&own),
        400,
        "invalid_input",
        "own",
    );

    // Caps: malformed (invalid_input), well-formed but not held (not_found).
    let g = tmp.path().join("g");
    std::fs::write(&g, b"held elsewhere").unwrap();
    let foreign = cairn_json(&tmp.path().join("other"), &["add", g.to_str().unwrap()])[0]["cap"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = tmp.path().join("out");
    let get = |cap: &str| format!(r#"{{"cap":"{cap}","output":"{}"}}"#, out.display());
    api.refuses(
        "POST",
        "/v1/store/get",
        Some(&get("cairn:zz")),
        400,
        "invalid_input",
        "cap",
    );
    api.refuses(
        "POST",
        "/v1/store/get",
        Some(&get(&foreign)),
        404,
        "not_found",
        "not found",
    );
    api.refuses(
        "GET",
        "/v1/store/cat/failure?id=77",
        None,
        404,
        "not_found",
        "77",
    );
    api.refuses(
        "GET",
        &format!("/v1/store/cat?cap={foreign}"),
        None,
        404,
        "not_found",
        "not found",
    );
    api.refuses(
        "POST",
        "/v1/store/rm",
        Some(&format!(r#"{{"cap":"{foreign}"}}"#)),
        404,
        "not_found",
        "",
    );
    api.refuses(
        "POST",
        "/v1/store/redundancy",
        Some(&format!(r#"{{"cap":"{foreign}","redundancy":"2+1"}}"#)),
        404,
        "not_found",
        "",
    );

    // Redundancy: malformed, zero, both forms at once.
    let f = tmp.path().join("f");
    std::fs::write(&f, b"x").unwrap();
    for r in [
        r#""redundancy":"4-2""#,
        r#""redundancy":"0+2""#,
        r#""copies":0"#,
        r#""redundancy":"2+1","copies":2"#,
    ] {
        let body = format!(r#"{{"paths":["{}"],{r}}}"#, f.display());
        api.refuses(
            "POST",
            "/v1/store/add",
            Some(&body),
            400,
            "invalid_input",
            "",
        );
    }

    // Limits: negative, not numbers.
    for bad in [r#"{"up":-1}"#, r#"{"down":"fast"}"#, r#"{"peer_up":1.5}"#] {
        api.refuses("POST", "/v1/limits", Some(bad), 400, "invalid_input", "");
    }

    // Rights: not booleans.
    let b = Daemon::start(&tmp.path().join("b"), &[]);
    a.join(&b);
    api.refuses(
        "POST",
        &format!("/v1/peers/{}/permissions", b.node_id()),
        Some(r#"{"store":"yes"}"#),
        400,
        "invalid_input",
        "",
    );

    // A banned peer: joining it is refused (403 `refused`).
    cairn_json(&a.dir, &["peers", "ban", &b.node_id()]);
    let join_b = format!(r#"{{"ticket":"{}"}}"#, b.ticket());
    api.refuses(
        "POST",
        "/v1/peers/join",
        Some(&join_b),
        403,
        "refused",
        "banned",
    );
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_cli_command_refuses_bad_input_with_its_exit_code_and_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let nodaemon = tmp.path().join("nodaemon");
    let stranger = cairn_json(&tmp.path().join("stranger"), &["id"]);
    let stranger_ticket = stranger["ticket"].as_str().unwrap().to_owned();
    let stranger = stranger["node_id"].as_str().unwrap().to_owned();
    // Commands that need a daemon say so (7) when none runs (their
    // arguments are well-formed: malformed ones are refused first, 6).
    for args in [
        vec!["status"],
        vec!["dht"],
        vec!["invite"],
        vec!["peers"],
        vec!["join", &stranger_ticket],
        vec!["peers", "ban", &stranger],
        vec!["peers", "set", &stranger, "store=off"],
        vec!["dashboard"],
    ] {
        let o = cairn(&nodaemon, &args);
        assert_eq!(code(&o), 7, "{args:?} with no daemon: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no cairn daemon"),
            "{args:?}: {}",
            stderr(&o)
        );
    }

    let a = Daemon::start(&tmp.path().join("a"), &[]);
    let b = Daemon::start(&tmp.path().join("b"), &[]);
    a.join(&b);
    let f = tmp.path().join("f");
    std::fs::write(&f, pseudo_random(100_000, 3)).unwrap();
    let fs_ = f.to_str().unwrap();
    let cap = cairn_json(&a.dir, &["add", fs_])[0]["cap"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = tmp.path().join("g");
    std::fs::write(&g, b"held elsewhere").unwrap();
    let foreign = cairn_json(&tmp.path().join("other"), &["add", g.to_str().unwrap()])[0]["cap"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = tmp.path().join("out");
    let outs = out.to_str().unwrap();
    let segment = tmp.path().join("segment.bin");
    std::fs::write(&segment, b"not a ledger segment").unwrap();
    let b_id = b.node_id();

    // (args, exit code from the README's table, what the message must name)
    let table: Vec<(Vec<&str>, i32, &str)> = vec![
        // The command line itself (2).
        (vec!["frobnicate"], 2, "frobnicate"),
        (vec!["add"], 2, "PATH"),
        (vec!["add", fs_, "--redundancy", "4-2"], 2, "redundancy"),
        (vec!["add", fs_, "--redundancy", "0+2"], 2, "redundancy"),
        (
            vec!["add", fs_, "--redundancy", "2+1", "--copies", "2"],
            2,
            "copies",
        ),
        (vec!["add", fs_, "--copies", "x"], 2, "copies"),
        (vec!["redundancy", &cap, "nine"], 2, "K+M"),
        (vec!["cat", &cap, "--range"], 2, "range"),
        (vec!["peers", "set", &b_id], 2, "RIGHT"),
        (vec!["invite", "--pairing=maybe"], 2, "pairing"),
        // Unknown caps and paths (3).
        (vec!["add", "/no/such/path"], 3, "/no/such/path"),
        (vec!["get", &foreign, "-o", outs], 3, "not found"),
        (vec!["cat", &foreign], 3, "not found"),
        (vec!["ls", &foreign], 3, "not found"),
        (vec!["rm", &foreign], 3, "not"),
        (vec!["redundancy", &foreign, "2+1"], 3, "not found"),
        (vec!["peers", "ban", &stranger], 3, "unknown peer"),
        (vec!["peers", "allow", &stranger], 3, "unknown peer"),
        (
            vec!["peers", "set", &stranger, "store=off"],
            3,
            "unknown peer",
        ),
        // Malformed input (6).
        (vec!["get", "cairn:zz", "-o", outs], 6, "cap"),
        (vec!["cat", "hello"], 6, "cap"),
        (vec!["ls", "cairn:"], 6, "cap"),
        (vec!["rm", &cap[..cap.len() - 3]], 6, "cap"),
        (vec!["redundancy", "cap?", "2+1"], 6, "cap"),
        (vec!["cat", &cap, "--range", "9-3"], 6, "range"),
        (vec!["get", &cap, "-o", fs_], 6, "exists"),
        (vec!["add", fs_, "--copies", "0"], 6, "cop"),
        (vec!["join", "cairnnotaticket"], 6, "ticket"),
        (vec!["join", ""], 6, "ticket"),
        (vec!["peers", "ban", "nope"], 6, "node id"),
        (vec!["peers", "set", &b_id, "disk=on"], 6, "RIGHT=on|off"),
        (
            vec!["peers", "set", &b_id, "store=maybe"],
            6,
            "RIGHT=on|off",
        ),
        // A ledger segment that is not one (4: damage, as `ledger verify` reports).
        (
            vec!["ledger", "verify", segment.to_str().unwrap()],
            4,
            "segment",
        ),
    ];
    for (args, want, says) in &table {
        let o = cairn(&a.dir, args);
        assert_eq!(code(&o), *want, "cairn {args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).to_lowercase().contains(&says.to_lowercase()),
            "cairn {args:?}: message does not name the problem ({says:?}): {}",
            stderr(&o)
        );
        // --json carries the same code in a JSON error object (clap's own
        // usage errors excepted: they print usage text).
        if *want != 2 {
            let mut j = vec!["--json"];
            j.extend(args.iter().copied());
            let o = cairn(&a.dir, &j);
            assert_eq!(code(&o), *want, "cairn --json {args:?}");
            // The error object is the last JSON document printed (a report
            // such as `ledger verify`'s verdict may come before it).
            let v: serde_json::Value = serde_json::Deserializer::from_slice(&o.stdout)
                .into_iter::<serde_json::Value>()
                .filter_map(Result::ok)
                .last()
                .unwrap_or_else(|| {
                    panic!(
                        "cairn --json {args:?} printed no JSON error: {}",
                        String::from_utf8_lossy(&o.stdout)
                    )
                });
            assert_eq!(v["code"], *want, "cairn --json {args:?}: {v}");
        }
    }

    // No peer able to store: a node whose only peer may not store keeps
    // the shards itself, prints the cap and its report, and exits 10 with
    // the reason (docs/NODE.md); the data reads back.
    cairn_json(&a.dir, &["peers", "set", &b_id, "store=off"]);
    let h = tmp.path().join("h");
    std::fs::write(&h, pseudo_random(50_000, 4)).unwrap();
    let o = cairn(&a.dir, &["--json", "add", h.to_str().unwrap()]);
    assert_eq!(code(&o), 10, "{}", String::from_utf8_lossy(&o.stderr));
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&o.stdout)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .expect("the report, then the error, as JSON");
    let rep = &docs[0][0];
    assert_eq!(
        rep["placement"]["shards_placed"].as_u64().unwrap_or(0),
        0,
        "{rep}"
    );
    assert!(
        rep["placement"]["shards_kept_local"].as_u64().unwrap_or(0) > 0,
        "{rep}"
    );
    let err = docs.last().unwrap();
    assert_eq!(err["code"], 10, "{err}");
    let msg = err["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("no peer is allowed to store") && msg.contains("store=on"),
        "{err}"
    );
    let cap = rep["cap"].as_str().unwrap();
    assert!(msg.contains(cap), "the error names the cap: {err}");
    let o = cairn(&a.dir, &["cat", cap]);
    assert_eq!(code(&o), 0);
    assert_eq!(o.stdout, pseudo_random(50_000, 4));
    // Without --json: the report on stdout, the reason on stderr.
    let h2 = tmp.path().join("h2");
    std::fs::write(&h2, pseudo_random(50_000, 6)).unwrap();
    let o = cairn(&a.dir, &["add", h2.to_str().unwrap()]);
    assert_eq!(code(&o), 10);
    assert!(String::from_utf8_lossy(&o.stdout).contains("cairn:"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no peer is allowed to store"));

    // A banned peer: a file whose shards only it holds cannot be fetched
    // from it (a clear error, non-zero), and joining it is refused (9).
    cairn_json(&a.dir, &["peers", "set", &b_id, "store=on"]);
    let k = tmp.path().join("k");
    std::fs::write(&k, pseudo_random(60_000, 5)).unwrap();
    let only_b = &cairn_json(&a.dir, &["add", k.to_str().unwrap(), "--copies", "1"])[0];
    assert_eq!(
        only_b["placement"]["shards_kept_local"].as_u64(),
        Some(0),
        "{only_b}"
    );
    let only_b = only_b["cap"].as_str().unwrap().to_owned();
    cairn_json(&a.dir, &["peers", "ban", &b_id]);
    wait_for(10, "the banned peer to be disconnected", || {
        (!a.connected_to(&b_id)).then_some(())
    });
    // The read cannot get the chunk: nothing is damaged, its holder is out
    // of reach, so it fails as unavailable (8), not as lost (4); the banned
    // holder is never asked (its shard is not even attempted).
    let o = cairn(&a.dir, &["cat", &only_b]);
    assert_eq!(
        code(&o),
        8,
        "a read that needs a banned peer: {}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty(), "bytes were written before the error");
    assert!(
        stderr(&o).contains("unavailable")
            && stderr(&o).contains("no peer that holds the others could be reached"),
        "{}",
        stderr(&o)
    );
    let o = cairn(&a.dir, &["join", &b.ticket()]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("banned"), "{}", stderr(&o));
}
