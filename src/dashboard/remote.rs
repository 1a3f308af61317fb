//! The dashboard attached to a node's local API: a feed task that follows
//! `GET /v1/events` into the dashboard's `watch`, and a dispatcher that
//! carries each [`Action`] out through the matching [`ApiClient`] method.
//!
//! Why one module: it is the only place that knows both the dashboard's
//! contract and the API's client, so adding an API route means adding one
//! match arm here. The feed reconnects on its own (re-reading `api.addr`,
//! since a restarted daemon may have a new port), so a daemon restart shows
//! as a "disconnected" status line and then live data again, never as a
//! frozen or crashed dashboard.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::api::client::{ApiClient, ClientError};
use crate::api::snapshot::{Action, Notice, Snapshot};

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// How the feed finds the daemon: a data directory (re-read on each
/// reconnection) or one fixed client.
#[derive(Debug, Clone)]
pub enum Target {
    DataDir(PathBuf),
    Client(ApiClient),
}

impl Target {
    fn client(&self) -> Result<ApiClient, ClientError> {
        match self {
            Target::DataDir(dir) => ApiClient::for_data_dir(dir),
            Target::Client(c) => Ok(c.clone()),
        }
    }
}

/// Why the dashboard could not attach or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Dashboard(#[from] super::DashboardError),
}

/// Open the dashboard on the real terminal, attached to the node behind
/// `target`, until the user quits or `stop` is cancelled.
///
/// The first snapshot is fetched before the terminal is taken over, so "no
/// daemon" is a plain error on the normal screen. `initial` notices (e.g.
/// from `cairn demo`'s setup) are shown once the dashboard is up.
pub async fn attach(
    target: Target,
    initial: Vec<Notice>,
    stop: CancellationToken,
) -> Result<(), AttachError> {
    let first = target.client()?.snapshot().await?;
    let (snap_tx, snap_rx) = watch::channel(first);
    let (act_tx, act_rx) = mpsc::channel::<Action>(16);
    let (note_tx, note_rx) = mpsc::channel::<Notice>(16 + initial.len());
    for n in initial {
        let _ = note_tx.try_send(n);
    }
    let feed_stop = CancellationToken::new();
    let feed = tokio::spawn(follow(
        target.clone(),
        snap_tx,
        note_tx.clone(),
        feed_stop.clone(),
    ));
    let dispatcher = tokio::spawn(dispatch_all(target, act_rx, note_tx));
    let result = tokio::select! {
        r = super::run(snap_rx, act_tx, note_rx) => r,
        // Dropping the dashboard's future restores the terminal.
        _ = stop.cancelled() => Ok(()),
    };
    feed_stop.cancel();
    let _ = feed.await;
    dispatcher.abort();
    Ok(result?)
}

/// Follow the node's snapshot events until `stop`, reconnecting with
/// backoff; tells the dashboard when the link drops and comes back.
pub async fn follow(
    target: Target,
    snapshots: watch::Sender<Snapshot>,
    notices: mpsc::Sender<Notice>,
    stop: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    let mut connected = true; // the caller connected once before starting us
    loop {
        let result = async {
            let client = target.client()?;
            client.events().await
        }
        .await;
        match result {
            Ok(mut events) => loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    item = events.next() => match item {
                        Some(Ok(snap)) => {
                            if !connected {
                                connected = true;
                                let _ = notices.try_send(Notice::Connected);
                            }
                            backoff = MIN_BACKOFF;
                            snapshots.send_replace(snap);
                        }
                        Some(Err(e)) => {
                            lost(&mut connected, &notices, e.to_string());
                            break;
                        }
                        None => {
                            lost(&mut connected, &notices, "the daemon closed the stream".into());
                            break;
                        }
                    },
                }
            },
            Err(e) => lost(&mut connected, &notices, e.to_string()),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn lost(connected: &mut bool, notices: &mpsc::Sender<Notice>, reason: String) {
    if *connected {
        *connected = false;
        let _ = notices.try_send(Notice::Disconnected { reason });
    }
}

/// Carry out the dashboard's actions one by one until the channel closes,
/// answering each with a [`Notice`].
pub async fn dispatch_all(
    target: Target,
    mut actions: mpsc::Receiver<Action>,
    notices: mpsc::Sender<Notice>,
) {
    while let Some(action) = actions.recv().await {
        let notice = match target.client() {
            Ok(client) => dispatch(&client, action).await,
            Err(e) => Notice::Failed {
                action,
                error: e.to_string(),
            },
        };
        if notices.send(notice).await.is_err() {
            return;
        }
    }
}

/// One action through the API. Arms whose API method does not exist yet in
/// this build answer that the command is not available.
pub async fn dispatch(client: &ApiClient, action: Action) -> Notice {
    let result: Result<String, String> = match &action {
        Action::Cli { args } if args.first().map(String::as_str) == Some("status") => {
            match client.status().await {
                Ok(s) => Ok(format!(
                    "node {}\nversion {}\nuptime {}\nlisten {}\ndata dir {}\nticket {}",
                    s.node_id,
                    s.version,
                    super::fmt::duration(s.uptime_secs),
                    s.listen.join(", "),
                    s.data_dir,
                    s.ticket
                )),
                Err(e) => Err(e.to_string()),
            }
        }
        Action::Cli { args } if args.first().map(String::as_str) == Some("snapshot") => {
            match client.snapshot().await {
                Ok(s) => Ok(format!(
                    "snapshot #{} of {}: {} peers, {} paths, {} transfers, {} log events",
                    s.seq,
                    s.node.node_id,
                    s.peers.len(),
                    s.files.len(),
                    s.transfers.len(),
                    s.logs.len()
                )),
                Err(e) => Err(e.to_string()),
            }
        }
        Action::Add { path, redundancy } => {
            let req = crate::api::store_types::AddRequest {
                paths: vec![std::path::PathBuf::from(path)],
                redundancy: redundancy.map(store_redundancy),
                copies: None,
                public: false,
            };
            match client.add(&req).await {
                Ok(reps) => Ok(reps
                    .iter()
                    .map(|r| {
                        format!(
                            "added {} ({} bytes, {}): {}",
                            r.path, r.size, r.redundancy, r.cap
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")),
                Err(e) => Err(e.to_string()),
            }
        }
        Action::Get { source, dest } => match resolve(client, source).await {
            Ok(cap) => client
                .store_get(&cap, std::path::Path::new(dest))
                .await
                .map(|r| format!("restored {} ({} files, {} bytes)", r.path, r.files, r.bytes))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
        Action::ExportCap { path } => resolve(client, path).await,
        Action::Cat { source } => match resolve(client, source).await {
            Ok(cap) => {
                let mut buf = Vec::new();
                match client.cat(&cap, Some("0-4095"), &mut buf).await {
                    Ok(_) => Ok(String::from_utf8_lossy(&buf).into_owned()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e),
        },
        Action::Ls { source } => {
            let cap = match source {
                Some(s) => match resolve(client, s).await {
                    Ok(c) => Some(c),
                    Err(e) => return failed(action, e),
                },
                None => None,
            };
            client
                .ls(cap.as_deref())
                .await
                .map(|r| {
                    r.entries
                        .iter()
                        .map(|e| format!("{:>12}  {}", e.size, e.name))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .map_err(|e| e.to_string())
        }
        Action::Remove { path } => match resolve(client, path).await {
            Ok(cap) => client
                .rm(&cap)
                .await
                .map(|_| format!("removed {path}; its blocks go at the next gc"))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
        Action::Gc => client
            .gc()
            .await
            .map(|r| {
                format!(
                    "gc: {} blocks ({} bytes) removed, {} packs deleted ({} compacted)",
                    r.blocks_removed, r.bytes_removed, r.packs_deleted, r.packs_compacted
                )
            })
            .map_err(|e| e.to_string()),
        Action::Verify => client
            .verify(true)
            .await
            .map(|r| {
                format!(
                    "verify: {} blocks checked, {} repaired, {} unrecoverable{}",
                    r.blocks_checked,
                    r.repaired_blocks,
                    r.unrecoverable.len(),
                    if r.ok { "; ok" } else { "; NOT ok" }
                )
            })
            .map_err(|e| e.to_string()),
        Action::CancelTransfer { id } => client
            .cancel_transfer(*id)
            .await
            .map(|_| format!("transfer {id} cancelled"))
            .map_err(|e| e.to_string()),
        Action::SetRedundancy { path, redundancy } => match resolve(client, path).await {
            Ok(cap) => client
                .set_redundancy(&cap, &store_redundancy(*redundancy))
                .await
                .map(|r| format!("{path} is now stored {}: {}", r.redundancy, r.cap))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
        Action::Join { ticket } => client
            .join(ticket)
            .await
            .map(|p| format!("joined {}", p.id))
            .map_err(|e| e.to_string()),
        Action::Invite { pairing } => client
            .invite(*pairing)
            .await
            .map(|i| i.ticket)
            .map_err(|e| e.to_string()),
        Action::Ban { peer } => client
            .ban(peer)
            .await
            .map(|p| format!("banned {}", p.id))
            .map_err(|e| e.to_string()),
        Action::Allow { peer } => client
            .allow(peer)
            .await
            .map(|p| format!("allowed {}", p.id))
            .map_err(|e| e.to_string()),
        Action::SetPermissions { peer, changes } => {
            let change = crate::peers::PermissionChange {
                store: changes.store,
                fetch: changes.fetch,
                compute: changes.compute,
                relay: changes.relay,
            };
            client
                .set_permissions(peer, &change)
                .await
                .map(|p| format!("rights of {} set", p.id))
                .map_err(|e| e.to_string())
        }
        Action::Lend { changes } if changes.storage.is_none() && changes.cpu_percent.is_none() => {
            // Bandwidth is what this node lends today: the exchange's limits.
            match client.limits().await {
                Ok(now) => {
                    let mut l = now.limits;
                    if let Some(up) = changes.upload_rate {
                        l.up = up.unwrap_or(0);
                    }
                    if let Some(down) = changes.download_rate {
                        l.down = down.unwrap_or(0);
                    }
                    client
                        .set_limits(&l)
                        .await
                        .map(|s| {
                            format!(
                                "bandwidth limits: up {} B/s, down {} B/s (0 = unlimited)",
                                s.limits.up, s.limits.down
                            )
                        })
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Action::Cli { args } => run_cli(client, args).await,
        other => Err(not_available(other)),
    };
    match result {
        Ok(message) => Notice::Done { action, message },
        Err(error) => Notice::Failed { action, error },
    }
}

/// Commands that take over a terminal or start a node: not run from here.
const NOT_FROM_DASHBOARD: &[&str] = &["daemon", "dashboard", "demo", "init"];
/// How long a CLI command run from the `:` line may take.
const CLI_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Any other CLI command typed at the `:` line (`ledger verify FILE`,
/// `bench dht`, `dht`, `peers`, …): run by this same `cairn` binary on the
/// node's data directory, exactly as typed in a shell, its output shown.
/// The CLI is itself a client of the node's API, so this is one more client,
/// not a second way in.
async fn run_cli(client: &ApiClient, args: &[String]) -> Result<String, String> {
    let Some(first) = args.first() else {
        return Err("no command given".into());
    };
    if NOT_FROM_DASHBOARD.contains(&first.as_str()) {
        return Err(format!(
            "`cairn {first}` runs in a terminal of its own, not from the dashboard"
        ));
    }
    let dir = client.status().await.map_err(|e| e.to_string())?.data_dir;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the cairn binary: {e}"))?;
    let run = tokio::process::Command::new(exe)
        .arg("--data-dir")
        .arg(&dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CLI_TIMEOUT, run)
        .await
        .map_err(|_| {
            format!(
                "`cairn {}` took longer than {} s",
                args.join(" "),
                CLI_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run cairn: {e}"))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(text(&out.stderr))
    }
}

fn failed(action: Action, error: String) -> Notice {
    Notice::Failed { action, error }
}

/// The store's text form of a dashboard redundancy target (`copies=N` is
/// `1+(N-1)`).
fn store_redundancy(r: crate::api::snapshot::Redundancy) -> String {
    match r {
        crate::api::snapshot::Redundancy::Copies { n } => format!("1+{}", n.saturating_sub(1)),
        crate::api::snapshot::Redundancy::Erasure { k, m } => format!("{k}+{m}"),
    }
}

/// A cap as typed, or the cap of a stored path: `/name` or `name` of a
/// root, then `/`-separated entries below it.
async fn resolve(client: &ApiClient, source: &str) -> Result<String, String> {
    if source.starts_with("cairn:") {
        return Ok(source.to_owned());
    }
    let mut parts = source
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty());
    let mut cap: Option<String> = None;
    for part in &mut parts {
        let listing = client.ls(cap.as_deref()).await.map_err(|e| e.to_string())?;
        match listing.entries.into_iter().find(|e| e.name == part) {
            Some(e) => cap = Some(e.cap.to_string()),
            None => return Err(format!("no stored path {source}")),
        }
    }
    cap.ok_or_else(|| format!("no stored path {source:?}"))
}

/// The answer for an action whose API route this build lacks.
fn not_available(action: &Action) -> String {
    format!("`{action}` is not available from the dashboard yet (this node's API lacks its route)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_actions_name_the_command() {
        let msg = not_available(&Action::Lend {
            changes: crate::api::snapshot::LendChanges {
                storage: Some(1 << 30),
                ..Default::default()
            },
        });
        assert!(msg.contains("lend"), "{msg}");
    }
}
