//! A one-line text editor: the `:` command line, the log search and form fields.
//!
//! Pure state (text and a cursor counted in chars) so its keys are tested
//! without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Longest text a line holds.
pub const MAX_INPUT: usize = 4096;

/// Text being typed, with a cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    text: String,
    /// Cursor position in chars, 0..=len.
    cursor: usize,
}

impl LineInput {
    pub fn new(text: &str) -> LineInput {
        LineInput {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Cursor position in chars.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map_or(self.text.len(), |(b, _)| b)
    }

    /// Apply an editing key; false when the key is not an editing key.
    pub fn handle(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                let b = self.byte_at(self.cursor);
                self.text.replace_range(..b, "");
                self.cursor = 0;
            }
            KeyCode::Char('w') if ctrl => {
                let end = self.byte_at(self.cursor);
                let before = &self.text[..end];
                let trimmed = before.trim_end();
                let start = trimmed.rfind(' ').map_or(0, |i| i + 1);
                let removed = self.text[start..end].chars().count();
                self.text.replace_range(start..end, "");
                self.cursor -= removed;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.text.chars().count(),
            KeyCode::Char(c) if !ctrl => {
                if self.text.len() + c.len_utf8() <= MAX_INPUT {
                    let b = self.byte_at(self.cursor);
                    self.text.insert(b, c);
                    self.cursor += 1;
                }
            }
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    let b = self.byte_at(self.cursor);
                    self.text.remove(b);
                }
            }
            KeyCode::Delete => {
                if self.cursor < self.text.chars().count() {
                    let b = self.byte_at(self.cursor);
                    self.text.remove(b);
                }
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_inserts_at_the_cursor_and_keys_edit() {
        let mut l = LineInput::default();
        for c in "add /x".chars() {
            l.handle(&key(KeyCode::Char(c)));
        }
        l.handle(&key(KeyCode::Left));
        l.handle(&key(KeyCode::Char('é')));
        assert_eq!(l.text(), "add /éx");
        l.handle(&key(KeyCode::Backspace));
        l.handle(&key(KeyCode::Delete));
        assert_eq!(l.text(), "add /");
        l.handle(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(l.text(), "add ");
        l.handle(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!((l.text(), l.cursor()), ("", 0));
        assert!(!l.handle(&key(KeyCode::Enter)));
    }
}
