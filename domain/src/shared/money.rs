//! Money: an exact decimal amount in an ISO 4217 currency, never more precise than the currency's
//! minor unit (TWD has none, USD two, KWD three). Stored as `{"amount": "4800", "currency": "TWD"}`
//! (the amount a decimal string).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an amount or a currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not three upper-case ASCII letters.
    #[error("currency must be an ISO 4217 code of three upper-case letters, got {0:?}")]
    Currency(String),
    /// Below zero.
    #[error("amount must not be negative")]
    Negative,
    /// More fraction digits than the currency has.
    #[error("{currency} allows at most {digits} fraction digits")]
    Scale {
        /// The amount's ISO 4217 code, e.g. `TWD`.
        currency: String,
        /// Its minor-unit digits.
        digits: u32,
    },
    /// Not a decimal number.
    #[error("amount is not a decimal number: {0:?}")]
    Amount(String),
    /// Two currencies in one sum.
    #[error("cannot add {0} to {1}")]
    Mixed(String, String),
    /// Too large to compute with.
    #[error("amount overflow")]
    Overflow,
}

/// An ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Chinese yuan renminbi: 2 fraction digits (1 yuan = 100 fen).
    pub const CNY: Currency = Currency(*b"CNY");

    /// Parse `TWD`, `USD` …
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(MoneyError::Currency(code.to_owned())),
        }
    }

    /// The three upper-case letters, e.g. `TWD`, as stored and shown.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Fraction digits of the minor unit (ISO 4217; 2 when not listed otherwise).
    pub fn minor_units(&self) -> u32 {
        match self.as_str() {
            "TWD" | "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "PYG" | "XAF" | "XOF" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
            _ => 2,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, MoneyError> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money (exact, non-negative, within the currency's scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StoredMoney", into = "StoredMoney")]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// The stored form: `{"amount": "4800", "currency": "TWD"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredMoney {
    amount: String,
    currency: String,
}

impl Money {
    /// Money, checked: not negative, no more fraction digits than `currency` allows.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative);
        }
        let amount = amount.normalize();
        if amount.scale() > currency.minor_units() {
            return Err(MoneyError::Scale {
                currency: currency.to_string(),
                digits: currency.minor_units(),
            });
        }
        Ok(Self { amount, currency })
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// The amount in major units (e.g. `4800` TWD, `12.5` USD).
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The ISO 4217 currency; its [`Currency::minor_units`] is the scale of [`Money::amount`].
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Money from a whole number of `currency`'s minor units (what payment providers and stored
    /// events carry), e.g. 9950 CNY fen → 99.50 CNY, 4800 TWD → 4800 TWD (no minor unit).
    ///
    /// Errors: [`MoneyError::Negative`] below zero.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        let amount =
            Decimal::try_new(minor, currency.minor_units()).map_err(|_| MoneyError::Overflow)?;
        Money::new(amount, currency)
    }

    /// The amount as a whole number of minor units, e.g. 12.50 USD → 1250, 99.5 CNY → 9950 fen.
    /// Exact: an amount never has more fraction digits than its currency.
    ///
    /// Errors: [`MoneyError::Overflow`] beyond `i64`.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        let factor = Decimal::from(10_i64.pow(self.currency.minor_units()));
        self.amount
            .checked_mul(factor)
            .and_then(|m| m.to_i64())
            .ok_or(MoneyError::Overflow)
    }

    /// [`Money::to_minor`] under its earlier name.
    pub fn to_minor_units(&self) -> Result<i64, MoneyError> {
        self.to_minor()
    }

    /// The amount `n` times (a unit price times a quantity), in the same currency.
    ///
    /// Errors: [`MoneyError::Overflow`].
    pub fn checked_mul(&self, n: u32) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(Decimal::from(n))
            .ok_or(MoneyError::Overflow)?;
        Money::new(amount, self.currency)
    }

    /// The sum, in the same currency.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::Mixed(
                other.currency.to_string(),
                self.currency.to_string(),
            ));
        }
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::new(amount, self.currency)
    }
}

impl TryFrom<StoredMoney> for Money {
    type Error = MoneyError;
    fn try_from(s: StoredMoney) -> Result<Self, MoneyError> {
        let amount: Decimal = s
            .amount
            .parse()
            .map_err(|_| MoneyError::Amount(s.amount.clone()))?;
        Money::new(amount, Currency::parse(&s.currency)?)
    }
}

impl From<Money> for StoredMoney {
    fn from(m: Money) -> Self {
        StoredMoney {
            amount: m.amount.to_string(),
            currency: m.currency.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twd(n: i64) -> Money {
        Money::new(Decimal::from(n), Currency::parse("TWD").unwrap()).unwrap()
    }

    #[test]
    fn scale_follows_the_currency() {
        let twd_c = Currency::parse("TWD").unwrap();
        let usd = Currency::parse("USD").unwrap();
        assert!(Money::new(Decimal::new(125, 1), twd_c).is_err());
        assert_eq!(
            Money::new(Decimal::new(1250, 2), usd)
                .unwrap()
                .to_minor_units(),
            Ok(1250)
        );
        assert!(Money::new(Decimal::new(1, 3), usd).is_err());
        assert!(Money::new(Decimal::from(-1), usd).is_err());
        assert!(Currency::parse("twd").is_err());
        // 4800.00 TWD is 4800: trailing zeros are not extra precision.
        assert_eq!(
            Money::new(Decimal::new(480000, 2), twd_c).unwrap(),
            twd(4800)
        );
    }

    #[test]
    fn minor_units_follow_the_currencys_exponent() {
        let cny = Currency::CNY;
        assert_eq!(cny.as_str(), "CNY");
        assert_eq!(cny.minor_units(), 2);
        let yuan = |s: &str| Money::new(s.parse().unwrap(), cny).unwrap();
        // 1 yuan = 100 fen.
        assert_eq!(Money::from_minor(100, cny), Ok(yuan("1")));
        assert_eq!(Money::from_minor(9950, cny), Ok(yuan("99.5")));
        assert_eq!(Money::from_minor(1, cny), Ok(yuan("0.01")));
        assert_eq!(Money::from_minor(0, cny), Ok(Money::zero(cny)));
        assert_eq!(yuan("99.50").to_minor(), Ok(9950));
        assert_eq!(yuan("0.01").to_minor(), Ok(1));
        assert_eq!(yuan("1000000").to_minor(), Ok(100_000_000));
        for fen in [0, 1, 99, 100, 9950, 29_900, i64::from(u32::MAX) * 100] {
            assert_eq!(
                Money::from_minor(fen, cny).and_then(|m| m.to_minor()),
                Ok(fen)
            );
        }
        assert_eq!(Money::from_minor(-1, cny), Err(MoneyError::Negative));
        // No minor unit: TWD counts whole dollars; three digits: KWD counts fils.
        let twd_c = Currency::parse("TWD").unwrap();
        assert_eq!(Money::from_minor(4800, twd_c), Ok(twd(4800)));
        assert_eq!(twd(4800).to_minor(), Ok(4800));
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(
            Money::from_minor(1_250, kwd).map(|m| m.amount()),
            Ok(Decimal::new(125, 2))
        );
    }

    #[test]
    fn a_unit_price_times_a_quantity() {
        let price = Money::from_minor(9950, Currency::CNY).unwrap();
        assert_eq!(price.checked_mul(3).and_then(|m| m.to_minor()), Ok(29_850));
        assert_eq!(price.checked_mul(0), Ok(Money::zero(Currency::CNY)));
    }

    #[test]
    fn stored_form_and_sums() {
        let json = serde_json::to_value(twd(4800)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount": "4800", "currency": "TWD"})
        );
        let back: Money = serde_json::from_value(json).unwrap();
        assert_eq!(back, twd(4800));
        assert!(
            serde_json::from_value::<Money>(
                serde_json::json!({"amount": "1.5", "currency": "TWD"})
            )
            .is_err()
        );
        assert_eq!(twd(4800).checked_add(&twd(4800)).unwrap(), twd(9600));
        let usd = Money::new(Decimal::ONE, Currency::parse("USD").unwrap()).unwrap();
        assert!(twd(1).checked_add(&usd).is_err());
    }
}
