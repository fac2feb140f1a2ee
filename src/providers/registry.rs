//! The registry: every provider type the gateway can pay through, one line per adapter crate.
//! This is the only place in the gateway that names adapter crates.

use provider_http::registry::ProviderType;

/// One adapter crate's entry: its provider type and, with the `sandbox` feature, its emulation.
pub struct RegisteredType {
    pub provider: &'static dyn ProviderType,
    #[cfg(feature = "sandbox")]
    pub emulation: &'static dyn sandbox_kit::Emulation,
}

macro_rules! registered {
    ($adapter_crate:ident) => {
        RegisteredType {
            provider: &$adapter_crate::PROVIDER_TYPE,
            #[cfg(feature = "sandbox")]
            emulation: &$adapter_crate::EMULATION,
        }
    };
}

/// Every provider type, one line per adapter crate.
pub static PROVIDER_TYPES: &[RegisteredType] = &[
    registered!(adapter_bank_transfer),
    registered!(adapter_vnpost_account),
    registered!(adapter_mobile_money),
];

/// The type of the section `[…<key>]`: the one its `type` names, else the one its key implies.
pub fn type_of(key: &str, declared: Option<&str>) -> Result<&'static RegisteredType, String> {
    let kinds = || {
        PROVIDER_TYPES
            .iter()
            .map(|registered| registered.provider.kind())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let implied = PROVIDER_TYPES
        .iter()
        .find(|registered| registered.provider.implied_by_keys().contains(&key));
    match (declared, implied) {
        // Orders reach a key such as `vnpost_account` or `viettel_money` by their channel or
        // wallet provider: another type under it could never pay them.
        (Some(kind), Some(implied)) if implied.provider.kind() != kind => Err(format!(
            "the key {key} is a {} provider, so type = \"{kind}\" contradicts it; use another key",
            implied.provider.kind()
        )),
        (Some(kind), _) => PROVIDER_TYPES
            .iter()
            .find(|registered| registered.provider.kind() == kind)
            .ok_or_else(|| format!("type = \"{kind}\" is not a provider type; the types are {}", kinds())),
        (None, Some(implied)) => Ok(implied),
        (None, None) => Err(format!(
            "the section needs a `type` (one of {}): its key implies none",
            kinds()
        )),
    }
}

/// Takes the registry's own `type` key out of a section.
pub fn take_type(key: &str, section: &mut serde_json::Value) -> Result<Option<String>, String> {
    let Some(object) = section.as_object_mut() else {
        return Err(format!("[{key}] is not a table"));
    };
    match object.remove("type") {
        None => Ok(None),
        Some(serde_json::Value::String(kind)) => Ok(Some(kind)),
        Some(other) => Err(format!("type must be a string, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_implies_its_type_and_a_declared_type_wins() {
        let kind = |key, declared| type_of(key, declared).map(|registered| registered.provider.kind());
        assert_eq!(kind("bank_transfer", None), Ok("bank_transfer"));
        assert_eq!(kind("vnpt_money", None), Ok("mobile_money"));
        assert_eq!(kind("bank_bidv", Some("bank_transfer")), Ok("bank_transfer"));
        let unknown = kind("bank_bidv", None).expect_err("no type implied");
        assert!(
            unknown.contains("bank_transfer, vnpost_account, mobile_money"),
            "{unknown}"
        );
        assert!(kind("x", Some("paypal")).is_err());
        assert_eq!(kind("bank_transfer", Some("bank_transfer")), Ok("bank_transfer"));
        let contradiction = kind("viettel_money", Some("bank_transfer")).expect_err("refused");
        assert!(
            contradiction.contains("viettel_money is a mobile_money provider"),
            "{contradiction}"
        );
    }
}
