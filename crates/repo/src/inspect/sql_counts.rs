//! What a dump holds, learnt while it streams by: its databases (`CREATE DATABASE`, `USE`), its
//! tables (`CREATE TABLE`) and the rows inserted into each (the tuples of every
//! `INSERT`/`REPLACE ... VALUES`). The manifest records them so that a later verification can
//! compare a restore with what the backup held when it was taken.
//!
//! The scanner is a byte-level lexer with a few bytes of state, so a statement may be split
//! anywhere between chunks (even inside an escape) and may be megabytes long: nothing but the
//! current database, the current statement's table and small counters is kept. It follows the
//! `mariadb` client's rules for what is a statement:
//!
//! - `'...'` and `"..."` strings with backslash escapes (a doubled quote is two adjacent
//!   strings, which changes nothing here), `` `...` `` names (a doubled backtick is one
//!   backtick), `-- ` / `#` line comments and `/* */` comments. Executable comments
//!   (`/*!40000 ALTER TABLE ... */`, and the `/*!50001 CREATE VIEW|TABLE` placeholders that
//!   mariadb-dump writes for views) are comments here: nothing in them creates a table.
//! - `;` outside strings and comments ends a statement, whatever the parentheses.
//! - `DELIMITER ;;` (before triggers, routines and events) starts a stretch that is skipped,
//!   line by line, until a line `DELIMITER ;`: bodies there may hold `INSERT`s that only run
//!   later, and may have been stored under an `sql_mode` whose quoting rules differ.
//!
//! Only a statement's first words are read (`CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name`,
//! `INSERT [IGNORE] INTO name [(columns)] VALUES`, ...); in `VALUES`, each `(` at depth 0 is
//! one row. Keys are `db.table` with the names as written, unquoted; a table created or filled
//! before any `USE` (a dump of one database without `--databases`) is keyed by its name alone.

mod statement;

use std::collections::BTreeMap;

use statement::{Statements, Stmt, Tok};

/// Longest name kept (64 characters of up to 4 bytes each); longer ones are cut.
const MAX_NAME: usize = 256;
/// `DELIMITER`, as it starts a client command line.
const DELIMITER: &[u8] = b"DELIMITER";
/// `col` value of [`Lex::Custom`] once the current line cannot be a `DELIMITER` line.
const NOT_A_COMMAND: u8 = u8::MAX;

/// What the scanner learnt from a whole dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Databases created or used, sorted.
    pub databases: Vec<String>,
    /// `db.table` → rows inserted; every created table is present, with 0 when it is empty.
    pub table_rows: BTreeMap<String, u64>,
}

/// Where the lexer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Outside strings, names and comments.
    Code,
    /// In a `'` string; `SingleEscape` just after a backslash in it.
    Single,
    SingleEscape,
    /// In a `"` string; `DoubleEscape` just after a backslash in it.
    Double,
    DoubleEscape,
    /// In a `` ` `` name; `BacktickClose` just after a backtick in it (a second one is literal).
    Backtick,
    BacktickClose,
    /// After `-` / `--` / `/` in code: a comment may start.
    Dash,
    DashDash,
    Slash,
    /// In a `/* */` comment; `BlockStar` just after a `*` in it.
    Block,
    BlockStar,
    /// In a `-- ` or `#` comment, to the end of the line.
    Line,
    /// The rest of a `DELIMITER` command's line.
    DelimiterArg,
    /// A delimiter other than `;` is in force: only a line starting with `DELIMITER ` matters.
    /// `col` bytes of it have matched at the line's start ([`NOT_A_COMMAND`]: not this line).
    Custom {
        col: u8,
    },
}

/// The streaming scanner; see the module documentation.
#[derive(Debug)]
pub(crate) struct SqlCounts {
    lex: Lex,
    statements: Statements,
    /// True while a delimiter other than `;` is in force.
    custom_delimiter: bool,
    /// The word, name or `DELIMITER` argument being read (at most [`MAX_NAME`] bytes).
    token: Vec<u8>,
    /// True while an unquoted word is being read into `token`.
    in_word: bool,
}

impl SqlCounts {
    pub(crate) fn new() -> SqlCounts {
        SqlCounts {
            lex: Lex::Code,
            statements: Statements::new(),
            custom_delimiter: false,
            token: Vec::with_capacity(MAX_NAME),
            in_word: false,
        }
    }

    /// Whether the bytes fed so far end between statements: the last one ended by its `;`,
    /// nothing after it but blanks and comments (a file cut short ends inside one).
    pub(crate) fn between_statements(&self) -> bool {
        self.statements.stmt == Stmt::Start && matches!(self.lex, Lex::Code | Lex::Line)
    }

    /// The next bytes of the dump.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        let mut i = 0;
        while i < data.len() {
            match self.lex {
                Lex::Code => {
                    if matches!(self.statements.stmt, Stmt::Values { .. }) {
                        i = self.values(data, i);
                    } else if self.code(data[i]) {
                        i += 1;
                    }
                }
                Lex::Single | Lex::Double => {
                    let quote = if self.lex == Lex::Single { b'\'' } else { b'"' };
                    loop {
                        let Some(at) = find2(&data[i..], quote, b'\\') else {
                            i = data.len();
                            break;
                        };
                        i += at + 1;
                        if data[i - 1] == quote {
                            self.lex = Lex::Code;
                            break;
                        }
                        // An escape: its byte is skipped here, or first thing in the next chunk.
                        if i == data.len() {
                            self.lex = if quote == b'\'' {
                                Lex::SingleEscape
                            } else {
                                Lex::DoubleEscape
                            };
                            break;
                        }
                        i += 1;
                    }
                }
                Lex::SingleEscape => {
                    i += 1;
                    self.lex = Lex::Single;
                }
                Lex::DoubleEscape => {
                    i += 1;
                    self.lex = Lex::Double;
                }
                Lex::Backtick => match data[i..].iter().position(|&c| c == b'`') {
                    None => {
                        self.push_token(&data[i..]);
                        i = data.len();
                    }
                    Some(at) => {
                        self.push_token(&data[i..i + at]);
                        i += at + 1;
                        self.lex = Lex::BacktickClose;
                    }
                },
                Lex::BacktickClose => {
                    if data[i] == b'`' {
                        self.push_token(b"`");
                        self.lex = Lex::Backtick;
                        i += 1;
                    } else {
                        // The name ended; this byte is code again.
                        self.lex = Lex::Code;
                        if self.statements.stmt.reads_tokens() {
                            self.emit_token(false);
                        }
                    }
                }
                Lex::Dash => {
                    if data[i] == b'-' {
                        self.lex = Lex::DashDash;
                        i += 1;
                    } else {
                        self.lex = Lex::Code;
                        self.punct(b'-');
                    }
                }
                Lex::DashDash => {
                    // The client's rule: `--` starts a comment only before a blank or control.
                    let b = data[i];
                    if b <= b' ' {
                        self.lex = if b == b'\n' { Lex::Code } else { Lex::Line };
                        i += 1;
                    } else {
                        self.lex = Lex::Code;
                        self.punct(b'-');
                        self.punct(b'-');
                    }
                }
                Lex::Slash => {
                    if data[i] == b'*' {
                        self.lex = Lex::Block;
                        i += 1;
                    } else {
                        self.lex = Lex::Code;
                        self.punct(b'/');
                    }
                }
                Lex::Block => match data[i..].iter().position(|&c| c == b'*') {
                    None => i = data.len(),
                    Some(at) => {
                        i += at + 1;
                        self.lex = Lex::BlockStar;
                    }
                },
                Lex::BlockStar => {
                    self.lex = match data[i] {
                        b'/' => Lex::Code,
                        b'*' => Lex::BlockStar,
                        _ => Lex::Block,
                    };
                    i += 1;
                }
                Lex::Line => match data[i..].iter().position(|&c| c == b'\n') {
                    None => i = data.len(),
                    Some(at) => {
                        i += at + 1;
                        self.lex = Lex::Code;
                    }
                },
                Lex::DelimiterArg => match data[i..].iter().position(|&c| c == b'\n') {
                    None => {
                        self.push_raw(&data[i..]);
                        i = data.len();
                    }
                    Some(at) => {
                        self.push_raw(&data[i..i + at]);
                        i += at + 1;
                        self.delimiter_line_done();
                    }
                },
                Lex::Custom { col } => {
                    if col == NOT_A_COMMAND {
                        match data[i..].iter().position(|&c| c == b'\n') {
                            None => i = data.len(),
                            Some(at) => {
                                i += at + 1;
                                self.lex = Lex::Custom { col: 0 };
                            }
                        }
                    } else {
                        let b = data[i];
                        i += 1;
                        let matched = usize::from(col);
                        self.lex = if b == b'\n' {
                            Lex::Custom { col: 0 }
                        } else if matched < DELIMITER.len()
                            && b.to_ascii_uppercase() == DELIMITER[matched]
                        {
                            Lex::Custom { col: col + 1 }
                        } else if matched == DELIMITER.len() && (b == b' ' || b == b'\t') {
                            self.token.clear();
                            Lex::DelimiterArg
                        } else {
                            Lex::Custom { col: NOT_A_COMMAND }
                        };
                    }
                }
            }
        }
    }

    /// The dump has ended.
    pub(crate) fn finish(self) -> Counts {
        self.statements.finish()
    }

    /// One byte of code outside `VALUES`; false when it must be seen again in the state it
    /// led to (it ended a word that changed what follows).
    fn code(&mut self, b: u8) -> bool {
        if is_word_byte(b) {
            if self.statements.stmt.reads_tokens() {
                if !self.in_word {
                    self.token.clear();
                    self.in_word = true;
                }
                self.push_token(&[b]);
            }
            return true;
        }
        if self.in_word {
            self.in_word = false;
            self.emit_token(true);
            if self.lex != Lex::Code || matches!(self.statements.stmt, Stmt::Values { .. }) {
                return false;
            }
        }
        match b {
            b'\'' | b'"' => {
                if self.statements.stmt.reads_tokens() {
                    self.statements.token(Tok::Str);
                }
                self.lex = if b == b'\'' { Lex::Single } else { Lex::Double };
            }
            b'`' => {
                self.token.clear();
                self.lex = Lex::Backtick;
            }
            b'-' => self.lex = Lex::Dash,
            b'/' => self.lex = Lex::Slash,
            b'#' => self.lex = Lex::Line,
            b';' => self.statements.end(),
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {}
            _ => self.punct(b),
        }
        true
    }

    /// Code inside `VALUES`, from `i`, as fast as it goes: only quotes, parentheses, `;` and
    /// comment starts matter in a tuple, and between tuples anything but `(`, `,` and blanks
    /// ends the counting. Returns where it stopped (the lexer or the statement changed).
    fn values(&mut self, data: &[u8], mut i: usize) -> usize {
        let Stmt::Values { depth, rows, .. } = &mut self.statements.stmt else {
            return i;
        };
        let mut end = false;
        let mut other = false;
        while i < data.len() {
            if *depth > 0 {
                match data[i..]
                    .iter()
                    .position(|&b| SPECIAL_IN_TUPLE[usize::from(b)])
                {
                    Some(at) => i += at,
                    None => {
                        i = data.len();
                        break;
                    }
                }
            }
            let b = data[i];
            i += 1;
            match b {
                b'(' => {
                    if *depth == 0 {
                        *rows += 1;
                    }
                    *depth = depth.saturating_add(1);
                }
                b')' => *depth = depth.saturating_sub(1),
                b'\'' => {
                    self.lex = Lex::Single;
                    break;
                }
                b'"' => {
                    self.lex = Lex::Double;
                    break;
                }
                b'`' => {
                    self.lex = Lex::Backtick;
                    break;
                }
                // A negative number is the common case; only `--` and `/*` start comments.
                b'-' | b'/' => {
                    let second = if b == b'-' { b'-' } else { b'*' };
                    match data.get(i) {
                        Some(&next) if next != second => {}
                        _ => {
                            self.lex = if b == b'-' { Lex::Dash } else { Lex::Slash };
                            break;
                        }
                    }
                }
                b'#' => {
                    self.lex = Lex::Line;
                    break;
                }
                b';' => {
                    end = true;
                    break;
                }
                b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c if *depth == 0 => {}
                _ if *depth == 0 => {
                    // Not a tuple: the statement goes on past its rows.
                    i -= 1;
                    other = true;
                    break;
                }
                _ => {}
            }
        }
        if end {
            self.statements.end();
        } else if other {
            self.statements.rows_done();
        }
        i
    }

    /// A character that is not part of a word, string, name or comment.
    fn punct(&mut self, b: u8) {
        if self.statements.stmt.reads_tokens() {
            self.statements.token(Tok::Punct(b));
        }
    }

    /// Appends to the word or name being read, when the statement still wants it.
    fn push_token(&mut self, bytes: &[u8]) {
        if self.statements.stmt.reads_tokens() {
            self.push_raw(bytes);
        }
    }

    /// Appends to `token`, keeping at most [`MAX_NAME`] bytes.
    fn push_raw(&mut self, bytes: &[u8]) {
        let room = MAX_NAME.saturating_sub(self.token.len());
        self.token
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The word (`word`) or backtick name in `token` is complete.
    fn emit_token(&mut self, word: bool) {
        if word && self.statements.stmt == Stmt::Start && self.token.eq_ignore_ascii_case(DELIMITER)
        {
            // A client command: its argument is the rest of the line, not SQL.
            self.token.clear();
            self.lex = Lex::DelimiterArg;
            return;
        }
        let token = std::mem::take(&mut self.token);
        self.statements.token(if word {
            Tok::Word(&token)
        } else {
            Tok::Name(&token)
        });
        self.token = token;
        self.token.clear();
    }

    /// A `DELIMITER` line's argument is in `token`.
    fn delimiter_line_done(&mut self) {
        let delimiter = self
            .token
            .split(|b| b.is_ascii_whitespace())
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        // The client refuses `DELIMITER` alone, keeping the delimiter it had.
        if !delimiter.is_empty() {
            self.custom_delimiter = delimiter != b";";
        }
        self.token.clear();
        self.statements.stmt = Stmt::Start;
        self.lex = if self.custom_delimiter {
            Lex::Custom { col: 0 }
        } else {
            Lex::Code
        };
    }
}

/// A byte of an unquoted word: letters, digits, `_`, `$` and anything not ASCII.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The index of the first byte of `data` that is `a` or `b`. Strings are most of a dump, and
/// looking at eight bytes at a time doubles the scanner's speed in them.
fn find2(data: &[u8], a: u8, b: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of the result that is zero in `v` (a borrow may also flag a
    // byte above a zero byte, never one below: the lowest flag is exact).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let (fill_a, fill_b) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut chunks = data.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        let found = zero_bytes(word ^ fill_a) | zero_bytes(word ^ fill_b);
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == a || c == b)
        .map(|at| offset + at)
}

/// Bytes that matter inside a tuple: the rest (digits, letters, `,`, `.`, blanks...) is skipped.
static SPECIAL_IN_TUPLE: [bool; 256] = {
    let mut table = [false; 256];
    let special = b"'\"`()-/#;";
    let mut k = 0;
    while k < special.len() {
        table[special[k] as usize] = true;
        k += 1;
    }
    table
};

#[cfg(test)]
mod tests;
