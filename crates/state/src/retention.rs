//! Retention of backups: keep the newest N and/or those younger than a duration.

/// Parses `30s`, `15m`, `12h`, `7d` or `2w` (a bare number is days) into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; use a number and a unit, like 36h or 7d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use s, m, h, d or w")),
    };
    Ok(n * mult)
}

/// Which items (ID, creation time; oldest first) retention removes: those neither
/// among the newest `keep_last` nor younger than `keep_within` seconds. Either rule
/// keeps an item; with neither rule, nothing is removed.
pub fn to_prune(
    items: &[(String, u64)],
    keep_last: Option<usize>,
    keep_within: Option<u64>,
    now: u64,
) -> Vec<String> {
    if keep_last.is_none() && keep_within.is_none() {
        return Vec::new();
    }
    let n = items.len();
    items
        .iter()
        .enumerate()
        .filter(|(i, (_, created))| {
            let by_count = keep_last.is_some_and(|k| n - i <= k);
            let by_age = keep_within.is_some_and(|w| now.saturating_sub(*created) <= w);
            !by_count && !by_age
        })
        .map(|(_, (id, _))| id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_union_of_last_n_and_recent() {
        let day = 86_400;
        let now = 100 * day;
        let b: Vec<(String, u64)> = (0..10)
            .map(|i| (format!("b{i}"), now - (10 - i) * day))
            .collect();
        // keep_last 3 alone: b7, b8, b9 stay.
        assert_eq!(to_prune(&b, Some(3), None, now).len(), 7);
        // keep_within 5 days alone: b5..b9 (ages 5..1 days) stay.
        assert_eq!(
            to_prune(&b, None, Some(5 * day), now),
            vec!["b0", "b1", "b2", "b3", "b4"]
        );
        // both: the union.
        assert_eq!(
            to_prune(&b, Some(7), Some(2 * day), now),
            vec!["b0", "b1", "b2"]
        );
        assert!(to_prune(&b, None, None, now).is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("36h").unwrap(), 36 * 3600);
        assert_eq!(parse_duration("7d").unwrap(), 7 * 86_400);
        assert!(parse_duration("7y").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
