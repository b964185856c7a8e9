//! Statements that MariaDB cannot prepare, run without pasting values into SQL.
//!
//! `CREATE USER ... IDENTIFIED BY ?` and `CHANGE MASTER TO master_password = ?` are syntax
//! errors: those statements accept literals only. Instead of escaping values ourselves (which
//! depends on `sql_mode`, e.g. `NO_BACKSLASH_ESCAPES`), every piece (fixed SQL text and values
//! alike) is bound as a parameter into session variables, and the server assembles the statement
//! with `QUOTE()` inside `EXECUTE IMMEDIATE`. Fixed text is `&'static str`, so only code written
//! here can be SQL; values can never become SQL.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use crate::{Endpoint, Result};

/// One piece of a statement.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    /// SQL text written in our code.
    Sql(&'static str),
    /// A value, inserted as a quoted string literal.
    Value(&'a str),
    /// A number, inserted as an integer literal.
    Int(i64),
}

/// Runs the statement made of `pieces` on `conn`; `action` names it in errors.
pub async fn execute(
    endpoint: &Endpoint,
    conn: &mut Conn,
    action: &'static str,
    pieces: &[Piece<'_>],
) -> Result<()> {
    let vars: Vec<String> = (0..pieces.len())
        .map(|i| format!("@ferryman_q{i}"))
        .collect();
    let set = format!(
        "SET {}",
        vars.iter()
            .map(|v| format!("{v} = ?"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let params: Vec<Value> = pieces
        .iter()
        .map(|p| match p {
            Piece::Sql(s) => Value::from(*s),
            Piece::Value(s) => Value::from(*s),
            Piece::Int(n) => Value::from(*n),
        })
        .collect();
    let concat = pieces
        .iter()
        .zip(&vars)
        .map(|(p, v)| match p {
            Piece::Sql(_) => v.clone(),
            Piece::Value(_) => format!("QUOTE({v})"),
            Piece::Int(_) => format!("CAST({v} AS SIGNED)"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let run = async {
        conn.exec_drop(set.as_str(), params).await?;
        conn.query_drop(format!("EXECUTE IMMEDIATE CONCAT({concat})"))
            .await
    }
    .await;
    // Session variables may hold a password: clear them whatever happened.
    let clear = format!(
        "SET {}",
        vars.iter()
            .map(|v| format!("{v} = NULL"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let cleared = conn.query_drop(clear).await;
    run.map_err(|e| endpoint.query_error(action, e))?;
    cleared.map_err(|e| endpoint.query_error(action, e))
}
