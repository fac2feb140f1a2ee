//! What an adapter crate gives the gateway's provider registry: a [`ProviderType`] that reads
//! one `[providers.<key>]` section into a [`ProviderConfig`], which builds the adapter.
//!
//! The gateway keeps one list of provider types (one line per adapter crate) and never names
//! an adapter's config type: a second bank is a second section with `type = "bank_transfer"`,
//! a new kind of provider is a new crate and one line in that list.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use gateway_adapter::{Channel, PayoutAdapter};
use secrecy::SecretString;
use serde::Deserialize;

use crate::HttpConfig;

/// An error an adapter crate reports while reading its section or building its adapter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A kind of provider an adapter crate can pay through (`bank_transfer`, `vnpost_account`,
/// `mobile_money`). Implemented by a unit struct exported as a `static`.
pub trait ProviderType: Sync {
    /// The type's name, as a section writes it in `type = "…"`.
    fn kind(&self) -> &'static str;

    /// The channel every provider of this type pays.
    fn channel(&self) -> Channel;

    /// Provider keys whose sections may leave `type` out: it is implied by the key
    /// (`bank_transfer`, `vnpost_account`, the wallet providers' names).
    fn implied_by_keys(&self) -> &'static [&'static str];

    /// Reads the section of provider `key` (without the registry's own keys, `type` and
    /// `bins`). Unknown keys and values the adapter could never work with are refused.
    fn read(&self, key: &str, section: serde_json::Value) -> Result<Box<dyn ProviderConfig>, BoxError>;
}

/// One provider's configuration, read by its [`ProviderType`]; what the gateway needs of it
/// without knowing its type. Copying and downcasting come with any `Clone` config
/// ([`ErasedConfig`]).
pub trait ProviderConfig: ErasedConfig + Debug + Send + Sync {
    /// How long one call may take (`timeout_ms`); the dispatcher's lease must outlast it.
    fn timeout_ms(&self) -> u64;

    /// The transport keys every section shares (pool, connect timeout, TLS, protection).
    fn http(&self) -> &HttpConfig;

    /// The same, to size what the section leaves to the gateway (the keep-alive pool).
    fn http_mut(&mut self) -> &mut HttpConfig;

    /// The key and value of the callback replay window, e.g. `("webhook_tolerance_secs", 300)`.
    fn callback_tolerance(&self) -> (&'static str, i64);

    /// The longest transfer description the provider takes (`memo_max_chars`).
    fn memo_max_chars(&self) -> usize;

    /// The section's secrets with their key names, for the start-up check that refuses the
    /// sandbox's published secrets outside a sandbox.
    fn secrets(&self) -> Vec<(&'static str, &SecretString)>;

    /// Points the provider at an emulation: its API at `base_url`, and, for a provider that
    /// is told per request where to send callbacks (the wallets' `ipn_url`), `callback_url`.
    fn point_at(&mut self, base_url: &str, callback_url: &str);

    /// Builds the adapter that pays through provider `key`.
    fn build(&self, key: &str) -> Result<Arc<dyn PayoutAdapter>, BoxError>;
}

/// What every boxed config can do whatever its type, implemented once for all of them.
pub trait ErasedConfig {
    /// A copy behind a new box (settings are cloned for tests and the demo).
    fn clone_box(&self) -> Box<dyn ProviderConfig>;

    /// The concrete config, for tests that read one value (`downcast_ref`).
    fn as_any(&self) -> &dyn Any;

    /// The concrete config, for tests that change one value (`downcast_mut`).
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: ProviderConfig + Clone + 'static> ErasedConfig for T {
    fn clone_box(&self) -> Box<dyn ProviderConfig> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn ProviderConfig> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Deserialises a section into an adapter's config type with its own `deny_unknown_fields`,
/// naming the key in the error but never a value (a value may be a secret).
///
/// A text key given digits or a boolean by an environment variable
/// (`GATEWAY__PROVIDERS__VNPOST_ACCOUNT__PARTNER_ID=10023`) arrives as a number or a boolean:
/// the config loader parses a variable whose text is the number's own (it must, for
/// `timeout_ms`), and keeps any other as text, so `007` stays `007`. Where the type wants text
/// and the section holds a number or a boolean, its text is taken — the text that was written.
pub fn read_section<T: serde::de::DeserializeOwned>(key: &str, mut section: serde_json::Value) -> Result<T, BoxError> {
    // Each pass turns one value into text; a section has a few dozen keys at most.
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(section.clone()) {
            Ok(config) => return Ok(config),
            Err(error) if error.inner().to_string().contains("expected a string") => {
                let path: Vec<String> = error
                    .path()
                    .iter()
                    .filter_map(|segment| match segment {
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        _ => None,
                    })
                    .collect();
                if !as_text(&mut section, &path) {
                    return Err(section_error(key, error.inner()));
                }
            }
            Err(error) => return Err(section_error(key, error.inner())),
        }
    }
    serde_json::from_value(section).map_err(|error| section_error(key, &error))
}

/// The error for a section that does not read, with no value in it.
fn section_error(key: &str, error: &serde_json::Error) -> BoxError {
    format!(
        "[providers.{key}]: {}",
        gateway_adapter::mask::without_values(&error.to_string())
    )
    .into()
}

/// Turns the number or boolean at `path` into its text; false when there is none there.
fn as_text(section: &mut serde_json::Value, path: &[String]) -> bool {
    let mut value = section;
    for key in path {
        match value.get_mut(key) {
            Some(inner) => value = inner,
            None => return false,
        }
    }
    let text = match value {
        serde_json::Value::Number(number) => number.to_string(),
        serde_json::Value::Bool(flag) => flag.to_string(),
        _ => return false,
    };
    *value = serde_json::Value::String(text);
    true
}

/// A list of secrets given as a list, or as one string holding them separated by commas,
/// spaces or line breaks (an environment variable, or a `<key>_file` with one per line).
pub fn secret_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<SecretString>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<SecretString>),
        One(String),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(secrets) => secrets,
        OneOrMany::One(joined) => joined
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(|part| SecretString::from(part.to_string()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        #[serde(deserialize_with = "secret_list")]
        secrets: Vec<SecretString>,
        #[allow(dead_code)]
        timeout_ms: Option<u64>,
    }

    #[test]
    fn an_error_names_the_key_but_never_quotes_the_value() {
        let wrong = serde_json::json!({"secrets": ["a"], "timeout_ms": "whsec_TOPSECRET"});
        let error = read_section::<Section>("bank_x", wrong)
            .expect_err("refused")
            .to_string();
        assert!(!error.contains("TOPSECRET"), "{error}");
        assert!(
            error.starts_with("[providers.bank_x]: invalid type: string (value not shown)"),
            "{error}"
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Partner {
        partner_id: String,
        secret: SecretString,
        timeout_ms: u64,
        name: String,
        /// As every adapter's section holds the shared HTTP keys.
        #[serde(flatten)]
        http: crate::HttpConfig,
    }

    /// `GATEWAY__PROVIDERS__VNPOST_ACCOUNT__PARTNER_ID=10023` reaches the section as the number
    /// 10023 (the loader parses a variable whose text is the number's own), and a partner id
    /// or a secret of digits alone stopped start-up as "expected a string".
    #[test]
    fn a_text_key_given_digits_or_a_boolean_by_the_environment_reads_as_that_text() {
        let from_environment = serde_json::json!({
            "partner_id": 10023, "secret": 4_711_000_123_u64, "timeout_ms": 2000, "name": true,
            "connect_timeout_ms": 1500,
        });
        let partner = read_section::<Partner>("vnpost_account", from_environment).expect("read as text");
        assert_eq!(partner.partner_id, "10023");
        assert_eq!(partner.secret.expose_secret(), "4711000123");
        assert_eq!(partner.timeout_ms, 2000, "a number stays a number where one is wanted");
        assert_eq!(partner.name, "true");
        assert_eq!(partner.http.connect_timeout_ms, 1500);
        let not_a_number = serde_json::json!({
            "partner_id": "P", "secret": "s", "timeout_ms": "soon", "name": "n",
        });
        let error = read_section::<Partner>("vnpost_account", not_a_number)
            .expect_err("not a number")
            .to_string();
        assert!(!error.contains("soon"), "no value in the error: {error}");
    }

    #[test]
    fn secrets_come_as_a_list_or_as_one_string_of_several() {
        let read = |value: serde_json::Value| -> Vec<String> {
            read_section::<Section>("k", serde_json::json!({ "secrets": value }))
                .expect("valid")
                .secrets
                .iter()
                .map(|secret| secret.expose_secret().to_string())
                .collect()
        };
        assert_eq!(read(serde_json::json!(["a", "b"])), ["a", "b"]);
        assert_eq!(read(serde_json::json!("a,b")), ["a", "b"]);
        assert_eq!(read(serde_json::json!("a\nb\n")), ["a", "b"]);
    }
}
