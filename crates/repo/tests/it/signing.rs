//! Manifest signatures: what a signing repository writes is signed, survives rewrites and
//! copies, and a reader with the trusted keys refuses a manifest changed by hand, one signed
//! by an unknown key, and an unsigned one, each naming the key and what to do; an unsigned
//! repository is signed once by `sign_unsigned`, a forged manifest is never re-signed.

use std::sync::Arc;

use ferryman_repo::{ReadData, Repository, Signatures, Signer, Status, Tool};

use crate::*;

fn signing(signer: Signer) -> Arc<Signatures> {
    Signatures::new(Some(signer), Vec::new(), "the test's trusted keys".into())
}

fn edit(repo: &Repository, id: &ferryman_repo::BackupId, f: impl FnOnce(&mut serde_json::Value)) {
    let path = root(repo).join(id.manifest_key().as_str());
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut value);
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_manifests_verify_and_changed_ones_are_refused_by_name() {
    let (_tmp, plain) = repo();
    let signer = Signer::generate();
    let key = signer.public();
    let repo = plain.clone().with_signatures(signing(signer));
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 7, "2026-12-04T02:00:00Z"),
        &dump(1000, true),
    )
    .await
    .unwrap();
    let signature = m.signature.clone().expect("signed");
    assert_eq!(signature.public_key, key.hex());
    assert_eq!(repo.get(&m.id).await.unwrap(), m);

    // A rewrite (a verification appended) is signed again.
    repo.append_verification(&m.id, verification(Status::Ok, "restore"))
        .await
        .unwrap();
    let rewritten = repo.get(&m.id).await.unwrap();
    assert_eq!(rewritten.verification.len(), 1);
    assert_ne!(rewritten.signature, Some(signature));

    // Written out again by another tool (re-indented), it still verifies.
    let id = m.id.clone();
    edit(&repo, &id, |_| {});
    repo.get(&id).await.unwrap();

    // The GTID changed by hand: refused, by every reader that checks.
    edit(&repo, &id, |v| v["gtid"] = "0-1-999999".into());
    let e = repo.get(&id).await.unwrap_err().to_string();
    assert!(
        e.contains("cannot be trusted")
            && e.contains(&key.name())
            && e.contains("changed after it was written")
            && e.contains("another repository's copy"),
        "{e}"
    );
    assert!(repo.list(None, None).await.unwrap().is_empty());
    let report = repo.check(ReadData::None, false).await.unwrap();
    assert!(!report.is_ok());
    assert!(
        report.problems[0].detail.contains("cannot be trusted"),
        "{report:?}"
    );
    // A repository that does not check signatures still reads it (the library's choice).
    assert_eq!(
        plain.get(&id).await.unwrap().gtid.as_deref(),
        Some("0-1-999999")
    );
    // And a forged manifest is never signed by sign_unsigned.
    let signed = repo.sign_unsigned().await.unwrap();
    assert!(
        signed.signed.is_empty() && signed.refused.len() == 1,
        "{signed:?}"
    );
    assert!(repo.get(&id).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_keys_and_unsigned_manifests_are_refused_until_adopted() {
    let (_tmp, plain) = repo();
    let other = Signer::generate();
    let other_key = other.public();
    let written_elsewhere = plain.clone().with_signatures(signing(other));
    let a = ingest(
        &written_elsewhere,
        meta(Tool::Mysqldump, 1, "2026-12-04T01:00:00Z"),
        &dump(100, true),
    )
    .await
    .unwrap();
    let b = ingest(
        &plain,
        meta(Tool::Mysqldump, 2, "2026-12-04T02:00:00Z"),
        &dump(100, true),
    )
    .await
    .unwrap();
    assert!(b.signature.is_none());

    let mine = Signer::generate();
    let repo = plain.clone().with_signatures(signing(mine));
    let e = repo.get(&a.id).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("signed by key {}", other_key.name()))
            && e.contains("not trusted")
            && e.contains("the test's trusted keys"),
        "{e}"
    );
    let e = repo.get(&b.id).await.unwrap_err().to_string();
    assert!(e.contains("it is not signed"), "{e}");

    // Adopting signs the unsigned one only; the other signer's stays as it is.
    let report = repo.sign_unsigned().await.unwrap();
    assert_eq!(report.signed, vec![b.id.to_string()]);
    assert_eq!(report.refused.len(), 1, "{report:?}");
    repo.get(&b.id).await.unwrap();

    // Trusting the other key as well reads both.
    let both = plain.with_signatures(Signatures::new(
        Some(Signer::generate()),
        vec![other_key, repo.signatures().unwrap().trusted()[0].clone()],
        "t".into(),
    ));
    assert_eq!(both.list(None, None).await.unwrap().len(), 2);
}

fn proof(detail: &str, status: Status) -> ferryman_repo::proofs::Proof {
    let t = ferryman_repo::Timestamp::from_unix(1_800_000_000);
    ferryman_repo::proofs::Proof {
        status,
        started_at: t,
        seconds: 1.0,
        base: "sandbox/db1/a".into(),
        base_gtid: "0-1-1".into(),
        from: t,
        checkpoint: "sandbox/db1/b".into(),
        checkpoint_gtid: "0-1-9".into(),
        to: t,
        rows_from: "dump".into(),
        segments: 1,
        tables: 1,
        rows: 10,
        detail: detail.into(),
        trigger: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_record_of_proofs_is_signed_and_a_changed_one_is_refused_then_started_again() {
    let (_tmp, plain) = repo();
    let repo = plain.clone().with_signatures(signing(Signer::generate()));
    repo.record_proof("sandbox", proof("t1 differs", Status::Failed))
        .await
        .unwrap();
    assert_eq!(repo.proofs("sandbox").await.unwrap().len(), 1);
    let path = root(&repo).join("Binlogs/sandbox/proofs.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(value["signature"]["public_key"].is_string(), "{value}");

    // A failed proof turned `ok` by hand is refused, naming what happened.
    value["proofs"][0]["status"] = "ok".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let e = repo.proofs("sandbox").await.unwrap_err().to_string();
    assert!(e.contains("changed after it was written"), "{e}");
    // The next proof starts a new, signed record instead of extending the forged one.
    repo.record_proof("sandbox", proof("", Status::Ok))
        .await
        .unwrap();
    let proofs = repo.proofs("sandbox").await.unwrap();
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].status, Status::Ok);

    // The first releases' bare array: read by a repository that checks nothing, refused by
    // one that checks.
    let old = serde_json::to_vec(&vec![proof("", Status::Ok)]).unwrap();
    std::fs::write(&path, old).unwrap();
    assert_eq!(plain.proofs("sandbox").await.unwrap().len(), 1);
    let e = repo.proofs("sandbox").await.unwrap_err().to_string();
    assert!(e.contains("not signed"), "{e}");
}
