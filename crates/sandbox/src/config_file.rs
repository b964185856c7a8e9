//! Rendering `ferryman.toml` for a sandbox: a complete configuration that every subcommand
//! accepts as is.

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

/// The configuration text for `state` under `layout`.
pub fn render(layout: &Layout, state: &State, ports: &ServicePorts) -> String {
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
    }
    out
}
