//! Every file in fuzz/fuzz_targets/ is a registered cargo-fuzz target, and
//! every registered target exists: CI builds what is registered, so a target
//! left out of fuzz/Cargo.toml would silently never be built or run.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_fuzz_target_file_is_registered_and_every_registration_has_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let files: BTreeSet<String> = std::fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let registered: BTreeSet<String> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path = \"fuzz_targets/"))
        .filter_map(|l| l.strip_suffix(".rs\""))
        .map(str::to_owned)
        .collect();
    assert_eq!(files, registered);
    assert!(files.len() >= 19, "fuzz targets went missing: {files:?}");
}
