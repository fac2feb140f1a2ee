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
