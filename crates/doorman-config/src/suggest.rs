//! "Did you mean …?": the nearest known word to a misspelt one.
//!
//! Uses the optimal-string-alignment distance (`strsim::osa_distance`: Levenshtein plus adjacent
//! transpositions), because the commonest typo in a config key is two swapped letters
//! (`uptsream`), which plain Levenshtein counts as two edits.

/// The candidate closest to `word`, if any is close enough to be a likely typo.
pub fn nearest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let folded = fold(word);
    let budget = match folded.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        6..=9 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let c = fold(candidate);
        // Same word in another spelling (`max-body-bytes`, `Upstream`) is always a match.
        let d = if c == folded {
            0
        } else {
            strsim::osa_distance(&folded, &c)
        };
        if d <= budget && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Lower-case, with `-` read as `_`, so that spelling conventions do not count as typos.
fn fold(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpositions_are_one_edit() {
        assert_eq!(strsim::osa_distance("uptsream", "upstream"), 1);
        assert_eq!(strsim::osa_distance("abc", "abc"), 0);
        assert_eq!(strsim::osa_distance("", "abc"), 3);
    }

    #[test]
    fn finds_likely_typos_and_nothing_else() {
        let keys = ["name", "hosts", "path_prefix", "upstream"];
        assert_eq!(nearest("uptsream", keys), Some("upstream"));
        assert_eq!(nearest("path-prefix", keys), Some("path_prefix"));
        assert_eq!(nearest("host", keys), Some("hosts"));
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(nearest("ab", ["ac"]), None);
    }
}
