//! `cairn status`: ask the running daemon who and where it is.

use anyhow::Result;

use cairn::api::client::ApiClient;
use cairn::api::types::Status;
use cairn::datadir::DataDir;

use super::Output;

pub fn status(dd: &DataDir, out: Output) -> Result<()> {
    let client = ApiClient::for_data_dir(dd.root())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status: Status = runtime.block_on(client.get("/v1/status"))?;
    out.print(&status, |s| {
        format!(
            "node id   {}\nversion   {}\nuptime    {} s\nlisten    {}\nticket    {}\ndata dir  {}",
            s.node_id,
            s.version,
            s.uptime_secs,
            s.listen.join(", "),
            s.ticket,
            s.data_dir
        )
    });
    Ok(())
}

/// `cairn dht`: the running daemon's DHT routing table and counters.
pub fn dht(dd: &DataDir, out: Output) -> Result<()> {
    let client = ApiClient::for_data_dir(dd.root())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let view = runtime.block_on(client.dht())?;
    out.print(&view, |v| {
        let mut s = format!(
            "{} peers in the table, {} provider keys and {} records held, {} keys provided, {} queries running\n",
            v.table_size,
            v.stored_provider_keys,
            v.stored_records,
            v.providing_keys,
            v.running_queries
        );
        for e in &v.table {
            s.push_str(&format!(
                "{:>3}  {}  {}\n",
                e.bucket,
                e.node_id,
                e.addrs.join(", ")
            ));
        }
        s.trim_end().to_owned()
    });
    Ok(())
}
