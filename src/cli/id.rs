//! `cairn init` and `cairn id`: create the data directory, show who we are.

use anyhow::Result;
use serde::Serialize;

use cairn::datadir::DataDir;
use cairn::ticket::Ticket;
use cairn_transport::Identity;

use super::Output;

#[derive(Serialize)]
struct InitReport {
    data_dir: String,
    created: bool,
    node_id: String,
}

pub fn init(dd: &DataDir, out: Output) -> Result<()> {
    let created = dd.init()?;
    let keys = dd.keys()?;
    let report = InitReport {
        data_dir: dd.root().display().to_string(),
        created,
        node_id: Identity::from_secret_bytes(*keys.identity, *keys.noise_static)
            .node_id()
            .to_string(),
    };
    out.print(&report, |r| {
        if r.created {
            format!("initialised {}\nnode id {}", r.data_dir, r.node_id)
        } else {
            format!(
                "{} is already initialised\nnode id {}",
                r.data_dir, r.node_id
            )
        }
    });
    Ok(())
}

#[derive(Serialize)]
struct IdReport {
    node_id: String,
    addresses: Vec<String>,
    ticket: String,
}

pub fn id(dd: &DataDir, out: Output) -> Result<()> {
    let keys = dd.keys()?;
    let config = dd.config()?;
    let node_id = Identity::from_secret_bytes(*keys.identity, *keys.noise_static).node_id();
    let addrs = cairn::addrs::announce_addrs(&config.node);
    let ticket = Ticket {
        node_id: *node_id.as_bytes(),
        addrs: addrs.clone(),
        secret: None,
    };
    let report = IdReport {
        node_id: node_id.to_string(),
        addresses: addrs.iter().map(|a| a.to_string()).collect(),
        ticket: ticket.to_string(),
    };
    out.print(&report, |r| {
        format!(
            "node id   {}\naddresses {}\nticket    {}",
            r.node_id,
            r.addresses.join(", "),
            r.ticket
        )
    });
    Ok(())
}
