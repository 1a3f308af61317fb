//! Styles, in one place, with a monochrome twin for `NO_COLOR`.
//!
//! Every widget takes its styles from a [`Theme`] instead of naming colours,
//! so honouring `NO_COLOR` (<https://no-color.org>) is one switch: the
//! monochrome theme uses only modifiers (bold, reversed, underlined, dim),
//! which carry meaning without colour, and never sets a foreground or
//! background colour.

use ratatui::style::{Color, Modifier, Style};

/// The styles the dashboard draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours are used at all.
    pub color: bool,
    /// The product name and the selected tab.
    pub accent: Style,
    /// Tabs not selected, hints, secondary text.
    pub dim: Style,
    /// Table headers and labels.
    pub header: Style,
    /// The selected row.
    pub selected: Style,
    /// Block borders.
    pub border: Style,
    /// The border of the focused popup.
    pub popup: Style,
    /// Good news: healthy, connected, verified.
    pub good: Style,
    /// Needs a look: at risk, warnings.
    pub warn: Style,
    /// Bad news: lost, banned, errors.
    pub bad: Style,
    /// Upload sparkline and arrows.
    pub up: Style,
    /// Download sparkline and arrows.
    pub down: Style,
    /// The filled part of gauges.
    pub gauge: Style,
    /// Key names in hints and help.
    pub key: Style,
    /// Dark modules of the QR code on a light field (colour theme only).
    pub qr: Style,
}

impl Theme {
    /// The theme for the environment: monochrome when `NO_COLOR` is set to
    /// anything but the empty string.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color {
            Theme::mono()
        } else {
            Theme::colored()
        }
    }

    /// The colour theme (16 ANSI colours, so it follows the terminal's palette).
    pub fn colored() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            color: true,
            accent: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            dim: fg(Color::DarkGray),
            header: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            popup: fg(Color::Cyan),
            good: fg(Color::Green),
            warn: fg(Color::Yellow),
            bad: fg(Color::Red).add_modifier(Modifier::BOLD),
            up: fg(Color::Magenta),
            down: fg(Color::Cyan),
            gauge: fg(Color::Blue),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            qr: Style::new().fg(Color::Black).bg(Color::White),
        }
    }

    /// The monochrome theme: modifiers only, no colour at all.
    pub fn mono() -> Theme {
        let m = |m: Modifier| Style::new().add_modifier(m);
        Theme {
            color: false,
            accent: m(Modifier::BOLD),
            dim: m(Modifier::DIM),
            header: m(Modifier::BOLD | Modifier::UNDERLINED),
            selected: m(Modifier::REVERSED),
            border: Style::new(),
            popup: m(Modifier::BOLD),
            good: Style::new(),
            warn: m(Modifier::BOLD),
            bad: m(Modifier::BOLD | Modifier::UNDERLINED),
            up: Style::new(),
            down: Style::new(),
            gauge: Style::new(),
            key: m(Modifier::BOLD),
            qr: Style::new(),
        }
    }
}
