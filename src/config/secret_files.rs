//! Secrets from files: any key `<name>_file` names a file whose content becomes `<name>`, so a
//! secret can live in a mounted file (Docker or Kubernetes secrets) instead of the config or
//! the environment: `request_secret_file = "/run/secrets/bank"`, or
//! `GATEWAY__PROVIDERS__BANK_TRANSFER__REQUEST_SECRET_FILE=/run/secrets/bank`. The file wins
//! over a `<name>` set in any layer, so a deployment replaces a default secret by mounting a
//! file. One trailing line break is dropped. The content is never logged, and errors name the
//! key and the file, never what the file holds.

use config::{Map, Value, ValueKind};

const SUFFIX: &str = "_file";

/// Replaces every `<name>_file` key in `table` (at any depth) by `<name>` with the content of
/// the file it names (replacing a `<name>` already there). Refuses a file that cannot be read.
pub fn resolve(table: &mut Map<String, Value>) -> Result<(), String> {
    resolve_at(table, "")
}

fn resolve_at(table: &mut Map<String, Value>, path: &str) -> Result<(), String> {
    let file_keys: Vec<String> = table
        .iter()
        .filter(|(key, value)| key.ends_with(SUFFIX) && key.len() > SUFFIX.len() && is_text(value))
        .map(|(key, _)| key.clone())
        .collect();
    for file_key in file_keys {
        let name = file_key.trim_end_matches(SUFFIX).to_string();
        let shown = format!("{path}{file_key}");
        let Some(value) = table.remove(&file_key) else {
            continue;
        };
        let file = value
            .into_string()
            .map_err(|_| format!("{shown} must be a file path"))?;
        let content = std::fs::read_to_string(&file)
            .map_err(|error| format!("{shown} names {file}, which cannot be read ({})", error.kind()))?;
        let content = content
            .strip_suffix("\r\n")
            .or_else(|| content.strip_suffix('\n'))
            .unwrap_or(&content);
        table.insert(name, Value::new(None, ValueKind::String(content.to_string())));
    }
    for (key, value) in table.iter_mut() {
        if let ValueKind::Table(inner) = &mut value.kind {
            resolve_at(inner, &format!("{path}{key}."))?;
        }
    }
    Ok(())
}

fn is_text(value: &Value) -> bool {
    matches!(value.kind, ValueKind::String(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, Value)]) -> Map<String, Value> {
        entries
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect()
    }

    fn text(value: &str) -> Value {
        Value::new(None, ValueKind::String(value.to_string()))
    }

    #[test]
    fn a_file_key_becomes_the_key_with_the_file_content_at_any_depth() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let secret = folder.path().join("bank");
        std::fs::write(&secret, "s3cr3t\n").expect("the secret writes");
        let bank = table(&[
            ("request_secret_file", text(&secret.display().to_string())),
            ("client_id", text("gw")),
        ]);
        let providers = table(&[("bank_transfer", Value::new(None, ValueKind::Table(bank)))]);
        let mut root = table(&[("providers", Value::new(None, ValueKind::Table(providers)))]);
        resolve(&mut root).expect("resolved");
        let bank = root["providers"].clone().into_table().expect("a table")["bank_transfer"]
            .clone()
            .into_table()
            .expect("a table");
        assert_eq!(
            bank["request_secret"].clone().into_string().ok().as_deref(),
            Some("s3cr3t")
        );
        assert!(!bank.contains_key("request_secret_file"));
    }

    #[test]
    fn the_file_wins_over_the_key_and_an_unreadable_file_is_refused_naming_the_key_not_the_content() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let secret = folder.path().join("secret");
        std::fs::write(&secret, "mounted").expect("the secret writes");
        let mut both = table(&[
            ("secret", text("default")),
            ("secret_file", text(&secret.display().to_string())),
        ]);
        resolve(&mut both).expect("resolved");
        assert_eq!(both["secret"].clone().into_string().ok().as_deref(), Some("mounted"));
        let mut missing = table(&[("secret_file", text("/nonexistent/secret"))]);
        let error = resolve(&mut missing).expect_err("refused");
        assert!(
            error.starts_with("secret_file names /nonexistent/secret, which cannot be read"),
            "{error}"
        );
    }
}
