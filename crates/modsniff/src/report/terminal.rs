//! Strings from the wire, made safe for a terminal.
//!
//! Everything the text report quotes from a capture (SNI, Host, URIs, certificate names, DNS
//! names, reason phrases, go's own lines) is chosen by whoever made the traffic. Printed raw, an
//! `ESC ] 0;…BEL` retitles the window, `ESC [2J` clears the screen and `ESC [31m` paints a
//! verdict the report never gave. Control characters are therefore shown as escapes, the way
//! `cat -v` and Rust's `{:?}` show them, and the report's own colours are added afterwards, on
//! text that can no longer carry any. NDJSON and JSON keep the exact bytes (JSON escapes them).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` may reach the terminal as itself: not a C0 or C1 control, not DEL, and not one
/// of the bidirectional overrides and isolates that reorder what follows them on screen.
fn is_safe(c: char) -> bool {
    !(c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

/// `s` with every character a terminal would act on written as an escape: `\x1b` for the C0
/// and C1 controls and DEL, `\u{202e}` for the bidirectional controls. Borrowed when nothing
/// needed escaping (the common case).
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_safe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_safe(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// [`escape`] into an owned string.
pub fn escaped(s: &str) -> String {
    escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "proxy.golang.org: read: connection reset by peer (ünïcödé kept)";
        assert!(matches!(escape(s), Cow::Borrowed(x) if x == s));
    }

    #[test]
    fn controls_become_escapes() {
        assert_eq!(
            escape("\x1b]0;owned\x07\x1b[2J\x1b[31mFAKE\r\n\u{7f}\u{9b}"),
            "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mFAKE\\x0d\\x0a\\x7f\\x9b"
        );
    }

    #[test]
    fn bidirectional_overrides_become_escapes() {
        assert_eq!(escape("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
    }
}
