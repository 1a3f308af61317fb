//! The host's type filter for public shares: what this node refuses to keep
//! for others when it can see what the bytes are.
//!
//! Encrypted shards are opaque, so only the shards of public (plaintext)
//! shares can be filtered; their put (`PutPublic`) names the file and says
//! whether its bytes begin the file. The filter is a pure function of that
//! name and those leading bytes (sans-io, no state), so every rule is a plain
//! unit test and the fuzz target can drive it with arbitrary input.
//!
//! Default: refuse executables, by extension and by magic bytes. The magic
//! check looks only at the start of the shard that begins the file; a
//! random shard from the middle of a file starts with `MZ` or `#!` now and
//! then, and refusing it would be a false alarm. The filter is a courtesy
//! between cooperating people, not a defence against a hostile adder (who
//! could rename the file, or store it encrypted): it keeps a host from
//! carelessly becoming a distributor of programs.

use std::fmt;

/// Extensions refused by default (lowercase, without the dot): Windows
/// programs, installers and scripts run by double-click; Unix scripts and
/// packages; macOS apps and images; Android and Java archives. `js` is not
/// in the list: it is also the ordinary file of every published website and
/// dataset viewer, and a browser runs it sandboxed; a host that disagrees
/// adds it in its config.
#[rustfmt::skip]
pub const DEFAULT_REFUSED_EXTENSIONS: &[&str] = &[
    // Windows executables, libraries, installers, screensavers, shortcuts.
    "exe", "dll", "sys", "msi", "msp", "scr", "com", "pif", "cpl", "lnk",
    // Windows scripts.
    "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "wsf", "wsh", "hta", "jse",
    // Unix scripts, shared objects, packages.
    "sh", "bash", "so", "deb", "rpm", "run", "appimage",
    // macOS.
    "app", "dmg", "pkg", "dylib",
    // Android, Java.
    "apk", "jar", "class",
];

/// What a host keeps of public shares (the `[host]` section of the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFilter {
    /// Whether public shares are filtered at all.
    pub enabled: bool,
    /// Extensions refused (compared case-insensitively, without the dot).
    pub refuse_extensions: Vec<String>,
    /// Whether the magic bytes of executables are refused.
    pub refuse_magic: bool,
}

impl Default for HostFilter {
    fn default() -> Self {
        HostFilter {
            enabled: true,
            refuse_extensions: DEFAULT_REFUSED_EXTENSIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            refuse_magic: true,
        }
    }
}

/// A kind of executable recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// Windows PE (`MZ` DOS header).
    Pe,
    /// ELF (`\x7fELF`): Linux and most Unix programs and libraries.
    Elf,
    /// Mach-O, 32 or 64 bit, either byte order.
    MachO,
    /// Mach-O universal (fat) binary, `0xcafebabe` followed by a small
    /// architecture count (a Java class file has the same 4 bytes followed
    /// by its version, which is large).
    MachOFat,
    /// Java class file (`0xcafebabe` followed by a class-file version).
    JavaClass,
    /// A script with an interpreter line (`#!`).
    Script,
    /// WebAssembly module (`\0asm`).
    Wasm,
}

impl fmt::Display for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Magic::Pe => "a Windows executable (MZ header)",
            Magic::Elf => "an ELF executable (\\x7fELF header)",
            Magic::MachO => "a Mach-O executable",
            Magic::MachOFat => "a Mach-O universal binary",
            Magic::JavaClass => "a Java class file",
            Magic::Script => "a script (#! interpreter line)",
            Magic::Wasm => "a WebAssembly module (\\0asm header)",
        })
    }
}

/// Why a public shard was refused: the rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("public files named *.{extension} are refused by this host (extension filter)")]
    Extension { extension: String },
    #[error(
        "public file {name:?} starts like {magic}; executables are refused by this host (magic-bytes filter)"
    )]
    Magic { name: String, magic: Magic },
}

/// The executable kind `bytes` begin with, if any.
pub fn magic_of(bytes: &[u8]) -> Option<Magic> {
    let be = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if bytes.starts_with(b"\x7fELF") {
        return Some(Magic::Elf);
    }
    if bytes.starts_with(b"MZ") {
        return Some(Magic::Pe);
    }
    if bytes.starts_with(b"#!") {
        return Some(Magic::Script);
    }
    if bytes.starts_with(b"\0asm") {
        return Some(Magic::Wasm);
    }
    match be(0)? {
        0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe => Some(Magic::MachO),
        0xcafe_babe => {
            // Fat Mach-O: architecture count (small); Java: minor and major
            // version, the major at least 45. A 4-byte header alone is
            // treated as Mach-O (refusing errs on the careful side).
            match be(4) {
                Some(n) if n >= 45 => Some(Magic::JavaClass),
                _ => Some(Magic::MachOFat),
            }
        }
        _ => None,
    }
}

/// The extension of `name` (after its last dot, lowercased), if it has one.
/// A leading dot alone (`.profile`) is not an extension.
pub fn extension_of(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

impl HostFilter {
    /// A filter that accepts everything (`public_filter = false`).
    pub fn off() -> HostFilter {
        HostFilter {
            enabled: false,
            refuse_extensions: Vec::new(),
            refuse_magic: false,
        }
    }

    /// Decide on one public shard: its file's `name`, and `leading` — the
    /// shard's bytes when they begin the file (`None` for any other shard).
    pub fn check(&self, name: &str, leading: Option<&[u8]>) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        if let Some(ext) = extension_of(name)
            && self
                .refuse_extensions
                .iter()
                .any(|r| r.trim_start_matches('.').eq_ignore_ascii_case(&ext))
        {
            return Err(Refusal::Extension { extension: ext });
        }
        if self.refuse_magic
            && let Some(magic) = leading.and_then(magic_of)
        {
            return Err(Refusal::Magic {
                name: name.to_owned(),
                magic,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> HostFilter {
        HostFilter::default()
    }

    #[test]
    fn every_default_extension_is_refused_case_insensitively() {
        for ext in DEFAULT_REFUSED_EXTENSIONS {
            for name in [
                format!("setup.{ext}"),
                format!("SETUP.{}", ext.to_uppercase()),
                format!("a.b.{ext}"),
            ] {
                match f().check(&name, None) {
                    Err(Refusal::Extension { extension }) => assert_eq!(extension, *ext),
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
        assert!(f().check("Setup.ExE", None).is_err());
    }

    #[test]
    fn benign_files_pass() {
        for name in [
            "data.csv",
            "notes.txt",
            "photo.JPG",
            "paper.pdf",
            "index.html",
            "app.js",
            "README",
            ".profile",
            "archive.tar.gz",
            "exe",
            "sh.txt",
        ] {
            assert_eq!(f().check(name, Some(b"hello, world\n")), Ok(()), "{name}");
        }
        assert_eq!(f().check("empty.txt", Some(b"")), Ok(()));
    }

    #[test]
    fn each_magic_is_recognised() {
        let cases: &[(&[u8], Magic)] = &[
            (b"MZ\x90\x00\x03", Magic::Pe),
            (b"\x7fELF\x02\x01\x01", Magic::Elf),
            (&[0xfe, 0xed, 0xfa, 0xce, 0, 0, 0, 7], Magic::MachO),
            (&[0xfe, 0xed, 0xfa, 0xcf, 1, 0, 0, 7], Magic::MachO),
            (&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1], Magic::MachO),
            (&[0xce, 0xfa, 0xed, 0xfe, 7, 0, 0, 0], Magic::MachO),
            (&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2], Magic::MachOFat),
            (&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52], Magic::JavaClass),
            (&[0xca, 0xfe, 0xba, 0xbe], Magic::MachOFat),
            (b"#!/bin/sh\n", Magic::Script),
            (b"\0asm\x01\0\0\0", Magic::Wasm),
        ];
        for (bytes, magic) in cases {
            assert_eq!(magic_of(bytes), Some(*magic), "{bytes:?}");
            match f().check("data.bin", Some(bytes)) {
                Err(Refusal::Magic { magic: m, name }) => {
                    assert_eq!(m, *magic);
                    assert_eq!(name, "data.bin");
                }
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        for benign in [
            &b""[..],
            b"M",
            b"MX",
            b"\x7fEL",
            b"#",
            b"PK\x03\x04",
            b"%PDF-1.7",
        ] {
            assert_eq!(magic_of(benign), None, "{benign:?}");
        }
    }

    #[test]
    fn magic_bytes_count_only_at_the_start_of_the_leading_shard() {
        // Not leading (a later shard or chunk): the bytes are not looked at.
        assert_eq!(f().check("data.bin", None), Ok(()));
        // Magic in the middle of the leading shard is no magic.
        assert_eq!(f().check("data.bin", Some(b"xx\x7fELF")), Ok(()));
    }

    #[test]
    fn configured_rules_replace_the_defaults() {
        let mut custom = HostFilter {
            refuse_extensions: vec![".JS".into(), "iso".into()],
            refuse_magic: false,
            ..HostFilter::default()
        };
        assert!(custom.check("app.js", None).is_err());
        assert!(custom.check("disk.ISO", None).is_err());
        assert_eq!(custom.check("setup.exe", Some(b"MZ")), Ok(()));
        custom.enabled = false;
        assert_eq!(custom.check("app.js", None), Ok(()));
        assert_eq!(HostFilter::off().check("setup.exe", Some(b"MZ")), Ok(()));
    }

    #[test]
    fn refusal_reasons_name_the_rule() {
        let e = f().check("x.exe", None).unwrap_err().to_string();
        assert!(e.contains("*.exe") && e.contains("extension filter"), "{e}");
        let e = f()
            .check("x.bin", Some(b"\x7fELF"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ELF") && e.contains("magic-bytes filter"), "{e}");
    }
}
