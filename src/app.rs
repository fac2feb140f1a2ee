//! Starts the gateway's parts — store, adapters, consumer, dispatcher, relay, pruner, HTTP —
//! and stops them in order: stop taking orders, finish steps in progress, flush the outbox.
//! The consumer, dispatcher and relay are supervised: one that panics or ends on its own is
//! started again, and `/readyz` names it while it is down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::amqp;
use crate::amqp::links::BrokerLinks;
use crate::config::Settings;
use crate::dashboard;
use crate::dispatcher::{Dispatcher, ProviderWakes};
use crate::http::{self, AppState};
use crate::intake::Intake;
use crate::providers::build_adapters;
use crate::retention;
use crate::store::Store;
use crate::supervise::{supervise, Readiness, RestartDelay};

/// How soon a part that ended unexpectedly is started again: one second, doubling per
/// failure in a row, up to a minute (a part that keeps panicking must not spin).
const RESTART_DELAY: RestartDelay = RestartDelay {
    first: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

/// A running gateway. Dropping it does not stop it; call [`RunningGateway::stop`].
pub struct RunningGateway {
    /// Where the callback, health and metrics routes answer.
    pub http_address: SocketAddr,
    pub store: Store,
    /// What `/readyz` answers; it says "stopping" from the first moment of a stop.
    readiness: Readiness,
    /// One stage per part, stopped in order by [`RunningGateway::stop`].
    consumer: Stage,
    dispatcher: Stage,
    relay: Stage,
    pruner: Stage,
    /// Checks open batches against their manifests and closes them (`crate::batch`).
    batches: Stage,
    http: Stage,
}

/// A task with the token that stops it.
struct Stage {
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl Stage {
    /// Runs `start` as `part` under a supervisor (see [`supervise`]).
    fn supervised<F, Fut>(part: &'static str, readiness: &Readiness, start: F) -> Self
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = CancellationToken::new();
        Self {
            task: supervise(part, readiness.clone(), RESTART_DELAY, token.clone(), start),
            token,
        }
    }

    async fn stop(self) {
        self.token.cancel();
        let _ = self.task.await;
    }
}

impl RunningGateway {
    /// Starts everything and returns once the HTTP listener is bound; the ops dashboard is on
    /// `/ops` when `dashboard.token` is set.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        settings.refuse_sandbox_secrets_in_production()?;
        settings.validate()?;
        let store = Store::connect(&settings.database).await?;
        // The recorder first: the adapters' breakers set their gauges when they are built.
        http::health::metrics_handle();
        let adapters = build_adapters(&settings.providers, settings.dispatcher.provider_concurrency)?;
        if adapters.is_empty() {
            tracing::warn!("No provider is configured under [providers]; payments will wait.");
        }
        report_unconfigured_providers(&store, &adapters).await;
        declare_topology(&settings).await;
        let dispatcher_wakes = ProviderWakes::new(adapters.keys());
        let relay_wake = Arc::new(Notify::new());
        let readiness = Readiness::new();
        let links = BrokerLinks::new(&[amqp::links::CONSUMER, amqp::links::RELAY]);

        let state = AppState {
            store: store.clone(),
            adapters: adapters.clone(),
            relay_wake: relay_wake.clone(),
            readiness: readiness.clone(),
            links: links.clone(),
            pending_poll_after_ms: settings.dispatcher.pending_poll_after_ms,
            review_inquiry_after_ms: settings.dispatcher.review_inquiry_after_ms,
            store_answer_within: http::health::store_answer_within(settings.http.request_timeout_ms),
        };
        let http_token = CancellationToken::new();
        let mut router = http::router(state, settings.http.max_body_bytes);
        if let Some(ops) = dashboard::router(
            &settings,
            store.clone(),
            adapters.clone(),
            readiness.clone(),
            links.clone(),
        )? {
            router = router.merge(ops);
        }
        let timeouts = http::serve::Timeouts::from_settings(&settings.http);
        let tls = http::serve::Tls::from_settings(&settings.http)?;
        let (http_address, server) =
            http::serve::serve_with(&settings.http.listen, router, http_token.clone(), timeouts, tls).await?;
        let http = Stage {
            token: http_token,
            task: server,
        };

        let intake = Arc::new(Intake::new(
            store.clone(),
            &settings,
            dispatcher_wakes.clone(),
            relay_wake.clone(),
        )?);
        let (amqp_settings, consumer_links) = (settings.amqp.clone(), links.clone());
        let consumer = Stage::supervised("consumer", &readiness, move |token| {
            amqp::consumer::run(intake.clone(), amqp_settings.clone(), consumer_links.clone(), token)
        });
        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            adapters,
            &settings.providers.timeouts(),
            settings.dispatcher.clone(),
            &settings.limits,
            dispatcher_wakes,
            relay_wake.clone(),
        ));
        let dispatcher = Stage::supervised("dispatcher", &readiness, move |token| dispatcher.clone().run(token));
        let (batches_store, batches_wake) = (store.clone(), relay_wake.clone());
        let (relay_store, relay_settings) = (store.clone(), settings.amqp.clone());
        let relay = Stage::supervised("relay", &readiness, move |token| {
            amqp::relay::run(
                relay_store.clone(),
                relay_settings.clone(),
                relay_wake.clone(),
                links.clone(),
                token,
            )
        });
        // The pruner is supervised too, but with a readiness of its own: a gateway that
        // cannot prune for a while still takes orders and callbacks.
        let (pruner_store, retention_settings) = (store.clone(), settings.retention.clone());
        let pruner = Stage::supervised("pruner", &Readiness::new(), move |token| {
            retention::run(pruner_store.clone(), retention_settings.clone(), token)
        });
        // Supervised with a readiness of its own, like the pruner: orders go on without it.
        let batch_settings = settings.batches.clone();
        let batches = Stage::supervised("batch closer", &Readiness::new(), move |token| {
            crate::batch::closer::run(
                batches_store.clone(),
                batch_settings.clone(),
                batches_wake.clone(),
                token,
            )
        });
        readiness.mark_started();
        tracing::info!(%http_address, "The gateway is running.");
        Ok(Self {
            http_address,
            store,
            readiness,
            consumer,
            dispatcher,
            relay,
            pruner,
            batches,
            http,
        })
    }

    /// Stops in order: the pruner, then no new orders (claims in progress finish and ack),
    /// then no new steps (steps in progress finish), then the relay publishes what is left in
    /// the outbox (for up to five seconds; the rest goes out at the next start), then the
    /// HTTP listener (requests in progress finish). What is left is what waits at that moment:
    /// results other gateways on the same database write meanwhile are theirs to publish, and
    /// held every rolling restart for its whole five seconds.
    ///
    /// `/readyz` answers "stopping" from the start, so a load balancer sends no more callbacks
    /// here while the listener still answers the ones in flight.
    pub async fn stop(self) {
        self.readiness
            .mark_down("gateway", "stopping: no new orders are taken".to_string());
        self.pruner.stop().await;
        self.batches.stop().await;
        self.consumer.stop().await;
        self.dispatcher.stop().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        if let Ok(Some(newest)) = self.store.newest_unpublished().await {
            while tokio::time::Instant::now() < deadline && self.store.unpublished_up_to(newest).await.unwrap_or(0) > 0
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        self.relay.stop().await;
        self.http.stop().await;
    }
}

/// Says which providers have payments that are not final and no adapter: the dispatcher steps
/// the payments of configured providers only, so a provider section renamed or removed while
/// some of its payments were still on their way leaves them waiting, unseen. Each such provider
/// is logged as an error and counted in `gateway_payments_of_unconfigured_provider{provider}`;
/// putting its section back under the same key lets them finish.
async fn report_unconfigured_providers(store: &Store, adapters: &crate::providers::Adapters) {
    let unfinished = match store.unfinished_by_provider().await {
        Ok(unfinished) => unfinished,
        Err(error) => {
            tracing::warn!(%error, "Could not count the payments not final by provider at start-up.");
            return;
        }
    };
    for (provider, payments) in unfinished {
        if adapters.contains_key(&provider) {
            continue;
        }
        tracing::error!(
            %provider,
            payments,
            "Payments not final yet are paid by a provider that is not configured: nothing steps them until a [providers] section of that key is back."
        );
        metrics::gauge!("gateway_payments_of_unconfigured_provider", "provider" => provider).set(payments as f64);
    }
}

/// Declares the queues once, before the consumer and the relay start, so they do not race
/// each other (or a publisher) creating the same quorum queues — RabbitMQ 3.10 can fail a
/// consume on a quorum queue that another connection is still creating. If the broker is
/// down, the gateway starts anyway and each task declares what it needs when it connects.
async fn declare_topology(settings: &Settings) {
    let declared = async {
        let connection = amqp::connect(&settings.amqp, "topology").await?;
        let channel = connection.create_channel().await?;
        amqp::topology::declare(&channel, &settings.amqp).await?;
        connection.close(200, "declared".into()).await
    };
    if let Err(error) = declared.await {
        tracing::warn!(%error, "Could not declare the RabbitMQ topology at start-up; the consumer and relay will retry.");
    }
}
