//! Tickets: one copy-pastable string that says how to reach a node.
//!
//! A ticket is what a person sends to another (by chat, mail or a QR code) so
//! their nodes can meet: the NodeId, which the handshake checks, the addresses
//! to try, and for pairing one's own devices an optional one-time secret.
//! Because tickets come from other people they are decoded with limits, and
//! the format is versioned.
//!
//! Text form: `cairn` followed by the lowercase RFC 4648 base32 (no padding)
//! of the binary form:
//!
//! ```text
//! version   u8        1
//! node_id   [u8; 32]  BLAKE3 of the node's Ed25519 public key
//! flags     u8        bit 0: a pairing secret follows the addresses; other bits 0
//! count     u8        number of addresses, at most 16
//! address*  family u8 (4 or 6), IP (4 or 16 bytes), port u16 big-endian
//! secret    [u8; 32]  only if flag bit 0
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;

/// The text prefix of every ticket.
pub const PREFIX: &str = "cairn";
/// Most addresses a ticket may carry.
pub const MAX_ADDRS: usize = 16;
/// Longest ticket text accepted (the largest valid ticket is far shorter).
pub const MAX_TEXT_LEN: usize = 1024;
const VERSION: u8 = 1;
const FLAG_SECRET: u8 = 1;

/// How to reach a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub node_id: [u8; 32],
    pub addrs: Vec<SocketAddr>,
    pub secret: Option<[u8; 32]>,
}

/// Why a ticket string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TicketError {
    #[error("not a cairn ticket (it must start with \"{PREFIX}\")")]
    Prefix,
    #[error("ticket is too long ({0} characters, at most {MAX_TEXT_LEN})")]
    TooLong(usize),
    #[error("ticket is not valid base32 (was it cut or changed?)")]
    Encoding,
    #[error("ticket is truncated")]
    Truncated,
    #[error("ticket version {0} is not supported (this cairn reads version {VERSION})")]
    Version(u8),
    #[error("ticket has unknown flags {0:#04x}")]
    Flags(u8),
    #[error("ticket has {0} addresses, at most {MAX_ADDRS} are allowed")]
    TooManyAddrs(usize),
    #[error("ticket has no address")]
    NoAddrs,
    #[error("ticket has an address of unknown family {0}")]
    Family(u8),
    #[error("ticket has {0} bytes after its end")]
    Trailing(usize),
}

impl Ticket {
    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(35 + self.addrs.len() * 19 + 32);
        out.push(VERSION);
        out.extend_from_slice(&self.node_id);
        out.push(if self.secret.is_some() {
            FLAG_SECRET
        } else {
            0
        });
        let addrs = &self.addrs[..self.addrs.len().min(MAX_ADDRS)];
        out.push(addrs.len() as u8);
        for a in addrs {
            match a.ip() {
                IpAddr::V4(ip) => {
                    out.push(4);
                    out.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    out.push(6);
                    out.extend_from_slice(&ip.octets());
                }
            }
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        if let Some(s) = &self.secret {
            out.extend_from_slice(s);
        }
        out
    }

    /// Decode the binary form, refusing anything malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ticket, TicketError> {
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(TicketError::Version(version));
        }
        let node_id = r.array::<32>()?;
        let flags = r.u8()?;
        if flags & !FLAG_SECRET != 0 {
            return Err(TicketError::Flags(flags));
        }
        let count = r.u8()? as usize;
        if count > MAX_ADDRS {
            return Err(TicketError::TooManyAddrs(count));
        }
        if count == 0 {
            return Err(TicketError::NoAddrs);
        }
        let mut addrs = Vec::with_capacity(count);
        for _ in 0..count {
            let ip = match r.u8()? {
                4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
                6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
                f => return Err(TicketError::Family(f)),
            };
            let port = u16::from_be_bytes(r.array::<2>()?);
            addrs.push(SocketAddr::new(ip, port));
        }
        let secret = if flags & FLAG_SECRET != 0 {
            Some(r.array::<32>()?)
        } else {
            None
        };
        if !r.0.is_empty() {
            return Err(TicketError::Trailing(r.0.len()));
        }
        Ok(Ticket {
            node_id,
            addrs,
            secret,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, TicketError> {
        Ok(self.array::<1>()?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], TicketError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(TicketError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = BASE32_NOPAD.encode(&self.to_bytes()).to_ascii_lowercase();
        write!(f, "{PREFIX}{body}")
    }
}

impl FromStr for Ticket {
    type Err = TicketError;

    fn from_str(s: &str) -> Result<Ticket, TicketError> {
        let s = s.trim();
        if s.len() > MAX_TEXT_LEN {
            return Err(TicketError::TooLong(s.len()));
        }
        let body = s.strip_prefix(PREFIX).ok_or(TicketError::Prefix)?;
        let bytes = BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| TicketError::Encoding)?;
        Ticket::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Ticket {
        Ticket {
            node_id: [0xab; 32],
            addrs: vec![
                "127.0.0.1:7341".parse().unwrap(),
                "[::1]:9000".parse().unwrap(),
            ],
            secret: Some([5; 32]),
        }
    }

    #[test]
    fn text_round_trip() {
        let t = sample();
        let text = t.to_string();
        assert!(text.starts_with("cairn"));
        assert_eq!(text.parse::<Ticket>().unwrap(), t);
    }

    #[test]
    fn malformed_tickets_get_named_errors() {
        assert_eq!("hello".parse::<Ticket>(), Err(TicketError::Prefix));
        assert_eq!("cairn!!!".parse::<Ticket>(), Err(TicketError::Encoding));
        let text = sample().to_string();
        let cut = &text[..text.len() - 20];
        assert!(cut.parse::<Ticket>().is_err());
        let long = format!("cairn{}", "a".repeat(2000));
        assert_eq!(long.parse::<Ticket>(), Err(TicketError::TooLong(2005)));
        let mut b = sample().to_bytes();
        b[0] = 9;
        assert_eq!(Ticket::from_bytes(&b), Err(TicketError::Version(9)));
        let mut b = sample().to_bytes();
        b.push(0);
        assert_eq!(Ticket::from_bytes(&b), Err(TicketError::Trailing(1)));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Ticket::from_bytes(&bytes);
        }

        #[test]
        fn any_ticket_round_trips(
            id in any::<[u8; 32]>(),
            ports in proptest::collection::vec(any::<u16>(), 1..MAX_ADDRS),
            secret in any::<Option<[u8; 32]>>(),
        ) {
            let addrs = ports.iter().enumerate().map(|(i, p)| {
                if i % 2 == 0 {
                    SocketAddr::from(([10, 0, 0, i as u8], *p))
                } else {
                    SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, i as u16], *p))
                }
            }).collect();
            let t = Ticket { node_id: id, addrs, secret };
            prop_assert_eq!(t.to_string().parse::<Ticket>().unwrap(), t);
        }
    }
}
