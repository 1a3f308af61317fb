//! Every control-stream decoder: message plaintexts, `Hello`, and sealed
//! frames fed to a live control state machine.
#![no_main]
use std::time::{Duration, Instant};

use cairn_transport::control::{ControlState, Role, decode_message, hello_secret, parse_hello};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_message(data);
    let _ = parse_hello(data);
    let now = Instant::now();
    let (secret, _) = hello_secret();
    let role = if data.first().is_some_and(|b| b & 1 == 1) { Role::Dialler } else { Role::Listener };
    let mut state = ControlState::new(role, &[0u8; 32], secret, &[9u8; 32], Duration::from_secs(60), Duration::from_secs(15), now);
    for chunk in data.chunks(64) {
        if state.on_frame(chunk, now + Duration::from_secs(5)).is_err() {
            break;
        }
    }
});
