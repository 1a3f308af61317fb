//! The terminal dashboard (ratatui + crossterm): the face of cairn.
//!
//! It talks to the node only through the contract in
//! [`crate::api::snapshot`]: it draws [`Snapshot`](crate::api::snapshot::Snapshot)s
//! the node pushes and sends [`Action`](crate::api::snapshot::Action)s back.
//! Nothing here touches the node's internals or the network; the
//! integrator connects the channels of [`run`] to the local API.
//!
//! Shape, after ratatui's demo2 and async-github examples:
//! - [`app`]: the state and a pure `handle(event) -> Option<Action>`;
//! - [`ui`] and [`tabs`]: drawing, one widget per tab, only visible rows;
//! - [`command`] and [`form`]: the `:` line and the forms, validated with the
//!   same parsers;
//! - [`runtime`]: the `select!` loop over a tick, the terminal's
//!   `EventStream` and the snapshot channel, which never blocks on the node.
//!
//! See `docs/DASHBOARD.md` for the keys, the redraw policy and the wiring.

pub mod app;
pub mod command;
pub mod fmt;
pub mod form;
pub mod idle;
pub mod input;
pub mod qr;
pub mod remote;
pub mod runtime;
pub mod sample;
pub mod tabs;
pub mod theme;
pub mod tree;
pub mod ui;

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod render_tests;

pub use app::{App, Mode, Tab};
pub use runtime::{DashboardError, TICK, drive, run};
pub use theme::Theme;
