//! Tickets come from other people: decoding any bytes or text must not
//! panic, and whatever decodes must encode back to the same ticket.
#![no_main]

use cairn::ticket::Ticket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Ticket::from_bytes(data) {
        assert_eq!(Ticket::from_bytes(&t.to_bytes()).as_ref(), Ok(&t));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = text.parse::<Ticket>() {
            assert_eq!(t.to_string().parse::<Ticket>().as_ref(), Ok(&t));
        }
    }
});
