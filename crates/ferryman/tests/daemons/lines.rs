//! Reading the daemons' logs as the binary writes them (`tracing_subscriber::fmt`, no
//! colours: a timestamp, then the level word), to find the ERROR and WARN lines a test did not
//! expect. Shared by [`super::log`] and by the test binaries that start the `ferryman` binary
//! themselves (`#[path]`-included: they have no in-process daemons).
#![allow(dead_code)] // each test binary uses its own part

/// The entries of `text` at ERROR level, and at WARN level when `warnings` is given, that
/// contain none of the expected substrings.
pub fn unexpected<'t>(
    text: &'t str,
    errors: &[String],
    warnings: Option<&[String]>,
) -> Vec<&'t str> {
    entries(text)
        .into_iter()
        .filter(|entry| {
            let allowed = match (level(entry), warnings) {
                (Some("ERROR"), _) => errors,
                (Some("WARN"), Some(w)) => w,
                _ => return false,
            };
            !allowed.iter().any(|s| entry.contains(s.as_str()))
        })
        .collect()
}

/// Panics when the log at `path` holds an ERROR entry containing none of `expected`.
pub fn assert_no_unexpected_errors(path: &std::path::Path, expected: &[&str]) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the log {}: {e}", path.display()));
    let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    let found = unexpected(&text, &expected, None);
    assert!(
        found.is_empty(),
        "{} holds {} unexpected ERROR line(s) (declare the ones the scenario causes):\n{}",
        path.display(),
        found.len(),
        found.join("\n")
    );
}

/// The log entries of `text`: a line starting with a timestamp and the lines after it that do
/// not (a multi-line message).
fn entries(text: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if starts.is_empty() || is_timestamped(line) {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());
    starts
        .windows(2)
        .map(|w| text[w[0]..w[1]].trim_end())
        .filter(|e| !e.is_empty())
        .collect()
}

/// Whether `line` starts like `2026-12-03T09:28:52.123456Z`.
fn is_timestamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 11 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

/// The level word of a log entry: the word after the timestamp.
fn level(entry: &str) -> Option<&str> {
    entry.split_whitespace().nth(1)
}

#[test]
fn entries_and_levels_are_read_like_the_binary_writes_them() {
    let text = "2026-12-03T09:28:52.1Z  INFO ferryman_agent: started\n\
                2026-12-03T09:28:53.1Z ERROR job{job_id=3}: ferryman_manager: failed: one\n\
                two\n\
                2026-12-03T09:28:54.1Z  WARN ferryman_agent: odd\n";
    let e = entries(text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(level(e[0]), Some("INFO"));
    assert_eq!(level(e[1]), Some("ERROR"));
    assert!(e[1].ends_with("one\ntwo"), "{e:?}");
    assert_eq!(level(e[2]), Some("WARN"));
}

#[test]
fn only_unexpected_errors_and_denied_warnings_are_found() {
    let text = "2026-12-03T09:28:52.1Z  INFO a: fine\n\
                2026-12-03T09:28:53.1Z ERROR b: disk full\n\
                2026-12-03T09:28:53.2Z ERROR b: surprise\n\
                2026-12-03T09:28:54.1Z  WARN c: odd\n";
    let expected = vec!["disk full".to_owned()];
    let found = unexpected(text, &expected, None);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("surprise"));
    assert_eq!(unexpected(text, &expected, Some(&[])).len(), 2);
    assert!(unexpected(text, &expected, Some(&["odd".to_owned()])).len() == 1);
}
