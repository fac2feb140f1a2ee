//! Structured logs through `tracing`: JSON for machines, pretty for people.

use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// Directives added to every filter, whatever the level or `RUST_LOG` says: log lines of our
/// crates' dependencies that would print personal data. lapin warns about each message the
/// broker returns with the whole message in `Debug` form — a dead letter's or a replayed
/// order's body, citizen id, name and account included (as byte values, not masked); the
/// relay logs each return itself, by outbox id and the broker's reason. At `trace` lapin logs
/// every frame it handles (`will handle frame`) or discards, each in `Debug` form: an order's
/// body frame is the order itself. So lapin logs at `debug` at most, its frame modules named
/// too, so that a directive naming one of them (`lapin::channels=trace`) is overruled as well.
const NEVER_LOGGED: &str = "lapin=debug,lapin::channels=debug,lapin::frames=debug,lapin::returned_messages=error";

/// The levels a filter directive can be on its own.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Whether the filter `directives` sets a level for everything else: a bare word that is not a
/// level (`warning`) is a target to `tracing`, so a filter of such words alone logs nothing
/// but that target — a misspelt `log.level` would silence the gateway.
pub fn has_default_level(directives: &str) -> bool {
    directives
        .split(',')
        .any(|directive| LEVELS.contains(&directive.trim().to_ascii_lowercase().as_str()))
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(settings: &LogSettings) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), &settings.level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if settings.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}

/// `RUST_LOG` if it is set and parses, else the configured level; with [`NEVER_LOGGED`] after
/// either.
fn filter(rust_log: Option<&str>, level: &str) -> EnvFilter {
    let chosen = rust_log
        .filter(|directives| EnvFilter::try_new(directives).is_ok())
        .unwrap_or(level);
    EnvFilter::try_new(format!("{chosen},{NEVER_LOGGED}")).unwrap_or_else(|_| EnvFilter::new(NEVER_LOGGED))
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
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "lapin::returned_messages", message = "[48, 51, 52]", "Server returned us a message");
            tracing::warn!(target: "lapin::channel", "a channel warning");
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
            (Some("lapin::channels=trace,lapin::frames=trace"), "info"),
        ] {
            let logged = logged_under(filter(rust_log, level));
            assert!(
                !logged.contains("will handle frame") && !logged.contains("Discarding frame"),
                "RUST_LOG {rust_log:?}, level {level}: {logged}"
            );
            assert!(logged.contains("a channel warning"), "{logged}");
        }
    }

    #[test]
    fn a_filter_without_a_level_for_everything_else_is_told_apart() {
        for directives in ["info", "gateway=debug,warn", "WARN", "off", "lapin=trace, debug"] {
            assert!(has_default_level(directives), "{directives}");
        }
        for directives in ["warning", "gateway=debug", "information", ""] {
            assert!(!has_default_level(directives), "{directives}");
        }
    }

    #[test]
    fn a_rust_log_that_does_not_parse_falls_back_to_the_configured_level() {
        let logged = logged_under(filter(Some("=!="), "warn"));
        assert!(logged.contains("a channel warning"), "{logged}");
        assert!(!logged.contains("The outbox relay is connected."), "{logged}");
    }
}
