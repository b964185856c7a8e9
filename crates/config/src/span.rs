//! From byte offsets (TOML spans) to `FILE:LINE:COL`.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::error::Location;

/// The config text and its path, to turn spans into [`Location`]s.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    pub(crate) path: Arc<Path>,
    pub(crate) text: &'a str,
}

impl<'a> Source<'a> {
    pub(crate) fn new(path: &Path, text: &'a str) -> Self {
        Source {
            path: Arc::from(path),
            text,
        }
    }

    /// The location of the start of `span`.
    pub(crate) fn at(&self, span: Range<usize>) -> Location {
        self.at_offset(span.start)
    }

    /// The location of byte `offset`; offsets past the end or inside a character are clamped.
    pub(crate) fn at_offset(&self, offset: usize) -> Location {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let saturate = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Location {
            path: Arc::clone(&self.path),
            line: saturate(before.matches('\n').count() + 1),
            column: saturate(before[line_start..].chars().count() + 1),
        }
    }

    /// The start of the file, for problems that belong to no line.
    pub(crate) fn start(&self) -> Location {
        self.at_offset(0)
    }

    /// The directory that relative paths in the file are relative to.
    pub(crate) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let text = "a = 1\n# é\nbé = 2\n";
        let s = Source::new(Path::new("f.toml"), text);
        assert_eq!(s.at_offset(0).to_string(), "f.toml:1:1");
        assert_eq!(s.at_offset(4).to_string(), "f.toml:1:5");
        assert_eq!(s.at_offset(6).to_string(), "f.toml:2:1");
        let b = text.find('b').unwrap();
        assert_eq!(s.at_offset(b + 3).to_string(), "f.toml:3:3");
        // Inside the two bytes of `é`: clamped back to its start.
        assert_eq!(s.at_offset(b + 2).to_string(), "f.toml:3:2");
        assert_eq!(s.at_offset(1000).line, 4);
    }
}
