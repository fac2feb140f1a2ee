//! Vietnam's clock: Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving time). Calendar
//! days and months of payments (wallet monthly limits, statements, signed timestamps) are
//! Vietnam's, so every crate takes them from here.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};

/// Seconds east of UTC.
pub const OFFSET_SECS: i32 = 7 * 3_600;

/// The offset, for `with_timezone`.
pub fn offset() -> FixedOffset {
    FixedOffset::east_opt(OFFSET_SECS).expect("UTC+7 is within the ±24 h an offset allows")
}

/// The Vietnam wall-clock time of an instant. Within seven hours of chrono's last instant
/// (which only a forged or corrupt timestamp reaches) it is that last time, where
/// `with_timezone` would panic.
fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
        .checked_add_signed(TimeDelta::seconds(i64::from(OFFSET_SECS)))
        .unwrap_or(NaiveDateTime::MAX)
}

/// The Vietnam calendar day of an instant.
pub fn date(at: DateTime<Utc>) -> NaiveDate {
    local(at).date()
}

/// The Vietnam calendar month of an instant, `YYYY-MM`.
pub fn month(at: DateTime<Utc>) -> String {
    local(at).format("%Y-%m").to_string()
}

/// The instant at `time`, Vietnam time, on `day`.
pub fn instant(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    offset()
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or_else(|| day.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_and_a_month_turn_at_vietnam_midnight() {
        let before = DateTime::parse_from_rfc3339("2026-11-30T16:59:59Z")
            .expect("valid")
            .to_utc();
        let after = DateTime::parse_from_rfc3339("2026-11-30T17:00:00Z")
            .expect("valid")
            .to_utc();
        assert_eq!(date(before).to_string(), "2026-11-30");
        assert_eq!(date(after).to_string(), "2026-12-01");
        assert_eq!((month(before).as_str(), month(after).as_str()), ("2026-11", "2026-12"));
        let midnight = instant(date(after), NaiveTime::MIN);
        assert_eq!(midnight, after);
    }

    /// `with_timezone` panicked within seven hours of chrono's last instant, which a forged or
    /// corrupt epoch-milliseconds field in a statement or callback reaches.
    #[test]
    fn the_last_instants_have_a_day_and_a_month_without_a_panic() {
        assert_eq!(date(DateTime::<Utc>::MAX_UTC), NaiveDate::MAX);
        assert!(!month(DateTime::<Utc>::MAX_UTC).is_empty());
        assert_eq!(date(DateTime::<Utc>::MIN_UTC), DateTime::<Utc>::MIN_UTC.date_naive());
    }
}
