//! Starts the gateway's parts — store, adapters, consumer, dispatcher, relay, HTTP — and
//! stops them in order: stop taking orders, finish steps in progress, flush the outbox.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::amqp;
use crate::config::Settings;
use crate::dispatcher::Dispatcher;
use crate::http::{self, AppState};
use crate::intake::Intake;
use crate::providers::build_adapters;
use crate::store::Store;

/// A running gateway. Dropping it does not stop it; call [`RunningGateway::stop`].
pub struct RunningGateway {
    /// Where the callback, health and metrics routes answer.
    pub http_address: SocketAddr,
    pub store: Store,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl RunningGateway {
    /// Starts everything and returns once the HTTP listener is bound.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        let store = Store::connect(&settings.database).await?;
        let adapters = build_adapters(&settings.providers)?;
        if adapters.is_empty() {
            tracing::warn!("No provider is configured under [providers]; payments will wait.");
        }
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let dispatcher_wake = Arc::new(Notify::new());
        let relay_wake = Arc::new(Notify::new());
        let started = Arc::new(AtomicBool::new(false));

        http::health::metrics_handle();
        let state = AppState {
            store: store.clone(),
            adapters: adapters.clone(),
            relay_wake: relay_wake.clone(),
            started: started.clone(),
            pending_poll_after_ms: settings.dispatcher.pending_poll_after_ms,
        };
        let (http_address, server) = http::serve(
            &settings.http.listen,
            http::router(state, settings.http.max_body_bytes),
            shutdown.clone(),
        )
        .await?;
        tasks.spawn(async move {
            let _ = server.await;
        });

        // Consumers stop first (no new orders), then the dispatcher, then the relay flushes.
        let intake_shutdown = shutdown.child_token();
        let intake = Arc::new(Intake {
            store: store.clone(),
            limits: settings.limits.clone(),
            duplicate_payment_policy: settings.dispatcher.duplicate_payment_policy,
            dispatcher_wake: dispatcher_wake.clone(),
            relay_wake: relay_wake.clone(),
        });
        tasks.spawn(amqp::consumer::run(intake, settings.amqp.clone(), intake_shutdown));

        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            adapters,
            settings.dispatcher.clone(),
            &settings.limits,
            dispatcher_wake,
            relay_wake.clone(),
        ));
        tasks.spawn(dispatcher.run(shutdown.child_token()));
        tasks.spawn(amqp::relay::run(
            store.clone(),
            settings.amqp.clone(),
            relay_wake,
            shutdown.child_token(),
        ));
        tasks.close();
        started.store(true, Ordering::Relaxed);
        tracing::info!(%http_address, "The gateway is running.");
        Ok(Self {
            http_address,
            store,
            shutdown,
            tasks,
        })
    }

    /// Stops taking orders, lets steps in progress finish, and waits for every task.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tasks.wait().await;
    }

    /// A token that stops the gateway when cancelled (for signal handlers).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}
