//! The peer commands: `invite`, `join`, `peers [ban|allow|set]`.
//!
//! All of them are clients of the running daemon's API: the peer book is
//! owned (and its redb file locked) by the daemon, and a join needs the
//! daemon's transport anyway. With no daemon they fail with exit code 7 and
//! say so. Node ids and tickets are checked here first, so malformed input
//! gets exit code 6 without a round trip.

use anyhow::{Result, bail};
use clap::Subcommand;

use cairn::api::client::ApiClient;
use cairn::api::peers::PeerView;
use cairn::datadir::DataDir;
use cairn::peers::PermissionChange;
use cairn::ticket::Ticket;
use cairn_transport::NodeId;

use super::Output;

/// `cairn peers` subcommands (none: list).
#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    /// Ban a peer: it is disconnected and refused both ways.
    Ban { node: String },
    /// Lift a ban.
    Allow { node: String },
    /// Grant or withdraw rights: `store=on fetch=off compute=on relay=off`.
    Set {
        node: String,
        #[arg(required = true, value_name = "RIGHT=on|off")]
        rights: Vec<String>,
    },
}

/// A node id given on the command line, refused here if malformed.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a node id (52 base32 characters, as `cairn peers` shows)")]
pub struct BadNodeId(String);

/// A `RIGHT=on|off` argument that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not RIGHT=on|off with RIGHT one of store, fetch, compute, relay")]
pub struct BadRight(String);

fn client(dd: &DataDir) -> Result<(ApiClient, tokio::runtime::Runtime)> {
    let client = ApiClient::for_data_dir(dd.root())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok((client, rt))
}

fn check_node(text: &str) -> Result<String> {
    match text.parse::<NodeId>() {
        Ok(id) => Ok(id.to_string()),
        Err(_) => Err(BadNodeId(text.to_owned()).into()),
    }
}

pub fn invite(dd: &DataDir, out: Output, pairing: bool) -> Result<()> {
    let (c, rt) = client(dd)?;
    let inv = rt.block_on(c.invite(pairing))?;
    out.print(&inv, |i| {
        if i.pairing {
            format!(
                "{}\n(one-time pairing ticket: the device that joins with it becomes one of your own devices)",
                i.ticket
            )
        } else {
            i.ticket.clone()
        }
    });
    Ok(())
}

pub fn join(dd: &DataDir, out: Output, ticket: &str) -> Result<()> {
    ticket.parse::<Ticket>()?;
    let (c, rt) = client(dd)?;
    let peer = rt.block_on(c.join(ticket))?;
    out.print(&peer, |p| {
        format!(
            "joined {}{}",
            p.id,
            if p.own_device {
                " (paired: own device)"
            } else {
                ""
            }
        )
    });
    Ok(())
}

pub fn peers(dd: &DataDir, out: Output, cmd: Option<PeersCommand>) -> Result<()> {
    let (c, rt) = client(dd)?;
    let one = |p: PeerView| {
        out.print(&p, |p| table(std::slice::from_ref(p)));
    };
    match cmd {
        None => {
            let all = rt.block_on(c.peers())?;
            out.print(&all, |a| {
                if a.is_empty() {
                    "no known peers (add one with `cairn join TICKET`)".into()
                } else {
                    table(a)
                }
            });
        }
        Some(PeersCommand::Ban { node }) => one(rt.block_on(c.ban(&check_node(&node)?))?),
        Some(PeersCommand::Allow { node }) => one(rt.block_on(c.allow(&check_node(&node)?))?),
        Some(PeersCommand::Set { node, rights }) => {
            let node = check_node(&node)?;
            let change = parse_rights(&rights)?;
            one(rt.block_on(c.set_permissions(&node, &change))?)
        }
    }
    Ok(())
}

fn parse_rights(args: &[String]) -> Result<PermissionChange> {
    let mut ch = PermissionChange::default();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            bail!(BadRight(a.clone()));
        };
        let v = match v {
            "on" | "true" | "yes" => true,
            "off" | "false" | "no" => false,
            _ => bail!(BadRight(a.clone())),
        };
        let slot = match k {
            "store" => &mut ch.store,
            "fetch" => &mut ch.fetch,
            "compute" => &mut ch.compute,
            "relay" => &mut ch.relay,
            _ => bail!(BadRight(a.clone())),
        };
        *slot = Some(v);
    }
    Ok(ch)
}

/// The human table: one line per peer.
fn table(peers: &[PeerView]) -> String {
    let mut s = format!(
        "{:<52}  {:<9}  {:<4}  {:<9}  {:>12}  {:>12}  {}\n",
        "NODE", "STATE", "RGHT", "SOURCE", "SENT", "RECEIVED", "ADDRESS"
    );
    for p in peers {
        let state = if p.banned.is_some() {
            "banned"
        } else if p.connected {
            "connected"
        } else {
            "offline"
        };
        let (sent, recv, addr) = match &p.link {
            Some(l) => (
                l.bytes_sent.to_string(),
                l.bytes_received.to_string(),
                l.remote_addr.clone(),
            ),
            None => (
                "-".into(),
                "-".into(),
                p.addrs
                    .first()
                    .map(|a| a.addr.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
        };
        let source = format!("{:?}", p.source).to_lowercase();
        s.push_str(&format!(
            "{:<52}  {:<9}  {:<4}  {:<9}  {:>12}  {:>12}  {}{}\n",
            p.id,
            state,
            p.permissions.to_string(),
            source,
            sent,
            recv,
            addr,
            if p.own_device { "  (own device)" } else { "" }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_parse_and_bad_ones_are_refused() {
        let ch = parse_rights(&["store=off".into(), "compute=on".into()]).unwrap();
        assert_eq!(ch.store, Some(false));
        assert_eq!(ch.compute, Some(true));
        assert_eq!(ch.fetch, None);
        for bad in ["store", "store=maybe", "disk=on"] {
            let e = parse_rights(&[bad.into()]).unwrap_err();
            assert!(e.downcast_ref::<BadRight>().is_some(), "{bad}");
        }
    }
}
