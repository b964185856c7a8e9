//! Every value is bound, never pasted: quotes and odd bytes round-trip in every field.

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_jobs::{Error, Outcome, Task, Token, Verdict, CUT_MARK, RESULT_CHARS};
use ferryman_sandbox::testing::TestSandbox;
use serde_json::json;

use crate::{get, jobs, raw};

const ODD: [&str; 16] = [
    "'",
    "\"",
    "\\",
    "\0",
    "%",
    "_",
    "\n",
    "\t",
    "🦀",
    "'; DROP TABLE jobs; --",
    "\\'; DROP TABLE replication_manager_schema.jobs; -- ",
    "a\r\nb\u{0}c",
    "ünïcødé ∑ 日本",
    " trailing spaces  ",
    "`backtick` ${x} {jobs} ?",
    "%_' OR '1'='1",
];

#[tokio::test(flavor = "multi_thread")]
async fn quotes_and_odd_bytes_round_trip_in_every_field() {
    let sb = TestSandbox::start(0).await;
    let mut jobs = jobs(&sb, "replication_manager_schema").await;
    let all = ODD.concat();
    let mut cases: Vec<String> = ODD.iter().map(|s| (*s).to_owned()).collect();
    cases.push(all);

    for (i, odd) in cases.iter().enumerate() {
        let params = json!({ "text": odd, odd.as_str(): [odd, 1, null] });
        let token = Token::new(odd.clone());
        let id = jobs
            .enqueue(Task::Optimize, odd, Some(4000), Some(&token), Some(&params))
            .await
            .unwrap();
        let claimant = format!("{odd}#{i}");
        let claimed = jobs.claim(id, &claimant).await.unwrap().unwrap();
        assert_eq!(claimed.job().server.as_deref(), Some(odd.as_str()));
        claimed.progress(&mut jobs, odd).await.unwrap();
        let row = get(&mut jobs, id).await;
        assert_eq!(row.progress.as_deref(), Some(odd.as_str()));
        assert_eq!(row.claimed_by.as_deref(), Some(claimant.as_str()));
        claimed
            .finish(&mut jobs, Verdict::Failure, odd)
            .await
            .unwrap();

        let row = get(&mut jobs, id).await;
        assert_eq!(row.server.as_deref(), Some(odd.as_str()), "server");
        assert_eq!(
            row.token.as_ref().map(Token::expose),
            Some(odd.as_str()),
            "token"
        );
        assert_eq!(row.params_json().unwrap(), Some(params), "params");
        assert_eq!(row.result.as_deref(), Some(odd.as_str()), "result");
        assert_eq!(
            row.claimed_by.as_deref(),
            Some(claimant.as_str()),
            "claimed_by"
        );
        assert_eq!(row.outcome.as_deref(), Some(Outcome::Failure.as_str()));
        assert!(row.done);
    }
    // Nothing was interpreted as SQL: the table and every row are still there.
    let listed = jobs.list(100).await.unwrap();
    assert_eq!(listed.len(), cases.len());
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(jobs.list(3).await.unwrap().len(), 3);

    // A long result keeps its tail, fitted to VARCHAR(1000) with a cut mark; bad UTF-8 replaced.
    let id = jobs
        .enqueue(Task::Mariabackup, "127.0.0.1", Some(4000), None, None)
        .await
        .unwrap();
    let claimed = jobs
        .take(Task::Mariabackup, "agent")
        .await
        .unwrap()
        .unwrap();
    let mut output = "🦀 log line with 'quotes'\n".repeat(200).into_bytes();
    output.extend_from_slice(b"bad \xff\xfe bytes\n2025-01-01 00:00:00 completed OK!");
    let long_progress = "p".repeat(3000) + "end";
    claimed.progress(&mut jobs, &long_progress).await.unwrap();
    claimed
        .finish(&mut jobs, Verdict::Success, &output)
        .await
        .unwrap();
    let row = get(&mut jobs, id).await;
    let result = row.result.unwrap();
    assert_eq!(result.chars().count(), RESULT_CHARS);
    assert!(result.starts_with(CUT_MARK), "{result}");
    assert!(
        result.ends_with("bad \u{fffd}\u{fffd} bytes\n2025-01-01 00:00:00 completed OK!"),
        "{result}"
    );
    let progress = row.progress.unwrap();
    assert_eq!(progress.chars().count(), RESULT_CHARS);
    assert!(progress.starts_with(CUT_MARK) && progress.ends_with("pend"));

    // Values longer than their column are refused before anything is written.
    let long = "x".repeat(256);
    let err = jobs
        .enqueue(Task::Optimize, &long, None, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLong {
                field: "server",
                len: 256,
                max: 255
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "server is 256 characters long, the jobs table holds at most 255: shorten it"
    );
    let err = jobs
        .enqueue(
            Task::Optimize,
            "h",
            None,
            Some(&Token::new(long.clone())),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLong { field: "token", .. }),
        "{err:?}"
    );
    assert!(matches!(
        jobs.claim(id, &long).await.unwrap_err(),
        Error::TooLong {
            field: "claimant",
            ..
        }
    ));
    // A 255-character emoji server name fits (the limit is in characters, not bytes).
    let emoji = "🦀".repeat(255);
    let id = jobs
        .enqueue(Task::Optimize, &emoji, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        get(&mut jobs, id).await.server.as_deref(),
        Some(emoji.as_str())
    );

    let mut raw = raw(&sb).await;
    let n: Option<i64> = raw
        .query_first("SELECT COUNT(*) FROM replication_manager_schema.jobs")
        .await
        .unwrap();
    assert_eq!(n, Some(i64::try_from(cases.len()).unwrap() + 2));
}
