//! Prices of plan orders (seed 004 "order"), in whole CNY fen (1/100 yuan, `i64`), from the
//! catalogue's decimal prices per member per calendar month
//! (docs/decisions/0027-plans-orders-and-wallet.md).
//!
//! - `newly`, `patch`, `renewal`: unit price × members × months.
//! - `upgrade`: the monthly difference between the new and the old terms (both at the current
//!   catalogue's prices), times the months of the current period, times the share of the period
//!   left, by seconds: `diff × months × remaining_secs / period_secs`, rounded half up to the fen.
//!   Never below zero.

use rust_decimal::Decimal;

/// A catalogue price (CNY, at most two decimals) in fen; `None` when it does not fit `i64`.
pub fn to_fen(price: Decimal) -> Option<i64> {
    let fen = (price * Decimal::ONE_HUNDRED).round();
    i64::try_from(fen).ok()
}

/// `fen` as the decimal string responses show: `12345` → `"123.45"`, `-5` → `"-0.05"`.
pub fn format_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parse a client's amount of CNY (a JSON number or a decimal string with at most two decimals)
/// into fen; `None` when it is not such an amount or does not fit.
pub fn parse_fen(text: &str) -> Option<i64> {
    let d: Decimal = text.trim().parse().ok()?;
    if d.normalize().scale() > 2 {
        return None;
    }
    to_fen(d)
}

/// `unit_fen` per member per month for `members` members and `months` months; `None` on
/// overflow.
pub fn full_amount(unit_fen: i64, members: u32, months: u32) -> Option<i64> {
    unit_fen
        .checked_mul(i64::from(members))?
        .checked_mul(i64::from(months))
}

/// The pro-rata price of an upgrade, in fen: the monthly difference `new_monthly_fen -
/// old_monthly_fen` over `period_months` months, times `remaining_secs / period_secs`, rounded
/// half up; 0 when the difference or the time left is not positive, `None` on overflow or an
/// empty period.
pub fn prorate(
    old_monthly_fen: i64,
    new_monthly_fen: i64,
    period_months: u32,
    remaining_secs: i64,
    period_secs: i64,
) -> Option<i64> {
    if period_secs <= 0 {
        return None;
    }
    let diff = i128::from(new_monthly_fen) - i128::from(old_monthly_fen);
    if diff <= 0 || remaining_secs <= 0 {
        return Some(0);
    }
    let remaining = i128::from(remaining_secs.min(period_secs));
    let num = diff
        .checked_mul(i128::from(period_months))?
        .checked_mul(remaining)?;
    let den = i128::from(period_secs);
    // Half up: floor((2·num + den) / (2·den)) for non-negative values.
    let rounded = (num.checked_mul(2)?.checked_add(den)?) / (den * 2);
    i64::try_from(rounded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_round_trips_and_formats() {
        assert_eq!(to_fen(Decimal::new(3000, 2)), Some(3000));
        assert_eq!(format_fen(3000), "30.00");
        assert_eq!(format_fen(5), "0.05");
        assert_eq!(format_fen(-12345), "-123.45");
        assert_eq!(parse_fen("12.5"), Some(1250));
        assert_eq!(parse_fen("12.345"), None);
        assert_eq!(parse_fen("abc"), None);
    }

    #[test]
    fn full_amounts_multiply() {
        assert_eq!(full_amount(3000, 12, 3), Some(108_000));
        assert_eq!(full_amount(i64::MAX, 2, 1), None);
    }

    #[test]
    fn upgrades_are_prorated_by_seconds_half_up() {
        // 10 pro members (300.00/month) → 10 ent members (600.00/month), 1 month of 2,678,400 s
        // (31 days), 1,000,000 s left: 30000 × 1000000 / 2678400 = 11200.717… → 11201 fen.
        assert_eq!(
            prorate(30_000, 60_000, 1, 1_000_000, 2_678_400),
            Some(11_201)
        );
        // Exactly half a fen rounds up: 1 fen × 1 s / 2 s = 0.5 → 1.
        assert_eq!(prorate(0, 1, 1, 1, 2), Some(1));
        // Just under half rounds down: 1 × 4 / 9 = 0.44 → 0.
        assert_eq!(prorate(0, 1, 1, 4, 9), Some(0));
        // Nothing left, or no difference: free.
        assert_eq!(prorate(30_000, 60_000, 1, 0, 100), Some(0));
        assert_eq!(prorate(60_000, 30_000, 1, 50, 100), Some(0));
        // The whole of a 3-month period: the full difference.
        assert_eq!(prorate(30_000, 36_000, 3, 100, 100), Some(18_000));
        assert_eq!(prorate(1, 2, 1, 1, 0), None);
    }
}
