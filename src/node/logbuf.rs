//! The node's recent tracing events, kept in memory for the dashboard's Logs
//! tab.
//!
//! Why a ring and a `tracing_subscriber::Layer`: the dashboard shows the
//! newest events of a node that may run for months, so memory must stay
//! bounded ([`MAX_LOG_EVENTS`]) whatever the log rate; and a layer sees every
//! event the node's subscriber lets through (the same `RUST_LOG` / `node.log`
//! filter as stderr), so no call site knows about the dashboard. A version
//! counter that moves on every push lets the snapshot task copy the ring only
//! when something was logged, which keeps an idle node's snapshots unchanged.
//!
//! One process-wide ring ([`LogBuf::global`]) because the tracing subscriber
//! is process-wide too.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::api::snapshot::{Level, LogEvent, MAX_LOG_EVENTS};

/// Longest message kept per event, in bytes; longer ones are cut with `…`.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// A bounded ring of the newest log events; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct LogBuf {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    events: Mutex<VecDeque<LogEvent>>,
    /// Events pushed since creation; changes whenever the content does.
    version: AtomicU64,
}

impl LogBuf {
    /// A ring keeping the newest `cap` events (at least one).
    pub fn new(cap: usize) -> LogBuf {
        let cap = cap.max(1);
        LogBuf {
            inner: Arc::new(Inner {
                cap,
                events: Mutex::new(VecDeque::with_capacity(cap.min(64))),
                version: AtomicU64::new(0),
            }),
        }
    }

    /// The process's ring, [`MAX_LOG_EVENTS`] long, that
    /// [`crate::logging::init`] feeds and the node's snapshots copy.
    pub fn global() -> &'static LogBuf {
        static GLOBAL: OnceLock<LogBuf> = OnceLock::new();
        GLOBAL.get_or_init(|| LogBuf::new(MAX_LOG_EVENTS))
    }

    /// Add an event, dropping the oldest when full.
    pub fn push(&self, event: LogEvent) {
        let mut events = self.inner.events.lock();
        if events.len() == self.inner.cap {
            events.pop_front();
        }
        events.push_back(event);
        self.inner.version.fetch_add(1, Ordering::Release);
    }

    /// Changes whenever an event was pushed; compare to skip copying.
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    /// The events, oldest first.
    pub fn events(&self) -> Vec<LogEvent> {
        self.inner.events.lock().iter().cloned().collect()
    }

    /// A layer that records every event it sees into this ring.
    pub fn layer(&self) -> LogLayer {
        LogLayer { buf: self.clone() }
    }
}

/// The `tracing_subscriber` layer behind [`LogBuf::layer`].
#[derive(Debug, Clone)]
pub struct LogLayer {
    buf: LogBuf,
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.buf.push(LogEvent {
            time_ms,
            level: level_of(meta.level()),
            target: meta.target().to_owned(),
            message: v.finish(),
        });
    }
}

fn level_of(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::TRACE => Level::Trace,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warn,
        _ => Level::Error,
    }
}

/// Renders an event as `message key=value …` on one line, bounded.
#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl MessageVisitor {
    fn finish(self) -> String {
        let mut out = self.message;
        if !self.fields.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&self.fields);
        }
        let mut out: String = out
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if out.len() > MAX_MESSAGE_LEN {
            let mut cut = MAX_MESSAGE_LEN;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
        }
        out
    }
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.message.len() + self.fields.len() > MAX_MESSAGE_LEN {
            return;
        }
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.message.len() + self.fields.len() > MAX_MESSAGE_LEN {
            return;
        }
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn ev(n: u64) -> LogEvent {
        LogEvent {
            time_ms: n,
            level: Level::Info,
            target: "t".into(),
            message: format!("m{n}"),
        }
    }

    #[test]
    fn ring_keeps_only_the_newest_events_in_order() {
        let buf = LogBuf::new(3);
        for n in 0..5 {
            buf.push(ev(n));
        }
        let times: Vec<u64> = buf.events().iter().map(|e| e.time_ms).collect();
        assert_eq!(times, vec![2, 3, 4]);
    }

    #[test]
    fn version_moves_only_when_an_event_is_pushed() {
        let buf = LogBuf::new(2);
        let v0 = buf.version();
        let _ = buf.events();
        assert_eq!(buf.version(), v0);
        buf.push(ev(1));
        assert_ne!(buf.version(), v0);
    }

    #[test]
    fn layer_records_level_target_message_and_fields() {
        let buf = LogBuf::new(10);
        let subscriber = tracing_subscriber::registry().with(buf.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "cairn::test", peer = "abc", n = 3, "peer\nslow");
        });
        let events = buf.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Level::Warn);
        assert_eq!(events[0].target, "cairn::test");
        assert_eq!(events[0].message, "peer slow peer=abc n=3");
    }

    #[test]
    fn long_messages_are_cut_to_the_limit() {
        let buf = LogBuf::new(10);
        let subscriber = tracing_subscriber::registry().with(buf.layer());
        let long = "x".repeat(MAX_MESSAGE_LEN * 3);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("{long}");
        });
        let msg = &buf.events()[0].message;
        assert!(msg.len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
        assert!(msg.ends_with('…'));
    }
}
