//! The statement level of [`SqlCounts`](super::SqlCounts): the first tokens of a statement say
//! whether it creates a database or a table, selects a database, or inserts rows into which
//! table; the lexer counts the rows themselves.

use std::collections::{BTreeMap, BTreeSet};

use super::Counts;

/// Where the current statement is, as far as its first words tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stmt {
    /// Nothing read yet but blanks and comments.
    Start,
    /// Nothing more to learn from this statement.
    Skip,
    /// `USE`: the database's name next.
    Use,
    /// `CREATE [OR REPLACE]`: `DATABASE`, `SCHEMA` or `TABLE` next.
    Create,
    /// `CREATE OR`: `REPLACE` next.
    CreateOr,
    /// `CREATE DATABASE [IF NOT EXISTS]`: the name next.
    CreateDatabase,
    /// `CREATE TABLE [IF NOT EXISTS]`: the name next.
    CreateTable,
    /// `CREATE TABLE name`: a `.` makes it the database's name.
    CreateTableName(String),
    /// `CREATE TABLE db.`: the table's name next.
    CreateTableIn(String),
    /// `INSERT`/`REPLACE` and modifiers: `INTO` next.
    Insert,
    /// `INSERT INTO`: the name next.
    InsertInto,
    /// `INSERT INTO name`: a `.` makes it the database's name.
    InsertName(String),
    /// `INSERT INTO db.`: the table's name next.
    InsertIn(String),
    /// The table's key is known: a column list or `VALUES` next.
    InsertTable(String),
    /// In the column list, `depth` parentheses deep.
    InsertColumns { key: String, depth: u32 },
    /// In `VALUES` (the lexer counts): `depth` parentheses deep, `rows` tuples seen.
    Values { key: String, depth: u32, rows: u64 },
}

impl Stmt {
    /// Whether the statement's words and names are still of interest.
    pub(super) fn reads_tokens(&self) -> bool {
        !matches!(self, Stmt::Skip | Stmt::Values { .. })
    }
}

/// A token of a statement's head.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tok<'a> {
    /// An unquoted word (keyword or name).
    Word(&'a [u8]),
    /// A backtick-quoted name, unquoted.
    Name(&'a [u8]),
    /// Any other character outside strings, blanks and comments.
    Punct(u8),
    /// A string literal.
    Str,
}

/// The current statement and what the statements so far told.
#[derive(Debug)]
pub(super) struct Statements {
    /// The current statement.
    pub(super) stmt: Stmt,
    /// The database of the last `USE`.
    db: Option<String>,
    databases: BTreeSet<String>,
    table_rows: BTreeMap<String, u64>,
}

impl Statements {
    pub(super) fn new() -> Statements {
        Statements {
            stmt: Stmt::Start,
            db: None,
            databases: BTreeSet::new(),
            table_rows: BTreeMap::new(),
        }
    }

    pub(super) fn finish(self) -> Counts {
        Counts {
            databases: self.databases.into_iter().collect(),
            table_rows: self.table_rows,
        }
    }

    /// `;`: the statement is over.
    pub(super) fn end(&mut self) {
        match std::mem::replace(&mut self.stmt, Stmt::Start) {
            Stmt::Values { key, rows, .. } => *self.table_rows.entry(key).or_insert(0) += rows,
            Stmt::CreateTableName(name) => self.created(None, &name),
            _ => {}
        }
    }

    /// The statement goes on past its rows (`ON DUPLICATE KEY UPDATE ...`, not written by
    /// mariadb-dump): keep the rows counted so far, and count no more.
    pub(super) fn rows_done(&mut self) {
        if let Stmt::Values { key, rows, .. } = std::mem::replace(&mut self.stmt, Stmt::Skip) {
            *self.table_rows.entry(key).or_insert(0) += rows;
        }
    }

    /// The statement head's next token.
    pub(super) fn token(&mut self, tok: Tok<'_>) {
        use Stmt::*;
        use Tok::{Name, Punct, Word};
        let kw =
            |w: &[u8], words: &[&str]| words.iter().any(|k| w.eq_ignore_ascii_case(k.as_bytes()));
        let stmt = std::mem::replace(&mut self.stmt, Skip);
        self.stmt = match (stmt, tok) {
            (Start, Word(w)) if kw(w, &["USE"]) => Use,
            (Start, Word(w)) if kw(w, &["CREATE"]) => Create,
            (Start, Word(w)) if kw(w, &["INSERT", "REPLACE"]) => Insert,
            (Use, Word(n) | Name(n)) => {
                let db = text(n);
                self.databases.insert(db.clone());
                self.db = Some(db);
                Skip
            }
            (Create, Word(w)) if kw(w, &["DATABASE", "SCHEMA"]) => CreateDatabase,
            (Create, Word(w)) if kw(w, &["TABLE"]) => CreateTable,
            (Create, Word(w)) if kw(w, &["OR"]) => CreateOr,
            (CreateOr, Word(w)) if kw(w, &["REPLACE"]) => Create,
            (CreateDatabase, Word(w)) if kw(w, &["IF", "NOT", "EXISTS"]) => CreateDatabase,
            (CreateDatabase, Word(n) | Name(n)) => {
                self.databases.insert(text(n));
                Skip
            }
            (CreateTable, Word(w)) if kw(w, &["IF", "NOT", "EXISTS"]) => CreateTable,
            (CreateTable, Word(n) | Name(n)) => CreateTableName(text(n)),
            (CreateTableName(db), Punct(b'.')) => CreateTableIn(db),
            (CreateTableName(name), _) => {
                self.created(None, &name);
                Skip
            }
            (CreateTableIn(db), Word(n) | Name(n)) => {
                self.created(Some(db), &text(n));
                Skip
            }
            (Insert, Word(w)) if kw(w, &["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"]) => {
                Insert
            }
            (Insert, Word(w)) if kw(w, &["INTO"]) => InsertInto,
            (InsertInto, Word(n) | Name(n)) => InsertName(text(n)),
            (InsertName(db), Punct(b'.')) => InsertIn(db),
            (InsertName(name), tok) => after_table(self.key(None, &name), tok),
            (InsertIn(db), Word(n) | Name(n)) => InsertTable(self.key(Some(db), &text(n))),
            (InsertTable(key), tok) => after_table(key, tok),
            (InsertColumns { key, depth }, Punct(b'(')) => InsertColumns {
                key,
                depth: depth.saturating_add(1),
            },
            (InsertColumns { key, depth: 1 }, Punct(b')')) => InsertTable(key),
            (InsertColumns { key, depth }, Punct(b')')) => InsertColumns {
                key,
                depth: depth - 1,
            },
            (columns @ InsertColumns { .. }, _) => columns,
            _ => Skip,
        };
    }

    /// A table was created: it is listed even if no row follows.
    fn created(&mut self, db: Option<String>, table: &str) {
        let key = self.key(db, table);
        self.table_rows.entry(key).or_insert(0);
    }

    /// `db.table`, in the current database unless `db` is given.
    fn key(&self, db: Option<String>, table: &str) -> String {
        match db.as_deref().or(self.db.as_deref()) {
            Some(db) => format!("{db}.{table}"),
            None => table.to_owned(),
        }
    }
}

/// After `INSERT INTO table`: a column list or the values.
fn after_table(key: String, tok: Tok<'_>) -> Stmt {
    match tok {
        Tok::Punct(b'(') => Stmt::InsertColumns { key, depth: 1 },
        Tok::Word(w) if w.eq_ignore_ascii_case(b"VALUES") || w.eq_ignore_ascii_case(b"VALUE") => {
            Stmt::Values {
                key,
                depth: 0,
                rows: 0,
            }
        }
        // `INSERT ... SELECT`, `INSERT ... SET`: no rows to count here.
        _ => Stmt::Skip,
    }
}

/// A name as text (mariadb-dump writes them in utf8mb4).
fn text(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
