//! A local repository on a small tmpfs: filled past `storage-free-alert`, the manager says
//! `storage-almost-full` once; emptied, `storage-ok`.

use ferryman_config::Config;
use ferryman_manager::events::EventKind;
use ferryman_manager::{thresholds, Manager};
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_filling_repository_is_said_almost_full_then_ok() {
    let sb = TestSandbox::start(0).await;
    let nas = sb.path().join("nas");
    std::fs::create_dir_all(&nas).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &nas,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=8m"),
    )
    .expect("mount a tmpfs (these tests run as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _unmount = Unmount(nas.clone());
    let path = config_with(&sb, "backup-repositories = [\"local\", \"nas\"]\n", "");
    // The sandbox turns the alarm off (`storage-free-alert = 0`): on here, at 50 %.
    let mut text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("storage-free-alert = 0", "storage-free-alert = 50");
    assert!(text.contains("storage-free-alert = 50"), "{text}");
    text.push_str(&format!(
        "\n[repositories.nas]\nkind = \"local\"\npath = \"{}\"\n",
        nas.display()
    ));
    std::fs::write(&path, text).unwrap();
    // Started, not run: no background task looks at the thresholds but this test.
    let manager = Manager::start(Config::load(&path).unwrap()).await.unwrap();
    let services = manager.services();
    let said = |kind: EventKind| -> Vec<String> {
        services
            .events
            .since(0)
            .into_iter()
            .filter(|e| e.kind == kind && e.subject.as_deref() == Some("nas"))
            .map(|e| e.message)
            .collect()
    };
    let mut crossed = thresholds::Crossed::default();
    thresholds::check(&services, &mut crossed);
    assert!(said(EventKind::StorageAlmostFull).is_empty());

    let filler = nas.join("filler");
    std::fs::write(&filler, vec![7u8; 6 << 20]).unwrap();
    thresholds::check(&services, &mut crossed);
    thresholds::check(&services, &mut crossed);
    let full = said(EventKind::StorageAlmostFull);
    assert_eq!(full.len(), 1, "said once: {full:?}");
    assert!(
        full[0].contains("repository `nas`")
            && full[0].contains("under `storage-free-alert` = 50 %")
            && full[0].contains("ferryman backup prune"),
        "{}",
        full[0]
    );

    std::fs::remove_file(&filler).unwrap();
    thresholds::check(&services, &mut crossed);
    let ok = said(EventKind::StorageOk);
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert!(ok[0].contains("free again"), "{}", ok[0]);
}

/// The manager's certificate 10 days from its end: `certificate-expiring` once, naming the
/// file, its end and the fix; its file replaced by one valid longer: `certificate-renewed`.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_near_its_end_is_said_expiring_then_renewed() {
    let sb = TestSandbox::start(0).await;
    let issue = |dir: &std::path::Path, days: u32| {
        ferryman_tls::fleet::init(&ferryman_tls::fleet::Request {
            dir: dir.to_owned(),
            manager: vec!["127.0.0.1".into()],
            agents: Vec::new(),
            days,
            ca_days: 3650,
        })
        .unwrap();
    };
    let tls = sb.path().join("tls");
    issue(&tls, 10);
    let path = config_with(
        &sb,
        "",
        &format!(
            "tls-cert-file = \"{0}/manager.crt\"\ntls-key-file = \"{0}/manager.key\"\ntls-ca-file = \"{0}/ca.crt\"\n",
            tls.display()
        ),
    );
    let manager = Manager::start(Config::load(&path).unwrap()).await.unwrap();
    let services = manager.services();
    let said = |kind: EventKind| -> Vec<String> {
        services
            .events
            .since(0)
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.message)
            .collect()
    };
    let mut crossed = thresholds::Crossed::default();
    thresholds::check(&services, &mut crossed);
    thresholds::check(&services, &mut crossed);
    let expiring = said(EventKind::CertificateExpiring);
    assert_eq!(expiring.len(), 1, "once, and not the CA: {expiring:?}");
    assert!(
        expiring[0].contains("`manager.tls-cert-file`")
            && expiring[0].contains("manager.crt")
            && (expiring[0].contains("in 9 day(s)") || expiring[0].contains("in 10 day(s)"))
            && expiring[0].contains("restart the manager"),
        "{}",
        expiring[0]
    );

    let renewed = sb.path().join("renewed");
    issue(&renewed, 400);
    std::fs::copy(renewed.join("manager.crt"), tls.join("manager.crt")).unwrap();
    thresholds::check(&services, &mut crossed);
    let ok = said(EventKind::CertificateRenewed);
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert!(ok[0].contains("next restart"), "{}", ok[0]);
}
