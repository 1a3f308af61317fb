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
//!
//! With a file ([`super::persist`]) it also keeps the provider records it
//! holds for others across restarts: it loads them before the first input,
//! notes which keys an ADD_PROVIDER touched, and at most once a second hands
//! their current records (and, when the table changed, its contacts) to a
//! writer task through a small bounded queue, so a disk write never stalls
//! the core. On shutdown it queues the rest and waits for the writer.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::{DhtStats, Shared, TableEntry, node_of, now, persist, streams};
use crate::dht::{
    Action, Dht, DhtError, Key, Message, Misbehaviour, PeerInfo, QueryId, QueryResult, Request,
    RequestId, SignedRecord, Time,
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
    /// The on-disk copy of provider records and contacts, when kept.
    persist: Option<Persistence>,
}

/// Written at most this often while provider records arrive (a batch per
/// interval keeps a burst of announcements to one transaction).
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// The contact list is compared with the last written one this often.
const CONTACTS_INTERVAL: Duration = Duration::from_secs(30);
/// Batches waiting for the writer task; when full, keys stay dirty.
const WRITE_QUEUE: usize = 4;

/// One write for the writer task.
struct Batch {
    providers: persist::ProviderBatch,
    contacts: Option<Vec<PeerInfo>>,
}

/// What the driver keeps to write the file.
struct Persistence {
    /// Keys whose providers changed since the last batch.
    dirty: HashSet<Key>,
    /// The contact list as last written.
    contacts: Vec<PeerInfo>,
    next_flush: Option<Instant>,
    next_contacts: Instant,
    writer: mpsc::Sender<Batch>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the driver until the service is cancelled; with `file`, loads the
/// stored records first and writes the last batch before `done` is set.
pub(crate) async fn run(
    dht: Dht,
    mut inbox: mpsc::Receiver<Input>,
    shared: Arc<Shared>,
    file: Option<PathBuf>,
    done: watch::Sender<bool>,
) {
    let cancel = shared.cancel.clone();
    let mut d = Driver {
        dht,
        shared,
        waiting: HashMap::new(),
        replies: HashMap::new(),
        persist: None,
    };
    if let Some(path) = file {
        d.open_file(path).await;
    }
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
        d.flush(false);
    }
    if let Some(p) = d.final_flush().await {
        let _ = p.await;
    }
    let _ = done.send(true);
    debug!("dht service stopped");
}

/// Writes batches in order, each on a blocking thread.
async fn write_batches(
    db: Arc<redb::Database>,
    mut rx: mpsc::Receiver<Batch>,
    shared: Arc<Shared>,
) {
    let c = &shared.counters;
    while let Some(b) = rx.recv().await {
        let db = db.clone();
        let res = tokio::task::spawn_blocking(move || {
            persist::write(&db, &b.providers, b.contacts.as_deref())
        })
        .await;
        match res {
            Ok(Ok(())) => super::Counters::bump(&c.batches_written),
            Ok(Err(e)) => warn!(error = %e, "cannot write DHT records"),
            Err(e) => warn!(error = %e, "DHT write task failed"),
        }
        c.batches_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Upper bound of one sleep: timers the core adds later (a query started by a
/// command) are seen after the command anyway; this only bounds clock drift.
const MAX_SLEEP: Duration = Duration::from_secs(60);

impl Driver {
    fn until_deadline(&self) -> Duration {
        let core = match self.dht.next_deadline() {
            Some(at) => {
                let ms = at.0.saturating_sub(now().0);
                // A deadline already due still yields a millisecond, so a
                // timer the core cannot advance never spins the task.
                Duration::from_millis(ms.max(1)).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        };
        match &self.persist {
            Some(p) => {
                let due = p.next_flush.unwrap_or(p.next_contacts);
                core.min(
                    due.saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                )
            }
            None => core,
        }
    }

    /// Open the file, load what it holds into the core, and start the writer.
    /// A file that cannot be opened leaves the DHT running in memory only.
    async fn open_file(&mut self, path: PathBuf) {
        let t = now();
        let opened = tokio::task::spawn_blocking(move || {
            let db = persist::open(&path)?;
            let loaded = persist::load(&db, t)?;
            Ok::<_, persist::PersistError>((db, loaded))
        })
        .await;
        let (db, loaded) = match opened {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot open the DHT file; provider records are kept in memory only");
                return;
            }
            Err(e) => {
                warn!(error = %e, "DHT file task failed; provider records are kept in memory only");
                return;
            }
        };
        let t = now();
        let mut restored = 0usize;
        for (key, peer, expires) in loaded.providers {
            if self.dht.restore_provider(key, peer, expires, t).is_ok() {
                restored += 1;
            }
        }
        for c in &loaded.contacts {
            self.dht.add_peer(c.clone(), t);
        }
        info!(
            providers = restored,
            contacts = loaded.contacts.len(),
            skipped = loaded.skipped,
            "DHT records loaded"
        );
        let (writer, rx) = mpsc::channel(WRITE_QUEUE);
        let task = tokio::spawn(write_batches(Arc::new(db), rx, self.shared.clone()));
        self.persist = Some(Persistence {
            dirty: HashSet::new(),
            contacts: sorted_contacts(&self.dht),
            next_flush: None,
            next_contacts: Instant::now() + CONTACTS_INTERVAL,
            writer,
            task,
        });
    }

    /// Providers of `key` changed: write them with the next batch.
    fn mark_dirty(&mut self, key: Key) {
        if let Some(p) = &mut self.persist {
            p.dirty.insert(key);
            p.next_flush
                .get_or_insert_with(|| Instant::now() + FLUSH_INTERVAL);
        }
    }

    /// The batch due now (or everything, with `all`), if any.
    fn batch(&mut self, all: bool) -> Option<Batch> {
        let p = self.persist.as_mut()?;
        let t = Instant::now();
        let providers_due = all || p.next_flush.is_some_and(|at| at <= t);
        let contacts_due = all || p.next_contacts <= t;
        if !providers_due && !contacts_due {
            return None;
        }
        let mut providers = Vec::new();
        if providers_due {
            let at = now();
            for key in p.dirty.drain() {
                let live = self
                    .dht
                    .provider_entries(&key)
                    .into_iter()
                    .filter(|(_, exp)| *exp > at)
                    .collect();
                providers.push((key, live));
            }
            p.next_flush = None;
        }
        let mut contacts = None;
        if contacts_due {
            p.next_contacts = t + CONTACTS_INTERVAL;
            let now_contacts = sorted_contacts(&self.dht);
            if now_contacts != p.contacts {
                p.contacts = now_contacts.clone();
                contacts = Some(now_contacts);
            }
        }
        if providers.is_empty() && contacts.is_none() {
            return None;
        }
        Some(Batch {
            providers,
            contacts,
        })
    }

    /// Hand the due batch to the writer; when its queue is full the keys
    /// stay dirty for the next interval.
    fn flush(&mut self, all: bool) {
        let Some(b) = self.batch(all) else { return };
        let Some(p) = &mut self.persist else { return };
        let in_flight = &self.shared.counters.batches_in_flight;
        in_flight.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b)) =
            p.writer.try_send(b)
        {
            in_flight.fetch_sub(1, Ordering::Relaxed);
            p.dirty.extend(b.providers.into_iter().map(|(k, _)| k));
            if b.contacts.is_some() {
                // Write the contacts again next time.
                p.contacts.clear();
            }
            p.next_flush = Some(Instant::now() + FLUSH_INTERVAL);
        }
    }

    /// On shutdown: queue everything not yet written and close the queue;
    /// returns the writer task to await.
    async fn final_flush(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        let b = self.batch(true);
        let p = self.persist.take()?;
        if let Some(b) = b {
            let in_flight = &self.shared.counters.batches_in_flight;
            in_flight.fetch_add(1, Ordering::Relaxed);
            if p.writer.send(b).await.is_err() {
                in_flight.fetch_sub(1, Ordering::Relaxed);
            }
        }
        drop(p.writer);
        Some(p.task)
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
                let provided = match &message {
                    Message::Request {
                        body: Request::AddProvider { key, .. },
                        ..
                    } => Some(*key),
                    _ => None,
                };
                self.replies.insert(slot, reply);
                self.dht.handle_message(from, message, now);
                if let Some(key) = provided {
                    self.mark_dirty(key);
                }
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
            providing_keys: self.dht.providing(),
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
            batches_written: c.batches_written.load(Ordering::Relaxed),
            persist_pending: self.persist.as_ref().map_or(0, |p| p.dirty.len())
                + c.batches_in_flight.load(Ordering::Relaxed) as usize,
        }
    }
}

/// The routing table's peers, by id (compared with the last written list).
fn sorted_contacts(dht: &Dht) -> Vec<PeerInfo> {
    let mut v: Vec<PeerInfo> = dht.routing_table().iter().map(|e| e.peer.clone()).collect();
    v.sort_by_key(|p| p.id);
    v
}
