//! Structured logs through `tracing`: JSON for machines, pretty for people.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// A ceiling on what our dependencies log, whatever the level or `RUST_LOG` says, for lines
/// that would print personal data. lapin warns about each message the broker returns with the
/// whole message in `Debug` form — a dead letter's or a replayed order's body, citizen id, name
/// and account included (as byte values, not masked); the relay logs each return itself, by
/// outbox id and the broker's reason. At `trace` lapin logs every frame it handles (`will handle
/// frame`) or discards, each in `Debug` form: an order's body frame is the order itself. So
/// lapin logs at `debug` at most. A filter of its own, applied after the chosen one: a line
/// passes both, so this lowers lapin's level and never raises it, and no directive of the
/// chosen filter (a more specific target, a field) gets past it.
fn never_logged() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("lapin", LevelFilter::DEBUG)
        .with_target("lapin::returned_messages", LevelFilter::ERROR)
}

/// Whether the filter `directives` sets a level for everything else, as `tracing` reads it: a
/// directive that is a level on its own (`warn`, `3`). A bare word that is no level (`warning`,
/// or ` info` with its space) is a target to `tracing`, so a filter of such words alone logs
/// nothing but that target — a misspelt `log.level` would silence the gateway.
pub fn has_default_level(directives: &str) -> bool {
    // An empty filter is `error` to `tracing`; an empty directive among others is skipped.
    directives.is_empty()
        || directives
            .split(',')
            .any(|directive| !directive.is_empty() && directive.parse::<LevelFilter>().is_ok())
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(settings: &LogSettings) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), &settings.level);
    let filtered = tracing_subscriber::registry().with(filter).with(never_logged());
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = if settings.format == "json" {
        filtered.with(layer.json().flatten_event(true)).try_init()
    } else {
        filtered.with(layer.compact()).try_init()
    };
}

/// `RUST_LOG` if it is set and parses, else the configured level.
fn filter(rust_log: Option<&str>, level: &str) -> EnvFilter {
    let chosen = rust_log
        .filter(|directives| EnvFilter::try_new(directives).is_ok())
        .unwrap_or(level);
    EnvFilter::try_new(chosen).unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("the capture lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged_under(filter: EnvFilter) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(never_logged())
            .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "lapin::returned_messages", message = "[48, 51, 52]", "Server returned us a message");
            tracing::warn!(target: "lapin::channel", "a channel warning");
            tracing::debug!(target: "lapin::io_loop", "send heartbeat");
            tracing::trace!(target: "lapin::channels", frame = "Body(1, [123, 34, 111])", "will handle frame");
            tracing::trace!(target: "lapin::frames", frame = "Body(1, [123, 34, 111])", "Discarding frame because of poisoning");
            tracing::info!(target: "gateway::amqp::relay", "The outbox relay is connected.");
        });
        let bytes = captured.0.lock().expect("the capture lock").clone();
        String::from_utf8(bytes).expect("log lines are UTF-8")
    }

    #[test]
    fn a_returned_message_is_never_logged_by_lapin_at_any_level() {
        for (rust_log, level) in [
            (None, "info"),
            (None, "trace"),
            (Some("debug"), "info"),
            (Some("lapin=trace"), "info"),
        ] {
            let logged = logged_under(filter(rust_log, level));
            assert!(
                !logged.contains("Server returned us a message"),
                "RUST_LOG {rust_log:?}, level {level}: {logged}"
            );
            assert!(
                logged.contains("a channel warning"),
                "lapin's other warnings stay: {logged}"
            );
        }
        let logged = logged_under(filter(None, "info"));
        assert!(logged.contains("The outbox relay is connected."), "{logged}");
    }

    /// At `trace`, lapin logged every frame in `Debug` form: a consumed order's body frame is
    /// the order, citizen id and account number included.
    #[test]
    fn lapin_never_logs_a_frame_whatever_the_level() {
        for (rust_log, level) in [
            (None, "trace"),
            (Some("trace"), "info"),
            (Some("lapin=trace"), "info"),
            (Some("info,lapin::channels=trace,lapin::frames=trace"), "info"),
            (Some("info,lapin[{frame}]=trace"), "info"),
        ] {
            let logged = logged_under(filter(rust_log, level));
            assert!(
                !logged.contains("will handle frame") && !logged.contains("Discarding frame"),
                "RUST_LOG {rust_log:?}, level {level}: {logged}"
            );
            assert!(
                logged.contains("a channel warning"),
                "RUST_LOG {rust_log:?}, level {level}: {logged}"
            );
        }
    }

    #[test]
    fn a_filter_without_a_level_for_everything_else_is_told_apart() {
        for directives in ["info", "gateway=debug,warn", "WARN", "off", "3", "lapin=trace,debug"] {
            assert!(has_default_level(directives), "{directives}");
        }
        // `tracing` does not trim a directive: ` info` is a target.
        for directives in [
            "warning",
            "gateway=debug",
            "information",
            "gateway=debug,",
            "gateway=debug, info",
        ] {
            assert!(!has_default_level(directives), "{directives}");
        }
    }

    /// The ceiling only lowers lapin's level: at `info` its debug lines stay out (a directive
    /// `lapin=debug` added to the filter let them in), and an operator's `lapin=off` holds.
    #[test]
    fn the_ceiling_on_lapin_never_raises_its_level() {
        let logged = logged_under(filter(None, "info"));
        assert!(!logged.contains("send heartbeat"), "{logged}");
        let logged = logged_under(filter(Some("info,lapin=debug"), "info"));
        assert!(logged.contains("send heartbeat"), "{logged}");
        let logged = logged_under(filter(Some("info,lapin=off"), "info"));
        assert!(!logged.contains("a channel warning"), "{logged}");
    }

    #[test]
    fn a_rust_log_that_does_not_parse_falls_back_to_the_configured_level() {
        let logged = logged_under(filter(Some("=!="), "warn"));
        assert!(logged.contains("a channel warning"), "{logged}");
        assert!(!logged.contains("The outbox relay is connected."), "{logged}");
    }
}
