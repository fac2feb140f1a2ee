//! Tests of [`Settings::validate`] (one per rule) and of loading: unknown keys refused,
//! environment variables applied. None of them changes the process environment: the
//! variables are handed to [`Settings::load_from`], since tests run in parallel threads.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::parses_as_itself;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn variables(pairs: &[(&str, &str)]) -> config::Map<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// `config/default.toml` alone, as if no `GATEWAY__` variable were set.
fn defaults() -> Settings {
    Settings::load_from(&config_dir(), None, Some(variables(&[]))).expect("config/default.toml loads")
}

/// The keys refused after `change` is applied to the defaults.
fn refused(change: impl FnOnce(&mut Settings)) -> Vec<String> {
    let mut settings = defaults();
    change(&mut settings);
    match settings.validate() {
        Ok(()) => Vec::new(),
        Err(invalid) => invalid.problems.into_iter().map(|problem| problem.key).collect(),
    }
}

/// A configuration folder with the shipped `default.toml` and `extra` as `<environment>.toml`.
fn folder_with(environment: &str, extra: &str) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::copy(config_dir().join("default.toml"), folder.path().join("default.toml")).expect("default.toml copied");
    std::fs::write(folder.path().join(format!("{environment}.toml")), extra).expect("environment file written");
    folder
}

fn error_text<T: std::fmt::Debug>(result: anyhow::Result<T>) -> String {
    format!("{:#}", result.expect_err("the configuration is refused"))
}

#[test]
fn the_shipped_defaults_are_valid() {
    assert_eq!(defaults().validate(), Ok(()));
}

#[test]
fn a_lease_that_does_not_cover_two_of_the_slowest_provider_calls_and_the_margin_is_refused() {
    let mut settings = defaults();
    settings
        .providers
        .config_mut::<adapter_vnpost_account::VnpostAccountConfig>("vnpost_account")
        .expect("vnpost configured")
        .timeout_ms = 9_000;
    settings.dispatcher.lease_ms = 2 * 9_000 + LEASE_MARGIN_MS - 1;
    let invalid = settings.validate().expect_err("the lease is too short");
    assert_eq!(invalid.problems.len(), 1, "{invalid}");
    let problem = &invalid.problems[0];
    assert_eq!(problem.key, "dispatcher.lease_ms");
    assert!(
        problem.message.contains("providers.vnpost_account.timeout_ms = 9000") && problem.message.contains("19000"),
        "{}",
        problem.message
    );

    settings.dispatcher.lease_ms = 2 * 9_000 + LEASE_MARGIN_MS;
    assert_eq!(settings.validate(), Ok(()));
}

#[test]
fn a_zero_lease_is_refused_even_with_no_provider_configured() {
    let keys = refused(|settings| {
        settings.providers = Default::default();
        settings.dispatcher.lease_ms = 0;
    });
    assert_eq!(keys, ["dispatcher.lease_ms"]);
}

/// A key, and a change to the defaults that makes it wrong.
type Case = (&'static str, fn(&mut Settings));

#[test]
fn zero_counts_sizes_and_waits_are_refused() {
    let cases: [Case; 23] = [
        ("amqp.prefetch", |s| s.amqp.prefetch = 0),
        ("amqp.delivery_limit", |s| s.amqp.delivery_limit = 0),
        ("amqp.outbox_publish_attempts", |s| s.amqp.outbox_publish_attempts = 0),
        ("database.max_connections", |s| s.database.max_connections = 0),
        ("http.max_body_bytes", |s| s.http.max_body_bytes = 0),
        ("http.request_timeout_ms", |s| s.http.request_timeout_ms = 0),
        ("http.header_read_timeout_ms", |s| s.http.header_read_timeout_ms = 0),
        ("dispatcher.batch_size", |s| s.dispatcher.batch_size = 0),
        ("dispatcher.provider_concurrency", |s| {
            s.dispatcher.provider_concurrency = 0
        }),
        ("dispatcher.max_attempts", |s| s.dispatcher.max_attempts = 0),
        ("dispatcher.max_inquiries", |s| s.dispatcher.max_inquiries = -1),
        ("dispatcher.inquiry_delay_ms", |s| s.dispatcher.inquiry_delay_ms = 0),
        ("dispatcher.review_inquiry_after_ms", |s| {
            s.dispatcher.review_inquiry_after_ms = 0
        }),
        ("limits.bank_transfer_max", |s| s.limits.bank_transfer_max = 0),
        ("limits.vnpost_account_max", |s| s.limits.vnpost_account_max = 0),
        ("limits.mobile_money_max", |s| s.limits.mobile_money_max = 0),
        ("limits.wallet_monthly_max", |s| s.limits.wallet_monthly_max = 0),
        ("providers.bank_transfer.webhook_tolerance_secs", |s| {
            s.providers
                .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
                .expect("bank configured")
                .webhook_tolerance_secs = 0
        }),
        ("providers.vnpost_account.callback_tolerance_secs", |s| {
            s.providers
                .config_mut::<adapter_vnpost_account::VnpostAccountConfig>("vnpost_account")
                .expect("vnpost configured")
                .callback_tolerance_secs = -5
        }),
        ("providers.vnpt_money.callback_tolerance_secs", |s| {
            s.providers
                .config_mut::<adapter_mobile_money::MobileMoneyConfig>("vnpt_money")
                .expect("vnpt configured")
                .callback_tolerance_secs = 0
        }),
        ("dispatcher.tick_ms", |s| s.dispatcher.tick_ms = 0),
        ("database.writers", |s| s.database.writers = 0),
        ("amqp.reconnect_delay_ms", |s| s.amqp.reconnect_delay_ms = 0),
    ];
    for (key, change) in cases {
        assert_eq!(refused(change), [key], "{key} = 0 must be refused, and nothing else");
    }
}

#[test]
fn a_provider_memo_limit_shorter_than_the_default_memo_is_refused() {
    let keys = refused(|settings| {
        settings
            .providers
            .config_mut::<adapter_vnpost_account::VnpostAccountConfig>("vnpost_account")
            .expect("vnpost configured")
            .memo_max_chars = 0;
        settings
            .providers
            .config_mut::<adapter_mobile_money::MobileMoneyConfig>("vnpt_money")
            .expect("vnpt configured")
            .memo_max_chars = 19;
    });
    assert_eq!(
        keys,
        [
            "providers.vnpost_account.memo_max_chars",
            "providers.vnpt_money.memo_max_chars"
        ]
    );
    assert!(refused(|settings| {
        settings
            .providers
            .config_mut::<adapter_mobile_money::MobileMoneyConfig>("vnpt_money")
            .expect("vnpt configured")
            .memo_max_chars = 20;
    })
    .is_empty());
}

#[test]
fn a_zero_provider_timeout_is_refused_by_its_own_key() {
    let keys = refused(|settings| {
        settings
            .providers
            .config_mut::<adapter_mobile_money::MobileMoneyConfig>("viettel_money")
            .expect("viettel configured")
            .timeout_ms = 0;
    });
    assert_eq!(keys, ["providers.viettel_money.timeout_ms"]);
}

#[test]
fn waits_the_code_would_silently_raise_or_cut_are_refused() {
    assert_eq!(refused(|s| s.dispatcher.tick_ms = 5), ["dispatcher.tick_ms"]);
    assert_eq!(refused(|s| s.amqp.reconnect_delay_ms = 5), ["amqp.reconnect_delay_ms"]);
    assert_eq!(
        refused(|s| s.amqp.reconnect_delay_ms = 60_000),
        ["amqp.reconnect_delay_ms"]
    );
    assert!(refused(|s| s.amqp.reconnect_delay_ms = 30_000).is_empty());
    assert_eq!(
        refused(|s| s.dispatcher.lease_linger_ms = s.dispatcher.tick_ms + 1),
        ["dispatcher.lease_linger_ms"]
    );
    assert!(refused(|s| s.dispatcher.lease_linger_ms = 0).is_empty());
}

#[test]
fn dispatcher_waits_over_a_month_are_refused_before_they_turn_negative_in_a_timestamp() {
    let cases: [Case; 7] = [
        ("dispatcher.review_inquiry_after_ms", |s| {
            s.dispatcher.review_inquiry_after_ms = u64::MAX
        }),
        ("dispatcher.pending_poll_after_ms", |s| {
            s.dispatcher.pending_poll_after_ms = i64::MAX as u64
        }),
        ("dispatcher.inquiry_delay_ms", |s| {
            s.dispatcher.inquiry_delay_ms = u64::MAX
        }),
        ("dispatcher.backoff_base_ms", |s| {
            s.dispatcher.backoff_base_ms = 31 * 86_400_000;
            s.dispatcher.backoff_max_ms = 31 * 86_400_000;
        }),
        ("dispatcher.backoff_max_ms", |s| s.dispatcher.backoff_max_ms = u64::MAX),
        ("dispatcher.pending_max_age_ms", |s| {
            s.dispatcher.pending_max_age_ms = 30 * 86_400_000 + 1
        }),
        ("dispatcher.lease_ms", |s| s.dispatcher.lease_ms = u64::MAX),
    ];
    for (key, change) in cases {
        let keys = refused(change);
        assert!(
            keys.iter().any(|refused| refused == key),
            "{key} over 30 days must be refused: {keys:?}"
        );
    }
    assert!(refused(|s| s.dispatcher.review_inquiry_after_ms = 30 * 86_400_000).is_empty());
}

#[test]
fn a_backoff_cap_below_its_base_is_refused() {
    assert_eq!(
        refused(|s| {
            s.dispatcher.backoff_base_ms = 5_000;
            s.dispatcher.backoff_max_ms = 4_999;
        }),
        ["dispatcher.backoff_max_ms"]
    );
    assert!(refused(|s| s.dispatcher.backoff_max_ms = s.dispatcher.backoff_base_ms).is_empty());
    assert_eq!(
        refused(|s| s.dispatcher.backoff_base_ms = 0),
        ["dispatcher.backoff_base_ms"]
    );
}

#[test]
fn a_poll_that_would_come_only_after_the_pending_give_up_is_refused() {
    assert_eq!(
        refused(|s| s.dispatcher.pending_max_age_ms = s.dispatcher.pending_poll_after_ms),
        ["dispatcher.pending_max_age_ms"]
    );
    assert_eq!(
        refused(|s| s.dispatcher.pending_poll_after_ms = 0),
        ["dispatcher.pending_poll_after_ms"]
    );
}

#[test]
fn a_callback_retention_shorter_than_the_replay_window_is_refused() {
    assert_eq!(
        refused(|s| s.retention.callback_events_days = MIN_CALLBACK_EVENTS_DAYS - 1),
        ["retention.callback_events_days"]
    );
    assert!(refused(|s| s.retention.callback_events_days = MIN_CALLBACK_EVENTS_DAYS).is_empty());
}

#[test]
fn settings_that_look_odd_but_are_consistent_are_accepted() {
    assert!(refused(|s| {
        // An order above the wallet's monthly cap fails `wallet_monthly_limit`: that is the rule.
        s.limits.mobile_money_max = 100_000_000;
        s.limits.wallet_monthly_max = 10_000_000;
        // The first inquiry may wait longer than the cap on the waits after a failed one.
        s.dispatcher.inquiry_delay_ms = 1_500;
        s.dispatcher.backoff_max_ms = 200;
        s.dispatcher.backoff_base_ms = 50;
        // Documented meanings: prune published rows at once; never prune.
        s.retention.outbox_published_days = 0;
        s.retention.prune_interval_ms = 0;
    })
    .is_empty());
}

#[test]
fn queues_and_exchanges_must_have_names_of_their_own() {
    assert_eq!(refused(|s| s.amqp.dlq_queue = String::new()), ["amqp.dlq_queue"]);
    assert_eq!(
        refused(|s| s.amqp.results_queue = s.amqp.orders_queue.clone()),
        ["amqp.results_queue"]
    );
    assert_eq!(
        refused(|s| s.amqp.dead_letter_exchange = s.amqp.results_exchange.clone()),
        ["amqp.dead_letter_exchange"]
    );
}

#[test]
fn an_unknown_log_format_or_filter_is_refused() {
    assert_eq!(refused(|s| s.log.format = "xml".to_string()), ["log.format"]);
    assert_eq!(refused(|s| s.log.level = "gateway=loud".to_string()), ["log.level"]);
    assert!(refused(|s| s.log.level = "gateway=debug,info".to_string()).is_empty());
    // `tracing` reads a bare word that is no level as a target: every other line was off.
    assert_eq!(refused(|s| s.log.level = "warning".to_string()), ["log.level"]);
    assert_eq!(refused(|s| s.log.level = "gateway=debug".to_string()), ["log.level"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut settings = defaults();
    settings.amqp.prefetch = 0;
    settings.dispatcher.lease_ms = 1;
    settings.retention.callback_events_days = 7;
    let invalid = settings.validate().expect_err("three problems");
    let text = invalid.to_string();
    assert!(text.starts_with("3 settings must be fixed:"), "{text}");
    for key in ["amqp.prefetch", "dispatcher.lease_ms", "retention.callback_events_days"] {
        assert!(text.contains(&format!("\n  - {key}: ")), "{key} missing from {text}");
    }
}

#[test]
fn a_misspelt_key_in_a_toml_file_is_refused_with_its_name() {
    let folder = folder_with("staging", "[dispatcher]\nlease_msec = 60000\n");
    let text = error_text(Settings::load_from(
        folder.path(),
        Some("staging"),
        Some(variables(&[])),
    ));
    assert!(text.contains("lease_msec"), "{text}");

    let folder = folder_with("staging", "[dispatchr]\nlease_ms = 60000\n");
    let text = error_text(Settings::load_from(
        folder.path(),
        Some("staging"),
        Some(variables(&[])),
    ));
    assert!(text.contains("dispatchr"), "{text}");
}

#[test]
fn the_environment_file_overrides_the_defaults() {
    let folder = folder_with("staging", "[dispatcher]\nlease_ms = 60000\n");
    let settings = Settings::load_from(folder.path(), Some("staging"), Some(variables(&[]))).expect("loads");
    assert_eq!(settings.dispatcher.lease_ms, 60_000);
}

#[test]
fn an_environment_variable_overrides_the_files() {
    let settings = Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[
            ("GATEWAY__DISPATCHER__LEASE_MS", "45000"),
            ("GATEWAY__PROVIDERS__BANK_TRANSFER__TIMEOUT_MS", "7000"),
            ("GATEWAY__LOG__FORMAT", "json"),
        ])),
    )
    .expect("loads");
    assert_eq!(settings.dispatcher.lease_ms, 45_000);
    assert_eq!(
        settings
            .providers
            .config::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
            .expect("bank configured")
            .timeout_ms,
        7_000
    );
    assert_eq!(settings.log.format, "json");
}

/// A money limit with a fraction or an exponent is refused, naming the key: read as an
/// unsigned integer it was rounded (`499999999.5` became 500,000,000, over the NAPAS limit of
/// "below 500,000,000") or saturated (`1e30` became no limit at all).
#[test]
fn a_money_limit_that_is_no_whole_number_is_refused() {
    for (variable, value) in [
        ("GATEWAY__LIMITS__BANK_TRANSFER_MAX", "499999999.5"),
        ("GATEWAY__LIMITS__MOBILE_MONEY_MAX", "1e30"),
        ("GATEWAY__LIMITS__WALLET_MONTHLY_MAX", "-5"),
    ] {
        let text = error_text(Settings::load_from(
            &config_dir(),
            None,
            Some(variables(&[(variable, value)])),
        ));
        assert!(
            text.contains("a whole number of đồng")
                && text.contains(&variable["GATEWAY__LIMITS__".len()..].to_lowercase()),
            "{variable}={value}: {text}"
        );
    }
    let settings = Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[("GATEWAY__LIMITS__VNPOST_ACCOUNT_MAX", "50000000")])),
    )
    .expect("a whole number loads");
    assert_eq!(settings.limits.vnpost_account_max, 50_000_000);
}

/// A URL without `//` was accepted, and the broker client's error, logged on every
/// reconnect, quoted it with its password; the gateway ran and said it was ready.
#[test]
fn an_amqp_url_the_client_cannot_read_is_refused_without_showing_it() {
    let text = error_text(Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[(
            "GATEWAY__AMQP__URL",
            "amqp:guest:s3cret@rabbit:5672/%2f",
        )])),
    ));
    assert!(text.contains("amqp.url: is not an AMQP URL"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

/// A partner id of digits from a variable stopped start-up ("expected a string"), and one
/// parsed as a number lost what was written (`007` became 7, signing every call wrong).
#[test]
fn a_text_key_from_a_variable_is_the_text_written() {
    for written in ["10023", "007", "TRUE", "1.50"] {
        let settings = Settings::load_from(
            &config_dir(),
            None,
            Some(variables(&[(
                "GATEWAY__PROVIDERS__VNPOST_ACCOUNT__PARTNER_ID",
                written,
            )])),
        )
        .unwrap_or_else(|error| panic!("{written}: {error:#}"));
        let partner_id = &settings
            .providers
            .config::<adapter_vnpost_account::VnpostAccountConfig>("vnpost_account")
            .expect("VNPost configured")
            .partner_id;
        assert_eq!(partner_id, written);
    }
    assert!(parses_as_itself("200") && parses_as_itself("0.5") && parses_as_itself("false"));
    assert!(!parses_as_itself("007") && !parses_as_itself("TRUE") && !parses_as_itself("1.50"));
}

#[test]
fn a_misspelt_environment_variable_is_refused_with_its_name() {
    let text = error_text(Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[("GATEWAY__DISPATCHER__LEASE_MSEC", "45000")])),
    ));
    assert!(text.contains("lease_msec"), "{text}");
}

#[test]
fn variables_with_a_single_underscore_after_the_prefix_are_not_keys() {
    let settings = Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[
            ("GATEWAY_ENV", "staging"),
            ("GATEWAY_CONFIG_DIR", "/etc/gateway"),
            ("GATEWAY_OPERATOR", "an operator"),
        ])),
    )
    .expect("GATEWAY_ENV, GATEWAY_CONFIG_DIR and GATEWAY_OPERATOR are not configuration keys");
    assert_eq!(settings.dispatcher.lease_ms, defaults().dispatcher.lease_ms);
}

#[test]
fn loading_refuses_an_inconsistent_value_naming_the_key_and_the_fix() {
    let text = error_text(Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[("GATEWAY__DISPATCHER__LEASE_MS", "4500")])),
    ));
    assert!(
        text.contains("dispatcher.lease_ms") && text.contains("at least 5000"),
        "{text}"
    );
}

#[test]
fn a_provider_with_no_connection_pool_or_a_breaker_that_cannot_close_is_refused() {
    let keys = refused(|settings| {
        let bank = settings
            .providers
            .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
            .expect("bank configured");
        bank.http.pool_max_idle_per_host = Some(0);
        bank.http.protection = Some(gateway_adapter::protection::ProtectionConfig {
            breaker_window: 0,
            ..Default::default()
        });
    });
    assert!(
        keys.contains(&"providers.bank_transfer.pool_max_idle_per_host".to_string()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"providers.bank_transfer.protection.breaker_window".to_string()),
        "{keys:?}"
    );
}

#[test]
fn a_misspelt_provider_section_is_refused() {
    let folder = folder_with("typo", "[providers.bank_transfr]\nbase_url = \"http://127.0.0.1:1\"\n");
    let text = error_text(Settings::load_from(folder.path(), Some("typo"), Some(variables(&[]))));
    assert!(text.contains("bank_transfr"), "{text}");
}

#[test]
fn a_listener_certificate_without_its_key_or_a_key_without_its_certificate_is_refused() {
    assert_eq!(
        refused(|s| s.http.tls_cert_path = Some("gateway.crt".into())),
        ["http.tls_cert_path"]
    );
    assert_eq!(
        refused(|s| s.http.tls_key_path = Some("gateway.key".into())),
        ["http.tls_key_path"]
    );
    assert!(refused(|s| {
        s.http.tls_cert_path = Some("gateway.crt".into());
        s.http.tls_key_path = Some("gateway.key".into());
    })
    .is_empty());
}

#[test]
fn a_postgres_pool_smaller_than_the_writers_need_is_refused() {
    let keys = refused(|settings| {
        settings.database.url = secrecy::SecretString::from("postgres://127.0.0.1/test");
        settings.database.max_connections = 3;
    });
    assert_eq!(keys, vec!["database.max_connections".to_string()]);
    let sqlite_keys = refused(|settings| settings.database.max_connections = 3);
    assert!(
        sqlite_keys.is_empty(),
        "SQLite uses one connection whatever the setting: {sqlite_keys:?}"
    );
}

#[test]
fn outside_a_sandbox_every_provider_with_a_published_sandbox_secret_is_refused() {
    let mut settings = defaults();
    assert!(settings.refuse_sandbox_secrets_in("dev").is_ok());
    let text = error_text(settings.refuse_sandbox_secrets_in("production"));
    assert!(
        text.starts_with("providers.bank_transfer.request_secret is the sandbox's"),
        "{text}"
    );
    let sponsor = settings
        .providers
        .config_mut::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
        .expect("bank configured");
    sponsor.request_secret = "a real secret".to_string().into();
    sponsor.webhook_secrets = vec!["whsec_cmVhbA==".to_string().into()];
    // The second bank, a section of the same type, is checked too.
    let text = error_text(settings.refuse_sandbox_secrets_in("production"));
    assert!(
        text.starts_with("providers.bank_vietinbank.request_secret is the sandbox's"),
        "{text}"
    );
}

#[test]
fn a_secret_can_come_from_a_file_named_by_an_environment_variable() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder.path().join("bank-request-secret");
    std::fs::write(&file, "from-the-file\n").expect("the secret writes");
    let path = file.display().to_string();
    let settings = Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[(
            "GATEWAY__PROVIDERS__BANK_TRANSFER__REQUEST_SECRET_FILE",
            &path,
        )])),
    )
    .expect("loads");
    let bank = settings
        .providers
        .config::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
        .expect("bank configured");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&bank.request_secret),
        "from-the-file"
    );
    assert!(!format!("{settings:?}").contains("from-the-file"));
    let missing = error_text(Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[("GATEWAY__AMQP__URL_FILE", "/nonexistent/amqp-url")])),
    ));
    assert!(
        missing.contains("amqp.url_file names /nonexistent/amqp-url, which cannot be read"),
        "{missing}"
    );
}

#[test]
fn webhook_secrets_come_from_a_file_one_per_line_and_errors_never_quote_a_value() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder.path().join("webhook-secrets");
    std::fs::write(&file, "whsec_bmV3LXNlY3JldA==\nwhsec_b2xkLXNlY3JldA==\n").expect("the secrets write");
    let path = file.display().to_string();
    let settings = Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[(
            "GATEWAY__PROVIDERS__BANK_TRANSFER__WEBHOOK_SECRETS_FILE",
            &path,
        )])),
    )
    .expect("loads");
    let bank = settings
        .providers
        .config::<adapter_bank_transfer::BankTransferConfig>("bank_transfer")
        .expect("bank configured");
    assert_eq!(bank.webhook_secrets.len(), 2);
    let text = error_text(Settings::load_from(
        &config_dir(),
        None,
        Some(variables(&[(
            "GATEWAY__PROVIDERS__BANK_TRANSFER__TIMEOUT_MS",
            "whsec_TOPSECRET",
        )])),
    ));
    assert!(
        text.contains("providers.bank_transfer") && !text.contains("TOPSECRET"),
        "{text}"
    );
}

#[test]
fn a_config_folder_without_sandbox_sections_still_cannot_use_the_published_secrets() {
    let mut settings = defaults();
    settings.sandbox.providers.clear();
    let text = error_text(settings.refuse_sandbox_secrets_in("production"));
    assert!(
        text.starts_with("providers.bank_transfer.request_secret is the sandbox's"),
        "{text}"
    );
}

#[test]
fn the_compose_environment_points_every_provider_at_the_sandbox_service() {
    let settings = Settings::load_from(&config_dir(), Some("sandbox"), None).expect("config/sandbox.toml loads");
    assert!(settings.refuse_sandbox_secrets_in("sandbox").is_ok());
    let file = std::fs::read_to_string(config_dir().join("sandbox.toml")).expect("config/sandbox.toml reads");
    for provider in settings.providers.iter() {
        let key = &provider.key;
        assert!(
            file.contains(&format!("[providers.{key}]\nbase_url = \"http://sandbox:8090/{key}\"")),
            "config/sandbox.toml does not point providers.{key} at the sandbox service"
        );
    }
}
