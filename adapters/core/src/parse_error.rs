//! What was wrong with a provider's body that did not parse, said without quoting it.
//!
//! `serde_json::Error`'s `Display` quotes the offending value (`invalid type: string
//! "0981234567", expected i64`), and a provider's answer or callback can hold a phone number,
//! an account number or a name. Error messages built from a provider's body use
//! [`json_problem`] instead, which gives only the kind of problem and where it is.

/// `does not have the expected fields or types (line 1, column 57)` and the like: the kind
/// of problem and its position, never the provider's bytes. The position is left out when
/// serde has none (a value parsed from an already-parsed JSON tree).
pub fn json_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match error.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Data => "does not have the expected fields or types",
        Category::Eof => "ends before the JSON is complete",
    };
    if error.line() == 0 {
        kind.to_string()
    } else {
        format!("{kind} (line {}, column {})", error.line(), error.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_problem_is_named_without_the_offending_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Answer {
            code: i64,
        }
        let error = serde_json::from_str::<Answer>(r#"{"code":"NGUYEN VAN AN 0981234567"}"#)
            .expect_err("a string is not an i64");
        let said = json_problem(&error);
        assert!(said.starts_with("does not have the expected fields or types (line 1, column"));
        assert!(!said.contains("0981234567") && !said.contains("NGUYEN"), "{said}");
        let syntax = serde_json::from_str::<Answer>("{0981234567").expect_err("not JSON");
        assert!(json_problem(&syntax).starts_with("is not valid JSON"));
        assert!(!json_problem(&syntax).contains("0981234567"));
        let from_tree = serde_json::from_value::<Answer>(serde_json::json!({"code": "x"})).expect_err("a string");
        assert_eq!(json_problem(&from_tree), "does not have the expected fields or types");
    }
}
