//! Timestamps as the AWS files write them, and durations as people read them.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The earliest instant the AWS form can write, `0000-01-01T00:00:00Z`: its year has four
/// digits and no sign.
const EARLIEST: Timestamp = Timestamp::constant(-62_167_219_200, 0);

/// Parses a timestamp from an AWS cache file.
///
/// Accepts RFC 3339 (`2024-05-01T12:00:00Z`, offsets, fractional seconds) and the
/// `2024-05-01T12:00:00UTC` form that older AWS CLI v2 releases wrote, for the years the AWS
/// form can write back (0000 to 9999).
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    let normalized = match trimmed.strip_suffix("UTC") {
        Some(base) => format!("{}Z", base.trim_end()),
        None => trimmed.to_owned(),
    };
    normalized
        .parse::<Timestamp>()
        .ok()
        .filter(|ts| *ts >= EARLIEST)
        .ok_or_else(|| format!("`{text}` is not a timestamp like 2024-05-01T12:00:00Z"))
}

/// Formats a timestamp the way botocore writes it: `YYYY-MM-DDTHH:MM:SSZ`, whole seconds, UTC.
/// An instant before year 0 (long past either way) is written as `EARLIEST`, so that what
/// is written always reads back.
pub fn format_timestamp(ts: Timestamp) -> String {
    // Truncate first: strftime's %S would otherwise be fine, but a fraction must not round up.
    let whole = Timestamp::from_second(ts.as_second()).unwrap_or(ts);
    whole
        .max(EARLIEST)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `ts` moved by `seconds`, clamped to jiff's range instead of panicking on absurd input.
pub fn add_seconds(ts: Timestamp, seconds: i64) -> Timestamp {
    let target = ts.as_second().saturating_add(seconds);
    Timestamp::from_second(target).unwrap_or(if seconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A time left (or past) as a person says it: `2h 13m`, `3d 4h`, `45m`, `<1m`.
pub fn format_duration(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        "<1m".to_owned()
    }
}

/// A timestamp in the local time zone, as short as it can be while unambiguous:
/// `14:02` today, `Tue 14:02` within the week, `Dec 3 14:02` this year, else with the year.
pub fn format_local(ts: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let at = ts.to_zoned_datetime(tz.clone());
    let today = now.to_zoned_datetime(tz.clone());
    let within_week = ts.duration_since(now).as_secs().abs() < 6 * 86_400;
    let pattern = if at.date() == today.date() {
        "%H:%M"
    } else if within_week {
        "%a %H:%M"
    } else if at.year() == today.year() {
        "%b %-d %H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    at.strftime(pattern).to_string()
}

/// Serde for a timestamp written as the AWS tools write it (see [`format_timestamp`]) and read
/// in any form they write (see [`parse_timestamp`]).
pub(crate) mod serde_timestamp {
    use super::{Timestamp, format_timestamp, parse_timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(*ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        parse_timestamp(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// [`serde_timestamp`] for an optional timestamp (`null` when absent).
pub(crate) mod serde_optional_timestamp {
    use super::{Timestamp, format_timestamp, parse_timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.serialize_str(&format_timestamp(*ts)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse_timestamp(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// "10 minutes", "1 second": a timeout as a person says it.
pub fn spoken_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A span as a person types it for "since": `90s`, `30m`, `1h`, `2d`, or several together
/// (`1h30m`), in seconds. The error says what is accepted.
pub fn parse_span(text: &str) -> Result<i64, String> {
    let bad = || format!("\"{text}\" is not a span of time: write e.g. 30m, 1h, 2d or 1h30m");
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_form_the_aws_tools_write() {
        let expected = ts("2024-05-01T12:00:00Z");
        for text in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00UTC",
            "2024-05-01T12:00:00+00:00",
            "2024-05-01T14:00:00+02:00",
            "2024-05-01T12:00:00.000Z",
        ] {
            assert_eq!(parse_timestamp(text).unwrap(), expected, "{text}");
        }
        assert!(parse_timestamp("tomorrow").is_err());
        assert!(parse_timestamp("").is_err());
    }

    #[test]
    fn every_timestamp_written_reads_back() {
        // Years before 0 were written `-001-01-01T...`, which nothing reads, ssobar included.
        for t in [
            Timestamp::MIN,
            ts("-000001-06-01T00:00:00Z"),
            ts("0000-01-01T00:00:00Z"),
            ts("2024-05-01T12:00:00Z"),
            Timestamp::MAX,
        ] {
            let written = format_timestamp(t);
            assert!(
                parse_timestamp(&written).is_ok(),
                "{t} written as {written}"
            );
        }
        assert_eq!(format_timestamp(Timestamp::MIN), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn years_before_zero_are_no_aws_timestamp() {
        assert!(parse_timestamp("-000001-01-01T00:00:00Z").is_err());
        assert!(parse_timestamp("0000-01-01T00:00:00Z").is_ok());
    }

    #[test]
    fn formats_whole_seconds_in_utc() {
        assert_eq!(
            format_timestamp(ts("2024-05-01T14:00:00.999+02:00")),
            "2024-05-01T12:00:00Z"
        );
    }

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(format_duration(2 * 3600 + 13 * 60 + 59), "2h 13m");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(format_duration(45 * 60), "45m");
        assert_eq!(format_duration(30), "<1m");
        assert_eq!(format_duration(-90 * 60), "1h 30m");
    }

    #[test]
    fn local_times_are_short_but_unambiguous() {
        let tz = TimeZone::UTC;
        let now = ts("2024-05-01T09:00:00Z");
        assert_eq!(format_local(ts("2024-05-01T14:02:00Z"), now, &tz), "14:02");
        assert_eq!(
            format_local(ts("2024-05-03T14:02:00Z"), now, &tz),
            "Fri 14:02"
        );
        assert_eq!(
            format_local(ts("2024-06-03T14:02:00Z"), now, &tz),
            "Jun 3 14:02"
        );
        assert_eq!(
            format_local(ts("2025-06-03T14:02:00Z"), now, &tz),
            "2025-06-03 14:02"
        );
    }

    #[test]
    fn spans_are_read_as_people_type_them() {
        assert_eq!(parse_span("90s"), Ok(90));
        assert_eq!(parse_span("30m"), Ok(1800));
        assert_eq!(parse_span("1h30m"), Ok(5400));
        assert_eq!(parse_span("2d"), Ok(172_800));
        for bad in ["", "1", "h", "1w", "-1h", "0m", "99999999999999999999d"] {
            let err = parse_span(bad).unwrap_err();
            assert!(err.contains("write e.g. 30m"), "{bad}: {err}");
        }
    }
}
