//! Changing a stored root's redundancy target.
//!
//! A chunk's k+m is baked into its shards (each shard is a block named by
//! its hash), so a new target means new shards: the root is read back into
//! a scratch directory inside the store (same bytes, modes and mtimes) and
//! added again with the new target under the same name, then the old root
//! is unpinned; its blocks go at the next gc. Going through `get` and `add`
//! keeps one code path for what a stored file is, at the price of a
//! temporary plaintext copy on the owner's own disk, removed at the end
//! whatever happens.

use std::sync::atomic::{AtomicU64, Ordering};

use super::add::{AddOptions, AddReport};
use super::cap::Cap;
use super::erasure::Redundancy;
use super::{Store, StoreError};

/// Scratch directories of concurrent re-encodings get distinct names.
static SCRATCH: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// Store the root `cap` again with redundancy `r`; returns the new
    /// root's report (its cap differs from `cap` when `r` does).
    pub fn set_redundancy(&self, cap: &Cap, r: Redundancy) -> Result<AddReport, StoreError> {
        let root = self
            .roots()?
            .into_iter()
            .find(|x| x.cap == *cap)
            .ok_or_else(|| {
                StoreError::NotFound(
                    "not a stored root: a redundancy target is set on a path added with `cairn add`"
                        .into(),
                )
            })?;
        let name = std::path::Path::new(&root.name)
            .file_name()
            .map(|n| n.to_owned())
            .ok_or_else(|| StoreError::InvalidInput(format!("root {:?} has no name", root.name)))?;
        let scratch = self.dir().join("tmp").join(format!(
            "reencode-{}-{}",
            std::process::id(),
            SCRATCH.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&scratch).map_err(|e| StoreError::io(&scratch, e))?;
        let target = scratch.join(name);
        let result = self.get(cap, &target).and_then(|_| {
            self.add(
                std::slice::from_ref(&target),
                &AddOptions {
                    redundancy: Some(r),
                    // A public root stays public, a private one private.
                    public: cap.is_public(),
                },
                &mut |_| {},
            )
        });
        let _ = std::fs::remove_dir_all(&scratch);
        let mut report = result?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Db("add returned no report".into()))?;
        report.path = root.name.clone();
        if report.cap != *cap {
            self.rm(cap)?;
        }
        Ok(report)
    }
}
