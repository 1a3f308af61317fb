//! Which addresses to hand to others (tickets): the configured announce
//! list, else the listen addresses with an unspecified IP replaced by this
//! machine's interface addresses.

use std::net::{IpAddr, SocketAddr};

use crate::config::NodeConfig;

/// The addresses to put in a ticket, for listen addresses as configured.
pub fn announce_addrs(node: &NodeConfig) -> Vec<SocketAddr> {
    if !node.announce.is_empty() {
        return node.announce.clone();
    }
    expand(&node.listen)
}

/// Replace unspecified IPs by every interface address of the same family,
/// non-loopback first.
pub fn expand(listen: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut ifaces: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|v| v.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default();
    ifaces.sort_by_key(|ip| (ip.is_loopback(), ip.is_ipv6()));
    let mut out = Vec::new();
    for a in listen {
        if a.ip().is_unspecified() {
            for ip in &ifaces {
                if ip.is_ipv4() == a.is_ipv4() {
                    out.push(SocketAddr::new(*ip, a.port()));
                }
            }
        } else {
            out.push(*a);
        }
    }
    out.dedup();
    out.truncate(crate::ticket::MAX_ADDRS);
    out
}
