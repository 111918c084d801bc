//! Dates for headers (IMF-fixdate, via httpdate) and for log lines (`22/Nov/2026 15:00:00`).

//! proto never reads the clock: callers pass the time (`crate::clock` reads it).

use std::time::{Duration, UNIX_EPOCH};

/// `date_time_string(timestamp)`: "Sun, 06 Nov 1994 08:49:37 GMT" for `secs` since the epoch.
pub fn date_time_string(secs: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}

/// Parse an HTTP date (IMF-fixdate, RFC 850 or asctime) to seconds since the epoch.
pub fn parse_http_date(value: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `log_date_time_string()` for `secs` since the epoch, in UTC (the guest has no time zone).
pub fn log_date_time_string(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:02}/{}/{:04} {:02}:{:02}:{:02}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A response's date strings, its `Date` and its log line's, made at most once a second
/// (as nginx keeps its cached time strings): the responses of one second share them. A
/// file's `Last-Modified` is kept the same way, for the next response of the same file.
#[derive(Debug, Default)]
pub struct DateStrings {
    http: Option<(i64, String)>,
    log: Option<(i64, String)>,
    modified: Option<(i64, String)>,
}

impl DateStrings {
    /// `date_time_string(secs)`, made again only when `secs` is not the last one asked.
    pub fn http(&mut self, secs: i64) -> &str {
        Self::at(&mut self.http, secs, date_time_string)
    }

    /// `log_date_time_string(secs)`, made again only when `secs` is not the last one asked.
    pub fn log(&mut self, secs: i64) -> &str {
        Self::at(&mut self.log, secs, log_date_time_string)
    }

    /// `date_time_string(secs)` for a file's modification time, made again only when `secs`
    /// is not the last one asked.
    pub fn modified(&mut self, secs: i64) -> &str {
        Self::at(&mut self.modified, secs, date_time_string)
    }

    fn at(kept: &mut Option<(i64, String)>, secs: i64, make: fn(i64) -> String) -> &str {
        if kept.as_ref().is_none_or(|(at, _)| *at != secs) {
            *kept = Some((secs, make(secs)));
        }
        kept.as_ref().map_or("", |(_, text)| text)
    }
}

/// Howard Hinnant's days-to-civil algorithm: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(date_time_string(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(log_date_time_string(784_111_777), "06/Nov/1994 08:49:37");
        assert_eq!(log_date_time_string(1_795_359_600), "22/Nov/2026 15:00:00");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("garbage"), None);
    }

    #[test]
    fn kept_strings_follow_the_second_asked() {
        let mut dates = DateStrings::default();
        assert_eq!(dates.http(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(dates.log(784_111_777), "06/Nov/1994 08:49:37");
        assert_eq!(dates.http(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(dates.http(784_111_778), "Sun, 06 Nov 1994 08:49:38 GMT");
        assert_eq!(dates.log(784_111_778), "06/Nov/1994 08:49:38");
        // Back in time too (a clock set back): the string is the second asked, not the newest.
        assert_eq!(dates.http(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(dates.log(1_795_359_600), "22/Nov/2026 15:00:00");
        // A file's modification time has a slot of its own: asking it leaves Date's alone.
        assert_eq!(dates.modified(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(dates.http(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(dates.modified(1_795_359_600), "Sun, 22 Nov 2026 15:00:00 GMT");
        assert_eq!(dates.modified(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
