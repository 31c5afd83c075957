//! Text that came from the network (a redirect's `error_description`, a service's error
//! message, a device code) made safe to show in a terminal, a notification or the window.

/// `text` without control characters: no escape sequence can clear a screen, move the cursor,
/// retitle a window or hide what came before it. Escape sequences go whole (not just their
/// ESC), line breaks and tabs become spaces so that a message stays on its one line, and every
/// other C0 and C1 control (and DEL) is dropped.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape_sequence(&mut chars),
            // CSI and OSC have single-character forms in C1, with the same parameters.
            '\u{9b}' => skip_csi_parameters(&mut chars),
            '\u{9d}' => skip_osc_string(&mut chars),
            '\n' | '\r' | '\t' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi_parameters(chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_osc_string(chars),
        // A two-character sequence (ESC c, ESC 7, ...): both are gone.
        _ => {}
    }
}

/// CSI: parameter and intermediate bytes, then one final byte in `@`..=`~`.
fn skip_csi_parameters(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) || !(' '..='~').contains(&c) {
            return;
        }
    }
}

/// OSC, DCS and friends: up to BEL or ST (`ESC \` or U+009C).
fn skip_osc_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_line_breaks_cannot_reach_a_terminal() {
        assert_eq!(printable("\x1b[2Jwiped\nout"), "wiped out");
        assert_eq!(printable("a\r\n\tb"), "a b");
        assert_eq!(printable("\x1b]0;owned\x07title"), "title");
        assert_eq!(printable("\x1b]8;;http://x\x1b\\link"), "link");
        assert_eq!(printable("\u{9b}31mred\u{7f}\u{85}"), "red");
        assert_eq!(printable("\x1bcreset\x08\x00"), "reset");
        assert_eq!(printable("plain — ünïcode ok"), "plain — ünïcode ok");
        let hostile: String = (0u32..0x200).filter_map(char::from_u32).collect();
        assert!(!printable(&hostile).chars().any(char::is_control));
    }
}
