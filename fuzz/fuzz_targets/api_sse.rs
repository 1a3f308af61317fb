//! Fuzzes the client's server-sent-events reader (the `GET /v1/events`
//! stream): bytes in arbitrary splits must never panic, and each event it
//! returns, like the bytes it holds, stays within `MAX_EVENT_BYTES`.
#![no_main]

use cairn::api::sse::{MAX_EVENT_BYTES, SseParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut parser = SseParser::new();
    for chunk in rest.chunks(usize::from(split).max(1)) {
        match parser.push(chunk) {
            Ok(events) => {
                for ev in events {
                    assert!(ev.data.len() + ev.event.len() <= MAX_EVENT_BYTES + 1);
                }
            }
            Err(_) => return,
        }
    }
});
