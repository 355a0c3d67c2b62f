//! The time the pipeline and the demo generator work with. Production reads the system clock;
//! tests set a fixed instant and move it, so no expected row depends on today's date.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// The system clock, or a test's settable one.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock standing at `at` until [`Clock::set`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(at))))
    }

    /// Moves a fixed clock (and every clone of it) to `at`; the system clock ignores this.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(now) = &self.0
            && let Ok(mut now) = now.lock()
        {
            *now = at;
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(now) => now.lock().map(|now| *now).unwrap_or_else(|_| Utc::now()),
        }
    }
}

/// The first instant of a local day. A day whose midnight falls into a DST gap (clocks jump
/// from 00:00 to 01:00, as in America/Havana or Asia/Beirut) starts at the first local time
/// that exists, never at midnight read as UTC.
pub fn local_day_start(tz: chrono_tz::Tz, day: chrono::NaiveDate) -> DateTime<Utc> {
    local_instant(tz, day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The instant of a local time; a local time inside a DST gap becomes the first instant
/// after the gap.
pub fn local_instant(tz: chrono_tz::Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    use chrono::TimeZone;
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return instant.with_timezone(&Utc);
    }
    // Gaps are at most a few hours and end on a whole minute: the first minute after
    // `local` that exists is where the gap ends.
    (1..=24 * 60)
        .find_map(|minutes| {
            tz.from_local_datetime(&(local + chrono::Duration::minutes(minutes)))
                .earliest()
        })
        .map(|after| after.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    #[test]
    fn an_ordinary_day_starts_at_local_midnight() {
        assert_eq!(
            local_day_start(chrono_tz::Europe::Berlin, day("2026-03-29")).to_rfc3339(),
            "2026-03-28T23:00:00+00:00"
        );
        assert_eq!(
            local_day_start(chrono_tz::Europe::Berlin, day("2026-03-30")).to_rfc3339(),
            "2026-03-29T22:00:00+00:00"
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_gap_ends() {
        // Havana skipped from 00:00 to 01:00 (UTC-5 → UTC-4) on 2024-03-10: the day starts at
        // 01:00 local, 05:00 UTC, not at midnight read as UTC.
        assert_eq!(
            local_day_start(chrono_tz::America::Havana, day("2024-03-10")).to_rfc3339(),
            "2024-03-10T05:00:00+00:00"
        );
    }

    #[test]
    fn a_fixed_clock_moves_only_when_set() {
        let start = DateTime::parse_from_rfc3339("2026-11-05T12:00:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        let clock = Clock::fixed(start);
        let clone = clock.clone();
        assert_eq!(clock.now(), start);
        clone.set(start + chrono::Duration::days(3));
        assert_eq!(clock.now(), start + chrono::Duration::days(3));
    }
}
