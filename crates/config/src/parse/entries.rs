//! Every key of the file with its dotted path and byte ranges, read with `toml_edit` (which
//! keeps spans where `toml` does not), so that an error at a byte offset can name its key and
//! the key can be cut out of the text.

use std::ops::Range;

use toml_edit::{Document, InlineTable, Item, Table, Value};

/// One key of the file: a key-value pair, a table, or one `[[array]]` item.
#[derive(Debug)]
pub(super) struct Entry {
    /// The dotted path, as validation errors write it: `clusters.prod.servers[0].port`.
    pub(super) path: String,
    /// The path of the table that holds it (`""` for the top level).
    pub(super) table: String,
    /// The bytes an error inside this entry points into (key and value, or a whole table).
    pub(super) covers: Range<usize>,
    /// The bytes to blank out to remove the entry and all it holds, keeping the text valid.
    pub(super) cut: Vec<Range<usize>>,
}

/// The entries of a document, outermost first.
#[derive(Debug, Default)]
pub(super) struct Entries(Vec<Entry>);

impl Entries {
    /// Indexes `text`, which must parse.
    pub(super) fn index(text: &str) -> Result<Entries, toml_edit::TomlError> {
        let doc = Document::parse(text)?;
        let mut entries = Entries::default();
        entries.table(text, doc.as_table(), "");
        Ok(entries)
    }

    /// The innermost entry that `offset` falls in.
    pub(super) fn at(&self, offset: usize) -> Option<&Entry> {
        self.0
            .iter()
            .filter(|e| e.covers.contains(&offset))
            .min_by_key(|e| e.covers.len())
    }

    /// The innermost entry called `name` that `offset` falls in: for an error about a key,
    /// which may be the header of a `[[table]]` whose first item is a smaller entry.
    pub(super) fn named_at(&self, offset: usize, name: &str) -> Option<&Entry> {
        self.0
            .iter()
            .filter(|e| e.covers.contains(&offset) && e.path == join(&e.table, name))
            .min_by_key(|e| e.covers.len())
    }

    fn table(&mut self, text: &str, table: &Table, path: &str) {
        for (name, item) in table.iter() {
            let Some(key) = table.key(name).and_then(|k| k.span()) else {
                continue;
            };
            let child = join(path, name);
            match item {
                Item::None => {}
                Item::Value(value) => {
                    let Some(value_span) = value.span() else {
                        continue;
                    };
                    // A key-value pair of a table body has only blanks before it on its line
                    // (a dotted key's first parts too): cut from the line's start.
                    let line_start = text[..key.start].rfind('\n').map_or(0, |i| i + 1);
                    #[allow(clippy::single_range_in_vec_init)] // one cut, not its offsets
                    let cut = vec![line_start..value_span.end];
                    self.push(&child, path, key.start..value_span.end, cut.clone());
                    if let Value::InlineTable(inline) = value {
                        self.inline(text, inline, &child, &cut);
                    }
                }
                Item::Table(sub) => {
                    let first = self.push(&child, path, sub.span().unwrap_or(key), Vec::new());
                    self.table(text, sub, &child);
                    self.cut_all_from(first);
                }
                Item::ArrayOfTables(array) => {
                    let first = self.push(
                        &child,
                        path,
                        array.span().unwrap_or(key.clone()),
                        Vec::new(),
                    );
                    for (i, sub) in array.iter().enumerate() {
                        let element = format!("{child}[{i}]");
                        let covers = sub.span().unwrap_or(key.clone());
                        let at = self.push(&element, &child, covers, Vec::new());
                        self.table(text, sub, &element);
                        self.cut_all_from(at);
                    }
                    self.cut_all_from(first);
                }
            }
        }
    }

    /// A table (or `[[array]]` item) pushed at `first`, whose contents follow it, is cut by
    /// cutting its own text and everything under it.
    fn cut_all_from(&mut self, first: usize) {
        let cut: Vec<Range<usize>> = self.0[first..]
            .iter()
            .flat_map(|e| e.cut.iter().cloned().chain([e.covers.clone()]))
            .collect();
        self.0[first].cut = cut;
    }

    /// The members of an inline table. `parent_cut` removes the whole inline table: used for
    /// members whose own removal cannot be worked out.
    fn inline(&mut self, text: &str, table: &InlineTable, path: &str, parent_cut: &[Range<usize>]) {
        for (name, value) in table.iter() {
            let child = join(path, name);
            let Some(key) = table.key(name).and_then(|k| k.span()) else {
                continue;
            };
            match (value, value.span()) {
                // `{ q.r = 1 }`: `q` has no text but its key; its members carry its cut.
                (Value::InlineTable(inline), _) if inline.is_dotted() => {
                    let first = self.push(&child, path, key, Vec::new());
                    self.inline(text, inline, &child, parent_cut);
                    self.cut_all_from(first);
                }
                (_, None) => {}
                (value, Some(value_span)) => {
                    let cut = member_cut(text, key.start, value_span.end)
                        .map_or_else(|| parent_cut.to_vec(), |cut| vec![cut]);
                    self.push(&child, path, key.start..value_span.end, cut.clone());
                    if let Value::InlineTable(inline) = value {
                        self.inline(text, inline, &child, &cut);
                    }
                }
            }
        }
    }

    fn push(
        &mut self,
        path: &str,
        table: &str,
        covers: Range<usize>,
        cut: Vec<Range<usize>>,
    ) -> usize {
        self.0.push(Entry {
            path: path.to_owned(),
            table: table.to_owned(),
            covers,
            cut,
        });
        self.0.len() - 1
    }
}

/// `path.name`, or `name` at the top level.
pub(super) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The bytes of one member of an inline table (`key = value` from `key_start` to `value_end`)
/// with one of the commas beside it, so that `{ a = 1, b = 2 }` stays valid without either.
/// `None` when the text around it is not as expected (a quoted key with a comma in it).
fn member_cut(text: &str, key_start: usize, value_end: usize) -> Option<Range<usize>> {
    // Back to the `{` or `,` before the key (past the first parts of a dotted key).
    let before = text[..key_start].rfind([',', '{'])?;
    let prefix = &text[before + 1..key_start];
    if prefix.contains(['"', '\'', '}', '\n']) {
        return None;
    }
    let after = &text[value_end..];
    let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
    if after[blanks..].starts_with(',') {
        Some(before + 1..value_end + blanks + 1)
    } else if text[before..].starts_with(',') {
        Some(before..value_end)
    } else {
        Some(before + 1..value_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(text: &str, cut: &[Range<usize>]) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for r in cut {
            for b in &mut bytes[r.clone()] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    const TEXT: &str = "top = 1\n[m]\nport = 5 # c\ncred = { user = \"x\", p = 1, q.r = 2 }\n\
                        sub.x = 3\n[c.a.link]\nz = 1\n[[c.a.servers]]\nname = \"q\"\n\
                        [[c.a.servers]]\nname = \"r\"\n[c.a]\nk = [1,\n 2]\n";

    #[test]
    fn offsets_name_the_innermost_key() {
        let entries = Entries::index(TEXT).unwrap();
        let cases = [
            ("top", "top", ""),
            ("5 #", "m.port", "m"),
            ("\"x\"", "m.cred.user", "m.cred"),
            ("p = 1,", "m.cred.p", "m.cred"),
            ("r = 2", "m.cred.q.r", "m.cred.q"),
            ("x = 3", "m.sub.x", "m.sub"),
            ("link", "c.a.link", "c.a"),
            ("\"r\"", "c.a.servers[1].name", "c.a.servers[1]"),
            (" 2]", "c.a.k", "c.a"),
        ];
        for (text, path, table) in cases {
            let e = entry_in(&entries, TEXT, text);
            assert_eq!((e.path.as_str(), e.table.as_str()), (path, table), "{text}");
        }
        assert!(entries.at(TEXT.find("[m]").unwrap() - 1).is_none());
        let servers = TEXT.find("servers").unwrap();
        assert_eq!(entries.at(servers).unwrap().path, "c.a.servers[0]");
        assert_eq!(
            entries.named_at(servers, "servers").unwrap().path,
            "c.a.servers"
        );
        assert!(entries.named_at(servers, "name").is_none());
    }

    #[test]
    fn every_cut_leaves_valid_toml_without_the_key() {
        let entries = Entries::index(TEXT).unwrap();
        for e in &entries.0 {
            let text = blank(TEXT, &e.cut);
            let value: toml::Table = toml::from_str(&text)
                .unwrap_or_else(|err| panic!("cutting {}:\n{text}\n{err}", e.path));
            let mut node = Some(&value);
            let parts: Vec<&str> = e.path.split('.').collect();
            let (last, parents) = parts.split_last().unwrap();
            for p in parents {
                node = node.and_then(|n| n.get(*p)).and_then(|v| v.as_table());
            }
            if !last.ends_with(']') {
                assert!(
                    node.is_none_or(|n| !n.contains_key(*last)),
                    "{} still there:\n{text}",
                    e.path
                );
            }
        }
    }

    #[test]
    fn inline_members_take_one_comma_with_them() {
        let text = "a = { x = 1, y = 2 }\nb = { x = 1 , y = 2 }\nc = { x = 1 }\n";
        let entries = Entries::index(text).unwrap();
        let cut = |at: &str| blank(text, &entry_in(&entries, text, at).cut);
        assert_eq!(
            cut("x = 1, y"),
            "a = {        y = 2 }\nb = { x = 1 , y = 2 }\nc = { x = 1 }\n"
        );
        assert_eq!(
            cut("y = 2 }\nc"),
            "a = { x = 1, y = 2 }\nb = { x = 1         }\nc = { x = 1 }\n"
        );
        assert_eq!(
            cut("x = 1 }"),
            "a = { x = 1, y = 2 }\nb = { x = 1 , y = 2 }\nc = {       }\n"
        );
    }

    fn entry_in<'a>(entries: &'a Entries, text: &str, at: &str) -> &'a Entry {
        entries.at(text.find(at).unwrap()).unwrap()
    }
}
