//! A sans-io reader of server-sent events (the `text/event-stream` format),
//! for the client side of `GET /v1/events`.
//!
//! Why hand-written: the client needs only `event:` and `data:` lines of a
//! trusted-but-bounded local stream, and a push parser (bytes in, whole
//! events out) is a few dozen lines that are easy to fuzz, where a crate
//! would bring its own HTTP stack. Every line and every event has a size
//! limit, so a misbehaving server cannot make the client grow without bound.

/// Longest event (all its `data:` lines together) the parser accepts.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// One complete event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, `"message"` when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Why the stream cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    #[error("an event of the server's stream exceeds {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    #[error("the server's event stream is not UTF-8")]
    NotUtf8,
}

/// Push parser: [`SseParser::push`] bytes as they arrive, get whole events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    /// Bytes held in `line`, `event` and `data`.
    held: usize,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feed bytes; returns the events they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.held -= line.len().min(self.held);
                if let Some(ev) = self.line_done(&line)? {
                    out.push(ev);
                }
            } else {
                self.line.push(b);
                self.held += 1;
                if self.held > MAX_EVENT_BYTES {
                    return Err(SseError::TooLarge);
                }
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            // A blank line ends the event; one without data is dropped.
            let event = self.event.take();
            let data = self.data.take();
            self.held = 0;
            return Ok(data.map(|data| SseEvent {
                event: event.unwrap_or_else(|| "message".to_owned()),
                data,
            }));
        }
        if line[0] == b':' {
            return Ok(None); // a comment (keep-alive)
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => {
                self.held += value.len();
                self.event = Some(value.to_owned());
            }
            "data" => {
                self.held += value.len() + 1;
                match &mut self.data {
                    None => self.data = Some(value.to_owned()),
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                }
            }
            _ => {} // id, retry and unknown fields are not used
        }
        if self.held > MAX_EVENT_BYTES {
            return Err(SseError::TooLarge);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn events_with_names_data_and_comments_are_read() {
        let mut p = SseParser::new();
        let evs = p
            .push(b": keep-alive\n\nevent: snapshot\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n")
            .unwrap();
        assert_eq!(
            evs,
            vec![
                SseEvent {
                    event: "snapshot".into(),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "x\ny".into()
                },
            ]
        );
    }

    #[test]
    fn crlf_line_ends_are_accepted() {
        let mut p = SseParser::new();
        let evs = p.push(b"event: snapshot\r\ndata: 1\r\n\r\n").unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data, "1");
    }

    #[test]
    fn an_endless_line_is_refused_at_the_limit() {
        let mut p = SseParser::new();
        let chunk = vec![b'a'; 1 << 20];
        let mut result = Ok(Vec::new());
        for _ in 0..=(MAX_EVENT_BYTES >> 20) {
            result = p.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SseError::TooLarge));
    }

    proptest! {
        #[test]
        fn any_split_of_the_stream_gives_the_same_events(
            datas in proptest::collection::vec("[a-z0-9{}\":, ]{0,40}", 1..6),
            cut in 0usize..400,
        ) {
            let mut text = String::new();
            for d in &datas {
                text.push_str(&format!("event: snapshot\ndata: {d}\n\n"));
            }
            let bytes = text.as_bytes();
            let cut = cut.min(bytes.len());
            let mut p = SseParser::new();
            let mut evs = p.push(&bytes[..cut]).unwrap();
            evs.extend(p.push(&bytes[cut..]).unwrap());
            let got: Vec<String> = evs.into_iter().map(|e| e.data).collect();
            prop_assert_eq!(got, datas);
        }
    }
}
