//! Fuzzes the `dht/1` stream framing (`read_frame`) followed by the message
//! decoder, as the service runs them on bytes from a peer: arbitrary bytes
//! must never panic, never yield a body over the limit, and a byte slice
//! (which never blocks) must always produce an answer at once.
#![no_main]

use std::future::Future;
use std::task::{Context, Poll, Waker};

use cairn::dht::service::frame::read_frame;
use cairn::dht::{MAX_MESSAGE_SIZE, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let mut cx = Context::from_waker(Waker::noop());
    // Each frame consumes at least its 4-byte header, so this ends.
    loop {
        let mut fut = std::pin::pin!(read_frame(&mut input));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(body)) => {
                assert!(body.len() <= MAX_MESSAGE_SIZE);
                let _ = Message::decode(&body);
            }
            Poll::Ready(Err(_)) => break,
            Poll::Pending => panic!("reading from a byte slice never blocks"),
        }
    }
});
