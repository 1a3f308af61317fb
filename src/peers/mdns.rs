//! Finding cairn nodes on the local network with mDNS / DNS-SD.
//!
//! Each node advertises `_cairn._tcp.local.` with its listen port and its
//! NodeId in a TXT record (`id=…`), and browses for the same type. A node
//! found this way is dialled like a ticket would be: the transport's
//! handshake proves the NodeId, so a spoofed advertisement can only make us
//! dial a machine that then fails the handshake; it cannot make us talk to
//! the wrong node. Found peers are remembered with source `mdns`.
//!
//! The crate `mdns-sd` runs its own thread; its events reach this task
//! through its async channel. Decoding an advertisement (the only input from
//! the network here) is [`parse_advert`], pure and fuzzed through the id
//! parser and the address list it builds. `[peers] mdns = false` turns all of
//! this off (the tests do, so nodes of parallel tests never meet by
//! surprise).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use cairn_transport::NodeId;
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::book::Source;
use super::service::PeerService;

/// The DNS-SD service type cairn nodes advertise.
pub const SERVICE_TYPE: &str = "_cairn._tcp.local.";
/// TXT key holding the advertiser's NodeId.
const ID_KEY: &str = "id";
/// Addresses taken from one advertisement at most.
const MAX_ADDRS: usize = 8;
/// A node found again within this long is not dialled again.
const REDISCOVER: Duration = Duration::from_secs(60);

/// What an advertisement says: who, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub node: NodeId,
    pub addrs: Vec<SocketAddr>,
}

/// Read an advertisement's id and addresses; `None` when it is not a
/// usable cairn advertisement.
pub fn parse_advert(id: Option<&str>, ips: &[IpAddr], port: u16) -> Option<Advert> {
    let node: NodeId = id?.parse().ok()?;
    if port == 0 {
        return None;
    }
    let mut addrs: Vec<SocketAddr> = ips
        .iter()
        .filter(|ip| !ip.is_unspecified() && !ip.is_multicast())
        .map(|ip| SocketAddr::new(*ip, port))
        .collect();
    addrs.sort();
    addrs.dedup();
    addrs.truncate(MAX_ADDRS);
    (!addrs.is_empty()).then_some(Advert { node, addrs })
}

/// Advertise this node and dial the nodes found, until `cancel`. Failing to
/// start mDNS (no multicast on this host) is logged and leaves the node
/// running without LAN discovery.
pub async fn run(service: PeerService, port: u16, cancel: CancellationToken) {
    let local = service.pool().local_id();
    let daemon = match ServiceDaemon::new() {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "mDNS unavailable; LAN discovery is off");
            return;
        }
    };
    let text = local.to_string();
    let instance = &text[..16.min(text.len())];
    let host = format!("cairn-{instance}.local.");
    let props = [(ID_KEY, text.as_str())];
    match ServiceInfo::new(SERVICE_TYPE, instance, &host, "", port, &props[..]) {
        Ok(info) => {
            if let Err(e) = daemon.register(info.enable_addr_auto()) {
                warn!(error = %e, "cannot advertise this node over mDNS");
            }
        }
        Err(e) => warn!(error = %e, "cannot build this node's mDNS advertisement"),
    }
    let events = match daemon.browse(SERVICE_TYPE) {
        Ok(rx) => rx,
        Err(e) => {
            warn!(error = %e, "cannot browse mDNS; LAN discovery is off");
            let _ = daemon.shutdown();
            return;
        }
    };
    info!("LAN discovery (mDNS) on");
    let mut seen: std::collections::HashMap<NodeId, std::time::Instant> = Default::default();
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => break,
            ev = events.recv_async() => match ev {
                Ok(ev) => ev,
                Err(_) => break,
            },
        };
        let ServiceEvent::ServiceResolved(found) = ev else {
            continue;
        };
        let ips: Vec<IpAddr> = found.addresses.iter().map(|a| a.to_ip_addr()).collect();
        let Some(advert) = parse_advert(
            found.txt_properties.get_property_val_str(ID_KEY),
            &ips,
            found.port,
        ) else {
            debug!(name = %found.fullname, "ignoring an unusable mDNS advertisement");
            continue;
        };
        if advert.node == local || service.pool().get(&advert.node).is_some() {
            continue;
        }
        if seen
            .get(&advert.node)
            .is_some_and(|t| t.elapsed() < REDISCOVER)
        {
            continue;
        }
        seen.insert(advert.node, std::time::Instant::now());
        if seen.len() > 4096 {
            seen.retain(|_, t| t.elapsed() < REDISCOVER);
        }
        let svc = service.clone();
        tokio::spawn(async move {
            match svc.meet(advert.node, &advert.addrs, Source::Mdns).await {
                Ok(_) => info!(peer = %advert.node, "met a node on the LAN"),
                Err(e) => debug!(peer = %advert.node, error = %e, "LAN node not reachable"),
            }
        });
    }
    let _ = daemon.shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_transport::Identity;

    #[test]
    fn an_advert_needs_a_valid_id_a_port_and_an_address() {
        let id = Identity::generate().node_id();
        let text = id.to_string();
        let ip: IpAddr = "192.168.1.7".parse().unwrap();
        let a = parse_advert(Some(&text), &[ip, ip], 4100).unwrap();
        assert_eq!(a.node, id);
        assert_eq!(a.addrs, vec!["192.168.1.7:4100".parse().unwrap()]);
        assert!(parse_advert(None, &[ip], 4100).is_none());
        assert!(parse_advert(Some("not-an-id"), &[ip], 4100).is_none());
        assert!(parse_advert(Some(&text), &[ip], 0).is_none());
        assert!(parse_advert(Some(&text), &["0.0.0.0".parse().unwrap()], 4100).is_none());
        let many: Vec<IpAddr> = (1..=20).map(|i| IpAddr::from([10, 0, 0, i])).collect();
        assert_eq!(
            parse_advert(Some(&text), &many, 1).unwrap().addrs.len(),
            MAX_ADDRS
        );
    }
}
