//! Printing results: a human form, or one JSON document with `--json`.

use serde::Serialize;

/// Where a command's result goes.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Print a result: `value` as JSON with `--json`, else the human text.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot encode result as JSON: {e}"),
            }
        } else {
            let text = human(value);
            if !text.is_empty() {
                println!("{}", text.trim_end_matches('\n'));
            }
        }
    }

    /// Like `print`, but JSON on one line (for streams of events and ready lines).
    pub fn print_line<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot encode result as JSON: {e}"),
            }
        } else {
            println!("{}", human(value).trim_end_matches('\n'));
        }
    }

    /// Report a failure: on stderr, and as a JSON object on stdout with `--json`.
    pub fn error(&self, err: &anyhow::Error, code: u8) {
        if self.json {
            let v = serde_json::json!({ "error": format!("{err:#}"), "code": code });
            println!("{v}");
        }
        eprintln!("error: {err:#}");
    }
}
