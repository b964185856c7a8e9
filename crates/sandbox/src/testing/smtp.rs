//! [`TestSmtp`]: the tests' SMTP server, Debian's aiosmtpd on a free loopback port writing every
//! mail it receives into a maildir; stopped (by PID) when dropped.

use std::path::PathBuf;
use std::time::Duration;

use ferryman_exec::{Command, Program};

/// One received mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The `Subject:` header.
    pub subject: String,
    /// The whole message as received (headers and body).
    pub text: String,
}

/// A running SMTP server for one test.
pub struct TestSmtp {
    pid: u32,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestSmtp {
    /// Starts the server; panics with its log when it does not listen within 10 s.
    pub async fn start() -> TestSmtp {
        let dir = super::temp_dir("ferryman-smtp-");
        let port = crate::free_port().unwrap_or_else(|e| panic!("{e}"));
        let maildir = dir.path().join("maildir");
        let python = Program::at(std::path::Path::new("/usr/bin/python3"), "python3-aiosmtpd")
            .unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("aiosmtpd.log");
        let pid = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .spawn_daemon(&log)
            .unwrap_or_else(|e| {
                panic!("aiosmtpd (scripts/install-deps.sh installs python3-aiosmtpd): {e}")
            });
        let smtp = TestSmtp {
            pid,
            port,
            maildir,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return smtp;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("aiosmtpd did not listen on 127.0.0.1:{port}; its log:\n{text}");
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The mails received so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut mails: Vec<(std::time::SystemTime, String, Mail)> = dir
            .flatten()
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let subject = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap_or("")
                    .to_owned();
                let at = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                let name = e.file_name().to_string_lossy().into_owned();
                (at, name, Mail { subject, text })
            })
            .collect();
        mails.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        mails.into_iter().map(|(_, _, m)| m).collect()
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        let _ = ferryman_exec::process::stop(self.pid, Duration::from_secs(5));
    }
}
