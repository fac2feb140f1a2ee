//! The ops dashboard on a running gateway: the API refuses a missing or wrong token, the page
//! (in headless Chromium, with no console errors) shows the live counts of a known run, and
//! the DLQ look counts reasons without taking messages out of the queue.

use std::time::Duration;

use gateway::app::RunningGateway;
use gateway::dashboard::dlq_look::DlqWatch;
use gateway::dashboard::DashboardSettings;
use gateway::demo::stack;
use gateway::payment::ResultStatus;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::browser;
use crate::support::{bank_order, test_settings, vnpost_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    the_dashboard_shows_a_known_run_and_refuses_other_tokens,
    the_payments_in_review_are_read_once_per_interval_for_every_viewer,
);

const TOKEN: &str = "ops-test-token-0123456789abcdef";

crate::bounded_test! {
    /// A token may be any printable ASCII: one holding a `%` that starts no escape, given in the
    /// address (`/ops#token=…`), opens the page, and leaves the address bar. (Before, decoding
    /// it threw in the page's script, which stopped at "Loading…" with the token still in the
    /// address bar and the history.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_token_with_a_bare_percent_sign_in_the_address_opens_the_page() {
        const ODD_TOKEN: &str = "ops-%zz-token-0123456789abcdef";
        let mut settings = test_settings();
        settings.dashboard = DashboardSettings {
            token: Some(SecretString::from(ODD_TOKEN)),
            ..Default::default()
        };
        let mut stack = TestStack::start_with(Db::Sqlite, settings, false).await;
        let gateway = RunningGateway::start(stack.settings.clone()).await.unwrap();
        let base = format!("http://{}", gateway.http_address);
        stack.gateway = Some(gateway);
        let shown = browser::render(&format!("{base}/ops#token={ODD_TOKEN}")).await;
        assert!(shown.console.is_empty(), "console messages: {:?}", shown.console);
        assert!(shown.dom.contains("data-dashboard-ready="), "the page drew a summary");
        stack.stop().await;
    }
}

/// Publishes `order` into an open account and waits for its final result.
async fn pay(stack: &mut TestStack, order: &Value, holder: &str) -> ResultStatus {
    stack.open_account(order, holder);
    stack.publish(order).await;
    stack.final_result(order["order_id"].as_str().unwrap()).await.status
}

async fn the_dashboard_shows_a_known_run_and_refuses_other_tokens(db: Db) {
    let mut settings = test_settings();
    settings.dashboard = DashboardSettings {
        token: Some(SecretString::from(TOKEN)),
        refresh_ms: 1_000,
        ..Default::default()
    };
    let mut stack = TestStack::start_with(db, settings, false).await;
    let gateway = RunningGateway::start(stack.settings.clone()).await.unwrap();
    let base = format!("http://{}", gateway.http_address);
    stack.gateway = Some(gateway);

    // A batch of two declared orders, of which one arrives and is paid: in progress, 1 of 2 final.
    let batch_id = format!("OPS-{}", stack.run_id);
    let mut in_batch = bank_order(1_000_000);
    in_batch["batch_id"] = json!(batch_id);
    let manifest = json!({
        "kind": "batch_manifest",
        "batch_id": batch_id,
        "program": "meritorious",
        "period": "2026-12",
        "commune_code": "12454",
        "order_count": 2,
        "total_amount": "3000000",
        "created_at": "2026-11-28T08:00:00+07:00",
        "orders": [
            { "order_id": in_batch["order_id"], "amount": "1000000" },
            { "order_id": format!("{batch_id}-never-sent"), "amount": "2000000" }
        ]
    });
    stack
        .publish_raw(&serde_json::to_vec(&manifest).unwrap(), &format!("manifest-{batch_id}"))
        .await;
    let store = stack.gateway.as_ref().unwrap().store.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.batch(&batch_id).await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the manifest is stored within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let paid = bank_order(2_789_000);
    assert_eq!(pay(&mut stack, &paid, HOLDER).await, ResultStatus::Succeeded);
    assert_eq!(pay(&mut stack, &in_batch, HOLDER).await, ResultStatus::Succeeded);
    assert_eq!(
        pay(&mut stack, &bank_order(700_000), "TRAN THI KHAC").await,
        ResultStatus::Failed
    );
    assert_eq!(
        pay(&mut stack, &vnpost_order(1_500_000), HOLDER).await,
        ResultStatus::Succeeded
    );
    // The same beneficiary, program, period and type again: held for a person.
    let held_id = hold_a_duplicate_of(&mut stack, &paid, "again").await;

    let http = reqwest::Client::new();
    let api = format!("{base}/ops/api/summary");
    let missing = http.get(&api).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"ops\"")
    );
    let wrong = http
        .get(&api)
        .bearer_auth("ops-test-token-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let summary = summary_of(&http, &api).await;
    assert_eq!(summary["payments"]["total"], 5);
    assert_eq!(summary["needs_review"]["total"], 1);
    assert_eq!(summary["needs_review"]["shown"][0]["order_id"], json!(held_id));
    assert_eq!(summary["needs_review"]["shown"][0]["sent"], false);
    assert_eq!(summary["dlq"]["queue"], json!(stack.settings.amqp.dlq_queue));
    assert!(summary["dlq"]["error"].is_null(), "{}", summary["dlq"]);
    assert_eq!(summary["batches"]["open"], 1, "{}", summary["batches"]);
    assert_eq!(summary["batches"]["shown"][0]["check"]["final_orders"], 1);
    // The orders side, as `/readyz/orders` sees it: this gateway consumes and publishes.
    assert_eq!(summary["orders_side"]["working"], true, "{}", summary["orders_side"]);

    // The page itself carries no data, and without a token it asks for one.
    let page = http.get(format!("{base}/ops")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("connect-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(!html.contains(&held_id));
    let asking = browser::render(&format!("{base}/ops")).await;
    assert!(asking.console.is_empty(), "console messages: {:?}", asking.console);
    assert!(
        asking.dom.contains("<form id=\"token-form\">"),
        "the token form is shown"
    );

    let url = format!("{base}/ops#token={TOKEN}");
    let shown = browser::render(&url).await;
    assert!(shown.console.is_empty(), "console messages: {:?}", shown.console);
    let dom = &shown.dom;
    assert!(dom.contains("data-dashboard-ready="), "the page drew a summary");
    for (id, text) in [
        ("payments-total", "5"),
        ("state-succeeded-bank_transfer", "2"),
        ("state-succeeded-vnpost_account", "1"),
        ("state-succeeded-total", "3"),
        ("state-failed-bank_transfer", "1"),
        ("state-needs_review-total", "1"),
        ("review-total", "1"),
        ("review-amount", "2.789.000 ₫"),
    ] {
        assert_eq!(text_of(dom, id).as_deref(), Some(text), "{id}");
    }
    assert!(dom.contains(&format!("id=\"review-{held_id}\"")));
    assert!(
        dom.contains("id=\"orders-side\" class=\"status error\" role=\"alert\" hidden"),
        "no alarm while orders are taken"
    );
    let batch_row = &dom[dom
        .find(&format!("id=\"batch-final-{batch_id}\""))
        .expect("the batch's row")..];
    assert!(batch_row.contains(" 1 / 2</td>"), "the batch shows 1 of 2 orders final");
    assert!(dom.contains("id=\"provider-bank_transfer\""));
    assert!(
        !dom.contains("id=\"provider-bank_transfer-calls\">0<"),
        "the bank was called"
    );
    assert!(!dom.contains(TOKEN), "the token is not left in the page");
    if browser::update_screenshots() && matches!(db, Db::Sqlite) {
        browser::screenshot(&url, &browser::docs_path("dashboard.png"), 1400).await;
    }
    stack.stop().await;
}

/// While this gateway cannot reach its broker, the page says so under its title, in the words
/// `/readyz/orders` uses: which part is down (the consumer, the relay) and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_says_so_while_this_gateway_takes_no_orders() {
    let mut settings = test_settings();
    settings.dashboard = DashboardSettings {
        token: Some(SecretString::from(TOKEN)),
        refresh_ms: 1_000,
        ..Default::default()
    };
    let mut stack = TestStack::start_with(Db::Sqlite, settings, false).await;
    let mut cut_off = stack.settings.clone();
    let port = stack::free_port().expect("a free port");
    cut_off.amqp.url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f").into();
    let gateway = RunningGateway::start(cut_off).await.unwrap();
    let base = format!("http://{}", gateway.http_address);
    stack.gateway = Some(gateway);

    // "Not connected yet" at first; once both parts failed to connect, each says why.
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let summary = summary_of(&http, &format!("{base}/ops/api/summary")).await;
        let side = &summary["orders_side"];
        assert_eq!(side["working"], false, "{side}");
        if side["why"].as_str().unwrap_or_default().matches("retrying").count() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both failed to connect within 20 s: {side}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let shown = browser::render(&format!("{base}/ops#token={TOKEN}")).await;
    assert!(shown.console.is_empty(), "console messages: {:?}", shown.console);
    let dom = &shown.dom;
    assert!(dom.contains("data-dashboard-ready="), "the page drew a summary");
    assert!(
        dom.contains("id=\"orders-side\" class=\"status error\" role=\"alert\">"),
        "the alarm is shown, not hidden"
    );
    let alarm = text_of(dom, "orders-side").expect("the alarm's text");
    assert!(
        alarm.starts_with("This gateway is not taking orders or not sending results: ")
            && alarm.contains("the orders consumer: not consuming orders")
            && alarm.contains("the outbox relay: not publishing results"),
        "{alarm}"
    );
    stack.stop().await;
}

crate::bounded_test! {
    /// A broker that takes connections and never speaks: the summary still answers within the
    /// listener's request timeout, the DLQ look told as not answering and the orders side as
    /// down. (Before, the look had five seconds of its own after the store's reads, past a 3 s
    /// request timeout: the page got an empty 408 on every refresh and never drew the alarm it
    /// exists to show.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_summary_answers_in_time_while_the_broker_does_not() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = silent.local_addr().expect("its address").port();
        let holding = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = silent.accept().await {
                held.push(connection);
            }
        });
        let mut settings = test_settings();
        settings.dashboard = DashboardSettings {
            token: Some(SecretString::from(TOKEN)),
            ..Default::default()
        };
        settings.http.request_timeout_ms = 3_000;
        let mut stack = TestStack::start_with(Db::Sqlite, settings, false).await;
        let mut silenced = stack.settings.clone();
        silenced.amqp.url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f").into();
        let gateway = RunningGateway::start(silenced).await.unwrap();
        let base = format!("http://{}", gateway.http_address);
        stack.gateway = Some(gateway);

        let asked = std::time::Instant::now();
        let answer = reqwest::Client::new()
            .get(format!("{base}/ops/api/summary"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status().as_u16(), 200, "within the request timeout");
        assert!(asked.elapsed() < Duration::from_secs(3), "{:?}", asked.elapsed());
        let summary: Value = answer.json().await.expect("a JSON summary");
        let dlq_error = summary["dlq"]["error"].as_str().unwrap_or_default();
        assert!(dlq_error.contains("did not answer"), "{summary}");
        assert_eq!(summary["orders_side"]["working"], false, "{summary}");
        holding.abort();
        stack.stop().await;
    }
}

/// Publishes an order for the same beneficiary, program, period and type as `paid` (already
/// paid): the duplicate guard holds it in `needs_review`, without sending it. Returns its order id.
async fn hold_a_duplicate_of(stack: &mut TestStack, paid: &Value, suffix: &str) -> String {
    let mut held = paid.clone();
    let held_id = format!("{}-{suffix}", paid["order_id"].as_str().unwrap());
    held["order_id"] = json!(held_id);
    stack.publish(&held).await;
    stack
        .wait_for(
            &held_id,
            |m| m.status == ResultStatus::NeedsReview,
            Duration::from_secs(20),
        )
        .await;
    held_id
}

/// The list of payments in review is sorted by when each entered review and summed over all
/// of them: during a provider's outage, tens of thousands of rows. Like the counts and the
/// batches, it is read once per `batches.check_interval_ms` for every viewer together, not
/// once per request.
async fn the_payments_in_review_are_read_once_per_interval_for_every_viewer(db: Db) {
    let mut settings = test_settings();
    settings.dashboard = DashboardSettings {
        token: Some(SecretString::from(TOKEN)),
        ..Default::default()
    };
    // Longer than the test: every reading after the first is the first.
    settings.batches.check_interval_ms = 600_000;
    let mut stack = TestStack::start_with(db, settings, false).await;
    let gateway = RunningGateway::start(stack.settings.clone()).await.unwrap();
    let api = format!("http://{}/ops/api/summary", gateway.http_address);
    stack.gateway = Some(gateway);
    let http = reqwest::Client::new();
    let summary = || summary_of(&http, &api);

    let paid = bank_order(2_789_000);
    assert_eq!(pay(&mut stack, &paid, HOLDER).await, ResultStatus::Succeeded);
    hold_a_duplicate_of(&mut stack, &paid, "again").await;
    let first = summary().await;
    assert_eq!(first["needs_review"]["total"], 1, "{}", first["needs_review"]);
    let first_age = first["needs_review"]["shown"][0]["age_ms"].as_i64().unwrap();

    hold_a_duplicate_of(&mut stack, &paid, "and-again").await;
    let later = summary().await;
    assert_eq!(
        later["needs_review"]["total"], 1,
        "the same reading, not a new one: {}",
        later["needs_review"]
    );
    // Its ages still run on: they are counted at each request from when each entered review.
    let later_age = later["needs_review"]["shown"][0]["age_ms"].as_i64().unwrap();
    assert!(later_age > first_age, "{first_age} then {later_age}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_a_dashboard_token_serves_no_ops_routes() {
    let stack = TestStack::start(Db::Sqlite).await;
    let base = format!("http://{}", stack.gateway.as_ref().unwrap().http_address);
    for path in ["/ops", "/ops/api/summary"] {
        let status = reqwest::get(format!("{base}{path}")).await.unwrap().status();
        assert_eq!(status, 404, "{path}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dlq_look_counts_reasons_and_leaves_every_message_in_the_queue() {
    let mut amqp = test_settings().amqp;
    amqp.dlq_queue = format!("test.ops.dlq.{}", stack::new_run_id());
    let connection = gateway::amqp::connect(&amqp, "test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(amqp.dlq_queue.as_str().into(), durable, arguments)
        .await
        .unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    for reason in ["invalid", "unknown_outcome", "invalid"] {
        let mut headers = FieldTable::default();
        headers.insert("x-gateway-reason".into(), AMQPValue::LongString(reason.into()));
        let confirm = channel
            .basic_publish(
                "".into(),
                amqp.dlq_queue.as_str().into(),
                BasicPublishOptions::default(),
                b"{}",
                BasicProperties::default().with_headers(headers),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }

    let bounded = DlqWatch::new(amqp.clone(), 2, Duration::from_secs(60))
        .look(Duration::from_secs(10))
        .await;
    assert_eq!(bounded.error, None);
    assert_eq!(bounded.depth, Some(3));
    assert_eq!((bounded.read, bounded.complete), (2, false));

    let watch = DlqWatch::new(amqp.clone(), 100, Duration::from_secs(60));
    let full = wait_for_depth(&watch, &amqp, 3).await;
    assert_eq!(full.by_reason.get("invalid"), Some(&2));
    assert_eq!(full.by_reason.get("unknown_outcome"), Some(&1));
    assert!(full.complete);
    assert_eq!(
        watch.look(Duration::from_secs(10)).await,
        full,
        "a look is reused within dlq_refresh_ms"
    );

    let mut missing = amqp.clone();
    missing.dlq_queue = format!("{}.missing", amqp.dlq_queue);
    let failed = DlqWatch::new(missing, 10, Duration::from_secs(60))
        .look(Duration::from_secs(10))
        .await;
    assert_eq!(failed.depth, None);
    assert!(failed.error.unwrap().contains("does not exist"));

    let _ = channel
        .queue_delete(amqp.dlq_queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
}

/// What the dashboard's API at `api` answers with the right token.
async fn summary_of(http: &reqwest::Client, api: &str) -> Value {
    http.get(api)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The text of the element with `id` in a dumped DOM (up to its first child element).
fn text_of(dom: &str, id: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let rest = &dom[start..];
    let open_end = rest.find('>')? + 1;
    let text = &rest[open_end..];
    Some(text[..text.find('<')?].to_string())
}

/// A look taken once the queue shows `depth` ready messages again (messages a closed channel
/// returns are requeued by the broker a moment later).
async fn wait_for_depth(
    watch: &DlqWatch,
    amqp: &gateway::config::AmqpSettings,
    depth: u32,
) -> gateway::dashboard::dlq_look::DlqLook {
    for _ in 0..50 {
        let probe = DlqWatch::new(amqp.clone(), 0, Duration::from_millis(1))
            .look(Duration::from_secs(10))
            .await;
        if probe.depth == Some(depth) {
            return watch.look(Duration::from_secs(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the queue did not show {depth} messages again");
}
