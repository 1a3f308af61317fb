//! Frame render time of every dashboard tab with 1,000 peers and 10,000
//! paths in the snapshot, against the same tab with an empty snapshot
//! (the same-run baseline: the ratio shows that only visible rows cost).
//! Also the per-snapshot cost of taking a snapshot in (sorting the tree).
//!
//! Run: `cargo bench -p cairn --bench dashboard_render`

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use cairn::dashboard::{App, Tab, Theme, sample, ui};

fn render(c: &mut Criterion) {
    let big = sample::sample(1000, 10_000);
    let empty = sample::empty();
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut group = c.benchmark_group(format!("frame_{w}x{h}"));
        for tab in Tab::ALL {
            for (label, snap) in [("1000p_10000f", &big), ("empty", &empty)] {
                let mut app = App::new(snap.clone(), Theme::colored(), Rect::new(0, 0, w, h));
                app.tab = tab;
                // Start mid-list so the window is not the cheap first page.
                app.peers.selected = 500;
                app.peers.offset = 490;
                app.files.selected = 5000;
                app.files.offset = 4990;
                let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
                group.bench_with_input(
                    BenchmarkId::new(tab.title(), label),
                    &app,
                    |b, app| {
                        b.iter(|| {
                            // A full redraw each time: clear the previous buffer so
                            // the diff cannot skip unchanged cells.
                            terminal.clear().expect("clear");
                            terminal.draw(|f| ui::draw(black_box(app), f)).expect("draw");
                        })
                    },
                );
            }
        }
        group.finish();
    }

    let mut group = c.benchmark_group("snapshot_in");
    let mut app = App::new(empty.clone(), Theme::colored(), Rect::new(0, 0, 120, 40));
    group.bench_function("1000p_10000f", |b| {
        b.iter(|| app.set_snapshot(black_box(big.clone())))
    });
    group.bench_function("clone_only_1000p_10000f", |b| b.iter(|| black_box(big.clone())));
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
