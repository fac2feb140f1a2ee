//! Store errors typed by what the caller should do: wait for the store, or give up on the data.
//!
//! A claim that fails because the database is down must go back to the queue and the consumer
//! must pause; a claim that fails because PostgreSQL refuses a value (a NUL character in a
//! TEXT column, a value over a limit) fails the same way every time, so retrying it only burns
//! the order's delivery limit. The two are told apart here, once, from the driver's error.

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or cannot take writes right now (connection lost, pool
    /// timed out, disk full, a serialization conflict): wait and try again.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database refuses this data and will refuse it again (a data exception, a value
    /// over a limit, a constraint the data breaks): reject the message with a reason.
    #[error("the store cannot keep this data: {0}")]
    Unstorable(#[source] sqlx::Error),
}

impl StoreError {
    /// True when the same call may succeed later without changing the data.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// The driver's error underneath, for callers that do not tell the two apart.
    pub fn into_sqlx(self) -> sqlx::Error {
        match self {
            StoreError::Unavailable(error) | StoreError::Unstorable(error) => error,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if refuses_the_data(&error) {
            StoreError::Unstorable(error)
        } else {
            StoreError::Unavailable(error)
        }
    }
}

/// Whether the database refused the data itself rather than failing to run the statement.
fn refuses_the_data(error: &sqlx::Error) -> bool {
    match error {
        // Encoding a value failed before it reached the database.
        sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| data_error_code(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATE classes 22 (data exception, e.g. 22021 for a NUL byte in text), 23
/// (integrity constraint violation) and 54 (program limit exceeded); SQLite's primary result
/// codes TOOBIG (18), CONSTRAINT (19) and MISMATCH (20), with or without an extended code.
fn data_error_code(code: &str) -> bool {
    if code.len() == 5 && code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return ["22", "23", "54"].contains(&&code[..2]);
    }
    code.parse::<i64>().is_ok_and(|number| matches!(number & 0xff, 18..=20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_data_exceptions_are_unstorable_and_connection_failures_are_not() {
        for code in ["22021", "22001", "23505", "54000"] {
            assert!(data_error_code(code), "{code}");
        }
        for code in ["08006", "57P01", "40001", "53100", "XX000"] {
            assert!(!data_error_code(code), "{code}");
        }
    }

    #[test]
    fn sqlite_constraint_and_size_codes_are_unstorable_and_busy_is_not() {
        for code in ["18", "19", "20", "2067", "1555"] {
            assert!(data_error_code(code), "{code}");
        }
        for code in ["5", "6", "10", "13", "261"] {
            assert!(!data_error_code(code), "{code}");
        }
        let pool_timeout: StoreError = sqlx::Error::PoolTimedOut.into();
        assert!(pool_timeout.is_unavailable());
    }
}
