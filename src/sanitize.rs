//! Strings that come from the wire (a message's `frame_id`, `encoding`,
//! `format`, a bag's topic names) before they reach a log line or
//! `/diagnostics`.
//!
//! Unescaped, a newline in `frame_id` forges a log line, terminal escape
//! sequences repaint an operator's console, and a 100 KB `encoding` string is
//! repeated in every diagnostics message. [`wire`] escapes every control and
//! invisible formatting character and keeps at most [`MAX_WIRE_CHARS`]
//! characters, saying how long the original was.

use std::fmt::Write as _;

/// Longest wire string shown in logs and diagnostics, in characters.
pub const MAX_WIRE_CHARS: usize = 64;

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

/// `s` made safe for one log line: control characters, quotes' backslashes
/// and invisible formatting characters escaped, cut after
/// [`MAX_WIRE_CHARS`] characters with a note of the full length in bytes.
pub fn wire(s: &str) -> String {
    wire_max(s, MAX_WIRE_CHARS)
}

/// [`wire`] with an explicit character limit.
pub fn wire_max(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 16);
    let mut cut = false;
    for (shown, c) in s.chars().enumerate() {
        if shown == max_chars {
            cut = true;
            break;
        }
        if invisible(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else if c.is_control() || c == '\\' {
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

/// `s` without NUL characters (shown as `\\0`), otherwise unchanged: for
/// messages handed to r2r's loggers, which panic on an interior NUL. Wire
/// strings inside such messages are already [`wire`]-escaped where they enter;
/// this is the last guard for everything else.
pub fn no_nul(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\\0"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
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

    #[test]
    fn nul_is_escaped_for_the_ros_logger() {
        assert_eq!(no_nul("a\0b\nc"), "a\\0b\nc");
        assert!(matches!(no_nul("plain"), std::borrow::Cow::Borrowed(_)));
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
