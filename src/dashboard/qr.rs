//! The pairing QR code, drawn with half blocks: two modules per terminal cell
//! vertically, so a version-4 code (33 modules, which a two-address ticket
//! needs) is 35×18 cells with its quiet zone and fits an 80×24 terminal.
//!
//! The ticket is encoded as `cairn` followed by its base32 body in upper case:
//! tickets parse case-insensitively after the prefix, and upper case lets
//! the QR encoder use its alphanumeric mode, which makes the code a version
//! or two smaller than byte mode would.

use qrcode::{EcLevel, QrCode};

/// Modules of quiet zone around the code.
const QUIET: usize = 1;

/// The text put in the QR code for a ticket.
pub fn qr_text(ticket: &str) -> String {
    match ticket.strip_prefix(crate::ticket::PREFIX) {
        Some(body) => format!("{}{}", crate::ticket::PREFIX, body.to_ascii_uppercase()),
        None => ticket.to_owned(),
    }
}

/// The code as lines of half-block characters, where `ink` modules are drawn
/// (`dark_ink`: dark modules are ink, for a light background; otherwise
/// light modules are ink, for a terminal's dark background without colour).
pub fn lines(text: &str, dark_ink: bool) -> Option<Vec<String>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 2 * QUIET;
    let dark = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= w + QUIET || y >= w + QUIET {
            return false;
        }
        colors.get((y - QUIET) * w + (x - QUIET)) == Some(&qrcode::Color::Dark)
    };
    let ink = |x: usize, y: usize| y < size && dark(x, y) == dark_ink;
    let mut out = Vec::with_capacity(size.div_ceil(2));
    for y in (0..size).step_by(2) {
        let line: String = (0..size)
            .map(|x| match (ink(x, y), ink(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            })
            .collect();
        out.push(line);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Ticket;

    #[test]
    fn a_two_address_ticket_fits_an_80x24_terminal_and_keeps_its_meaning() {
        let t = Ticket {
            node_id: [9; 32],
            addrs: vec![
                "192.168.1.20:7341".parse().unwrap(),
                "10.0.0.5:7341".parse().unwrap(),
            ],
            secret: None,
        }
        .to_string();
        let text = qr_text(&t);
        assert_eq!(text.parse::<Ticket>().unwrap().to_string(), t);
        let l = lines(&text, true).unwrap();
        assert!(l.len() <= 18, "{} rows", l.len());
        assert!(l.iter().all(|r| r.chars().count() == l[0].chars().count()));
        assert!(l[0].chars().count() <= 35);
    }
}
