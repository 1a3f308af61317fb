//! The one task that owns the [`Dht`] core.
//!
//! It waits for the next input (a command from a handle, a request or a
//! response from a stream task, a failure) or for the core's next deadline,
//! calls into the core with the wall clock as `now`, and then carries out
//! every action the core queued: a request becomes a stream task, a response
//! goes to the one-shot of the inbound stream that asked, a finished query
//! answers its caller, a misbehaving peer is reported to the peer policy.
//! Nothing here awaits anything but its inbox and its timer, so stream tasks
//! posting into the (bounded) inbox can never deadlock with it.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::{DhtStats, Shared, TableEntry, node_of, now, streams};
use crate::dht::{
    Action, Dht, DhtError, Key, Message, Misbehaviour, PeerInfo, QueryId, QueryResult, RequestId,
    SignedRecord, Time,
};
use crate::net::Severity;

/// An operation a handle starts.
#[derive(Debug)]
pub(crate) enum Op {
    Bootstrap,
    Ping(PeerInfo),
    FindNode(Key),
    Provide(Key),
    GetProviders(Key),
    PutRecord(Box<SignedRecord>),
    GetRecord(Key),
}

/// A command from a [`super::DhtHandle`].
#[derive(Debug)]
pub(crate) enum Command {
    AddPeer {
        peer: PeerInfo,
        reply: oneshot::Sender<()>,
    },
    Start {
        op: Op,
        reply: oneshot::Sender<Result<QueryResult, DhtError>>,
    },
    StopProviding {
        key: Key,
        reply: oneshot::Sender<()>,
    },
    Table {
        reply: oneshot::Sender<Vec<TableEntry>>,
    },
    Stats {
        reply: oneshot::Sender<DhtStats>,
    },
}

/// Everything the driver reacts to.
#[derive(Debug)]
pub(crate) enum Input {
    Command(Command),
    /// A decoded request from an inbound stream; the framed response goes to
    /// `reply`.
    Request {
        from: Key,
        message: Message,
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// A decoded response read on the stream of request `id`.
    Response {
        from: Key,
        message: Message,
    },
    /// A response arrived where a request belongs.
    Unsolicited {
        from: Key,
    },
    /// Request `id` could not be delivered or was not answered.
    SendFailed {
        id: RequestId,
    },
    /// `from` sent bytes that are not a valid frame or message.
    Malformed {
        from: Key,
    },
}

struct Driver {
    dht: Dht,
    shared: Arc<Shared>,
    /// Callers waiting for their query.
    waiting: HashMap<QueryId, oneshot::Sender<Result<QueryResult, DhtError>>>,
    /// Inbound streams waiting for the core's answer, by (peer, request id).
    replies: HashMap<(Key, RequestId), oneshot::Sender<Vec<u8>>>,
}

/// Runs the driver until the service is cancelled.
pub(crate) async fn run(dht: Dht, mut inbox: mpsc::Receiver<Input>, shared: Arc<Shared>) {
    let cancel = shared.cancel.clone();
    let mut d = Driver {
        dht,
        shared,
        waiting: HashMap::new(),
        replies: HashMap::new(),
    };
    loop {
        let sleep = d.until_deadline();
        tokio::select! {
            _ = cancel.cancelled() => break,
            input = inbox.recv() => match input {
                Some(input) => d.on_input(input, now()),
                None => break,
            },
            _ = tokio::time::sleep(sleep) => d.dht.tick(now()),
        }
        d.drain();
    }
    debug!("dht service stopped");
}

/// Upper bound of one sleep: timers the core adds later (a query started by a
/// command) are seen after the command anyway; this only bounds clock drift.
const MAX_SLEEP: Duration = Duration::from_secs(60);

impl Driver {
    fn until_deadline(&self) -> Duration {
        match self.dht.next_deadline() {
            Some(at) => {
                let ms = at.0.saturating_sub(now().0);
                // A deadline already due still yields a millisecond, so a
                // timer the core cannot advance never spins the task.
                Duration::from_millis(ms.max(1)).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        }
    }

    fn on_input(&mut self, input: Input, now: Time) {
        match input {
            Input::Command(cmd) => self.on_command(cmd, now),
            Input::Request {
                from,
                message,
                reply,
            } => {
                let Message::Request { id, .. } = &message else {
                    self.dht.on_unsolicited(&from);
                    return;
                };
                let slot = (from, *id);
                if self.replies.contains_key(&slot) {
                    // The same id twice at once from one peer: the second
                    // cannot be told apart from the first; drop it.
                    debug!(?from, id, "duplicate request id in flight; dropped");
                    return;
                }
                self.replies.insert(slot, reply);
                self.dht.handle_message(from, message, now);
            }
            Input::Response { from, message } => self.dht.handle_message(from, message, now),
            Input::Unsolicited { from } => self.dht.on_unsolicited(&from),
            Input::SendFailed { id } => {
                super::Counters::bump(&self.shared.counters.requests_failed);
                self.dht.on_send_failed(id, now);
            }
            Input::Malformed { from } => {
                super::Counters::bump(&self.shared.counters.malformed);
                self.dht.on_malformed(&from);
            }
        }
    }

    fn on_command(&mut self, cmd: Command, now: Time) {
        match cmd {
            Command::AddPeer { peer, reply } => {
                self.dht.add_peer(peer, now);
                let _ = reply.send(());
            }
            Command::StopProviding { key, reply } => {
                self.dht.stop_providing(&key);
                let _ = reply.send(());
            }
            Command::Table { reply } => {
                let _ = reply.send(self.table());
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            Command::Start { op, reply } => {
                let started = match op {
                    Op::Bootstrap => self.dht.bootstrap(now),
                    Op::Ping(p) => self.dht.ping(p, now),
                    Op::FindNode(k) => self.dht.find_node(k, now),
                    Op::Provide(k) => self.dht.start_providing(k, now),
                    Op::GetProviders(k) => self.dht.get_providers(k, now),
                    Op::PutRecord(r) => self.dht.put_record(*r, now),
                    Op::GetRecord(k) => self.dht.get_record(k, now),
                };
                match started {
                    Ok(qid) => {
                        // Callers that gave up leave closed senders behind;
                        // forget them so the map stays as small as the
                        // number of running queries.
                        self.waiting.retain(|_, tx| !tx.is_closed());
                        self.waiting.insert(qid, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }

    /// Carries out every queued action.
    fn drain(&mut self) {
        while let Some(action) = self.dht.poll_action() {
            match action {
                Action::Send {
                    to,
                    request_id,
                    message,
                } => self.send(to, request_id, message),
                Action::QueryFinished { id, result, stats } => {
                    debug!(?id, ?stats, "query finished");
                    if let Some(tx) = self.waiting.remove(&id) {
                        let _ = tx.send(Ok(result));
                    }
                }
                Action::RequestTimedOut { peer, request_id } => {
                    // The stream task has the same timeout and ends itself.
                    debug!(?peer, request_id, "request timed out");
                }
                Action::PeerMisbehaved { peer, reason } => self.report(peer, &reason),
            }
        }
    }

    fn send(&mut self, to: PeerInfo, request_id: RequestId, message: Message) {
        let frame = match message.encode_frame() {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, "dht message over a limit; not sent");
                if matches!(message, Message::Request { .. }) {
                    self.dht.on_send_failed(request_id, now());
                }
                return;
            }
        };
        match message {
            Message::Request { .. } => {
                match self.shared.outbound_slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        super::Counters::bump(&self.shared.counters.requests_sent);
                        tokio::spawn(streams::request(
                            self.shared.clone(),
                            to,
                            request_id,
                            frame,
                            permit,
                        ));
                    }
                    Err(_) => {
                        super::Counters::bump(&self.shared.counters.requests_failed);
                        self.dht.on_send_failed(request_id, now());
                    }
                }
            }
            Message::Response { .. } => {
                if let Some(tx) = self.replies.remove(&(to.id, request_id)) {
                    let _ = tx.send(frame);
                }
            }
        }
    }

    fn report(&mut self, peer: Key, reason: &Misbehaviour) {
        super::Counters::bump(&self.shared.counters.misbehaviours);
        let what = match reason {
            Misbehaviour::Unsolicited => "dht/1: unsolicited response",
            Misbehaviour::WrongPeer => "dht/1: response from the wrong peer",
            Misbehaviour::WrongResponseType => "dht/1: response of the wrong type",
            Misbehaviour::ForgedRecord => "dht/1: forged record",
            Misbehaviour::Malformed => "dht/1: malformed message",
        };
        self.shared
            .policy
            .offence(&node_of(&peer), Severity::Proven, what);
    }

    fn table(&self) -> Vec<TableEntry> {
        let t = self.dht.routing_table();
        let mut out: Vec<TableEntry> = t
            .iter()
            .map(|e| TableEntry {
                bucket: t.bucket_of(&e.peer.id).unwrap_or(0),
                node: node_of(&e.peer.id),
                addrs: e.peer.addrs.clone(),
                first_seen: e.first_seen,
                last_seen: e.last_seen,
                failures: e.failures,
            })
            .collect();
        out.sort_by_key(|e| (e.bucket, *e.node.as_bytes()));
        out
    }

    fn stats(&self) -> DhtStats {
        let c = &self.shared.counters;
        let (providers, records) = self.dht.stored();
        let cfg = &self.shared.cfg;
        DhtStats {
            table_size: self.dht.routing_table().len(),
            pending_requests: self.dht.pending_requests(),
            running_queries: self.dht.running_queries(),
            stored_provider_keys: providers,
            stored_records: records,
            outbound_active: cfg
                .max_outbound_requests
                .max(1)
                .saturating_sub(self.shared.outbound_slots.available_permits()),
            inbound_active: cfg
                .max_inbound_streams
                .max(1)
                .saturating_sub(self.shared.inbound_slots.available_permits()),
            replies_waiting: self.replies.len(),
            requests_sent: c.requests_sent.load(Ordering::Relaxed),
            requests_failed: c.requests_failed.load(Ordering::Relaxed),
            requests_served: c.requests_served.load(Ordering::Relaxed),
            refused_rate: c.refused_rate.load(Ordering::Relaxed),
            refused_busy: c.refused_busy.load(Ordering::Relaxed),
            refused_banned: c.refused_banned.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            misbehaviours: c.misbehaviours.load(Ordering::Relaxed),
        }
    }
}
