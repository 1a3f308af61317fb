//! One widget per tab. Each draws from the [`App`](super::app::App) it is
//! given and builds only the rows it shows, so a frame costs what is on
//! screen, not what is in the snapshot.

pub mod files;
pub mod logs;
pub mod market;
pub mod overview;
pub mod pair;
pub mod peers;
pub mod transfers;

use ratatui::layout::{Constraint, Rect};

/// A table column: its header, width, and priority (lower is kept longer
/// when the terminal is narrow).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub width: u16,
    pub priority: u8,
}

/// The columns that fit in `width` (one space between columns), in their
/// given order, dropping the least important first. Returns their indices.
pub fn fit_columns(cols: &[Column], width: u16) -> Vec<usize> {
    let mut by_priority: Vec<usize> = (0..cols.len()).collect();
    by_priority.sort_by_key(|&i| cols[i].priority);
    let mut used = 0u16;
    let mut keep = Vec::new();
    for i in by_priority {
        let w = cols[i].width + u16::from(!keep.is_empty());
        if used + w <= width {
            used += w;
            keep.push(i);
        }
    }
    keep.sort_unstable();
    keep
}

/// Constraints for the kept columns; the last one takes what is left.
pub fn constraints(cols: &[Column], keep: &[usize]) -> Vec<Constraint> {
    keep.iter()
        .enumerate()
        .map(|(n, &i)| {
            if n + 1 == keep.len() {
                Constraint::Min(cols[i].width)
            } else {
                Constraint::Length(cols[i].width)
            }
        })
        .collect()
}

/// Rows of a bordered table with a header row: inside the border, below the header.
pub fn table_rows(area: Rect) -> Rect {
    Rect {
        x: area.x + 1,
        y: area.y.saturating_add(2),
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(3),
    }
}

/// The visible window `[offset, offset + height)` of `len` rows.
pub fn window(offset: usize, height: u16, len: usize) -> std::ops::Range<usize> {
    let start = offset.min(len);
    start..(start + height as usize).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_tables_drop_the_least_important_columns_first() {
        let cols = [
            Column {
                header: "a",
                width: 10,
                priority: 0,
            },
            Column {
                header: "b",
                width: 10,
                priority: 2,
            },
            Column {
                header: "c",
                width: 10,
                priority: 1,
            },
        ];
        assert_eq!(fit_columns(&cols, 32), vec![0, 1, 2]);
        assert_eq!(fit_columns(&cols, 25), vec![0, 2]);
        assert_eq!(fit_columns(&cols, 10), vec![0]);
        assert_eq!(window(5, 10, 8), 5..8);
        assert_eq!(window(50, 10, 8), 8..8);
    }
}
