//! Forms: a few labelled fields, validated on submit into one [`Action`].
//!
//! A form is data (its kind, its fields, an error per field), so it is
//! drawn by one widget and tested without a terminal. Validation reuses the
//! `:` parser's value parsers, so a form and the command line accept and
//! refuse exactly the same values with the same words.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::api::snapshot::{Action, LendChanges, Lending, PermissionChanges, Permissions};

use super::command::{self, CommandError};
use super::input::LineInput;

/// Which form, and what it acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    /// Connect by ticket (`join`).
    Join,
    /// Add a local path with an optional redundancy.
    Add,
    /// Set the redundancy of a stored path.
    Redundancy { path: String },
    /// Fetch a stored path or cap to a local destination.
    Get { source: String },
    /// A peer's permissions.
    Permissions { peer: String },
    /// What this node lends.
    Lend,
}

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(LineInput),
    Toggle(bool),
}

/// A labelled field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    /// An example or the accepted forms, shown beside an empty field.
    pub hint: &'static str,
    pub value: Value,
    /// Why the value was refused at the last submit.
    pub error: Option<String>,
}

impl Field {
    fn text(label: &'static str, hint: &'static str, value: &str) -> Field {
        Field {
            label,
            hint,
            value: Value::Text(LineInput::new(value)),
            error: None,
        }
    }

    fn toggle(label: &'static str, on: bool) -> Field {
        Field {
            label,
            hint: "space toggles",
            value: Value::Toggle(on),
            error: None,
        }
    }

    fn text_value(&self) -> &str {
        match &self.value {
            Value::Text(l) => l.text().trim(),
            Value::Toggle(_) => "",
        }
    }

    fn toggle_value(&self) -> bool {
        matches!(self.value, Value::Toggle(true))
    }
}

/// A form being filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    /// The field with the cursor.
    pub focus: usize,
}

/// What a key did to a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormOutcome {
    /// Still editing.
    Editing,
    /// Closed without acting.
    Cancelled,
    /// Valid: send this.
    Submit(Action),
}

impl Form {
    pub fn join() -> Form {
        Form::new(
            FormKind::Join,
            vec![Field::text("Ticket", "cairn… from `cairn invite`", "")],
        )
    }

    pub fn add(default_redundancy: &str) -> Form {
        Form::new(
            FormKind::Add,
            vec![
                Field::text("Local path", "/home/me/photos", ""),
                Field::text(
                    "Redundancy",
                    "K+M or copies=N; empty: the config's default",
                    default_redundancy,
                ),
            ],
        )
    }

    pub fn redundancy(path: &str, current: &str) -> Form {
        Form::new(
            FormKind::Redundancy {
                path: path.to_owned(),
            },
            vec![Field::text("Redundancy", "K+M or copies=N", current)],
        )
    }

    pub fn get(source: &str) -> Form {
        Form::new(
            FormKind::Get {
                source: source.to_owned(),
            },
            vec![Field::text("Save to", "/home/me/restore", "")],
        )
    }

    pub fn permissions(peer: &str, p: Permissions) -> Form {
        Form::new(
            FormKind::Permissions {
                peer: peer.to_owned(),
            },
            vec![
                Field::toggle("Store", p.store),
                Field::toggle("Fetch", p.fetch),
                Field::toggle("Compute", p.compute),
                Field::toggle("Relay", p.relay),
            ],
        )
    }

    pub fn lend(now: Lending) -> Form {
        let rate = |r: Option<u64>| r.map_or_else(|| "unlimited".to_owned(), |v| format!("{v}"));
        Form::new(
            FormKind::Lend,
            vec![
                Field::text(
                    "Disk lent",
                    "e.g. 50GiB (0: none)",
                    &now.storage.to_string(),
                ),
                Field::text(
                    "Upload limit",
                    "e.g. 5MiB/s or unlimited",
                    &rate(now.upload_rate),
                ),
                Field::text(
                    "Download limit",
                    "e.g. 5MiB/s or unlimited",
                    &rate(now.download_rate),
                ),
                Field::text(
                    "CPU lent %",
                    "0-100 of one core",
                    &now.cpu_percent.to_string(),
                ),
            ],
        )
    }

    fn new(kind: FormKind, fields: Vec<Field>) -> Form {
        Form {
            kind,
            fields,
            focus: 0,
        }
    }

    /// The form's title.
    pub fn title(&self) -> String {
        match &self.kind {
            FormKind::Join => "Connect to a node".into(),
            FormKind::Add => "Add a path".into(),
            FormKind::Redundancy { path } => format!("Redundancy of {path}"),
            FormKind::Get { source } => format!("Get {source}"),
            FormKind::Permissions { peer } => {
                format!("Permissions of {}", super::fmt::short(peer, 12))
            }
            FormKind::Lend => "Lend resources".into(),
        }
    }

    /// Apply a key.
    pub fn handle(&mut self, key: &KeyEvent) -> FormOutcome {
        let n = self.fields.len();
        match key.code {
            KeyCode::Esc => return FormOutcome::Cancelled,
            KeyCode::Enter => {
                return match self.validate() {
                    Some(a) => FormOutcome::Submit(a),
                    None => FormOutcome::Editing,
                };
            }
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + n - 1) % n,
            _ => {
                let Some(field) = self.fields.get_mut(self.focus) else {
                    return FormOutcome::Editing;
                };
                match &mut field.value {
                    Value::Text(line) => {
                        if line.handle(key) {
                            field.error = None;
                        }
                    }
                    Value::Toggle(on) => {
                        let toggle = matches!(key.code, KeyCode::Char(' ') | KeyCode::Char('x'))
                            && !key.modifiers.contains(KeyModifiers::CONTROL);
                        if toggle {
                            *on = !*on;
                        }
                    }
                }
            }
        }
        FormOutcome::Editing
    }

    /// Check every field; on success the action, else the errors are set
    /// on the fields and the focus moves to the first bad one.
    pub fn validate(&mut self) -> Option<Action> {
        for f in &mut self.fields {
            f.error = None;
        }
        let result = self.build();
        match result {
            Ok(a) => Some(a),
            Err((idx, err)) => {
                if let Some(f) = self.fields.get_mut(idx) {
                    f.error = Some(err);
                }
                self.focus = idx;
                None
            }
        }
    }

    fn build(&self) -> Result<Action, (usize, String)> {
        let text = |i: usize| self.fields.get(i).map_or("", Field::text_value);
        let on = |i: usize| self.fields.get(i).is_some_and(Field::toggle_value);
        let err = |i: usize| move |e: CommandError| (i, e.to_string());
        let required = |i: usize, what: &str| {
            if text(i).is_empty() {
                Err((i, format!("{what} is required")))
            } else {
                Ok(text(i).to_owned())
            }
        };
        Ok(match &self.kind {
            FormKind::Join => {
                let t = required(0, "a ticket")?;
                t.parse::<crate::ticket::Ticket>()
                    .map_err(|e| (0, format!("bad ticket: {e}")))?;
                Action::Join { ticket: t }
            }
            FormKind::Add => {
                let path = required(0, "a path")?;
                let redundancy = match text(1) {
                    "" => None,
                    r => Some(command::parse_redundancy(r).map_err(err(1))?),
                };
                Action::Add { path, redundancy }
            }
            FormKind::Redundancy { path } => {
                let r = required(0, "a redundancy target")?;
                Action::SetRedundancy {
                    path: path.clone(),
                    redundancy: command::parse_redundancy(&r).map_err(err(0))?,
                }
            }
            FormKind::Get { source } => Action::Get {
                source: source.clone(),
                dest: required(0, "a destination")?,
            },
            FormKind::Permissions { peer } => Action::SetPermissions {
                peer: peer.clone(),
                changes: PermissionChanges {
                    store: Some(on(0)),
                    fetch: Some(on(1)),
                    compute: Some(on(2)),
                    relay: Some(on(3)),
                },
            },
            FormKind::Lend => Action::Lend {
                changes: LendChanges {
                    storage: Some(command::parse_size(&required(0, "a size")?).map_err(err(0))?),
                    upload_rate: Some(
                        command::parse_rate(&required(1, "a rate")?).map_err(err(1))?,
                    ),
                    download_rate: Some(
                        command::parse_rate(&required(2, "a rate")?).map_err(err(2))?,
                    ),
                    cpu_percent: Some(
                        command::parse_cpu(&required(3, "a percent")?).map_err(err(3))?,
                    ),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::snapshot::Redundancy;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_text(f: &mut Form, s: &str) {
        for c in s.chars() {
            f.handle(&key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn add_form_submits_path_and_redundancy() {
        let mut f = Form::add("");
        type_text(&mut f, "/home/a/docs");
        f.handle(&key(KeyCode::Tab));
        type_text(&mut f, "4+2");
        assert_eq!(
            f.handle(&key(KeyCode::Enter)),
            FormOutcome::Submit(Action::Add {
                path: "/home/a/docs".into(),
                redundancy: Some(Redundancy::Erasure { k: 4, m: 2 })
            })
        );
    }

    #[test]
    fn a_bad_field_keeps_the_form_open_with_the_error_on_that_field() {
        let mut f = Form::add("");
        f.handle(&key(KeyCode::Tab));
        type_text(&mut f, "4+x");
        assert_eq!(f.handle(&key(KeyCode::Enter)), FormOutcome::Editing);
        assert_eq!(f.focus, 0);
        assert_eq!(f.fields[0].error.as_deref(), Some("a path is required"));
        type_text(&mut f, "/a");
        assert_eq!(f.handle(&key(KeyCode::Enter)), FormOutcome::Editing);
        assert_eq!(f.focus, 1);
        assert!(
            f.fields[1]
                .error
                .as_deref()
                .unwrap()
                .contains("`4+x` is not a redundancy")
        );
        assert_eq!(f.handle(&key(KeyCode::Esc)), FormOutcome::Cancelled);
    }

    #[test]
    fn permission_toggles_become_a_full_change() {
        let mut f = Form::permissions("abcd", Permissions::ALL);
        f.handle(&key(KeyCode::Char(' ')));
        f.handle(&key(KeyCode::Down));
        f.handle(&key(KeyCode::Down));
        f.handle(&key(KeyCode::Char(' ')));
        let FormOutcome::Submit(Action::SetPermissions { changes, .. }) =
            f.handle(&key(KeyCode::Enter))
        else {
            panic!("not submitted")
        };
        assert_eq!(changes.store, Some(false));
        assert_eq!(changes.fetch, Some(true));
        assert_eq!(changes.compute, Some(false));
        assert_eq!(changes.relay, Some(true));
    }

    #[test]
    fn lend_form_starts_from_current_lending_and_validates_each_field() {
        let mut f = Form::lend(Lending {
            storage: 1 << 30,
            upload_rate: None,
            download_rate: Some(1000),
            cpu_percent: 10,
        });
        assert_eq!(
            f.validate(),
            Some(Action::Lend {
                changes: LendChanges {
                    storage: Some(1 << 30),
                    upload_rate: Some(None),
                    download_rate: Some(Some(1000)),
                    cpu_percent: Some(10)
                }
            })
        );
        f.focus = 3;
        type_text(&mut f, "5");
        assert_eq!(f.validate(), None);
        assert!(
            f.fields[3]
                .error
                .as_deref()
                .unwrap()
                .contains("`105` is not a CPU share")
        );
    }

    #[test]
    fn join_form_refuses_a_bad_ticket() {
        let mut f = Form::join();
        type_text(&mut f, "cairnnotaticket");
        assert_eq!(f.validate(), None);
        assert!(
            f.fields[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("bad ticket")
        );
    }
}
