//! Small helpers for SQL texts built at run time (multi-row inserts, `IN` lists). Only placeholders
//! are generated; every value travels as a bind parameter.

/// SQLite accepts at most 32,766 bind parameters per statement (PostgreSQL 65,535): statements that
/// grow with their input stay under this many.
pub(crate) const MAX_BINDS: usize = 30_000;

/// Longest `IN (…)` list per statement. Lists use `$NNN` parameters, which SQLite looks up
/// linearly (see [`Params`]): short lists keep that negligible.
pub(crate) const IN_CHUNK: usize = 500;

/// `($first, $first+1, …)` for `count` parameters, comma-separated, without parentheses.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a generated statement writes its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    /// `$1, $2, …` (PostgreSQL; SQLite too, but see [`Params::Anonymous`]).
    Numbered,
    /// `?, ?, …`, bound in order (SQLite). SQLite resolves every named or numbered parameter
    /// (`$NNN`, `?NNN`) with a linear scan over those before it, when parsing and again when sqlx
    /// binds by name: with 30,000 of them a statement takes seconds. Anonymous ones cost nothing.
    Anonymous,
}

/// `($1, $2, $3), ($4, $5, $6), …` or `(?, ?, ?), (?, ?, ?), …`: `rows` tuples of `columns`
/// parameters for a multi-row `INSERT … VALUES`.
pub(crate) fn value_rows(rows: usize, columns: usize, params: Params) -> String {
    (0..rows)
        .map(|r| match params {
            Params::Numbered => format!("({})", placeholders(r * columns + 1, columns)),
            Params::Anonymous => format!("({})", vec!["?"; columns].join(", ")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(value_rows(2, 2, Params::Numbered), "($1, $2), ($3, $4)");
        assert_eq!(value_rows(2, 2, Params::Anonymous), "(?, ?), (?, ?)");
    }
}
