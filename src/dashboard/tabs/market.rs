//! Market: the ledger's state and what this node lends, then offers,
//! contracts, receipts and audits. Later issues fill the market; an empty
//! one says so instead of drawing empty tables.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::api::snapshot::{ContractState, Resource, Verification};

use super::super::app::App;
use super::super::fmt;
use super::super::theme::Theme;
use super::super::ui::panel;

fn amount(r: Resource, n: u64) -> String {
    match r {
        Resource::Storage | Resource::Bandwidth => fmt::bytes(n),
        Resource::Cpu | Resource::Other => format!("{n} fuel"),
    }
}

fn list<'a>(
    frame: &mut Frame,
    area: Rect,
    t: &Theme,
    title: String,
    lines: Vec<Line<'a>>,
    empty: &'static str,
) {
    let block = panel(t, title);
    let lines = if lines.is_empty() {
        vec![Line::styled(empty, t.dim)]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let m = &app.snapshot.market;
    let [top, grid] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(area);
    let [ledger_area, lend_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);

    let verification = match &m.ledger.verification {
        Verification::Unverified => Span::styled("not verified yet", t.warn),
        Verification::Verified { age_secs } => {
            Span::styled(format!("verified {} ago", fmt::duration(*age_secs)), t.good)
        }
        Verification::Failed { reason } => Span::styled(format!("BROKEN: {reason}"), t.bad),
    };
    let ledger = vec![
        Line::from(vec![
            Span::styled("entries ", t.header),
            Span::raw(format!(
                "{}  head {}",
                m.ledger.entries,
                fmt::short(&m.ledger.head, 12)
            )),
        ]),
        Line::from(vec![Span::styled("status  ", t.header), verification]),
    ];
    frame.render_widget(
        Paragraph::new(ledger).block(panel(t, " Ledger ")),
        ledger_area,
    );

    let l = &m.lending;
    let rate = |r: Option<u64>| r.map_or("unlimited".into(), fmt::rate);
    let lending = vec![
        Line::from(format!(
            "disk {}  cpu {}%",
            fmt::bytes(l.storage),
            l.cpu_percent
        )),
        Line::from(format!(
            "↑ {}  ↓ {}",
            rate(l.upload_rate),
            rate(l.download_rate)
        )),
    ];
    frame.render_widget(
        Paragraph::new(lending).block(panel(t, " Lending (e to edit) ")),
        lend_area,
    );

    let [row1, row2] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(grid);
    let [offers_a, contracts_a] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(row1);
    let [receipts_a, audits_a] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(row2);

    let rows = |a: Rect| a.height.saturating_sub(2) as usize;
    let offers = m
        .offers
        .iter()
        .take(rows(offers_a))
        .map(|o| {
            Line::from(format!(
                "{} {:<9} {:>10} @{}µ {}",
                if o.mine { "★" } else { " " },
                o.resource.to_string(),
                amount(o.resource, o.amount),
                o.price_micros,
                fmt::short(&o.peer, 8)
            ))
        })
        .collect();
    list(
        frame,
        offers_a,
        t,
        format!(" Offers ({}) ", m.offers.len()),
        offers,
        "No offers.",
    );

    let contracts = m
        .contracts
        .iter()
        .take(rows(contracts_a))
        .map(|c| {
            let (word, style) = match c.state {
                ContractState::Active => ("active", t.good),
                ContractState::Ended => ("ended", t.dim),
                ContractState::Breached => ("BREACHED", t.bad),
                ContractState::Other => ("?", t.dim),
            };
            Line::from(vec![
                Span::styled(format!("{word:<8} "), style),
                Span::raw(format!(
                    "{} {:<9} {:>10} {}",
                    if c.we_host { "host" } else { "user" },
                    c.resource.to_string(),
                    amount(c.resource, c.amount),
                    fmt::short(&c.peer, 8)
                )),
            ])
        })
        .collect();
    list(
        frame,
        contracts_a,
        t,
        format!(" Contracts ({}) ", m.contracts.len()),
        contracts,
        "No contracts.",
    );

    let receipts = m
        .receipts
        .iter()
        .take(rows(receipts_a))
        .map(|r| {
            Line::from(format!(
                "#{:<5} {:<9} {:>10} {:>6} {}",
                r.seq,
                r.resource.to_string(),
                amount(r.resource, r.amount),
                fmt::signed(r.credit),
                fmt::short(&r.peer, 8)
            ))
        })
        .collect();
    list(
        frame,
        receipts_a,
        t,
        format!(" Receipts ({}) ", m.receipts.len()),
        receipts,
        "No receipts.",
    );

    let audits = m
        .audits
        .iter()
        .take(rows(audits_a))
        .map(|a| {
            Line::from(vec![
                Span::styled(
                    if a.passed { "pass " } else { "FAIL " },
                    if a.passed { t.good } else { t.bad },
                ),
                Span::raw(format!(
                    "{} {} {} ago{}",
                    fmt::short(&a.peer, 8),
                    fmt::short(&a.block, 10),
                    fmt::duration(a.age_secs),
                    if a.we_were_challenged { " (us)" } else { "" }
                )),
            ])
        })
        .collect();
    list(
        frame,
        audits_a,
        t,
        format!(" Audits ({}) ", m.audits.len()),
        audits,
        "No audits.",
    );
}
