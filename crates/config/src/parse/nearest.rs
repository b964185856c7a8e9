//! The known key a misspelt one most likely meant.

/// The key of `known` nearest to `key`, if one is close enough to be a typo of it: at most one
/// edit per three characters (at least one), counting a swap of two neighbours as one edit and
/// ignoring case and `_` for `-`. Ties go to the first in `known`.
pub(super) fn nearest<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    let key = normalise(key);
    let limit = (key.len() / 3).max(1);
    known
        .iter()
        .map(|k| (distance(&key, &normalise(k)), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn normalise(key: &str) -> Vec<char> {
    key.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters, each counting one.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rows of the table: two back (for swaps), one back, and the current one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn distances_count_swaps_as_one_edit() {
        let d = |a: &str, b: &str| distance(&normalise(a), &normalise(b));
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", "ab"), 2);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("daily", "dialy"), 1);
        assert_eq!(d("host", "hots"), 1);
        assert_eq!(d("ca", "abc"), 3);
        assert_eq!(d("Backup_Keep", "backup-keep"), 0);
    }

    #[test]
    fn the_nearest_close_key_is_suggested() {
        let keys = known(&[
            "backup-keep-last",
            "backup-keep-hourly",
            "backup-keep-daily",
            "backup-keep-weekly",
        ]);
        assert_eq!(
            nearest("backup-keep-dialy", &keys),
            Some("backup-keep-daily")
        );
        assert_eq!(
            nearest("backup_keep_weekly", &keys),
            Some("backup-keep-weekly")
        );
        assert_eq!(nearest("backup-keep-lst", &keys), Some("backup-keep-last"));
        assert_eq!(nearest("retention", &keys), None);
        assert_eq!(nearest("backup-keep", &keys), None);
        let keys = known(&["name", "host", "port"]);
        assert_eq!(nearest("hots", &keys), Some("host"));
        assert_eq!(nearest("pot", &keys), Some("port"));
        assert_eq!(nearest("zzz", &keys), None);
        assert_eq!(nearest("x", &known(&[])), None);
    }
}
