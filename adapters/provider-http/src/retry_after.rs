//! Reading a provider's `Retry-After` header: delay-seconds or an HTTP date, clamped.

use std::time::{Duration, SystemTime};

/// How long a provider asks us to wait, from a `Retry-After` value (RFC 9110 §10.2.3):
/// whole seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`), measured from
/// `now`. A date in the past means "now" (zero). Anything else is ignored (`None`), and the
/// answer is never more than `max`, so a provider cannot park our payments for a day.
pub fn parse_retry_after(value: &str, now: SystemTime, max: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let until = httpdate::parse_http_date(value).ok()?;
        until.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn seconds_are_read_and_clamped() {
        assert_eq!(parse_retry_after("7", at(0), MAX), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", at(0), MAX), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", at(0), MAX), Some(MAX));
    }

    #[test]
    fn an_http_date_is_a_wait_from_now_and_a_past_date_is_no_wait() {
        // 1994-11-06T08:49:37Z, the RFC's example.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            parse_retry_after(date, at(784_111_777 - 30), MAX),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after(date, at(784_111_777 + 30), MAX), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(date, at(0), MAX), Some(MAX));
    }

    #[test]
    fn anything_else_is_ignored() {
        for value in ["", "soon", "-5", "1.5", "Sun, 06 Nov 1994"] {
            assert_eq!(parse_retry_after(value, at(0), MAX), None, "{value:?}");
        }
    }
}
