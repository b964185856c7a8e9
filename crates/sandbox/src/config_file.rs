//! Rendering `ferryman.toml` for a sandbox: a complete configuration that every subcommand
//! accepts as is.
//!
//! Each server's `service-start`, `service-stop` and `service-restart` run `ferryman sandbox
//! start|stop|restart --dir DIR --server NAME`, in the array form so that paths with spaces
//! survive; they need the path of the `ferryman` binary, so they are left out (with a comment
//! saying so) when it is not known.

use std::path::Path;

use crate::accounts::{ADMIN_USER, REPL_USER};
use crate::layout::Layout;
use crate::state::State;

/// Ports the sandbox reserves for Ferryman itself, besides the servers'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePorts {
    /// Manager HTTP API.
    pub http: u16,
    /// Manager stream receiver.
    pub stream: u16,
    /// Legacy donor pool.
    pub sender: Vec<u16>,
    /// Joiner ports, one per server (agents on one host must not share one).
    pub receiver: Vec<u16>,
}

/// The configuration text for `state` under `layout`; `ferryman_bin` (absolute) is the binary
/// the service commands run.
pub fn render(
    layout: &Layout,
    state: &State,
    ports: &ServicePorts,
    ferryman_bin: Option<&Path>,
) -> String {
    let s = |v: &str| toml::Value::String(v.to_owned()).to_string();
    let path = |p: std::path::PathBuf| s(&p.display().to_string());
    let list = |ports: &[u16]| {
        s(&ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","))
    };
    let mut out = format!(
        "# Written by `ferryman sandbox up`: a complete configuration for the sandbox in\n\
         # {dir}. See config/ferryman.example.toml for every option.\n\
         \n\
         [manager]\n\
         monitoring-datadir = {manager}\n\
         monitoring-address = \"127.0.0.1\"\n\
         http-bind-address = \"127.0.0.1\"\n\
         http-port = {http}\n\
         stream-bind-address = \"127.0.0.1\"\n\
         stream-port = {stream}\n\
         \n\
         [agent]\n\
         poll-interval = \"1s\"\n\
         work-dir = {agent}\n\
         # short, for tests and demos\n\
         connect-timeout = \"20s\"\n\
         shutdown-grace = \"10s\"\n\
         joiner-bind-address = \"127.0.0.1\"\n\
         joiner-accept-timeout = \"30s\"\n\
         catch-up-timeout = \"120s\"\n\
         import-buffer-pool-mib = 256\n\
         \n\
         [clusters.{cluster}]\n\
         db-servers-credential = {{ user = {admin}, password-file = {admin_pw} }}\n\
         replication-credential = {{ user = {repl}, password-file = {repl_pw} }}\n\
         scheduler-db-servers-sender-ports = {sender}\n\
         scheduler-db-servers-receiver-ports = {receiver}\n",
        dir = layout.dir().display(),
        manager = path(layout.manager_dir()),
        http = ports.http,
        stream = ports.stream,
        agent = path(layout.agent_dir()),
        cluster = state.cluster,
        admin = s(ADMIN_USER),
        admin_pw = path(layout.password_file(ADMIN_USER)),
        repl = s(REPL_USER),
        repl_pw = path(layout.password_file(REPL_USER)),
        sender = list(&ports.sender),
        receiver = list(&ports.receiver),
    );
    for server in &state.servers {
        let paths = layout.server(&server.name);
        out.push_str(&format!(
            "\n[[clusters.{cluster}.servers]]\n\
             name = {name}\n\
             host = \"127.0.0.1\"\n\
             port = {port}\n\
             socket = {socket}\n\
             datadir = {datadir}\n\
             defaults-file = {defaults}\n",
            cluster = state.cluster,
            name = s(&server.name),
            port = server.port,
            socket = path(paths.socket()),
            datadir = path(paths.datadir()),
            defaults = path(paths.defaults_file()),
        ));
        out.push_str(&service_commands(layout, &server.name, ferryman_bin));
    }
    out
}

/// What a server table says instead of service commands when the binary is not known. Without
/// them the defaults (`systemctl ... mariadb`) apply, which do not act on sandbox servers.
const NO_SERVICE_COMMANDS: &str = "# no service-start/stop/restart: this sandbox was not created \
                                   by the ferryman binary, whose path they need";

/// The `service-*` keys of server `name`, or a comment saying why there are none.
fn service_commands(layout: &Layout, name: &str, ferryman_bin: Option<&Path>) -> String {
    let Some(bin) = ferryman_bin else {
        return format!("{NO_SERVICE_COMMANDS}\n");
    };
    let dir = layout.dir().display().to_string();
    let bin = bin.display().to_string();
    ["start", "stop", "restart"]
        .iter()
        .map(|action| {
            let argv = [&bin, "sandbox", action, "--dir", &dir, "--server", name]
                .map(|a| toml::Value::String(a.to_owned()));
            format!("service-{action} = {}\n", toml::Value::Array(argv.to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Passwords;

    fn rendered(dir: &Path, ferryman_bin: Option<&Path>) -> (String, ferryman_config::Config) {
        let layout = Layout::new(dir);
        Passwords::generate(&layout).unwrap();
        let state = State::new("sandbox", &[21001, 21002]);
        let ports = ServicePorts {
            http: 21003,
            stream: 21004,
            sender: vec![21005],
            receiver: vec![21006, 21007],
        };
        let text = render(&layout, &state, &ports, ferryman_bin);
        let config = ferryman_config::Config::parse(&text, &layout.config_file())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        (text, config)
    }

    #[test]
    fn service_commands_run_the_ferryman_binary_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("a sandbox");
        let bin = Path::new("/opt/fer ryman/bin/ferryman");
        let (text, config) = rendered(&dir, Some(bin));
        assert!(!text.contains(NO_SERVICE_COMMANDS), "{text}");
        assert_eq!(config.agent.connect_timeout.as_secs(), 20);
        assert_eq!(config.agent.shutdown_grace.as_secs(), 10);
        let (_, db2) = config.server("db2").unwrap();
        let dir = dir.to_str().unwrap();
        let argv = |action| {
            [
                bin.to_str().unwrap(),
                "sandbox",
                action,
                "--dir",
                dir,
                "--server",
                "db2",
            ]
            .map(String::from)
        };
        assert_eq!(db2.service_start, argv("start"));
        assert_eq!(db2.service_stop, argv("stop"));
        assert_eq!(db2.service_restart, argv("restart"));
    }

    #[test]
    fn without_the_binary_there_are_no_service_commands() {
        let dir = tempfile::tempdir().unwrap();
        let (text, config) = rendered(dir.path(), None);
        assert_eq!(text.matches(NO_SERVICE_COMMANDS).count(), 2, "{text}");
        assert!(!text.contains("\nservice-"), "{text}");
        let (_, db1) = config.server("db1").unwrap();
        assert_eq!(db1.service_start, ["systemctl", "start", "mariadb"]);
    }
}
