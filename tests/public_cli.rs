//! Public shares as a user runs them: `cairn add --public` on the local
//! data directory (every store command on the `cairn-pub:` cap), and through
//! two joined daemons, where the host's default type filter refuses a public
//! `.exe` (the reason shown in the adder's report) and takes a `.txt`.

use std::fs;
use std::path::Path;
use std::process::Output;

mod common;

use common::{Daemon, cairn, cairn_json};

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn ok(o: Output) -> Output {
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn add_public_then_every_store_command_on_its_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let dd = tmp.path().join("dd");
    let src = tmp.path().join("dataset");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("a.csv"), common::pseudo_random(200_000, 3)).unwrap();
    fs::write(src.join("sub/readme.txt"), b"public data\n").unwrap();
    let path = src.to_str().unwrap();
    let rep = json(&ok(cairn(
        &dd,
        &["--json", "add", "--public", "--copies", "2", path],
    )));
    let cap = rep[0]["cap"].as_str().unwrap().to_owned();
    assert!(cap.starts_with("cairn-pub:"), "{cap}");
    assert_eq!(rep[0]["public"], true);
    assert_eq!(rep[0]["redundancy"], "1+1");
    // Text output says what it is.
    let again = ok(cairn(&dd, &["add", "--public", path]));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("cairn-pub:") && text.contains("public share"),
        "{text}"
    );

    let ls = json(&ok(cairn(&dd, &["--json", "ls", &cap])));
    let file_cap = ls["entries"][0]["cap"].as_str().unwrap().to_owned();
    assert!(file_cap.starts_with("cairn-pub:"));
    let o = ok(cairn(&dd, &["cat", &file_cap, "--range", "5-9"]));
    assert_eq!(o.stdout, &common::pseudo_random(200_000, 3)[5..10]);
    let out = tmp.path().join("out");
    ok(cairn(&dd, &["get", &cap, "-o", out.to_str().unwrap()]));
    assert_eq!(
        fs::read(out.join("sub/readme.txt")).unwrap(),
        b"public data\n"
    );
    assert_eq!(json(&ok(cairn(&dd, &["--json", "verify"])))["ok"], true);

    // A mistyped public cap is invalid input (exit 6), not a lookup.
    let mut typo = cap.clone().into_bytes();
    let i = typo.len() - 3;
    typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
    let o = cairn(&dd, &["cat", std::str::from_utf8(&typo).unwrap()]);
    assert_eq!(code(&o), 6, "{}", String::from_utf8_lossy(&o.stderr));

    ok(cairn(&dd, &["rm", &cap]));
    let gc = json(&ok(cairn(&dd, &["--json", "gc"])));
    assert!(gc["blocks_removed"].as_u64().unwrap() > 0, "{gc}");
}

fn placement(rep: &serde_json::Value) -> &serde_json::Value {
    &rep[0]["placement"]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn a_daemon_host_refuses_a_public_exe_and_takes_a_public_txt() {
    let tmp = tempfile::tempdir().unwrap();
    let owner = Daemon::start(&tmp.path().join("owner"), &[]);
    let host = Daemon::start(&tmp.path().join("host"), &[]);
    owner.join(&host);
    let files = tmp.path().join("files");
    fs::create_dir(&files).unwrap();

    let exe = write(&files, "installer.exe", &common::pseudo_random(50_000, 1));
    // The only host refused it: no peer was able to store it, so the add
    // exits 10 after its report (the owner keeps the data).
    let o = cairn(
        &owner.dir,
        &["--json", "add", "--public", "--redundancy", "1+0", &exe],
    );
    assert_eq!(code(&o), 10, "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no peer was able to store") && stderr.contains("*.exe"),
        "{stderr}"
    );
    let rep: serde_json::Value = serde_json::Deserializer::from_slice(&o.stdout)
        .into_iter()
        .next()
        .expect("the report first")
        .expect("JSON");
    let p = placement(&rep);
    assert_eq!(p["shards_placed"], 0, "{rep}");
    let refused = p["refused"].as_array().expect("refusals listed");
    assert!(
        refused.iter().any(|r| {
            let r = r.as_str().unwrap();
            r.contains("*.exe") && r.contains("extension filter")
        }),
        "{rep}"
    );
    // The add succeeded: the owner keeps it and reads it back.
    let cap = rep[0]["cap"].as_str().unwrap();
    let o = ok(cairn(&owner.dir, &["cat", cap]));
    assert_eq!(o.stdout, common::pseudo_random(50_000, 1));

    let txt = write(&files, "notes.txt", &common::pseudo_random(50_000, 2));
    let rep = cairn_json(
        &owner.dir,
        &["add", "--public", "--redundancy", "1+0", &txt],
    );
    let p = placement(&rep);
    assert!(p["shards_placed"].as_u64().unwrap() > 0, "{rep}");
    assert_eq!(p["shards_kept_local"], 0, "{rep}");
    assert!(p.get("refused").is_none(), "{rep}");
    // The host can read the public file it holds with the cap alone.
    let cap = rep[0]["cap"].as_str().unwrap();
    let o = ok(cairn(&host.dir, &["cat", cap]));
    assert_eq!(o.stdout, common::pseudo_random(50_000, 2));

    // An encrypted executable is placed as before.
    let rep = cairn_json(&owner.dir, &["add", "--redundancy", "1+0", &exe]);
    let p = placement(&rep);
    assert!(p["shards_placed"].as_u64().unwrap() > 0, "{rep}");
    assert!(p.get("refused").is_none(), "{rep}");
}
