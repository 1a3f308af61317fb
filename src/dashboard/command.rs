//! The `:` command line: the CLI's commands typed inside the dashboard,
//! parsed into [`Action`]s (or into a few commands of the dashboard itself).
//!
//! A pure function of the typed text, so every command and every error text
//! is unit-tested. The words and value forms are the CLI's (`4+2`,
//! `copies=3`, `10GiB`, `store=on`), so what works in a shell works here.
//! Checks that need the node's state (does that peer or path exist?) are the
//! app's, not the parser's.

use std::str::FromStr;

use crate::api::snapshot::{Action, LendChanges, PermissionChanges, Redundancy};
use crate::ticket::{Ticket, TicketError};
use cairn_transport::NodeId;

use super::app::Tab;

/// Longest command line accepted.
pub const MAX_LINE: usize = 4096;

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Something for the node.
    Action(Action),
    /// Leave the dashboard (`q`, `quit`).
    Quit,
    /// Show the help popup (`help`).
    Help,
    /// Switch to a tab (`overview`, `peers`, `files`, …, `pair`).
    Tab(Tab),
}

/// Why a command line was refused; the text is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error("type a command, e.g. `add ~/photos 4+2` (`help` lists them)")]
    Empty,
    #[error("the command line is too long (at most {MAX_LINE} characters)")]
    TooLong,
    #[error("unterminated quote")]
    Quote,
    #[error("unknown command `{0}` (`help` lists the commands)")]
    Unknown(String),
    #[error("usage: {0}")]
    Usage(&'static str),
    #[error(
        "`{0}` is not a redundancy target: use `copies=N` (1-32) or `K+M` (K >= 1, K+M <= 255)"
    )]
    Redundancy(String),
    #[error("bad ticket: {0}")]
    Ticket(TicketError),
    #[error("`{0}` is not a node id: give at least 4 characters of one")]
    Node(String),
    #[error("`{0}` is not a size: use e.g. 500MiB, 10GiB, 1TB or a byte count")]
    Size(String),
    #[error("`{0}` is not a rate: use e.g. 5MiB/s, 100KB/s or `unlimited`")]
    Rate(String),
    #[error(
        "`{0}` is not a permission change: use store|fetch|compute|relay=on|off, or +store / -store"
    )]
    Permission(String),
    #[error("`{0}` is not a CPU share: give a percent of one core, 0-100")]
    Cpu(String),
    #[error("no known peer's id starts with `{0}`")]
    NoPeer(String),
    #[error("`{0}` matches several peers: type more of the id")]
    AmbiguousPeer(String),
    #[error("`{0}` is not a transfer id")]
    TransferId(String),
    #[error("unknown option `{0}`")]
    Option(String),
}

const USAGE_ADD: &str = "add PATH [copies=N | K+M]";
const USAGE_GET: &str = "get CAP|PATH DEST";
const USAGE_CAT: &str = "cat CAP|PATH";
const USAGE_LS: &str = "ls [CAP|PATH]";
const USAGE_RM: &str = "rm PATH";
const USAGE_CAP: &str = "cap PATH";
const USAGE_PEERS: &str = "peers ban|allow NODE | peers set NODE store=on fetch=off …";
const USAGE_JOIN: &str = "join TICKET";
const USAGE_INVITE: &str = "invite [--pairing]";
const USAGE_REDUNDANCY: &str = "redundancy PATH copies=N|K+M";
const USAGE_LEND: &str = "lend [storage=SIZE] [up=RATE] [down=RATE] [cpu=PERCENT]";
const USAGE_CANCEL: &str = "cancel TRANSFER-ID";

/// Parse one command line.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    if line.len() > MAX_LINE {
        return Err(CommandError::TooLong);
    }
    let words = split(line)?;
    let Some((cmd, args)) = words.split_first() else {
        return Err(CommandError::Empty);
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let action = match (cmd.as_str(), args.as_slice()) {
        ("q" | "quit" | "exit", []) => return Ok(Command::Quit),
        ("help" | "?", []) => return Ok(Command::Help),
        ("overview", []) => return Ok(Command::Tab(Tab::Overview)),
        ("peers", []) => return Ok(Command::Tab(Tab::Peers)),
        ("files", []) => return Ok(Command::Tab(Tab::Files)),
        ("transfers", []) => return Ok(Command::Tab(Tab::Transfers)),
        ("market", []) => return Ok(Command::Tab(Tab::Market)),
        ("logs", []) => return Ok(Command::Tab(Tab::Logs)),
        ("pair", []) => return Ok(Command::Tab(Tab::Pair)),

        ("add", [path]) => Action::Add {
            path: path.to_string(),
            redundancy: None,
        },
        ("add", [path, r]) | ("add", [path, "--redundancy" | "-r", r]) => Action::Add {
            path: path.to_string(),
            redundancy: Some(parse_redundancy(r)?),
        },
        ("add", _) => return Err(CommandError::Usage(USAGE_ADD)),
        ("get", [source, dest]) => Action::Get {
            source: source.to_string(),
            dest: dest.to_string(),
        },
        ("get", _) => return Err(CommandError::Usage(USAGE_GET)),
        ("cat", [source]) => Action::Cat {
            source: source.to_string(),
        },
        ("cat", _) => return Err(CommandError::Usage(USAGE_CAT)),
        ("ls", []) => Action::Ls { source: None },
        ("ls", [source]) => Action::Ls {
            source: Some(source.to_string()),
        },
        ("ls", _) => return Err(CommandError::Usage(USAGE_LS)),
        ("rm", [path]) => Action::Remove {
            path: path.to_string(),
        },
        ("rm", _) => return Err(CommandError::Usage(USAGE_RM)),
        ("cap" | "export", [path]) => Action::ExportCap {
            path: path.to_string(),
        },
        ("cap" | "export", _) => return Err(CommandError::Usage(USAGE_CAP)),
        ("gc", []) => Action::Gc,
        ("gc", _) => return Err(CommandError::Usage("gc")),
        ("verify", []) => Action::Verify,
        ("verify", _) => return Err(CommandError::Usage("verify")),
        ("peers", ["ban", node]) => Action::Ban {
            peer: parse_node(node)?,
        },
        ("peers", ["allow", node]) => Action::Allow {
            peer: parse_node(node)?,
        },
        ("peers", ["set", node, changes @ ..]) if !changes.is_empty() => Action::SetPermissions {
            peer: parse_node(node)?,
            changes: parse_permissions(changes)?,
        },
        ("peers", _) => return Err(CommandError::Usage(USAGE_PEERS)),
        ("join", [ticket]) => {
            Ticket::from_str(ticket).map_err(CommandError::Ticket)?;
            Action::Join {
                ticket: ticket.to_string(),
            }
        }
        ("join", _) => return Err(CommandError::Usage(USAGE_JOIN)),
        ("invite", []) => Action::Invite { pairing: false },
        ("invite", ["--pairing" | "pairing"]) => Action::Invite { pairing: true },
        ("invite", _) => return Err(CommandError::Usage(USAGE_INVITE)),
        ("redundancy", [path, r]) => Action::SetRedundancy {
            path: path.to_string(),
            redundancy: parse_redundancy(r)?,
        },
        ("redundancy", _) => return Err(CommandError::Usage(USAGE_REDUNDANCY)),
        ("lend", []) => return Err(CommandError::Usage(USAGE_LEND)),
        ("lend", opts) => Action::Lend {
            changes: parse_lend(opts)?,
        },
        ("cancel", [id]) => Action::CancelTransfer {
            id: id
                .parse()
                .map_err(|_| CommandError::TransferId(id.to_string()))?,
        },
        ("cancel", _) => return Err(CommandError::Usage(USAGE_CANCEL)),
        // Every other CLI command: run as the CLI would, on this node.
        (
            "market" | "stream" | "status" | "snapshot" | "ledger" | "bench" | "dht" | "id"
            | "stats",
            _,
        ) => Action::Cli {
            args: words.clone(),
        },
        (other, _) => return Err(CommandError::Unknown(other.to_owned())),
    };
    Ok(Command::Action(action))
}

/// Split a line into words, with `"…"` and `'…'` quoting and `\` escapes
/// outside single quotes (enough for paths with spaces).
pub fn split(line: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                    in_word = true;
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(CommandError::Quote);
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `copies=N`, `N` (copies), `xN` or `K+M`.
pub fn parse_redundancy(s: &str) -> Result<Redundancy, CommandError> {
    let bad = || CommandError::Redundancy(s.to_owned());
    let t = s.trim();
    if let Some((k, m)) = t.split_once('+') {
        let k: u16 = k.trim().parse().map_err(|_| bad())?;
        let m: u16 = m.trim().parse().map_err(|_| bad())?;
        if k == 0 || k + m > 255 {
            return Err(bad());
        }
        return Ok(Redundancy::Erasure {
            k: k as u8,
            m: m as u8,
        });
    }
    let n = t
        .strip_prefix("copies=")
        .or_else(|| t.strip_prefix('x'))
        .unwrap_or(t);
    let n: u8 = n.trim().parse().map_err(|_| bad())?;
    if !(1..=32).contains(&n) {
        return Err(bad());
    }
    Ok(Redundancy::Copies { n })
}

/// A node reference: a whole NodeId, or a prefix of at least 4 base32
/// characters (the app resolves a prefix against the known peers).
pub fn parse_node(s: &str) -> Result<String, CommandError> {
    let t = s.trim().to_ascii_lowercase();
    let base32 = |c: char| c.is_ascii_lowercase() || ('2'..='7').contains(&c);
    if t.len() == 52 {
        NodeId::from_str(&t).map_err(|_| CommandError::Node(s.to_owned()))?;
        return Ok(t);
    }
    if t.len() < 4 || t.len() > 52 || !t.chars().all(base32) {
        return Err(CommandError::Node(s.to_owned()));
    }
    Ok(t)
}

/// A size: a byte count or a number with a unit (`KB`, `KiB`, `K`, … up to
/// `TB`/`TiB`; one-letter units are binary, as in `du -h`).
pub fn parse_size(s: &str) -> Result<u64, CommandError> {
    let bad = || CommandError::Size(s.to_owned());
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        "t" | "tib" => 1 << 40,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// A rate: a size per second (`5MiB/s`, `/s` optional), or `unlimited`
/// (`None`).
pub fn parse_rate(s: &str) -> Result<Option<u64>, CommandError> {
    let t = s.trim();
    if matches!(t, "unlimited" | "none" | "off") {
        return Ok(None);
    }
    let body = t.strip_suffix("/s").unwrap_or(t);
    parse_size(body)
        .map(Some)
        .map_err(|_| CommandError::Rate(s.to_owned()))
}

/// A CPU share, percent of one core.
pub fn parse_cpu(s: &str) -> Result<u8, CommandError> {
    let t = s.trim().trim_end_matches('%');
    match t.parse::<u8>() {
        Ok(p) if p <= 100 => Ok(p),
        _ => Err(CommandError::Cpu(s.to_owned())),
    }
}

/// `store=on fetch=off +relay -compute` (on/off, yes/no, true/false, 1/0).
pub fn parse_permissions(words: &[&str]) -> Result<PermissionChanges, CommandError> {
    let mut changes = PermissionChanges::default();
    for w in words {
        let bad = || CommandError::Permission(w.to_string());
        let (name, on) = if let Some(n) = w.strip_prefix('+') {
            (n, true)
        } else if let Some(n) = w.strip_prefix('-') {
            (n, false)
        } else if let Some((n, v)) = w.split_once('=') {
            let on = match v.to_ascii_lowercase().as_str() {
                "on" | "yes" | "true" | "1" | "allow" => true,
                "off" | "no" | "false" | "0" | "deny" => false,
                _ => return Err(bad()),
            };
            (n, on)
        } else {
            return Err(bad());
        };
        let slot = match name {
            "store" => &mut changes.store,
            "fetch" => &mut changes.fetch,
            "compute" => &mut changes.compute,
            "relay" => &mut changes.relay,
            _ => return Err(bad()),
        };
        *slot = Some(on);
    }
    Ok(changes)
}

/// `storage=10GiB up=5MiB/s down=unlimited cpu=50`, or the same as
/// `--storage 10GiB` options.
fn parse_lend(opts: &[&str]) -> Result<LendChanges, CommandError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < opts.len() {
        let w = opts[i];
        if let Some(name) = w.strip_prefix("--") {
            let value = opts.get(i + 1).ok_or(CommandError::Usage(USAGE_LEND))?;
            pairs.push((name.to_owned(), value.to_string()));
            i += 2;
        } else if let Some((n, v)) = w.split_once('=') {
            pairs.push((n.to_owned(), v.to_owned()));
            i += 1;
        } else {
            return Err(CommandError::Usage(USAGE_LEND));
        }
    }
    let mut c = LendChanges::default();
    for (name, value) in pairs {
        match name.as_str() {
            "storage" | "disk" => c.storage = Some(parse_size(&value)?),
            "up" | "upload" => c.upload_rate = Some(parse_rate(&value)?),
            "down" | "download" => c.download_rate = Some(parse_rate(&value)?),
            "cpu" => c.cpu_percent = Some(parse_cpu(&value)?),
            _ => return Err(CommandError::Option(name)),
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Ticket;

    fn action(line: &str) -> Action {
        match parse(line) {
            Ok(Command::Action(a)) => a,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    fn error(line: &str) -> String {
        match parse(line) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{line:?} was accepted as {c:?}"),
        }
    }

    fn ticket() -> String {
        Ticket {
            node_id: [7; 32],
            addrs: vec!["127.0.0.1:7341".parse().unwrap()],
            secret: None,
        }
        .to_string()
    }

    #[test]
    fn add_takes_a_path_and_an_optional_redundancy_in_either_form() {
        assert_eq!(
            action("add /home/a/photos"),
            Action::Add {
                path: "/home/a/photos".into(),
                redundancy: None
            }
        );
        let want = Action::Add {
            path: "/home/a/my photos".into(),
            redundancy: Some(Redundancy::Erasure { k: 4, m: 2 }),
        };
        assert_eq!(action("add '/home/a/my photos' 4+2"), want);
        assert_eq!(action("add \"/home/a/my photos\" -r 4+2"), want);
        assert_eq!(action(r"add /home/a/my\ photos --redundancy 4+2"), want);
        assert_eq!(
            action("add x copies=3"),
            Action::Add {
                path: "x".into(),
                redundancy: Some(Redundancy::Copies { n: 3 })
            }
        );
    }

    #[test]
    fn every_file_command_parses() {
        assert_eq!(
            action("get cairncap1 /tmp/out"),
            Action::Get {
                source: "cairncap1".into(),
                dest: "/tmp/out".into()
            }
        );
        assert_eq!(
            action("cat /a"),
            Action::Cat {
                source: "/a".into()
            }
        );
        assert_eq!(action("ls"), Action::Ls { source: None });
        assert_eq!(
            action("ls /a"),
            Action::Ls {
                source: Some("/a".into())
            }
        );
        assert_eq!(action("rm /a"), Action::Remove { path: "/a".into() });
        assert_eq!(action("export /a"), Action::ExportCap { path: "/a".into() });
        assert_eq!(action("gc"), Action::Gc);
        assert_eq!(action("verify"), Action::Verify);
        assert_eq!(
            action("redundancy /a 10+4"),
            Action::SetRedundancy {
                path: "/a".into(),
                redundancy: Redundancy::Erasure { k: 10, m: 4 }
            }
        );
        assert_eq!(action("cancel 17"), Action::CancelTransfer { id: 17 });
    }

    #[test]
    fn peer_commands_parse_node_prefixes_and_permission_changes() {
        assert_eq!(
            action("peers ban ABCD"),
            Action::Ban {
                peer: "abcd".into()
            }
        );
        assert_eq!(
            action("peers allow abcd2"),
            Action::Allow {
                peer: "abcd2".into()
            }
        );
        assert_eq!(
            action("peers set abcd store=off +relay -compute fetch=yes"),
            Action::SetPermissions {
                peer: "abcd".into(),
                changes: PermissionChanges {
                    store: Some(false),
                    fetch: Some(true),
                    compute: Some(false),
                    relay: Some(true),
                }
            }
        );
        let full = NodeId::from_bytes([3; 32]).to_string();
        assert_eq!(
            action(&format!("peers ban {full}")),
            Action::Ban { peer: full }
        );
    }

    #[test]
    fn join_checks_the_ticket_and_invite_takes_pairing() {
        let t = ticket();
        assert_eq!(
            action(&format!("join {t}")),
            Action::Join { ticket: t.clone() }
        );
        assert_eq!(action("invite"), Action::Invite { pairing: false });
        assert_eq!(action("invite --pairing"), Action::Invite { pairing: true });
        assert!(error("join cairnzzzz").starts_with("bad ticket:"));
        assert_eq!(
            error("join hello"),
            "bad ticket: not a cairn ticket (it must start with \"cairn\")"
        );
    }

    #[test]
    fn lend_takes_sizes_rates_and_cpu_in_both_option_forms() {
        let want = Action::Lend {
            changes: LendChanges {
                storage: Some(10 << 30),
                upload_rate: Some(Some(5 << 20)),
                download_rate: Some(None),
                cpu_percent: Some(50),
            },
        };
        assert_eq!(
            action("lend storage=10GiB up=5MiB/s down=unlimited cpu=50%"),
            want
        );
        assert_eq!(
            action("lend --storage 10G --upload 5MiB --download off --cpu 50"),
            want
        );
        assert_eq!(
            error("lend cpu=150"),
            "`150` is not a CPU share: give a percent of one core, 0-100"
        );
        assert_eq!(error("lend color=red"), "unknown option `color`");
        assert_eq!(
            error("lend storage=lots"),
            "`lots` is not a size: use e.g. 500MiB, 10GiB, 1TB or a byte count"
        );
        assert!(error("lend").starts_with("usage: lend"));
    }

    #[test]
    fn dashboard_commands_and_pass_through_commands() {
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert_eq!(parse("help"), Ok(Command::Help));
        assert_eq!(parse("  peers  "), Ok(Command::Tab(Tab::Peers)));
        assert_eq!(parse("pair"), Ok(Command::Tab(Tab::Pair)));
        assert_eq!(
            action("market offers --json"),
            Action::Cli {
                args: vec!["market".into(), "offers".into(), "--json".into()]
            }
        );
        assert_eq!(
            action("status"),
            Action::Cli {
                args: vec!["status".into()]
            }
        );
        assert_eq!(
            action("snapshot"),
            Action::Cli {
                args: vec!["snapshot".into()]
            }
        );
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        assert_eq!(
            error(""),
            "type a command, e.g. `add ~/photos 4+2` (`help` lists them)"
        );
        assert_eq!(
            error("frobnicate"),
            "unknown command `frobnicate` (`help` lists the commands)"
        );
        assert_eq!(error("add"), "usage: add PATH [copies=N | K+M]");
        assert_eq!(error("add 'unclosed"), "unterminated quote");
        assert!(error("add /a 0+2").contains("is not a redundancy target"));
        assert!(error("add /a 200+100").contains("is not a redundancy target"));
        assert!(error("add /a copies=0").contains("is not a redundancy target"));
        assert!(error("redundancy /a lots").contains("`lots` is not a redundancy target"));
        assert_eq!(
            error("peers ban xy"),
            "`xy` is not a node id: give at least 4 characters of one"
        );
        assert!(error("peers ban abc1").contains("is not a node id"));
        assert!(error("peers set abcd store=maybe").contains("`store=maybe` is not a permission"));
        assert!(error("peers set abcd").starts_with("usage: peers"));
        assert!(error("peers kick abcd").starts_with("usage: peers"));
        assert_eq!(error("cancel x"), "`x` is not a transfer id");
        assert_eq!(error(&"a".repeat(5000)), error(&"b".repeat(4097)));
    }

    #[test]
    fn sizes_and_rates_parse_decimal_and_binary_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("2 MB"), Ok(2_000_000));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1e999").is_err());
        assert_eq!(parse_rate("100KB/s"), Ok(Some(100_000)));
        assert_eq!(parse_rate("unlimited"), Ok(None));
    }

    #[test]
    fn action_display_is_the_cli_command_that_parses_back() {
        for line in [
            "add /a 4+2",
            "add /a copies=3",
            "get cap /tmp/x",
            "peers ban abcd",
            "peers set abcd store=on relay=off",
            "redundancy /a 6+3",
            "lend --storage 1024 --upload unlimited --cpu 5",
            "rm /a",
            "gc",
            "verify",
            "ls",
            "cancel 4",
            "invite --pairing",
        ] {
            let a = action(line);
            assert_eq!(action(&a.to_string()), a, "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_parser_never_panics(line in "\\PC{0,200}") {
            let _ = parse(&line);
        }

        #[test]
        fn redundancy_text_round_trips(k in 1u8..=200, m in 0u8..=55) {
            let r = Redundancy::Erasure { k, m };
            proptest::prop_assert_eq!(parse_redundancy(&r.to_string()), Ok(r));
        }
    }
}
