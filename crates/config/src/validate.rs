//! The validation context shared by every section: it collects errors instead of stopping at
//! the first, and checks the value kinds that recur (durations, integers, choices, ports, names,
//! paths, commands).
//!
//! Checks return a usable value even when they record an error, so that validation goes on and
//! reports every problem; [`Config::from_raw`](crate::Config) discards the result if any error
//! was recorded.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use crate::error::{ConfigError, Location};
use crate::parse::Overflows;
use crate::raw::RawCommand;
use crate::span::Source;
use crate::warning::ConfigWarning;

/// Characters allowed in cluster and server names, for messages.
pub(crate) const NAME_CHARS: &str = "A-Z, a-z, 0-9, `_`, `.` and `-`";
/// Characters allowed in SQL identifiers we interpolate, for messages.
pub(crate) const IDENT_CHARS: &str = "A-Z, a-z, 0-9 and `_`";

/// What a secret whose file or variable is missing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrets {
    /// An error: a daemon is about to start and needs every secret now.
    Required,
    /// A warning (`config check`, which may run on another host or in another shell than the
    /// daemons). A secret that is there is still read and checked.
    Deferred,
}

pub(crate) struct Validator<'a> {
    pub(crate) source: Source<'a>,
    /// Integers the parser could not hold, to report as written.
    overflows: Overflows,
    pub(crate) secrets: Secrets,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
}

impl<'a> Validator<'a> {
    /// A validator of `source` that requires secrets and knows of no overflow.
    pub(crate) fn new(source: Source<'a>) -> Self {
        Validator {
            source,
            overflows: Overflows::default(),
            secrets: Secrets::Required,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The same, with the overflows the parser found and how to treat missing secrets.
    pub(crate) fn with(self, overflows: Overflows, secrets: Secrets) -> Self {
        Validator {
            overflows,
            secrets,
            ..self
        }
    }

    pub(crate) fn push(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    pub(crate) fn warn(&mut self, warning: ConfigWarning) {
        self.warnings.push(warning);
    }

    pub(crate) fn at(&self, span: Range<usize>) -> Location {
        self.source.at(span)
    }

    /// The errors and the warnings, in the order found.
    pub(crate) fn finish(self) -> (Vec<ConfigError>, Vec<ConfigWarning>) {
        (self.errors, self.warnings)
    }

    /// The integer as written in the file: it differs from `value` when it did not fit in 64
    /// bits (the parser then holds the nearest bound).
    fn written(&self, span: &Range<usize>, value: i64) -> (bool, String) {
        match self.overflows.written(span.start) {
            Some(written) => (true, written.to_owned()),
            None => (false, value.to_string()),
        }
    }

    /// A string that must not be empty nor contain whitespace (host names, addresses).
    pub(crate) fn host(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
        default: &str,
    ) -> String {
        let Some(raw) = raw else {
            return default.to_owned();
        };
        let at = self.at(raw.span());
        let value = raw.into_inner();
        if value.is_empty() || value.chars().any(char::is_whitespace) {
            self.push(ConfigError::InvalidHost {
                at,
                key: key.to_owned(),
                value: value.clone(),
            });
        }
        value
    }

    /// A TCP port, 1..=65535.
    pub(crate) fn port(&mut self, key: &str, raw: Option<Spanned<i64>>, default: u16) -> u16 {
        let Some(raw) = raw else {
            return default;
        };
        let at = self.at(raw.span());
        let (overflow, written) = self.written(&raw.span(), *raw.get_ref());
        match u16::try_from(raw.into_inner()) {
            Ok(port) if port != 0 && !overflow => port,
            _ => {
                self.push(ConfigError::InvalidPort {
                    at,
                    key: key.to_owned(),
                    value: written,
                });
                default
            }
        }
    }

    /// An integer within `min..=max`.
    pub(crate) fn integer<T>(
        &mut self,
        key: &str,
        raw: Option<Spanned<i64>>,
        default: T,
        (min, max): (T, T),
    ) -> T
    where
        T: Copy + Into<i64> + TryFrom<i64>,
    {
        let Some(raw) = raw else {
            return default;
        };
        let at = self.at(raw.span());
        let (overflow, written) = self.written(&raw.span(), *raw.get_ref());
        let value = raw.into_inner();
        let (min, max) = (min.into(), max.into());
        match T::try_from(value) {
            Ok(n) if (min..=max).contains(&value) && !overflow => n,
            _ => {
                self.push(ConfigError::IntegerOutOfRange {
                    at,
                    key: key.to_owned(),
                    value: written,
                    min,
                    max,
                });
                default
            }
        }
    }

    /// One of `allowed`, written as its `Display` text.
    pub(crate) fn choice<T: Copy + fmt::Display>(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
        default: T,
        allowed: &[T],
    ) -> T {
        let Some(raw) = raw else {
            return default;
        };
        let at = self.at(raw.span());
        let value = raw.into_inner();
        if let Some(choice) = allowed.iter().find(|a| a.to_string() == value) {
            return *choice;
        }
        self.push(ConfigError::InvalidChoice {
            at,
            key: key.to_owned(),
            value,
            allowed: allowed.iter().map(ToString::to_string).collect(),
        });
        default
    }

    /// A humantime duration within `min..=max`.
    pub(crate) fn duration(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
        default: Duration,
        (min, max): (Duration, Duration),
    ) -> Duration {
        let Some(raw) = raw else {
            return default;
        };
        let at = self.at(raw.span());
        let value = raw.into_inner();
        match humantime::parse_duration(value.trim()) {
            Ok(d) if (min..=max).contains(&d) => d,
            Ok(_) => {
                self.push(ConfigError::DurationOutOfRange {
                    at,
                    key: key.to_owned(),
                    value,
                    min,
                    max,
                });
                default
            }
            Err(e) => {
                self.push(ConfigError::InvalidDuration {
                    at,
                    key: key.to_owned(),
                    value,
                    reason: e.to_string(),
                });
                default
            }
        }
    }

    /// A path on this machine; relative paths are relative to the config file's directory.
    pub(crate) fn local_path(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
        default: &str,
    ) -> PathBuf {
        let Some(raw) = raw else {
            return PathBuf::from(default);
        };
        let at = self.at(raw.span());
        let value = raw.into_inner();
        if value.is_empty() {
            self.push(ConfigError::EmptyValue {
                at,
                key: key.to_owned(),
            });
            return PathBuf::from(default);
        }
        self.source.dir().join(value)
    }

    /// A path on a database host: it must be absolute, since it means nothing relative to
    /// this file's directory on another machine.
    pub(crate) fn server_path(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
    ) -> Option<PathBuf> {
        let raw = raw?;
        let at = self.at(raw.span());
        let value = raw.into_inner();
        if !value.starts_with('/') {
            self.push(ConfigError::RelativeServerPath {
                at,
                key: key.to_owned(),
                value: value.clone(),
            });
        }
        Some(PathBuf::from(value))
    }

    /// A command run without a shell: a string split on whitespace, or an array of strings
    /// taken verbatim. The default is a string, split the same way.
    pub(crate) fn command(
        &mut self,
        key: &str,
        raw: Option<Spanned<RawCommand>>,
        default: &str,
    ) -> Vec<String> {
        self.optional_command(key, raw)
            .unwrap_or_else(|| default.split_whitespace().map(str::to_owned).collect())
    }

    /// [`Validator::command`] for a key without default: `None` when absent. An empty string,
    /// an empty array and an empty array element are errors.
    pub(crate) fn optional_command(
        &mut self,
        key: &str,
        raw: Option<Spanned<RawCommand>>,
    ) -> Option<Vec<String>> {
        let raw = raw?;
        let at = self.at(raw.span());
        let words: Vec<String> = match raw.into_inner() {
            RawCommand::Line(line) => line.split_whitespace().map(str::to_owned).collect(),
            RawCommand::Words(words) => words
                .into_iter()
                .enumerate()
                .map(|(index, word)| {
                    if word.get_ref().is_empty() {
                        self.push(ConfigError::EmptyCommandArgument {
                            at: self.at(word.span()),
                            key: key.to_owned(),
                            index,
                        });
                    }
                    word.into_inner()
                })
                .collect(),
        };
        if words.is_empty() {
            self.push(ConfigError::EmptyValue {
                at,
                key: key.to_owned(),
            });
        }
        Some(words)
    }

    /// A name made of `[A-Za-z0-9_.-]` (or `[A-Za-z0-9_]` when `ident`), 1 to 64 long.
    pub(crate) fn name(&mut self, what: &'static str, raw: &Spanned<String>, ident: bool) -> bool {
        let value = raw.get_ref();
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || c == '_' || (!ident && (c == '.' || c == '-'));
        let ok = (1..=64).contains(&value.len()) && value.chars().all(allowed);
        if !ok {
            self.push(ConfigError::InvalidName {
                at: self.at(raw.span()),
                what,
                value: value.clone(),
                allowed: if ident { IDENT_CHARS } else { NAME_CHARS },
            });
        }
        ok
    }
}
