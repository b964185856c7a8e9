//! Rendering `ferryman.toml` for a Galera sandbox: the same `[manager]`, `[agent]`,
//! `[verifier]`, cluster and server tables as a plain sandbox (shared code in
//! [`crate::config_file`]), one cluster per Galera cluster, and each cluster's
//! `galera-link` table: the remote masters its link keeper may replicate from, in order of
//! preference (beta: alpha's nodes; alpha: none).

use std::path::Path;

use super::state::GaleraState;
use crate::config_file::{cluster_table, server_table, services, toml_str};
use crate::layout::Layout;

/// Ports the sandbox reserves for Ferryman itself, besides the nodes'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GaleraPorts {
    /// Manager HTTP API.
    pub(crate) http: u16,
    /// Manager stream receiver.
    pub(crate) stream: u16,
    /// Per cluster, in state order: its legacy donor pool and its joiner ports. Pools of
    /// different clusters must not overlap (one manager receives for all).
    pub(crate) clusters: Vec<(Vec<u16>, Vec<u16>)>,
}

/// Legacy donor pool size of each cluster.
pub(crate) const SENDER_POOL: usize = 4;

/// The configuration text for `state` under `layout`; `ferryman_bin` (absolute) is the binary
/// the service commands run.
pub(crate) fn render(
    layout: &Layout,
    state: &GaleraState,
    ports: &GaleraPorts,
    ferryman_bin: Option<&Path>,
) -> String {
    let mut out = services(layout, ports.http, ports.stream);
    // Beta's keepers replicate from alpha whether or not the sandbox started the link itself
    // (`--no-link` leaves that to the keepers).
    let source = state.clusters.first().filter(|_| state.clusters.len() > 1);
    let master_master = state.master_master && state.clusters.len() > 1;
    for (i, cluster) in state.clusters.iter().enumerate() {
        let (sender, receiver) = ports
            .clusters
            .get(i)
            .map(|(s, r)| (s.as_slice(), r.as_slice()))
            .unwrap_or_default();
        out.push('\n');
        out.push_str(&cluster_table(layout, &cluster.name, sender, receiver));
        out.push_str(&format!("\n[clusters.{}.galera-link]\n", cluster.name));
        // In a master-master sandbox alpha reads from beta too.
        let other = state.clusters.iter().find(|c| c.name != cluster.name);
        let reads_from = match source.filter(|s| s.name != cluster.name) {
            Some(source) => Some(source),
            None if master_master => other,
            None => None,
        };
        if master_master {
            let [wsrep, own] = GaleraState::own_domains(cluster);
            out.push_str(&format!(
                "# master-master: {}'s own GTID domains (wsrep_gtid_domain_id, gtid_domain_id) \
                 never come back\nignore-domain-ids = [{wsrep}, {own}]\n",
                cluster.name
            ));
        }
        match reads_from {
            Some(source) => {
                let masters: Vec<String> = source
                    .nodes
                    .iter()
                    .map(|n| toml_str(&format!("127.0.0.1:{}", n.port)))
                    .collect();
                out.push_str(&format!(
                    "# the remote masters, in order of preference ({}'s nodes)\n\
                     masters = [{}]\n",
                    source.name,
                    masters.join(", ")
                ));
            }
            None => out.push_str(&format!(
                "# {} replicates from no one in this sandbox{}\n\
                 masters = []\n",
                cluster.name,
                if source.is_some() {
                    ": it is the source of the link"
                } else {
                    ""
                }
            )),
        }
        for n in &cluster.nodes {
            out.push_str(&server_table(
                layout,
                &cluster.name,
                &n.name,
                n.port,
                ferryman_bin,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Passwords;

    fn rendered(dir: &Path, clusters: usize, link: bool) -> String {
        rendered_with(dir, clusters, link, false)
    }

    fn rendered_with(dir: &Path, clusters: usize, link: bool, master_master: bool) -> String {
        let layout = Layout::new(dir);
        Passwords::generate(&layout).unwrap();
        let ports: Vec<u16> = (31000..31000 + 24).collect();
        let mut state = GaleraState::new(clusters, 3, link, &ports);
        state.master_master = master_master;
        let ports = GaleraPorts {
            http: 32001,
            stream: 32002,
            clusters: vec![
                (vec![32010, 32011], vec![32020, 32021, 32022]),
                (vec![32012, 32013], vec![32023, 32024, 32025]),
            ],
        };
        render(
            &layout,
            &state,
            &ports,
            Some(Path::new("/usr/bin/ferryman")),
        )
    }

    #[test]
    fn beta_lists_alphas_nodes_as_masters_and_alpha_none() {
        let dir = tempfile::tempdir().unwrap();
        let text = rendered(dir.path(), 2, true);
        assert!(
            text.contains(
                "[clusters.beta.galera-link]\n\
                 # the remote masters, in order of preference (alpha's nodes)\n\
                 masters = [\"127.0.0.1:31000\", \"127.0.0.1:31004\", \"127.0.0.1:31008\"]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "[clusters.alpha.galera-link]\n\
                 # alpha replicates from no one in this sandbox: it is the source of the link\n\
                 masters = []\n"
            ),
            "{text}"
        );
        let unlinked = rendered(dir.path(), 2, false);
        assert_eq!(unlinked.matches("masters = []\n").count(), 1, "{unlinked}");
        let single = rendered(dir.path(), 1, false);
        assert_eq!(single.matches("masters = []\n").count(), 1, "{single}");
    }

    /// Parses the rendered text with the configuration crate (unknown keys are errors there).
    #[test]
    fn the_configuration_parses() {
        let dir = tempfile::tempdir().unwrap();
        for (clusters, link) in [(2, true), (1, false)] {
            let text = rendered(dir.path(), clusters, link);
            let layout = Layout::new(dir.path());
            let config = ferryman_config::Config::parse(&text, &layout.config_file())
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(config.clusters.len(), clusters);
            let masters = |name: &str| -> Vec<String> {
                let link = config.cluster(name).unwrap().galera_link.as_ref().unwrap();
                link.masters.iter().map(ToString::to_string).collect()
            };
            assert_eq!(masters("alpha"), Vec::<String>::new());
            if clusters == 2 {
                assert_eq!(
                    masters("beta"),
                    ["127.0.0.1:31000", "127.0.0.1:31004", "127.0.0.1:31008"]
                );
            }
            let (cluster, a2) = config.server("a2").unwrap();
            assert_eq!(cluster.name, "alpha");
            assert_eq!(a2.port, 31004);
            assert_eq!(
                a2.service_start,
                [
                    "/usr/bin/ferryman",
                    "sandbox",
                    "start",
                    "--dir",
                    &dir.path().display().to_string(),
                    "--server",
                    "a2"
                ]
            );
        }
    }

    #[test]
    fn a_master_master_sandbox_links_both_ways_and_ignores_each_sides_domains() {
        let dir = tempfile::tempdir().unwrap();
        let text = rendered_with(dir.path(), 2, true, true);
        let layout = Layout::new(dir.path());
        let config = ferryman_config::Config::parse(&text, &layout.config_file())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let link = |name: &str| config.cluster(name).unwrap().galera_link.clone().unwrap();
        let ports =
            |name: &str| -> Vec<u16> { link(name).masters.iter().map(|m| m.port).collect() };
        assert_eq!(ports("alpha"), [31012, 31016, 31020], "{text}");
        assert_eq!(ports("beta"), [31000, 31004, 31008], "{text}");
        assert_eq!(link("alpha").ignore_domain_ids, [10, 1]);
        assert_eq!(link("beta").ignore_domain_ids, [20, 2]);
        let one_way = rendered(dir.path(), 2, true);
        assert!(!one_way.contains("ignore-domain-ids"), "{one_way}");
    }
}
