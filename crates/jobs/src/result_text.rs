//! Fitting tool output into the table's text columns.
//!
//! `result` is `VARCHAR(1000)` in the reference layout (characters, not bytes). The end of a
//! tool's output says how it ended (`completed OK!`, the error), so when output is too long we
//! keep its tail and mark the cut with a leading `…`.

use std::borrow::Cow;

/// Capacity of the `result` and `progress` columns, in characters.
pub const RESULT_CHARS: usize = 1000;
/// Marks text whose beginning was cut off.
pub const CUT_MARK: char = '…';

/// `bytes` as text (invalid UTF-8 replaced by U+FFFD), fitted to [`RESULT_CHARS`] characters.
pub fn fit(bytes: &[u8]) -> String {
    fit_tail(&String::from_utf8_lossy(bytes), RESULT_CHARS)
}

/// The last characters of `text` so that the whole, including a leading [`CUT_MARK`] when
/// something was cut, is at most `max_chars` characters.
pub fn fit_tail(text: &str, max_chars: usize) -> String {
    let len = text.chars().count();
    if len <= max_chars {
        return text.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let keep = max_chars - 1;
    let start = text
        .char_indices()
        .nth(len - keep)
        .map_or(text.len(), |(i, _)| i);
    let mut out = String::with_capacity(text.len() - start + CUT_MARK.len_utf8());
    out.push(CUT_MARK);
    out.push_str(&text[start..]);
    debug_assert_eq!(out.chars().count(), max_chars);
    out
}

/// `text` with every non-ASCII character replaced by `?`: the last resort for a legacy table
/// whose columns use a character set (e.g. latin1) that cannot hold the real text.
pub(crate) fn ascii_only(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_ascii() { c } else { '?' })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(fit(b"completed OK!"), "completed OK!");
        let exact = "é".repeat(RESULT_CHARS);
        assert_eq!(fit(exact.as_bytes()), exact);
        assert_eq!(fit(b""), "");
    }

    #[test]
    fn long_text_keeps_its_tail_with_a_mark() {
        let text = format!("{}{}", "a".repeat(5000), "🦀 end");
        let fitted = fit(text.as_bytes());
        assert_eq!(fitted.chars().count(), RESULT_CHARS);
        assert!(fitted.starts_with(CUT_MARK));
        assert!(fitted.ends_with("aaa🦀 end"));
        assert_eq!(fit_tail("abcdef", 4), "…def");
        assert_eq!(fit_tail("abcdef", 1), "…");
        assert_eq!(fit_tail("abcdef", 0), "");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(fit(b"ok \xff\xfe end"), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn ascii_only_replaces_the_rest() {
        assert_eq!(ascii_only("plain"), "plain");
        assert_eq!(ascii_only("é🦀x"), "??x");
    }
}
