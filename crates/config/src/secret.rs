//! [`Secret`]: a password that never shows up in logs.

use std::fmt;

/// A password or other credential, redacted in `Debug` and `Display`.
///
/// It deliberately has no `Serialize`: the only way to the value is
/// [`expose_secret`](Secret::expose_secret), which makes every use easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret value, to hand to a database driver; never log or put it on a command line.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[SECRET]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[SECRET]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s}"), "[SECRET]");
        assert_eq!(format!("{s:?}"), "[SECRET]");
        assert_eq!(format!("{s:#?}"), "[SECRET]");
        assert_eq!(s.expose_secret(), "hunter2");
    }
}
