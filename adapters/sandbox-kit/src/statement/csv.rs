//! A CSV line for the providers' CSV statements, quoted the RFC 4180 way where needed.

/// One CSV line (without its line break): a field that holds the delimiter, a quote or a
/// line break is quoted, with its quotes doubled.
pub fn csv_line(fields: &[&str], delimiter: char) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|field| {
            if field.contains([delimiter, '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field.to_string()
            }
        })
        .collect();
    quoted.join(&delimiter.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_that_need_it_are_quoted() {
        assert_eq!(csv_line(&["a", "b c", ""], ','), "a,b c,");
        assert_eq!(
            csv_line(&["a;b", "say \"hi\"", "x,y"], ';'),
            "\"a;b\";\"say \"\"hi\"\"\";x,y"
        );
    }
}
