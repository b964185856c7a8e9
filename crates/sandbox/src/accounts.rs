//! The accounts a sandbox creates on every server, and its locked-down `root`.
//!
//! `mariadb-install-db --auth-root-authentication-method=normal` leaves `root` without a
//! password, reachable over TCP. The sandbox logs in that way once, through the socket, to
//! create `ferryman` (everything, for the manager and agents) and `repl` (replication only),
//! both with random passwords kept in 0600 files, then drops root's TCP accounts and leaves
//! `root@localhost` with `unix_socket` authentication only. All of it with `sql_log_bin=0`:
//! accounts are per server and must not replicate (they exist on every server already).

use ferryman_config::Secret;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::quoted::{self, Piece};
use ferryman_db::{Endpoint, Session};
use rand::distr::{Alphanumeric, SampleString};

use crate::layout::{write_file, Layout};
use crate::{Error, Result};

/// The administrative account used by the manager, agents and the sandbox itself.
pub const ADMIN_USER: &str = "ferryman";
/// The replication account.
pub const REPL_USER: &str = "repl";
/// Hosts the accounts may connect from: TCP on loopback, and the unix socket.
const HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

/// The passwords of the sandbox accounts.
#[derive(Debug, Clone)]
pub struct Passwords {
    /// Of [`ADMIN_USER`].
    pub admin: Secret,
    /// Of [`REPL_USER`].
    pub repl: Secret,
}

impl Passwords {
    /// New random passwords, written to the sandbox's 0600 password files.
    pub fn generate(layout: &Layout) -> Result<Passwords> {
        let dir = layout.secrets_dir();
        std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
        set_mode(&dir, 0o700)?;
        let new = |user: &str| -> Result<Secret> {
            let pw = Alphanumeric.sample_string(&mut rand::rng(), 24);
            write_file(
                &layout.password_file(user),
                format!("{pw}\n").as_bytes(),
                0o600,
            )?;
            Ok(Secret::new(pw))
        };
        // The key the sandbox's manager seals reseed rows with and its agents check.
        let key = layout.row_key_file();
        ferryman_proto::RowKey::load_or_create(&key).map_err(|e| {
            Error::io("create the row key", &key)(std::io::Error::other(e.to_string()))
        })?;
        Ok(Passwords {
            admin: new(ADMIN_USER)?,
            repl: new(REPL_USER)?,
        })
    }

    /// Reads the passwords of an existing sandbox.
    pub fn read(layout: &Layout) -> Result<Passwords> {
        let read = |user: &str| -> Result<Secret> {
            let path = layout.password_file(user);
            let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
            Ok(Secret::new(text.trim_end_matches(['\n', '\r']).to_owned()))
        };
        Ok(Passwords {
            admin: read(ADMIN_USER)?,
            repl: read(REPL_USER)?,
        })
    }
}

fn set_mode(path: &std::path::Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(Error::io("set permissions of", path))
}

/// `root` over the server's socket, as left by `mariadb-install-db`.
pub fn root_endpoint(name: &str, port: u16, socket: &std::path::Path) -> Endpoint {
    Endpoint {
        name: name.to_owned(),
        host: "127.0.0.1".into(),
        port,
        socket: Some(socket.to_owned()),
        user: "root".into(),
        password: None,
        ssl: Default::default(),
    }
}

/// Creates the sandbox accounts and locks `root` down, through `root` (see the module docs).
pub async fn create(root: &Endpoint, passwords: &Passwords) -> Result<()> {
    let mut conn = root.connect(Session::NoBinlog).await?;
    let accounts = [
        (
            ADMIN_USER,
            &passwords.admin,
            "GRANT ALL PRIVILEGES ON *.* TO ",
            " WITH GRANT OPTION",
        ),
        (
            REPL_USER,
            &passwords.repl,
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO ",
            "",
        ),
    ];
    for (user, password, grant, grant_suffix) in accounts {
        for host in HOSTS {
            quoted::execute(
                root,
                &mut conn,
                "create a sandbox account",
                &[
                    Piece::Sql("CREATE OR REPLACE USER "),
                    Piece::Value(user),
                    Piece::Sql("@"),
                    Piece::Value(host),
                    Piece::Sql(" IDENTIFIED BY "),
                    Piece::Value(password.expose_secret()),
                ],
            )
            .await?;
            quoted::execute(
                root,
                &mut conn,
                "grant a sandbox account its privileges",
                &[
                    Piece::Sql(grant),
                    Piece::Value(user),
                    Piece::Sql("@"),
                    Piece::Value(host),
                    Piece::Sql(grant_suffix),
                ],
            )
            .await?;
        }
    }
    let others: Vec<String> = conn
        .exec(
            "SELECT host FROM mysql.user WHERE user = 'root' AND host <> 'localhost'",
            (),
        )
        .await
        .map_err(|e| root.query_error("list root accounts", e))?;
    for host in &others {
        quoted::execute(
            root,
            &mut conn,
            "drop a password-less root account",
            &[Piece::Sql("DROP USER 'root'@"), Piece::Value(host)],
        )
        .await?;
    }
    conn.query_drop("ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket")
        .await
        .map_err(|e| root.query_error("restrict root to unix_socket authentication", e))?;
    let _ = conn.disconnect().await;
    Ok(())
}
