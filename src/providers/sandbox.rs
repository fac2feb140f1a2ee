//! The provider emulator (the `sandbox` feature): one emulated provider per
//! `[sandbox.providers.<key>]` section, built by its type's emulation and served under
//! [`sandbox_path`], next to the kit's admin routes.

use anyhow::Context;
use sandbox_kit::SharedKit;

use super::registry::{take_type, type_of};
use super::sandbox_path;
use crate::config::SandboxSettings;

/// The provider emulator: each provider under its own path ([`sandbox_path`]) and the kit's
/// admin routes (`/sandbox/ledger`, `/sandbox/faults/{provider}`, `/sandbox/accounts`).
/// Callbacks go to `<callback_base_url>/<key>`.
pub fn build_sandbox_router(settings: &SandboxSettings, kit: SharedKit) -> anyhow::Result<axum::Router> {
    // Faults for a provider the sandbox does not emulate (a typo of its key) were set on
    // nothing, and the sandbox ran clean while its tester believed faults were on.
    if let Some(unknown) = settings
        .faults
        .keys()
        .find(|provider| !settings.providers.contains_key(provider.as_str()))
    {
        let known: Vec<&str> = settings.providers.keys().map(String::as_str).collect();
        anyhow::bail!(
            "sandbox.faults.{unknown} names no emulated provider (the [sandbox.providers.*] sections are: {})",
            known.join(", ")
        );
    }
    for (provider, faults) in &settings.faults {
        kit.set_faults(provider, faults.clone());
    }
    let callback_base = settings.callback_base_url.trim_end_matches('/');
    let mut router = axum::Router::new();
    for (key, section) in &settings.providers {
        let mut section = section.clone();
        let emulation = take_type(key, &mut section)
            .and_then(|declared| type_of(key, declared.as_deref()))
            .map_err(|problem| anyhow::anyhow!("[sandbox.providers.{key}]: {problem}"))?
            .emulation;
        let provider = emulation
            .router(key, section, kit.clone(), format!("{callback_base}/{key}"))
            .map_err(|error| anyhow::anyhow!(error))
            .with_context(|| format!("sandbox.providers.{key} is invalid"))?;
        router = router.nest(&sandbox_path(key), provider);
    }
    Ok(router.merge(sandbox_kit::admin_router(kit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Faults under a misspelt key were set on no provider: the sandbox started clean.
    #[test]
    fn faults_for_a_provider_the_sandbox_does_not_emulate_are_refused_by_name() {
        let mut settings = crate::config::Settings::load(std::path::Path::new("config"))
            .expect("config/default.toml loads")
            .sandbox;
        let kit = sandbox_kit::SandboxKit::shared();
        assert!(build_sandbox_router(&settings, kit.clone()).is_ok());
        settings
            .faults
            .insert("bank_transfr".to_string(), sandbox_kit::Faults::default());
        let error = build_sandbox_router(&settings, kit).expect_err("refused");
        let message = format!("{error:#}");
        assert!(
            message.contains("sandbox.faults.bank_transfr names no emulated provider")
                && message.contains("bank_transfer"),
            "{message}"
        );
    }
}
