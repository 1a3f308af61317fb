//! Frame render time of every dashboard tab with 1,000 peers and 10,000
//! paths in the snapshot, against the same tab with 30 peers and 300 paths
//! (also a full screen of rows) and with an empty snapshot: the same-run
//! baselines; the ratio to the small one shows that only visible rows cost.
//! Also the per-snapshot cost of taking a snapshot in (cloning it out of
//! the watch channel, and re-sorting the tree when the paths changed).
//!
//! Run: `cargo bench -p cairn --bench dashboard_render`

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use cairn::dashboard::{App, Tab, Theme, sample, ui};

fn render(c: &mut Criterion) {
    let big = sample::sample(1000, 10_000);
    let small = sample::sample(30, 300);
    let empty = sample::empty();
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut group = c.benchmark_group(format!("frame_{w}x{h}"));
        for tab in Tab::ALL {
            for (label, snap) in [
                ("1000p_10000f", &big),
                ("30p_300f", &small),
                ("empty", &empty),
            ] {
                let mut app = App::new(snap.clone(), Theme::colored(), Rect::new(0, 0, w, h));
                app.tab = tab;
                // Start mid-list (a full page of rows shown), not on the first page.
                let body = ui::screen_layout(app.area, false).body;
                let rows = |t: Tab| ui::list_rows(t, body).map_or(1, |r| r.height as usize);
                let (np, nf) = (app.snapshot.peers.len(), app.tree.visible_len());
                app.peers.selected = np / 2;
                app.peers.offset = (np / 2).saturating_sub(10);
                app.peers.scroll_into_view(np, rows(Tab::Peers));
                app.files.selected = nf / 2;
                app.files.offset = (nf / 2).saturating_sub(10);
                app.files.scroll_into_view(nf, rows(Tab::Files));
                let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
                group.bench_with_input(BenchmarkId::new(tab.title(), label), &app, |b, app| {
                    b.iter(|| {
                        // A full redraw each time: clear the previous buffer so
                        // the diff cannot skip unchanged cells.
                        terminal.clear().expect("clear");
                        terminal
                            .draw(|f| ui::draw(black_box(app), f))
                            .expect("draw");
                    })
                });
            }
        }
        group.finish();
    }

    let mut group = c.benchmark_group("snapshot_in");
    let mut app = App::new(empty.clone(), Theme::colored(), Rect::new(0, 0, 120, 40));
    // The common case: the paths did not change, the sorted tree is kept.
    group.bench_function("1000p_10000f_same_paths", |b| {
        b.iter(|| app.set_snapshot(black_box(big.clone())))
    });
    // A path's health changed: the tree is re-sorted.
    let mut changed = big.clone();
    changed.files[17].health.chunks_at_risk += 1;
    let mut flip = false;
    group.bench_function("1000p_10000f_paths_changed", |b| {
        b.iter(|| {
            flip = !flip;
            let next = if flip { &changed } else { &big };
            app.set_snapshot(black_box(next.clone()))
        })
    });
    group.bench_function("clone_only_1000p_10000f", |b| {
        b.iter(|| black_box(big.clone()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = render
}
criterion_main!(benches);
