//! Exit codes, in one place, so scripts can rely on them (also listed in the
//! README). Library errors say what went wrong; this table says which code a
//! kind of failure gets.

use std::process::ExitCode;

/// The exit codes of every `cairn` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// A failure with no more specific code.
    Failure = 1,
    /// The command line was wrong (clap uses this code too).
    Usage = 2,
    /// What was asked for does not exist (an unknown cap, block or path).
    NotFound = 3,
    /// Damage was found that could not be repaired (`verify`).
    Integrity = 4,
    /// Out of space: a class quota or the disk is full.
    NoSpace = 5,
    /// Malformed input: a cap, a ticket, a key file or a config that does not parse.
    InvalidInput = 6,
    /// A running daemon is needed and none answers, or it refused us.
    Daemon = 7,
    /// A peer could not be reached (`join`), or no peer holding the data
    /// asked for could be reached or asked (a read).
    Unreachable = 8,
    /// Refused: a banned peer, a spent or expired pairing secret.
    Refused = 9,
    /// Stored on this node only: it has peers, but none took a shard.
    NotPlaced = 10,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c as u8)
    }
}

/// The code for an error, from the most specific cause found in its chain.
pub fn code_of(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(code) = classify(cause) {
            return code;
        }
    }
    Code::Failure
}

/// The store's errors: what failed decides the code, not the wording.
fn store_code(e: &cairn::store::StoreError) -> Option<Code> {
    use cairn::store::StoreError as E;
    match e {
        E::PathNotFound(_) | E::NotFound(_) => Some(Code::NotFound),
        E::Integrity(_) => Some(Code::Integrity),
        E::Unavailable(_) => Some(Code::Unreachable),
        E::NoSpace(_) | E::Quota { .. } => Some(Code::NoSpace),
        E::Cap(_) | E::InvalidInput(_) | E::Unreadable { .. } => Some(Code::InvalidInput),
        E::DataDir(inner) => classify(inner),
        E::Io { source, .. } => classify(source),
        _ => Some(Code::Failure),
    }
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
    use cairn::api::client::ClientError;
    use cairn::api::types::ApiErrorKind;
    use cairn::datadir::DataDirError;
    use cairn::keyfile::KeyFileError;
    if let Some(e) = cause.downcast_ref::<ClientError>() {
        return Some(match e.api_kind() {
            Some(ApiErrorKind::NotFound) => Code::NotFound,
            Some(ApiErrorKind::InvalidInput) => Code::InvalidInput,
            Some(ApiErrorKind::NoSpace) => Code::NoSpace,
            Some(ApiErrorKind::Integrity) => Code::Integrity,
            Some(ApiErrorKind::Cancelled | ApiErrorKind::Failed) => Code::Failure,
            None if matches!(e, ClientError::Output(_) | ClientError::Interrupted(_)) => {
                Code::Failure
            }
            Some(ApiErrorKind::Unreachable) => Code::Unreachable,
            Some(ApiErrorKind::Refused) => Code::Refused,
            _ => Code::Daemon,
        });
    }
    if let Some(e) = cause.downcast_ref::<cairn::node::NodeError>() {
        return match e {
            cairn::node::NodeError::Locked(_) => Some(Code::Daemon),
            cairn::node::NodeError::DataDir(d) => classify(d),
            _ => None,
        };
    }
    if cause
        .downcast_ref::<super::ledger::InvalidSegment>()
        .is_some()
    {
        return Some(Code::Integrity);
    }
    if cause.downcast_ref::<super::peers::BadNodeId>().is_some()
        || cause.downcast_ref::<super::peers::BadRight>().is_some()
    {
        return Some(Code::InvalidInput);
    }
    if cause.downcast_ref::<super::store::NotPlaced>().is_some() {
        return Some(Code::NotPlaced);
    }
    if cause.downcast_ref::<cairn::ticket::TicketError>().is_some() {
        return Some(Code::InvalidInput);
    }
    let key_code = |e: &KeyFileError| match e {
        KeyFileError::Corrupt { .. } | KeyFileError::WrongKind { .. } => Code::InvalidInput,
        _ => Code::Failure,
    };
    if let Some(e) = cause.downcast_ref::<KeyFileError>() {
        return Some(key_code(e));
    }
    // `DataDirError` wraps its causes transparently, so they are not in the
    // chain on their own: look inside.
    if let Some(e) = cause.downcast_ref::<DataDirError>() {
        return match e {
            DataDirError::Config(_) => Some(Code::InvalidInput),
            DataDirError::Key(k) => Some(key_code(k)),
            _ => None,
        };
    }
    if let Some(e) = cause.downcast_ref::<cairn::store::StoreError>() {
        return store_code(e);
    }
    if let Some(e) = cause.downcast_ref::<std::io::Error>() {
        return match e.kind() {
            std::io::ErrorKind::NotFound => Some(Code::NotFound),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Some(Code::NoSpace)
            }
            _ => None,
        };
    }
    None
}
