//! `gateway dlq list|show|replay|purge` against a real RabbitMQ: queues of their own (no
//! gateway consumes them), dead letters published straight into the DLQ.

use std::time::Duration;

use gateway::config::Settings;
use gateway::dlq::{self, DeadLetterSummary, DlqError, Selection};
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldArray, FieldTable};
use lapin::BasicProperties;
use serde_json::json;

use crate::support::{bank_order, test_settings};

/// Settings with fresh queue names, and the topology declared.
async fn fresh_queues() -> (Settings, lapin::Connection, lapin::Channel) {
    let mut settings = test_settings();
    let run_id = gateway::demo::stack::new_run_id();
    gateway::demo::stack::name_for_run(&mut settings.amqp, &run_id);
    let connection = gateway::amqp::connect(&settings.amqp, "test-dlq").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    gateway::amqp::topology::declare(&channel, &settings.amqp)
        .await
        .unwrap();
    channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    (settings, connection, channel)
}

/// Publishes a dead letter the way the relay does (or, with `x_death`, the way the broker does).
async fn dead_letter(
    channel: &lapin::Channel,
    settings: &Settings,
    body: &[u8],
    message_id: &str,
    headers: &[(&str, AMQPValue)],
) {
    let mut table = FieldTable::default();
    for (key, value) in headers {
        table.insert((*key).into(), value.clone());
    }
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message_id.into())
        .with_headers(table);
    let confirm = channel
        .basic_publish(
            "".into(),
            settings.amqp.dlq_queue.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

/// Lists until `count` dead letters are there (messages returned by a closed channel come
/// back to a quorum queue asynchronously).
async fn list_until(settings: &Settings, count: usize) -> Vec<DeadLetterSummary> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = dlq::list(&settings.amqp, None).await.unwrap();
        if found.len() == count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {count} dead letters, found {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::bounded_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ops_list_show_replay_and_purge_dead_letters() {
        let (settings, connection, channel) = fresh_queues().await;
        let mut unknown_bank = bank_order(500_000);
        unknown_bank["destination"]["bank_bin"] = json!("970499");
        unknown_bank["destination"]["account_name"] = json!("Nguyễn Văn Đức");
        let order_id = unknown_bank["order_id"].as_str().unwrap().to_string();
        let citizen_id = unknown_bank["beneficiary"]["id"].as_str().unwrap().to_string();
        let account = unknown_bank["destination"]["account_number"]
            .as_str()
            .unwrap()
            .to_string();
        let unknown_bank_body = serde_json::to_vec(&unknown_bank).unwrap();
        let malformed = b"{\"order_id\": \"TB-1\", \"amount\": ".to_vec();
        dead_letter(
            &channel,
            &settings,
            &malformed,
            "malformed-1",
            &[
                ("x-gateway-reason", text("invalid")),
                ("x-gateway-detail", text("malformed_json: the body is not valid JSON")),
            ],
        )
        .await;
        dead_letter(
            &channel,
            &settings,
            &unknown_bank_body,
            &order_id,
            &[
                ("x-gateway-reason", text("invalid")),
                (
                    "x-gateway-detail",
                    text("unknown_bank: 970499 is not a known NAPAS transfer BIN"),
                ),
                ("trace-id", text("trace-7")),
            ],
        )
        .await;
        let mut death = FieldTable::default();
        death.insert("reason".into(), text("delivery_limit"));
        death.insert("queue".into(), text(&settings.amqp.orders_queue));
        death.insert("count".into(), AMQPValue::LongLongInt(1));
        let over_limit = bank_order(700_000);
        let over_limit_id = over_limit["order_id"].as_str().unwrap().to_string();
        dead_letter(
            &channel,
            &settings,
            &serde_json::to_vec(&over_limit).unwrap(),
            &over_limit_id,
            &[(
                "x-death",
                AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
            )],
        )
        .await;

        // list: every dead letter with its reason, nothing removed (twice gives the same).
        let listed = list_until(&settings, 3).await;
        let by_id = |id: &str| listed.iter().find(|d| d.message_id.as_deref() == Some(id)).unwrap();
        let malformed_letter = by_id("malformed-1");
        assert_eq!(malformed_letter.reason, "invalid");
        assert_eq!(
            malformed_letter.order_id, None,
            "the malformed body has no order id to read"
        );
        let unknown_bank_letter = by_id(&order_id);
        assert_eq!(unknown_bank_letter.reason, "invalid");
        assert_eq!(unknown_bank_letter.order_id.as_deref(), Some(order_id.as_str()));
        assert!(unknown_bank_letter
            .detail
            .as_deref()
            .unwrap()
            .starts_with("unknown_bank"));
        let broker_letter = by_id(&over_limit_id);
        assert_eq!(broker_letter.reason, "delivery_limit", "read from x-death");
        assert!(broker_letter
            .detail
            .as_deref()
            .unwrap()
            .contains(&settings.amqp.orders_queue));
        assert_eq!(dlq::list(&settings.amqp, Some(1)).await.unwrap().len(), 1);
        list_until(&settings, 3).await;

        // show: personal data masked unless asked; a missing id is DlqError::NotFound.
        let shown = dlq::show(&settings.amqp, &order_id, false, false).await.unwrap();
        assert_eq!(shown.len(), 1);
        let body = &shown[0].body;
        assert!(body.contains(&format!("*********{}", &citizen_id[9..])), "{body}");
        assert!(!body.contains(&citizen_id) && !body.contains(&account), "{body}");
        assert!(!body.contains("Nguyễn") && body.contains("N***** V** Đ**"), "{body}");
        assert!(shown[0]
            .headers
            .iter()
            .any(|(k, v)| k == "x-gateway-reason" && v == "invalid"));
        let unmasked = dlq::show(&settings.amqp, &order_id, true, false).await.unwrap();
        assert!(unmasked[0].body.contains(&citizen_id));
        let missing = dlq::show(&settings.amqp, "no-such-id", false, false).await.unwrap_err();
        assert!(matches!(
            missing.downcast_ref::<DlqError>(),
            Some(DlqError::NotFound { .. })
        ));
        list_until(&settings, 3).await;
        // A reason no dead letter has (a typo of `delivery_limit`) replayed nothing and succeeded.
        let typo = dlq::replay(&settings.amqp, &Selection::Reason("delivery-limit".into()), false, false)
            .await
            .expect_err("no such reason");
        assert!(
            matches!(typo.downcast_ref::<DlqError>(), Some(DlqError::NoSuchReason { present, .. }) if present.contains("invalid")),
            "{typo}"
        );
        let none_expired = dlq::replay(&settings.amqp, &Selection::Reason("expired".into()), false, false)
            .await
            .expect("a known reason with none to replay is no error");
        assert!(none_expired.replayed.is_empty() && none_expired.kept.is_empty());
        list_until(&settings, 3).await;

        // The commands that read the whole queue show how far they went through it; in a
        // log, a line per tenth. (`purge` without `--yes` removes nothing and exits 1.)
        for (args, succeeds) in [
            (vec!["replay", "--all", "--dry-run"], true),
            (vec!["show", order_id.as_str()], true),
            (vec!["purge", "--all"], false),
        ] {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
                .arg("dlq")
                .args(&args)
                .env("GATEWAY__AMQP__ORDERS_QUEUE", &settings.amqp.orders_queue)
                .env("GATEWAY__AMQP__DLQ_QUEUE", &settings.amqp.dlq_queue)
                .env("GATEWAY__LOG__LEVEL", "warn")
                .kill_on_drop(true)
                .output();
            let output = crate::support::bounded("gateway dlq", output)
                .await
                .expect("the gateway binary runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.success(), succeeds, "dlq {args:?}: {stderr}");
            assert!(
                stderr.contains("went through 3 of 3 dead letters (100%)"),
                "dlq {args:?}: {stderr}"
            );
            list_until(&settings, 3).await;
        }

        // replay: a dry run changes nothing; a replay puts the order back and removes the letter.
        let selection = Selection::MessageId(order_id.clone());
        let would = dlq::replay(&settings.amqp, &selection, true, false).await.unwrap();
        assert_eq!(would.replayed.len(), 1);
        list_until(&settings, 3).await;
        let replayed = dlq::replay(&settings.amqp, &selection, false, false).await.unwrap();
        assert_eq!(replayed.replayed.len(), 1);
        assert_eq!(replayed.replayed[0].order_id.as_deref(), Some(order_id.as_str()));
        let got = channel
            .basic_get(
                settings.amqp.orders_queue.as_str().into(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
            .expect("the replayed order is on the orders queue");
        assert_eq!(got.delivery.data, unknown_bank_body, "the original bytes");
        let properties = &got.delivery.properties;
        assert_eq!(properties.message_id().as_ref().unwrap().as_str(), order_id);
        let headers = properties.headers().as_ref().unwrap().inner();
        assert_eq!(headers.get("x-replayed-from-dlq"), Some(&text("invalid")));
        assert_eq!(headers.get("trace-id"), Some(&text("trace-7")));
        assert!(!headers.contains_key("x-gateway-reason") && !headers.contains_key("x-gateway-detail"));
        let left = list_until(&settings, 2).await;
        assert!(left.iter().all(|d| d.message_id.as_deref() != Some(order_id.as_str())));
        let missing = dlq::replay(&settings.amqp, &selection, false, false).await.unwrap_err();
        assert!(matches!(
            missing.downcast_ref::<DlqError>(),
            Some(DlqError::NotFound { .. })
        ));

        // purge: without --yes nothing goes; by reason only that reason; --all --yes empties it.
        let would = dlq::purge(&settings.amqp, &Selection::All, false, false).await.unwrap();
        assert_eq!(would.len(), 2);
        list_until(&settings, 2).await;
        let removed = dlq::purge(&settings.amqp, &Selection::Reason("delivery_limit".into()), true, false)
            .await
            .unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].message_id.as_deref(), Some(over_limit_id.as_str()));
        let left = list_until(&settings, 1).await;
        assert_eq!(left[0].message_id.as_deref(), Some("malformed-1"));
        let removed = dlq::purge(&settings.amqp, &Selection::All, true, false).await.unwrap();
        assert_eq!(removed.len(), 1);
        list_until(&settings, 0).await;

        remove_queues(&settings, connection, &channel).await;
    }
}

/// Deletes the test's queues and exchanges and closes its connection.
async fn remove_queues(settings: &Settings, connection: lapin::Connection, channel: &lapin::Channel) {
    for queue in [
        &settings.amqp.orders_queue,
        &settings.amqp.results_queue,
        &settings.amqp.dlq_queue,
    ] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    for exchange in [&settings.amqp.results_exchange, &settings.amqp.dead_letter_exchange] {
        let _ = channel
            .exchange_delete(exchange.as_str().into(), Default::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
}

crate::bounded_test! {
    /// A replay removes a dead letter once its copy is on the orders queue. For two kinds of
    /// letter the copy would not stand for it, so even `--all` leaves them: a `contradiction`
    /// (a report for a person about a final payment; the copy would be answered as a duplicate
    /// and the report gone) and the dead letter of an order over the size limit (only its first
    /// 64 KiB were kept; the copy would be another message, refused for another reason or
    /// even claimed).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replay_leaves_the_letters_a_copy_would_not_stand_for() {
        let (settings, connection, channel) = fresh_queues().await;
        let contradicted = bank_order(500_000);
        let contradicted_id = contradicted["order_id"].as_str().unwrap().to_string();
        dead_letter(
            &channel,
            &settings,
            &serde_json::to_vec(&contradicted).unwrap(),
            &contradicted_id,
            &[
                ("x-gateway-reason", text("contradiction")),
                ("x-gateway-detail", text("callback_contradicts_final: the bank says it paid")),
            ],
        )
        .await;
        let cut = vec![b' '; 65_536];
        dead_letter(
            &channel,
            &settings,
            &cut,
            "too-large-1",
            &[
                ("x-gateway-reason", text("invalid")),
                ("x-gateway-detail", text("order_too_large: the body is over 65536 bytes")),
                ("x-gateway-original-bytes", text("100000")),
            ],
        )
        .await;
        let never_claimed = bank_order(510_000);
        let never_claimed_id = never_claimed["order_id"].as_str().unwrap().to_string();
        dead_letter(
            &channel,
            &settings,
            &serde_json::to_vec(&never_claimed).unwrap(),
            &never_claimed_id,
            &[
                ("x-gateway-reason", text("invalid")),
                ("x-gateway-detail", text("unknown_bank: 970499 is not a known NAPAS transfer BIN")),
            ],
        )
        .await;
        list_until(&settings, 3).await;

        // Named by its id, the contradiction is found, and left.
        let by_id = dlq::replay(&settings.amqp, &Selection::MessageId(contradicted_id.clone()), false, false)
            .await
            .expect("a dead letter with that id exists");
        assert!(by_id.replayed.is_empty(), "{by_id:?}");
        assert_eq!(by_id.kept.len(), 1);
        assert!(by_id.kept[0].why.contains("report for a person"), "{by_id:?}");
        list_until(&settings, 3).await;

        // The command says which it left and why, and exits 1: not everything was replayed.
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["dlq", "replay", "--all"])
            .env("GATEWAY__AMQP__ORDERS_QUEUE", &settings.amqp.orders_queue)
            .env("GATEWAY__AMQP__DLQ_QUEUE", &settings.amqp.dlq_queue)
            .env("GATEWAY__LOG__LEVEL", "warn")
            .kill_on_drop(true)
            .output();
        let output = crate::support::bounded("gateway dlq replay --all", output)
            .await
            .expect("the gateway binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("Replayed 1 dead letters"), "{stdout}");
        assert!(stdout.contains("Left 2 selected dead letters"), "{stdout}");
        assert!(stdout.contains(&contradicted_id) && stdout.contains("too-large-1"), "{stdout}");
        assert!(stdout.contains("only its first bytes were kept"), "{stdout}");
        let left = list_until(&settings, 2).await;
        let mut reasons: Vec<&str> = left.iter().map(|letter| letter.reason.as_str()).collect();
        reasons.sort_unstable();
        assert_eq!(reasons, ["contradiction", "invalid"]);
        assert!(left.iter().all(|letter| letter.message_id.as_deref() != Some(never_claimed_id.as_str())));
        let got = channel
            .basic_get(
                settings.amqp.orders_queue.as_str().into(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
            .expect("the order never claimed is on the orders queue");
        assert_eq!(got.delivery.properties.message_id().as_ref().unwrap().as_str(), never_claimed_id);

        // Purged, once handled.
        let removed = dlq::purge(&settings.amqp, &Selection::All, true, false).await.unwrap();
        assert_eq!(removed.len(), 2);
        list_until(&settings, 0).await;
        remove_queues(&settings, connection, &channel).await;
    }
}
