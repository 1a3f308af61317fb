//! The files tab's tree: the snapshot's flat path list, sorted into
//! depth-first order once per snapshot, with folds.
//!
//! The node sends paths in any order; sorting and working out depths is done
//! here, when a snapshot arrives or a fold changes, not per frame, so drawing
//! costs only the visible rows even with 10,000 paths.

use std::collections::HashSet;

use crate::api::snapshot::{EntryKind, FileEntry};

/// One row of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRow {
    /// Index into the snapshot's `files`.
    pub entry: usize,
    /// Ancestors shown above it.
    pub depth: u16,
    /// Whether rows under it exist.
    pub has_children: bool,
    /// Byte offset in the path where its shown name starts.
    pub name_start: usize,
}

/// The sorted tree and the rows visible under the current folds.
#[derive(Debug, Clone, Default)]
pub struct FileTree {
    rows: Vec<TreeRow>,
    visible: Vec<usize>,
    collapsed: HashSet<String>,
}

/// A sort key whose byte order is the paths' component-wise order: `/`
/// becomes the smallest byte, so `/a/b` sorts before `/a-b` as `a` < `a-b`.
fn sort_key(path: &str) -> Vec<u8> {
    path.bytes()
        .map(|b| if b == b'/' { 0 } else { b })
        .collect()
}

fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/')
}

impl FileTree {
    /// Build from a snapshot's entries, keeping folds of paths that remain.
    pub fn rebuild(&mut self, files: &[FileEntry]) {
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by_cached_key(|&i| sort_key(&files[i].path));
        let mut rows = Vec::with_capacity(order.len());
        // Indices (into `order`) of the directories that enclose the current row.
        let mut stack: Vec<usize> = Vec::new();
        for &i in &order {
            let path = &files[i].path;
            while let Some(&top) = stack.last() {
                if is_under(path, &files[top].path) {
                    break;
                }
                stack.pop();
            }
            let name_start = match stack.last() {
                Some(&p) => files[p].path.trim_end_matches('/').len() + 1,
                None => 0,
            };
            rows.push(TreeRow {
                entry: i,
                depth: stack.len() as u16,
                has_children: false,
                name_start,
            });
            if files[i].kind == EntryKind::Dir {
                stack.push(i);
            }
        }
        for r in 1..rows.len() {
            if rows[r].depth > rows[r - 1].depth {
                rows[r - 1].has_children = true;
            }
        }
        self.collapsed
            .retain(|p| files.iter().any(|f| &f.path == p));
        self.rows = rows;
        self.refold(files);
    }

    fn refold(&mut self, files: &[FileEntry]) {
        self.visible.clear();
        let mut hide_below: Option<u16> = None;
        for (i, row) in self.rows.iter().enumerate() {
            if let Some(d) = hide_below {
                if row.depth > d {
                    continue;
                }
                hide_below = None;
            }
            self.visible.push(i);
            if row.has_children && self.collapsed.contains(&files[row.entry].path) {
                hide_below = Some(row.depth);
            }
        }
    }

    /// Rows shown, in order.
    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// The `n`th visible row.
    pub fn visible(&self, n: usize) -> Option<TreeRow> {
        self.visible.get(n).and_then(|&r| self.rows.get(r)).copied()
    }

    /// Whether a path is folded.
    pub fn is_collapsed(&self, path: &str) -> bool {
        self.collapsed.contains(path)
    }

    /// Fold or unfold the `n`th visible row, if it has children.
    pub fn toggle(&mut self, n: usize, files: &[FileEntry]) {
        let Some(row) = self.visible(n) else { return };
        if !row.has_children {
            return;
        }
        let path = &files[row.entry].path;
        if !self.collapsed.remove(path) {
            self.collapsed.insert(path.clone());
        }
        self.refold(files);
    }

    /// The visible index of a path, if shown.
    pub fn position(&self, path: &str, files: &[FileEntry]) -> Option<usize> {
        self.visible.iter().position(|&r| {
            self.rows
                .get(r)
                .is_some_and(|row| files[row.entry].path == path)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::snapshot::{Health, Redundancy};

    fn entry(path: &str, kind: EntryKind) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind,
            size: 1,
            redundancy: Redundancy::Copies { n: 2 },
            policy_here: false,
            health: Health::default(),
        }
    }

    fn shown(t: &FileTree, files: &[FileEntry]) -> Vec<(String, u16)> {
        (0..t.visible_len())
            .map(|i| {
                let r = t.visible(i).unwrap();
                (files[r.entry].path[r.name_start..].to_owned(), r.depth)
            })
            .collect()
    }

    #[test]
    fn paths_in_any_order_become_a_depth_first_tree_with_folds() {
        let files = vec![
            entry("/docs/b.txt", EntryKind::File),
            entry("/photos", EntryKind::Dir),
            entry("/docs", EntryKind::Dir),
            entry("/photos/2024", EntryKind::Dir),
            entry("/docs/a.txt", EntryKind::File),
            entry("/photos/2024/x.jpg", EntryKind::File),
            entry("/docs-old", EntryKind::Dir),
        ];
        let mut t = FileTree::default();
        t.rebuild(&files);
        assert_eq!(
            shown(&t, &files),
            vec![
                ("/docs".into(), 0),
                ("a.txt".into(), 1),
                ("b.txt".into(), 1),
                ("/docs-old".into(), 0),
                ("/photos".into(), 0),
                ("2024".into(), 1),
                ("x.jpg".into(), 2),
            ]
        );
        t.toggle(4, &files);
        assert_eq!(t.visible_len(), 5);
        assert!(t.is_collapsed("/photos"));
        // Folds survive a new snapshot.
        t.rebuild(&files);
        assert_eq!(t.visible_len(), 5);
        assert_eq!(t.position("/photos", &files), Some(4));
        t.toggle(4, &files);
        assert_eq!(t.visible_len(), 7);
        // A leaf does not fold.
        t.toggle(1, &files);
        assert_eq!(t.visible_len(), 7);
    }
}
