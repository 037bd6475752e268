//! The ownership record's timestamps (`2026-11-21T22:12:57Z`, as deploydb writes them from the
//! server's clock) to and from seconds since the epoch, for age comparisons against the server's
//! `now()`. Formatted here rather than by the server: `to_char(… AT TIME ZONE 'UTC')` and
//! `extract(epoch …)` cost a fresh backend 0.4–0.7 ms of function and time-zone look-ups in
//! every run's first read; `now()` alone does not.

/// `None` for anything not in exactly deploydb's format.
pub fn epoch_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `seconds` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form [`epoch_seconds`] reads.
pub fn format_utc(seconds: i64) -> String {
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`], from the same algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(epoch_seconds("2026-11-21T22:12:57Z"), Some(1_795_299_177));
        for bad in [
            "",
            "2026-11-21",
            "2026-13-01T00:00:00Z",
            "2026-11-21 22:12:57Z",
            "x026-11-21T22:12:57Z",
        ] {
            assert_eq!(epoch_seconds(bad), None, "{bad}");
        }
    }

    /// Formatting and reading back agree on every day from 1900 to 2400 (leap years, century
    /// rules, month ends), at a second that exercises each field.
    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_299_177), "2026-11-21T22:12:57Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        for day in days_from_civil(1900, 1, 1)..days_from_civil(2400, 1, 1) {
            let seconds = day * 86_400 + 23 * 3600 + 59 * 60 + 58;
            let text = format_utc(seconds);
            assert_eq!(epoch_seconds(&text), Some(seconds), "{text}");
        }
    }
}
