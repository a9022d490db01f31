//! Plan periods as calendar months in Asia/Shanghai (docs/decisions/0026-plans-periods-and-time.md).
//!
//! China Standard Time has been UTC+08:00 without daylight saving since 1991, so the zone is the
//! fixed offset [`SHANGHAI_OFFSET_SECS`] (no time-zone database needed for any date a plan can be
//! bought on). A period of `n` months that starts at instant `start` runs through the local
//! calendar day that is `n` months after the start's local date — the same day of the month, or
//! the month's last day when it has no such day — and ends at the local midnight that follows
//! that day. So a plan bought on 31 January runs through the last day of February (28th or 29th)
//! and ends at 00:00 on 1 March, Shanghai time; one bought on 15 January runs through 15 February.

use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};

/// Asia/Shanghai's offset from UTC, in seconds (+08:00, no daylight saving since 1991).
pub const SHANGHAI_OFFSET_SECS: i32 = 8 * 3600;

/// The Asia/Shanghai offset.
pub fn shanghai() -> FixedOffset {
    // 8 hours is always a valid offset; the fallback is never taken.
    FixedOffset::east_opt(SHANGHAI_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// The local (Asia/Shanghai) calendar date of `at`.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&shanghai()).date_naive()
}

/// The instant of local midnight at the start of `date` (Asia/Shanghai), in UTC.
pub fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(NaiveTime::MIN);
    match shanghai().from_local_datetime(&local).single() {
        Some(t) => t.with_timezone(&Utc),
        // A fixed offset maps every local time to exactly one instant.
        None => DateTime::<Utc>::from_naive_utc_and_offset(local, Utc),
    }
}

/// The last local day of a period of `months` months starting at `start`: the start's local date
/// `months` months on, clamped to the end of a shorter month. `None` past the calendar's range.
pub fn last_day(start: DateTime<Utc>, months: u32) -> Option<NaiveDate> {
    local_date(start).checked_add_months(Months::new(months))
}

/// When a period of `months` calendar months starting at `start` ends: the local midnight after
/// [`last_day`]. `None` past the calendar's range.
pub fn period_end(start: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    let day = last_day(start, months)?;
    Some(local_midnight(day.checked_add_days(Days::new(1))?))
}

/// Days in the local month of `at` (28–31), for pro-rata prices.
pub fn days_in_month(at: DateTime<Utc>) -> u32 {
    let d = local_date(at);
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1);
    let next = first.and_then(|f| f.checked_add_months(Months::new(1)));
    match (first, next) {
        (Some(f), Some(n)) => (n - f).num_days() as u32,
        _ => 30,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Shanghai local time as a UTC instant.
    fn cst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        shanghai()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_month_from_the_31st_runs_through_the_end_of_february() {
        assert_eq!(
            period_end(cst(2025, 1, 31, 10, 0), 1),
            Some(cst(2025, 3, 1, 0, 0))
        );
        // Leap year: through 29 February.
        assert_eq!(
            period_end(cst(2024, 1, 31, 10, 0), 1),
            Some(cst(2024, 3, 1, 0, 0))
        );
        assert_eq!(
            last_day(cst(2024, 1, 31, 10, 0), 1),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(
            last_day(cst(2025, 1, 30, 10, 0), 1),
            NaiveDate::from_ymd_opt(2025, 2, 28)
        );
        // 29 February + 12 months: 28 February of the next year.
        assert_eq!(
            last_day(cst(2024, 2, 29, 9, 0), 12),
            NaiveDate::from_ymd_opt(2025, 2, 28)
        );
        // A plain day: through the same day of the next month.
        assert_eq!(
            period_end(cst(2025, 1, 15, 10, 0), 1),
            Some(cst(2025, 2, 16, 0, 0))
        );
        // Several months count from the start, not month after month (31 Jan + 3 → 30 Apr).
        assert_eq!(
            period_end(cst(2025, 1, 31, 10, 0), 3),
            Some(cst(2025, 5, 1, 0, 0))
        );
        // Across the year end.
        assert_eq!(
            period_end(cst(2025, 12, 31, 23, 59), 2),
            Some(cst(2026, 3, 1, 0, 0))
        );
    }

    #[test]
    fn the_local_date_decides_not_the_utc_date() {
        // 31 Jan 23:30 UTC is 1 Feb 07:30 in Shanghai: a period from 1 Feb.
        let t = Utc
            .with_ymd_and_hms(2025, 1, 31, 23, 30, 0)
            .single()
            .unwrap();
        assert_eq!(local_date(t), NaiveDate::from_ymd_opt(2025, 2, 1).unwrap());
        assert_eq!(period_end(t, 1), Some(cst(2025, 3, 2, 0, 0)));
        // 15 Jan 16:00 UTC is exactly midnight of 16 Jan in Shanghai.
        let midnight = Utc
            .with_ymd_and_hms(2025, 1, 15, 16, 0, 0)
            .single()
            .unwrap();
        assert_eq!(
            local_date(midnight),
            NaiveDate::from_ymd_opt(2025, 1, 16).unwrap()
        );
        assert_eq!(
            local_date(midnight - chrono::Duration::seconds(1)),
            NaiveDate::from_ymd_opt(2025, 1, 15).unwrap()
        );
    }

    #[test]
    fn the_period_ends_at_local_midnight_which_is_1600_utc() {
        let end = period_end(cst(2025, 3, 10, 12, 0), 1).unwrap();
        assert_eq!(
            end,
            Utc.with_ymd_and_hms(2025, 4, 10, 16, 0, 0)
                .single()
                .unwrap()
        );
        assert_eq!(
            local_midnight(NaiveDate::from_ymd_opt(2025, 4, 11).unwrap()),
            end
        );
    }

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month(cst(2024, 2, 10, 0, 0)), 29);
        assert_eq!(days_in_month(cst(2025, 2, 10, 0, 0)), 28);
        assert_eq!(days_in_month(cst(2025, 4, 30, 23, 0)), 30);
        assert_eq!(days_in_month(cst(2025, 12, 31, 23, 59)), 31);
    }
}
