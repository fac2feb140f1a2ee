//! `gateway report` on a known run: orders paid, failed and pending through the sandbox and a
//! provider return recorded by reconciliation, then the CSV files and the HTML page checked —
//! the page in headless Chromium, with no console errors.

use gateway::payment::ResultStatus;
use gateway::report::{write_report, CommuneNames, Outcome};
use gateway::store::{ReportFilter, ReturnOutcome, ReturnToApply};
use serde_json::{json, Value};

use crate::browser;
use crate::support::{bank_order, vnpost_order, Db, TestStack, HOLDER};

crate::on_both_databases!(the_report_of_a_known_run_shows_its_figures_in_a_browser);

/// Publishes `order` into an open account and waits for its final result.
async fn pay(stack: &mut TestStack, order: &Value, holder: &str) -> ResultStatus {
    stack.open_account(order, holder);
    stack.publish(order).await;
    stack.final_result(order["order_id"].as_str().unwrap()).await.status
}

async fn the_report_of_a_known_run_shows_its_figures_in_a_browser(db: Db) {
    let mut stack = TestStack::start(db).await;
    // Commune 12454 (Đề Thám), bank: two paid, one failed on the holder's name.
    assert_eq!(
        pay(&mut stack, &bank_order(2_789_000), HOLDER).await,
        ResultStatus::Succeeded
    );
    let mut other_batch = bank_order(1_000_000);
    other_batch["batch_id"] = json!("TB-2026-12-B2");
    assert_eq!(pay(&mut stack, &other_batch, HOLDER).await, ResultStatus::Succeeded);
    // Arrears of October in the same list: in October's report, and the batch's says so.
    let mut arrears = bank_order(1_200_000);
    arrears["batch_id"] = json!("TB-2026-12-B2");
    arrears["period"] = json!("2026-10");
    arrears["payment_type"] = json!("arrears");
    assert_eq!(pay(&mut stack, &arrears, HOLDER).await, ResultStatus::Succeeded);
    assert_eq!(
        pay(&mut stack, &bank_order(700_000), "TRAN THI KHAC").await,
        ResultStatus::Failed
    );
    // Commune 12457 (Quang Trung), VNPost: one paid.
    let mut vnpost = vnpost_order(1_500_000);
    vnpost["beneficiary"]["commune_code"] = json!("12457");
    assert_eq!(pay(&mut stack, &vnpost, HOLDER).await, ResultStatus::Succeeded);
    let vnpost_payment = stack
        .final_result(vnpost["order_id"].as_str().unwrap())
        .await
        .payment_id
        .unwrap();
    // Another period: not in the report.
    let mut november = bank_order(4_000_000);
    november["period"] = json!("2026-11");
    assert_eq!(pay(&mut stack, &november, HOLDER).await, ResultStatus::Succeeded);
    // Last, because it leaves the bank holding transfers: one pending.
    stack.pending_bank_order(300_000).await;

    let store = stack.gateway.as_ref().unwrap().store.clone();
    // Reconciliation found the VNPost credit sent back (account closed).
    let returned = ReturnToApply {
        provider: "vnpost_account".to_string(),
        entry_ref: "RET-0001".to_string(),
        payment_id: vnpost_payment,
        amount: 1_500_000,
        reason_code: "AC04".to_string(),
        booked_on: "2026-12-05".to_string(),
        reason: "The account was closed.".to_string(),
    };
    assert!(matches!(
        store.apply_return(&returned).await.unwrap(),
        ReturnOutcome::Applied { .. }
    ));
    let out = tempfile::tempdir().unwrap();
    let filter = ReportFilter {
        period: "2026-12".to_string(),
        batch_id: None,
    };
    let mut progress = Vec::new();
    let written = write_report(&store, &filter, &CommuneNames::pilot(), out.path(), |n| {
        progress.push(n)
    })
    .await
    .unwrap();
    assert_eq!(progress.last(), Some(&5), "progress reaches the number of payments");
    let total = &written.report.total;
    assert_eq!(
        (total.count(Outcome::Paid), total.amount(Outcome::Paid)),
        (2, 3_789_000)
    );
    assert_eq!(
        (total.count(Outcome::Returned), total.amount(Outcome::Returned)),
        (1, 1_500_000)
    );
    assert_eq!(
        (total.count(Outcome::Failed), total.amount(Outcome::Failed)),
        (1, 700_000)
    );
    assert_eq!(
        (total.count(Outcome::Pending), total.amount(Outcome::Pending)),
        (1, 300_000)
    );
    assert_eq!(total.total_count(), 5);
    assert!(total.median_ms().is_some_and(|ms| ms >= 0));

    let summary = std::fs::read_to_string(&written.summary_csv).unwrap();
    assert!(
        summary.contains("12454,Đề Thám,meritorious,bank_transfer,2,3789000,1,700000,1,300000,"),
        "{summary}"
    );
    assert!(summary.contains("12457,Quang Trung,meritorious,vnpost_account,0,0,0,0,0,0,0,0,1,1500000,"));
    let reasons = std::fs::read_to_string(&written.reasons_csv).unwrap();
    assert!(
        reasons.contains("bank_transfer,failed,name_mismatch,1,700000"),
        "{reasons}"
    );
    assert!(reasons.contains("vnpost_account,returned,AC04,1,1500000"), "{reasons}");

    let page = browser::render(&format!("file://{}", written.html.display())).await;
    assert!(page.console.is_empty(), "console messages: {:?}", page.console);
    let dom = &page.dom;
    assert!(dom.contains("data-report-ready=\"yes\""), "the page's script ran");
    for (id, text) in [
        ("total-count", "5"),
        ("total-amount", "6.289.000 ₫"),
        ("total-paid-count", "2"),
        ("total-paid-amount", "3.789.000 ₫"),
        ("total-returned-count", "1"),
        ("total-returned-amount", "1.500.000 ₫"),
        ("total-failed-amount", "700.000 ₫"),
        ("total-pending-amount", "300.000 ₫"),
        ("total-needs_review-count", "0"),
        ("scope-period", "2026-12"),
    ] {
        assert!(dom.contains(&format!("id=\"{id}\">{text}<")), "{id} should read {text}");
    }
    assert!(dom.contains("Đề Thám") && dom.contains("Quang Trung"));
    assert!(dom.contains("id=\"reason-failed-name_mismatch\""));
    assert!(dom.contains("id=\"reason-returned-AC04\""));
    assert!(dom.contains("id=\"chart-communes\""));

    // One batch only.
    let batch = ReportFilter {
        period: "2026-12".to_string(),
        batch_id: Some("TB-2026-12-B2".to_string()),
    };
    let written = write_report(&store, &batch, &CommuneNames::pilot(), &out.path().join("b2"), |_| {})
        .await
        .unwrap();
    assert_eq!(written.report.total.total_count(), 1);
    assert_eq!(written.report.total.amount(Outcome::Paid), 1_000_000);
    assert_eq!(
        written.batch_elsewhere, 1,
        "the October arrears of the batch are told of"
    );
    let page = std::fs::read_to_string(&written.html).unwrap();
    assert!(
        page.contains("Batch TB-2026-12-B2 also holds 1 payment(s) of other periods"),
        "the page says so"
    );
    stack.stop().await;
}

/// `report --batch` with a batch nothing names (a typo) wrote a report of zeros and exited 0,
/// which a scripted end-of-period run read as done and as "nothing was paid". It is refused
/// (exit 2) before anything is written; the batch's real id writes the report.
#[tokio::test]
async fn a_report_of_a_batch_nothing_names_is_refused_before_anything_is_written() {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = crate::support::store_for_one_batch(Db::Sqlite, &run_id).await;
    let order = bank_order(500_000);
    crate::support::claim_fresh(&store, &settings, &order, "bank_transfer").await;
    let batch = order["batch_id"].as_str().unwrap().to_string();
    let period = order["period"].as_str().unwrap().to_string();
    let database = secrecy::ExposeSecret::expose_secret(&settings.database.url).to_string();
    let out = tempfile::tempdir().expect("a temporary folder");
    let typo_out = out.path().join("typo");
    let typo = format!("{batch}-typo");
    let args = [
        "report",
        "--period",
        &period,
        "--batch",
        &typo,
        "--out",
        typo_out.to_str().unwrap(),
    ];
    let output = crate::support::gateway_command(&args, &database).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("names batch"), "{stderr}");
    assert!(!typo_out.exists(), "nothing was written");

    let real_out = out.path().join("real");
    let args = [
        "report",
        "--period",
        &period,
        "--batch",
        &batch,
        "--out",
        real_out.to_str().unwrap(),
    ];
    let output = crate::support::gateway_command(&args, &database).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(real_out.join("summary.csv").exists());
    drop(store);
    crate::support::drop_database(Db::Sqlite, &run_id).await;
}
