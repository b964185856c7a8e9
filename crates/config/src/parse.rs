//! From TOML text to [`RawConfig`], reporting every wrong type and unknown key rather than the
//! first.
//!
//! serde stops at the first error. So the text is indexed once (`entries`: every key's path and
//! bytes), then deserialized again and again: each error is turned into a [`ConfigError`] that
//! names its key, and the key is blanked out of the text (spaces over the same bytes, so that
//! every offset stays right) before the next attempt. What is left deserializes and is
//! validated as usual; validation knows which keys were cut ([`Parsed::reported`]) so that it
//! does not also report them missing.
//!
//! Integers that do not fit in 64 bits are a TOML syntax error; each is replaced in the text by
//! the largest (or smallest) 64-bit integer, padded with spaces, and remembered
//! ([`Overflows`]), so that validation reports it with its key, the number as written and the
//! range that key allows. Any other syntax error stops parsing.

mod entries;
mod nearest;

use std::ops::Range;

use crate::error::{ConfigError, ConfigErrors};
use crate::raw::RawConfig;
use crate::span::Source;

use entries::{Entries, Entry};

/// What is left to validate of a file, and what was wrong with the rest.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// The file less its wrong keys.
    pub(crate) raw: RawConfig,
    /// The wrong types and unknown keys, in file order.
    pub(crate) errors: Vec<ConfigError>,
    /// Dotted paths of the keys these errors are about: those cut out, and the known keys that
    /// misspelt ones stand for. Validation does not report them missing.
    pub(crate) reported: Vec<String>,
    /// Integers too large (or small) for 64 bits, which `raw` holds as `i64::MAX` (`MIN`).
    pub(crate) overflows: Overflows,
}

/// Integers written in the file that do not fit in 64 bits, by the offset of their first byte.
/// Validation of an integer key checks here first, to report the number as written.
#[derive(Debug, Default)]
pub(crate) struct Overflows(Vec<(usize, String)>);

impl Overflows {
    /// The number as written, if the value at `offset` was one too large for 64 bits.
    pub(crate) fn written(&self, offset: usize) -> Option<&str> {
        self.0
            .iter()
            .find(|(at, _)| *at == offset)
            .map(|(_, written)| written.as_str())
    }

    /// Replaces the integer literal at `offset`, which the parser found too large (`large`) or
    /// too small, by the 64-bit bound padded to the same length. `false` when it cannot.
    fn replace(&mut self, text: &mut String, offset: usize, large: bool) -> bool {
        let Some(rest) = text.get(offset..) else {
            return false;
        };
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-')))
            .unwrap_or(rest.len());
        // Any integer literal beyond the bounds is at least as long as these.
        let bound = if large {
            "0x7fffffffffffffff"
        } else {
            "-9223372036854775808"
        };
        if len < bound.len() || self.written(offset).is_some() {
            return false;
        }
        self.0.push((offset, rest[..len].to_owned()));
        text.replace_range(offset..offset + len, &format!("{bound:<len$}"));
        true
    }
}

/// Parses `source`: `Err` only with a syntax error (after the key errors found before it).
pub(crate) fn parse(source: &Source<'_>) -> Result<Parsed, ConfigErrors> {
    let mut text = source.text.to_owned();
    let mut overflows = Overflows::default();
    let entries = loop {
        match Entries::index(&text) {
            Ok(entries) => break entries,
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                let message = e.message();
                // The parser says "integer number overflowed" either way; the sign tells which.
                let overflowed = message.starts_with("integer number overflowed");
                let large = !text.get(offset..).is_some_and(|rest| rest.starts_with('-'));
                if !(overflowed && overflows.replace(&mut text, offset, large)) {
                    return Err(syntax(source, offset, message).into());
                }
            }
        }
    };

    let mut errors: Vec<(usize, ConfigError)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    let raw = loop {
        let e = match toml::from_str::<RawConfig>(&text) {
            Ok(raw) => break raw,
            Err(e) => e,
        };
        let offset = e.span().map_or(0, |s| s.start);
        // Each round cuts a key not cut before, so this ends. It ends early on an error that
        // is not about one key, or one that cutting its key did not cure.
        let entry = e
            .span()
            .and_then(|s| match unknown_field(e.message()) {
                Some((key, _)) => entries.named_at(s.start, &key),
                None => entries.at(s.start),
            })
            .filter(|entry| !removed.contains(&entry.path));
        let Some(entry) = entry else {
            errors.push((offset, syntax(source, offset, e.message())));
            return Err(into_errors(errors));
        };
        let error = key_error(source, offset, e.message(), entry, &overflows);
        if let ConfigError::UnknownKey {
            table,
            suggestion: Some(meant),
            ..
        } = &error
        {
            reported.push(entries::join(table, meant));
        }
        errors.push((offset, error));
        blank(&mut text, &entry.cut);
        removed.push(entry.path.clone());
    };
    reported.extend(removed);
    errors.sort_by_key(|(offset, _)| *offset);
    Ok(Parsed {
        raw,
        errors: errors.into_iter().map(|(_, e)| e).collect(),
        reported,
        overflows,
    })
}

/// `errors`, which holds at least the one that stopped parsing, in file order.
fn into_errors(mut errors: Vec<(usize, ConfigError)>) -> ConfigErrors {
    errors.sort_by_key(|(offset, _)| *offset);
    let errors = errors.into_iter().map(|(_, e)| e).collect();
    ConfigErrors::new(errors).unwrap_or_else(|| unreachable!("the stopping error is in the list"))
}

/// Spaces over `cut`, newlines kept: the text stays valid TOML and every offset stays right.
fn blank(text: &mut String, cut: &[Range<usize>]) {
    let mut bytes = std::mem::take(text).into_bytes();
    for range in cut {
        for b in &mut bytes[range.clone()] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    // Every cut range starts and ends at an ASCII character (a key, a quote, a bracket...);
    // the bytes of any character in between all became spaces.
    *text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
}

/// The error of the key `entry` that serde reported at `offset`.
fn key_error(
    source: &Source<'_>,
    offset: usize,
    message: &str,
    entry: &Entry,
    overflows: &Overflows,
) -> ConfigError {
    let at = source.at_offset(offset);
    let message = message.trim();
    if let Some((key, known)) = unknown_field(message) {
        let suggestion = nearest::nearest(&key, &known).map(str::to_owned);
        return ConfigError::UnknownKey {
            at,
            key,
            table: entry.table.clone(),
            known,
            suggestion,
        };
    }
    let key = entry.path.clone();
    match wrong_type(message) {
        Some((found, expected)) => ConfigError::WrongType {
            at,
            key,
            found: match overflows.written(offset) {
                Some(written) => format!("the integer {written}"),
                None => found,
            },
            expected,
        },
        None => ConfigError::InvalidValue {
            at,
            key,
            message: one_line(message),
        },
    }
}

fn syntax(source: &Source<'_>, offset: usize, message: &str) -> ConfigError {
    ConfigError::Syntax {
        at: source.at_offset(offset),
        message: one_line(message.trim()).replace("expected i64", "expected an integer"),
    }
}

/// Multi-line parser messages ("invalid table header\nexpected `.`, `]`") on one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a` or `b`", or
/// "there are no fields") into the key and the known keys.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let known = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((key.to_owned(), known))
}

/// Splits serde's "invalid type: string \"x\", expected i64" into what was found and what was
/// expected, both in words.
fn wrong_type(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let found = match found.split_once(' ') {
        Some(("string", s)) => format!("the string {s}"),
        Some(("integer", n)) => format!("the integer {}", n.trim_matches('`')),
        Some(("floating", n)) => format!(
            "the number {}",
            n.trim_start_matches("point ").trim_matches('`')
        ),
        Some(("boolean", b)) => b.trim_matches('`').to_owned(),
        _ if found == "map" => "a table".to_owned(),
        _ if found == "sequence" => "an array".to_owned(),
        _ => found.to_owned(),
    };
    let expected = match expected {
        "i64" | "u64" | "i32" | "u32" | "u16" => "an integer".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        e if e.starts_with("struct ") => "a table".to_owned(),
        e => e.to_owned(),
    };
    Some((found, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_messages_are_split() {
        assert_eq!(
            unknown_field("unknown field `x`, expected one of `a`, `b-c`, `d`"),
            Some(("x".into(), vec!["a".into(), "b-c".into(), "d".into()]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, expected `a` or `b`"),
            Some(("x".into(), vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, there are no fields"),
            Some(("x".into(), vec![]))
        );
        assert_eq!(unknown_field("invalid type: string"), None);
    }

    #[test]
    fn wrong_types_are_put_in_words() {
        let cases = [
            (
                "invalid type: string \"x, y\", expected i64",
                "the string \"x, y\"",
                "an integer",
            ),
            (
                "invalid type: integer `3`, expected a boolean",
                "the integer 3",
                "a boolean",
            ),
            (
                "invalid type: floating point `1.5`, expected i64",
                "the number 1.5",
                "an integer",
            ),
            (
                "invalid type: boolean `true`, expected a string",
                "true",
                "a string",
            ),
            (
                "invalid type: integer `5`, expected struct RawCredential",
                "the integer 5",
                "a table",
            ),
            (
                "invalid type: map, expected a sequence",
                "a table",
                "an array",
            ),
        ];
        for (message, found, expected) in cases {
            assert_eq!(
                wrong_type(message),
                Some((found.to_owned(), expected.to_owned())),
                "{message}"
            );
        }
        assert_eq!(wrong_type("unknown task `x`"), None);
    }

    #[test]
    fn integers_beyond_64_bits_are_replaced_in_place() {
        let mut overflows = Overflows::default();
        let text =
            "a = 99999999999999999999 # c\nb = -99999999999999999999\nc = 0x8000000000000000\n";
        let mut text = text.to_owned();
        let (a, b, c) = (4, text.find("-9").unwrap(), text.find("0x").unwrap());
        assert!(overflows.replace(&mut text, a, true));
        assert!(overflows.replace(&mut text, b, false));
        assert!(overflows.replace(&mut text, c, true));
        assert!(!overflows.replace(&mut text, c, true), "once only");
        assert_eq!(
            text,
            "a = 0x7fffffffffffffff   # c\nb = -9223372036854775808 \nc = 0x7fffffffffffffff\n"
        );
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["a"].as_integer(), Some(i64::MAX));
        assert_eq!(table["b"].as_integer(), Some(i64::MIN));
        assert_eq!(overflows.written(a), Some("99999999999999999999"));
        assert_eq!(overflows.written(b), Some("-99999999999999999999"));
        assert_eq!(overflows.written(c), Some("0x8000000000000000"));
        assert_eq!(overflows.written(1), None);
        let mut short = "a = 1\n".to_owned();
        assert!(!overflows.replace(&mut short, 4, true));
    }
}
