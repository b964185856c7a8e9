//! [`TestSshd`]: the tests' SSH server, Debian's OpenSSH `sshd` on a free port of 127.0.0.1
//! with its own host key, configuration and `authorized_keys` in a temp dir; stopped (by PID)
//! when dropped.
//!
//! sshd is started by its absolute path (it re-executes itself), in the foreground (`-D`, so
//! the PID is its own), with `StrictModes no` (the key files live under /tmp) and `UsePAM no`
//! (a password login checks `/etc/shadow` itself). `/run/sshd`, its privilege-separation
//! directory, is created when absent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_exec::{Program, Streaming};
use tokio::io::AsyncWriteExt;

/// The local user of password logins ([`TestSshd::password_user`]): created once, given a new
/// random password by each test that uses it.
pub const PASSWORD_USER: &str = "ferryman-sshtest";

/// A running sshd for one test.
pub struct TestSshd {
    pid: u32,
    port: u16,
    dir: tempfile::TempDir,
}

impl TestSshd {
    /// Starts sshd with a new ed25519 host key and a client key allowed for every user;
    /// panics with its log when it does not listen within 10 s.
    pub async fn start() -> TestSshd {
        let dir = super::temp_dir("ferryman-sshd-");
        let keygen = program("ssh-keygen", "openssh-client");
        for name in ["host_ed25519", "client_ed25519", "other_host_ed25519"] {
            keygen
                .command()
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(dir.path().join(name))
                .run()
                .await
                .unwrap_or_else(|e| panic!("ssh-keygen: {e}"));
        }
        std::fs::copy(
            dir.path().join("client_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap_or_else(|e| panic!("authorized_keys: {e}"));
        let port = crate::free_port().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path().display();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             PermitUserEnvironment no\nAcceptEnv none\nLogLevel VERBOSE\n"
        );
        let config_path = dir.path().join("sshd_config");
        std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("sshd_config: {e}"));
        std::fs::create_dir_all("/run/sshd").unwrap_or_else(|e| panic!("/run/sshd: {e}"));
        let sshd = Program::at(Path::new("/usr/sbin/sshd"), "openssh-server")
            .unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("sshd.log");
        let pid = sshd
            .command()
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .spawn_daemon(&log)
            .unwrap_or_else(|e| panic!("sshd (scripts/install-deps.sh installs it): {e}"));
        let sshd = TestSshd { pid, port, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sshd;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "sshd did not listen on 127.0.0.1:{port}; its log:\n{}",
            sshd.log()
        );
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sshd process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The private key every user may log in with (mode 0600).
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_ed25519")
    }

    /// A known-hosts line pinning this server's real host key.
    pub fn known_hosts_line(&self) -> String {
        self.line_for("host_ed25519.pub")
    }

    /// A known-hosts line giving this server another (wrong) key.
    pub fn wrong_known_hosts_line(&self) -> String {
        self.line_for("other_host_ed25519.pub")
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// [`PASSWORD_USER`], created when absent (no home, `/bin/sh`), with a new random
    /// password, set through `chpasswd`'s stdin; returns the password.
    pub async fn password_user(&self) -> String {
        let known = program("id", "coreutils")
            .command()
            .arg(PASSWORD_USER)
            .output()
            .await
            .is_ok_and(|o| o.status.success());
        if !known {
            program("useradd", "passwd")
                .command()
                .args(["--system", "--no-create-home", "--home-dir", "/nonexistent"])
                .args(["--shell", "/bin/sh", PASSWORD_USER])
                .run()
                .await
                .unwrap_or_else(|e| panic!("useradd: {e}"));
        }
        let mut random = [0u8; 12];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").unwrap_or_else(|e| panic!("{e}")),
            &mut random,
        )
        .unwrap_or_else(|e| panic!("/dev/urandom: {e}"));
        let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let mut chpasswd = program("chpasswd", "passwd")
            .command()
            .spawn_streaming(&Streaming {
                stdin: true,
                ..Streaming::default()
            })
            .unwrap_or_else(|e| panic!("chpasswd: {e}"));
        let mut stdin = chpasswd.take_stdin().unwrap_or_else(|| panic!("no stdin"));
        stdin
            .write_all(format!("{PASSWORD_USER}:{password}\n").as_bytes())
            .await
            .unwrap_or_else(|e| panic!("chpasswd: {e}"));
        drop(stdin);
        let done = chpasswd.wait().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(done.status.success(), "chpasswd: {}", done.stderr);
        password
    }

    fn line_for(&self, public: &str) -> String {
        let key = std::fs::read_to_string(self.dir.path().join(public))
            .unwrap_or_else(|e| panic!("{public}: {e}"));
        let mut words = key.split_whitespace();
        let (kind, blob) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        format!("[127.0.0.1]:{} {kind} {blob}\n", self.port)
    }
}

fn program(name: &str, package: &str) -> Program {
    Program::find(name, package).unwrap_or_else(|e| panic!("{e}"))
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = ferryman_exec::process::stop(self.pid, Duration::from_secs(5));
        if std::thread::panicking() {
            #[allow(clippy::print_stderr)] // the test harness shows stderr of failed tests
            {
                eprintln!("test failed: sshd's log:\n{}", self.log());
            }
        }
    }
}
