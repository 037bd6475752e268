//! Durations as people write them in config: `500ms`, `30s`, `5m`, `1h`, `2d`.

use std::time::Duration;

/// The longest duration accepted: 100 years. Larger values are never meant, and would overflow
/// the arithmetic they feed (a deadline `now + timeout`, an age in signed seconds for `prune`).
pub const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `None` when `text` is not a whole number followed by one of the units, or is over [`MAX`].
pub fn parse(text: &str) -> Option<Duration> {
    parse_unbounded(text).filter(|d| *d <= MAX)
}

fn parse_unbounded(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}

pub const ACCEPTED: &str =
    "a whole number followed by ms, s, m, h or d, like 30s, 5m or 1h, up to 36500d";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("36500d"), Some(MAX));
        for bad in [
            "",
            "s",
            "5",
            "5 m",
            "1.5h",
            "-1s",
            "5x",
            "99999999999999999999d",
            "36501d",
            "106751991167300d",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
