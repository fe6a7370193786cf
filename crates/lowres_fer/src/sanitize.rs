//! Strings that come from the wire (a message's `frame_id`, `encoding`,
//! `format`, a bag's topic names), and every whole line, before they reach a
//! log or `/diagnostics`.
//!
//! Unescaped, a newline in `frame_id` forges a log line, terminal escape
//! sequences repaint an operator's console, and a 100 KB `encoding` string is
//! repeated in every diagnostics message. [`wire`] escapes every control and
//! invisible formatting character and keeps at most [`MAX_WIRE_CHARS`]
//! characters, saying how long the original was.
//!
//! Text the node did not write itself can also come from its libraries: the
//! JPEG decoder ends its I/O errors with a newline, ONNX Runtime's messages
//! quote model and provider details. [`line`] is the same escaping applied to a
//! whole log line or diagnostics value at the point where it is emitted, so
//! nothing depends on every source having escaped its part.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Longest wire string shown in logs and diagnostics, in characters.
pub const MAX_WIRE_CHARS: usize = 64;

/// Longest log line or diagnostics value, in characters: room for a message
/// that quotes a few wire strings (at most [`MAX_WIRE_CHARS`] each) and a
/// library's error text.
pub const MAX_LINE_CHARS: usize = 1024;

/// Characters shown as `\u{..}` escapes although Rust's `escape_debug` keeps
/// them: invisible formatting (bidirectional overrides reorder what a reader
/// sees, zero-width characters hide text).
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// `s` made safe for one log line: control characters, backslashes and
/// invisible formatting characters escaped, cut after [`MAX_WIRE_CHARS`]
/// characters with a note of the full length in bytes.
pub fn wire(s: &str) -> String {
    wire_max(s, MAX_WIRE_CHARS)
}

/// [`wire`] with an explicit character limit.
pub fn wire_max(s: &str, max_chars: usize) -> String {
    escape(s, max_chars, true)
}

/// A whole log line or diagnostics value made safe: the escaping of [`wire`]
/// except for backslashes, which are left as they are so the escapes of wire
/// strings already inside the text are not doubled; cut after
/// [`MAX_LINE_CHARS`]. Borrowed when nothing changes, the common case.
pub fn line(s: &str) -> Cow<'_, str> {
    let clean =
        s.chars().count() <= MAX_LINE_CHARS && !s.chars().any(|c| invisible(c) || c.is_control());
    if clean {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(escape(s, MAX_LINE_CHARS, false))
    }
}

fn escape(s: &str, max_chars: usize, backslashes: bool) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 16);
    let mut cut = false;
    for (shown, c) in s.chars().enumerate() {
        if shown == max_chars {
            cut = true;
            break;
        }
        if invisible(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else if c.is_control() || (backslashes && c == '\\') {
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if cut {
        let _ = write!(out, "...({} bytes)", s.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_unchanged() {
        assert_eq!(wire("camera_link"), "camera_link");
        assert_eq!(
            wire("rgb8; jpeg compressed bgr8"),
            "rgb8; jpeg compressed bgr8"
        );
        assert_eq!(wire("カメラ"), "カメラ");
        assert_eq!(wire(""), "");
    }

    #[test]
    fn a_newline_cannot_forge_a_log_line() {
        let s = wire("cam\n[ERROR] [lowres_fer]: forged\r\x1b[2J\t\0");
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(s, "cam\\n[ERROR] [lowres_fer]: forged\\r\\u{1b}[2J\\t\\0");
        assert_eq!(wire("a\\nb"), "a\\\\nb");
    }

    /// Issue 29: the JPEG decoder's error text ended in a raw newline in logs
    /// and `/diagnostics`. A whole line gets the wire escaping, without
    /// doubling the escapes already in it; r2r's loggers panic on a NUL.
    #[test]
    fn a_whole_line_is_escaped_once() {
        let decoder = "cannot decode: I/O errors Not enough bytes, expected 9 but found 7\n";
        assert_eq!(
            line(decoder),
            "cannot decode: I/O errors Not enough bytes, expected 9 but found 7\\n"
        );
        assert_eq!(line("a\0b\r\x1b[2J\u{202E}"), "a\\0b\\r\\u{1b}[2J\\u{202e}");
        let quoted = format!("frame_id '{}': bad", wire("cam\n[ERROR] forged"));
        assert_eq!(line(&quoted), quoted, "already escaped: unchanged");
        assert!(matches!(line(&quoted), Cow::Borrowed(_)));
        let twice = line(decoder).into_owned();
        assert_eq!(line(&twice), twice);
        let long = "z".repeat(100_000);
        assert_eq!(
            line(&long),
            format!("{}...(100000 bytes)", "z".repeat(MAX_LINE_CHARS))
        );
    }

    #[test]
    fn invisible_formatting_is_shown() {
        assert_eq!(wire("ab\u{202E}cd\u{200B}"), "ab\\u{202e}cd\\u{200b}");
    }

    #[test]
    fn long_strings_are_cut_with_their_length() {
        let long = "x".repeat(100_000);
        let s = wire(&long);
        assert_eq!(
            s,
            format!("{}...(100000 bytes)", "x".repeat(MAX_WIRE_CHARS))
        );
        let exact = "y".repeat(MAX_WIRE_CHARS);
        assert_eq!(wire(&exact), exact);
        // Cut on a character boundary.
        assert_eq!(wire_max("ééé", 2), "éé...(6 bytes)");
        // Escapes cannot make it unbounded: at most ~10 bytes per character shown.
        let nasty = "\u{202E}".repeat(10_000);
        assert!(wire(&nasty).len() < MAX_WIRE_CHARS * 12);
    }
}
