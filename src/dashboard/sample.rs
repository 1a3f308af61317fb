//! Realistic, deterministic snapshots for tests, the benchmark and docs.
//!
//! Public (not `cfg(test)`) because the criterion benchmark is a separate
//! crate and because a demo without a node is useful when working on the
//! dashboard. Numbers come from a fixed-seed generator, so every run and
//! every snapshot test draws the same screen.

use crate::api::snapshot::*;
use crate::ticket::Ticket;
use cairn_transport::NodeId;

/// The instant every sample is taken at: 2025-11-24 16:00:00 UTC.
pub const SAMPLE_TIME_MS: u64 = 1_764_000_000_000;

/// A small deterministic generator (SplitMix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The text NodeId of sample node `i`.
pub fn node_id(i: u64) -> String {
    NodeId::from_bytes(*blake3::hash(&i.to_le_bytes()).as_bytes()).to_string()
}

fn ticket(id: &str) -> String {
    let node: NodeId = id.parse().unwrap_or(NodeId::from_bytes([0; 32]));
    Ticket {
        node_id: *node.as_bytes(),
        addrs: vec![
            "192.168.1.20:7341".parse().expect("literal address"),
            "10.0.0.5:7341".parse().expect("literal address"),
        ],
        secret: None,
    }
    .to_string()
}

/// An empty node: just started, no peers, nothing stored.
pub fn empty() -> Snapshot {
    let id = node_id(0);
    Snapshot {
        version: SNAPSHOT_VERSION,
        seq: 1,
        taken_at_ms: SAMPLE_TIME_MS,
        node: NodeSummary {
            ticket: ticket(&id),
            node_id: id,
            version: "0.1.0".into(),
            addresses: vec!["192.168.1.20:7341".into(), "10.0.0.5:7341".into()],
            uptime_secs: 4,
            data_dir: "/home/ada/.local/share/cairn".into(),
        },
        space: Space {
            disk_free: 412 << 30,
            disk_total: 476 << 30,
            ..Space::default()
        },
        traffic: Traffic {
            sample_secs: 1,
            ..Traffic::default()
        },
        ..Snapshot::default()
    }
}

/// A busy node with `peers` peers and `files` paths.
pub fn sample(peers: usize, files: usize) -> Snapshot {
    let mut g = Gen(42);
    let mut s = empty();
    s.seq = 1234;
    s.node.uptime_secs = 3 * 86_400 + 7 * 3600 + 125;
    s.space = Space {
        own: ClassUsage {
            used: 38 << 30,
            quota: Some(100 << 30),
        },
        hosted: ClassUsage {
            used: 41 << 30,
            quota: Some(50 << 30),
        },
        cache: ClassUsage {
            used: 6 << 30,
            quota: Some(20 << 30),
        },
        stored_on_peers: 57 << 30,
        network_quota: Some(80 << 30),
        disk_free: 331 << 30,
        disk_total: 476 << 30,
    };
    let wave = |i: u64, period: u64, amp: u64| {
        let phase = (i % period) as f64 / period as f64 * std::f64::consts::TAU;
        ((phase.sin() + 1.2) * amp as f64) as u64
    };
    s.traffic = Traffic {
        sample_secs: 1,
        up: (0..MAX_RATE_SAMPLES as u64)
            .map(|i| wave(i, 47, 900_000) + g.below(300_000))
            .collect(),
        down: (0..MAX_RATE_SAMPLES as u64)
            .map(|i| wave(i + 13, 71, 2_400_000) + g.below(600_000))
            .collect(),
        total_up: 183 << 30,
        total_down: 402 << 30,
    };
    s.credit = Credit {
        balance: 1_873,
        earned: 9_420,
        spent: 7_547,
    };

    s.peers = (1..=peers as u64)
        .map(|i| {
            let connected = i % 7 != 3;
            let banned = i % 53 == 5;
            let streams = if connected { 1 + g.below(12) as u32 } else { 0 };
            Peer {
                node_id: node_id(i),
                address: Some(format!(
                    "{}.{}.{}.{}:7341",
                    10 + g.below(200),
                    g.below(256),
                    g.below(256),
                    1 + g.below(254)
                )),
                connected: connected && !banned,
                latency_ms: (connected && !banned).then(|| 2 + g.below(180) as u32),
                streams,
                cipher: (streams > 0).then_some(if i % 3 == 0 {
                    Cipher::Aes256Gcm
                } else {
                    Cipher::ChaCha20Poly1305
                }),
                epoch_out: g.below(400),
                epoch_in: g.below(400),
                since_rotation_secs: connected.then(|| g.below(75)),
                bytes_out: g.below(40 << 30),
                bytes_in: g.below(40 << 30),
                credit: g.below(2000) as i64 - 800,
                reputation: (40 + g.below(61)) as u8,
                permissions: Permissions {
                    store: i % 5 != 0,
                    fetch: true,
                    compute: i % 4 == 0,
                    relay: i % 2 == 0,
                },
                banned,
            }
        })
        .collect();

    s.files = files_tree(&mut g, files);

    s.transfers = vec![
        transfer(
            1,
            Direction::Up,
            "/photos/2024/trip-042.raw",
            7,
            38 << 20,
            Some(96 << 20),
            3 << 20,
            TransferState::Running,
        ),
        transfer(
            2,
            Direction::Down,
            "/music/album-03/track-07.flac",
            4,
            12 << 20,
            Some(31 << 20),
            1 << 20,
            TransferState::Running,
        ),
        transfer(
            3,
            Direction::Up,
            "repair /documents/taxes-2023.pdf",
            3,
            0,
            Some(4 << 20),
            0,
            TransferState::Queued,
        ),
        transfer(
            4,
            Direction::Down,
            "cap:3k7x…f2a",
            6,
            700 << 20,
            None,
            5 << 20,
            TransferState::Running,
        ),
        transfer(
            5,
            Direction::Up,
            "/photos/2024/trip-041.raw",
            6,
            91 << 20,
            Some(91 << 20),
            0,
            TransferState::Done,
        ),
        transfer(
            6,
            Direction::Down,
            "/video/talk.mkv",
            0,
            220 << 20,
            Some(1 << 30),
            0,
            TransferState::Failed {
                error: "no peer holds shard 3 of chunk 812".into(),
            },
        ),
    ];

    let peer = |i: u64| node_id(1 + i % peers.max(1) as u64);
    s.market = Market {
        offers: vec![
            Offer {
                id: "of1".into(),
                peer: s.node.node_id.clone(),
                mine: true,
                resource: Resource::Storage,
                amount: 50 << 30,
                price_micros: 12,
            },
            Offer {
                id: "of2".into(),
                peer: peer(2),
                mine: false,
                resource: Resource::Storage,
                amount: 200 << 30,
                price_micros: 10,
            },
            Offer {
                id: "of3".into(),
                peer: peer(5),
                mine: false,
                resource: Resource::Bandwidth,
                amount: 10 << 30,
                price_micros: 3,
            },
            Offer {
                id: "of4".into(),
                peer: peer(8),
                mine: false,
                resource: Resource::Cpu,
                amount: 5_000_000,
                price_micros: 1,
            },
        ],
        contracts: vec![
            Contract {
                id: "ct1".into(),
                peer: peer(2),
                we_host: false,
                resource: Resource::Storage,
                amount: 30 << 30,
                expires_in_secs: Some(20 * 86_400),
                state: ContractState::Active,
            },
            Contract {
                id: "ct2".into(),
                peer: peer(4),
                we_host: true,
                resource: Resource::Storage,
                amount: 20 << 30,
                expires_in_secs: Some(9 * 86_400),
                state: ContractState::Active,
            },
            Contract {
                id: "ct3".into(),
                peer: peer(6),
                we_host: true,
                resource: Resource::Bandwidth,
                amount: 5 << 30,
                expires_in_secs: None,
                state: ContractState::Ended,
            },
        ],
        receipts: (0..30u64)
            .map(|i| Receipt {
                seq: 912 - i,
                peer: peer(i),
                resource: if i % 3 == 0 {
                    Resource::Bandwidth
                } else {
                    Resource::Storage
                },
                amount: (1 + g.below(900)) << 20,
                credit: g.below(40) as i64 - 15,
                age_secs: i * 97,
            })
            .collect(),
        audits: (0..20u64)
            .map(|i| Audit {
                peer: peer(i * 3),
                we_were_challenged: i % 4 == 1,
                block: blake3::hash(&i.to_le_bytes()).to_hex().to_string(),
                passed: i != 6,
                age_secs: i * 311,
            })
            .collect(),
        ledger: Ledger {
            entries: 913,
            head: blake3::hash(b"head").to_hex().to_string(),
            verification: Verification::Verified { age_secs: 340 },
        },
        lending: Lending {
            storage: 50 << 30,
            upload_rate: Some(5 << 20),
            download_rate: None,
            cpu_percent: 25,
        },
    };

    let targets = [
        "cairn_transport::rotate",
        "cairn::exchange",
        "cairn::placement",
        "cairn::dht",
        "cairn::market",
    ];
    let messages = [
        "rotated stream key epoch={} peer={}",
        "fetched block {} from {} in {}ms",
        "placed shard {} on {}",
        "FIND_NODE {} found 20 closest in {}ms",
        "audit challenge sent to {}",
    ];
    s.logs = (0..400u64)
        .map(|i| {
            let level = match g.below(40) {
                0 => Level::Error,
                1..=3 => Level::Warn,
                4..=25 => Level::Info,
                26..=35 => Level::Debug,
                _ => Level::Trace,
            };
            let k = (i % 5) as usize;
            let mut msg = messages[k].to_owned();
            for _ in 0..3 {
                if let Some(p) = msg.find("{}") {
                    let v = if msg[..p].ends_with("peer=")
                        || msg[..p].ends_with("from ")
                        || msg[..p].ends_with("on ")
                        || msg[..p].ends_with("to ")
                    {
                        node_id(1 + g.below(peers.max(1) as u64))[..8].to_owned()
                    } else {
                        g.below(1000).to_string()
                    };
                    msg.replace_range(p..p + 2, &v);
                }
            }
            if level == Level::Error {
                msg = format!(
                    "peer {} sent a block that does not match its id; penalised",
                    &node_id(1 + i % 9)[..8]
                );
            }
            LogEvent {
                time_ms: SAMPLE_TIME_MS - (400 - i) * 1_700,
                level,
                target: targets[k].to_owned(),
                message: msg,
            }
        })
        .collect();

    s.alerts = alerts(&s);
    s
}

/// A node in trouble: paths lost and at risk, a failed ledger check, a
/// nearly full disk, errors in the log. (The link-lost banner is the app's
/// state, not the snapshot's.)
pub fn troubled() -> Snapshot {
    let mut s = sample(12, 40);
    for (i, f) in s.files.iter_mut().enumerate() {
        if f.kind != EntryKind::File {
            continue;
        }
        if i % 5 == 1 {
            f.health.available = f.redundancy.needed().max(f.health.target.saturating_sub(2));
            f.health.chunks_at_risk = 7;
        }
        if i % 11 == 2 {
            f.health.available = f.redundancy.needed().saturating_sub(1);
            f.health.chunks_lost = 2;
        }
    }
    aggregate_dirs(&mut s.files);
    s.space.disk_free = 3 << 30;
    s.market.ledger.verification = Verification::Failed {
        reason: "entry 771 is not signed by its counterparty".into(),
    };
    s.alerts = alerts(&s);
    s.alerts.insert(
        0,
        Alert {
            severity: Severity::Critical,
            kind: AlertKind::Ledger,
            message: "ledger verification failed: entry 771 is not signed by its counterparty"
                .into(),
        },
    );
    s.alerts.insert(
        0,
        Alert {
            severity: Severity::Critical,
            kind: AlertKind::DiskFull,
            message: "disk nearly full: 3.0 GiB free of 476.0 GiB".into(),
        },
    );
    s
}

#[allow(clippy::too_many_arguments)]
fn transfer(
    id: u64,
    direction: Direction,
    name: &str,
    peers: u32,
    done: u64,
    total: Option<u64>,
    rate: u64,
    state: TransferState,
) -> Transfer {
    Transfer {
        id,
        direction,
        name: name.into(),
        peers,
        bytes_done: done,
        bytes_total: total,
        rate,
        state,
    }
}

fn alerts(s: &Snapshot) -> Vec<Alert> {
    let mut out: Vec<Alert> = s
        .files
        .iter()
        .filter(|f| f.policy_here || f.health.chunks_lost > 0)
        .filter(|f| f.health.state() != HealthState::Healthy)
        .map(|f| Alert {
            severity: if f.health.chunks_lost > 0 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            kind: AlertKind::BelowRedundancy,
            message: format!(
                "{} below its target {}: worst chunk {}/{} shards, {} chunks at risk, {} lost",
                f.path,
                f.redundancy,
                f.health.available,
                f.health.target,
                f.health.chunks_at_risk,
                f.health.chunks_lost
            ),
        })
        .collect();
    out.extend(s.peers.iter().filter(|p| p.banned).map(|p| Alert {
        severity: Severity::Info,
        kind: AlertKind::PeerBanned,
        message: format!("peer {} is banned", &p.node_id[..12]),
    }));
    out.sort_by_key(|a| std::cmp::Reverse(a.severity));
    out
}

fn files_tree(g: &mut Gen, n: usize) -> Vec<FileEntry> {
    let roots: [(&str, Redundancy); 4] = [
        ("/photos", Redundancy::Erasure { k: 4, m: 2 }),
        ("/documents", Redundancy::Copies { n: 3 }),
        ("/music", Redundancy::Erasure { k: 6, m: 3 }),
        ("/video", Redundancy::Erasure { k: 10, m: 4 }),
    ];
    let mut out = Vec::with_capacity(n);
    let mut dir_no = 0u64;
    'outer: while out.len() < n {
        for (root, r) in roots {
            if out.len() >= n {
                break 'outer;
            }
            if dir_no == 0 {
                out.push(entry(g, root, EntryKind::Dir, r, true));
                continue;
            }
            let dir = format!("{root}/{}", 2000 + dir_no);
            out.push(entry(g, &dir, EntryKind::Dir, r, dir_no % 9 == 4));
            let per_dir = 24;
            for f in 0..per_dir {
                if out.len() >= n {
                    break 'outer;
                }
                let ext = match root {
                    "/photos" => "jpg",
                    "/documents" => "pdf",
                    "/music" => "flac",
                    _ => "mkv",
                };
                out.push(entry(
                    g,
                    &format!("{dir}/file-{f:03}.{ext}"),
                    EntryKind::File,
                    r,
                    false,
                ));
            }
        }
        dir_no += 1;
    }
    aggregate_dirs(&mut out);
    out
}

/// Directory sizes and health summarise their contents.
fn aggregate_dirs(out: &mut [FileEntry]) {
    let snapshot = out.to_vec();
    for d in out.iter_mut().filter(|e| e.kind == EntryKind::Dir) {
        let prefix = format!("{}/", d.path);
        let mut size = 0;
        let mut worst = d.health.target;
        let (mut chunks, mut risk, mut lost) = (0, 0, 0);
        for f in snapshot
            .iter()
            .filter(|f| f.kind == EntryKind::File && f.path.starts_with(&prefix))
        {
            size += f.size;
            worst = worst.min(f.health.available);
            chunks += f.health.chunks;
            risk += f.health.chunks_at_risk;
            lost += f.health.chunks_lost;
        }
        d.size = size;
        d.health.available = worst;
        d.health.chunks = chunks;
        d.health.chunks_at_risk = risk;
        d.health.chunks_lost = lost;
    }
}

fn entry(g: &mut Gen, path: &str, kind: EntryKind, r: Redundancy, policy_here: bool) -> FileEntry {
    let size = if kind == EntryKind::File {
        (1 << 16) + g.below(48 << 20)
    } else {
        0
    };
    let chunks = size.div_ceil(1 << 20);
    let target = r.target();
    let risky = kind == EntryKind::File && g.below(40) == 0;
    FileEntry {
        path: path.into(),
        kind,
        size,
        redundancy: r,
        policy_here,
        health: Health {
            available: if risky { target - 1 } else { target },
            target,
            chunks,
            chunks_at_risk: if risky { 1 + g.below(chunks.max(1)) } else { 0 },
            chunks_lost: 0,
            repairs: u32::from(risky),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_the_asked_sizes_and_are_deterministic() {
        let a = sample(1000, 10_000);
        assert_eq!(a.peers.len(), 1000);
        assert_eq!(a.files.len(), 10_000);
        assert_eq!(a, sample(1000, 10_000));
        assert!(
            a.alerts
                .iter()
                .any(|x| x.kind == AlertKind::BelowRedundancy)
        );
        let json = serde_json::to_string(&a).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
