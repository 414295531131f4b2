//! The clock of a change: the moment it happens and the tenant's time zone.
//!
//! Times are stored in UTC; people read them, and `now()` / `today()` are evaluated, in the
//! tenant's zone (Asia/Shanghai unless the tenant says otherwise). The one thing to know: a
//! change carries its own [`Clock`], so a record that demo data or an import of history
//! files "last March" is stamped, numbered and dated as of last March, not as of the day it
//! was loaded.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// The zone of a tenant that names none.
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// When a change happens, and where its people read the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The moment, in UTC.
    pub now: DateTime<Utc>,
    /// The tenant's zone.
    pub zone: Tz,
}

impl Clock {
    /// The system's current time in `zone`.
    pub fn system(zone: Tz) -> Clock {
        Clock {
            now: Utc::now(),
            zone,
        }
    }

    /// A fixed moment in `zone`.
    pub fn at(now: DateTime<Utc>, zone: Tz) -> Clock {
        Clock { now, zone }
    }

    /// The calendar date in the zone.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.zone).date_naive()
    }

    /// The year in the zone (what yearly numbering restarts on).
    pub fn year(&self) -> i32 {
        use chrono::Datelike;
        self.today().year()
    }

    /// The moment as RFC 3339 text with the zone's offset, to the second
    /// (`2026-12-07T10:41:53+08:00`): what `now()` gives an expression.
    pub fn now_text(&self) -> String {
        self.now
            .with_timezone(&self.zone)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    /// The wall-clock time in the zone of a stored moment.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.zone).naive_local()
    }
}

/// A stored RFC 3339 moment as people read it in `zone`: `2026-12-07 06:41` (the wall-clock
/// time, to the minute, without offset or fraction). None when `at` is not such a moment.
pub fn people(at: &str, zone: Tz) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(at).ok()?;
    Some(t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
}

/// Like [`people`], to the second when the moment has seconds (`2026-12-07 06:41:53`): what
/// a record's own date-time fields show.
pub fn people_exact(at: &str, zone: Tz) -> Option<String> {
    use chrono::Timelike;
    let t = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&zone);
    let fmt = if t.second() == 0 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    Some(t.format(fmt).to_string())
}

/// `text` with every RFC 3339 moment in it shown as [`people`] do; anything else unchanged.
pub fn people_or_same(text: &str, zone: Tz) -> String {
    people(text, zone).unwrap_or_else(|| text.to_string())
}

/// A zone by its IANA name (`Asia/Shanghai`), or None when there is no such zone.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_clock_reads_the_time_in_its_zone() {
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 17, 30, 5).unwrap();
        let sh = Clock::at(t, DEFAULT_ZONE);
        assert_eq!(sh.now_text(), "2027-01-01T01:30:05+08:00");
        assert_eq!(sh.today().to_string(), "2027-01-01");
        assert_eq!(sh.year(), 2027);
        let utc = Clock::at(t, zone("UTC").unwrap());
        assert_eq!(utc.now_text(), "2026-12-31T17:30:05+00:00");
        assert_eq!(utc.year(), 2026);
        assert!(zone("Mars/Olympus").is_none());
    }

    #[test]
    fn people_read_stored_moments_on_their_own_wall_clock() {
        let z = DEFAULT_ZONE;
        assert_eq!(
            people("2026-12-06T22:41:53.910092Z", z).unwrap(),
            "2026-12-07 06:41"
        );
        assert_eq!(
            people_exact("2026-12-06T22:41:53.910092Z", z).unwrap(),
            "2026-12-07 06:41:53"
        );
        assert_eq!(
            people_exact("2026-12-07T06:41:00+08:00", z).unwrap(),
            "2026-12-07 06:41"
        );
        assert_eq!(people("2026-12-07", z), None, "a date is not a moment");
        assert_eq!(people_or_same("草稿", z), "草稿");
        let utc = zone("UTC").unwrap();
        assert_eq!(
            people("2026-12-06T22:41:53Z", utc).unwrap(),
            "2026-12-06 22:41"
        );
    }
}
