//! Reconciliation end to end: a sandbox day paid through the gateway, the provider's statement
//! fetched from the sandbox (with injected discrepancies), `gateway reconcile` run as the real
//! binary, and the `returned` result read from the results queue.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use gateway::payment::ResultStatus;
use gateway::store::{ExtraPayout, ReturnOutcome, ReturnToApply, Store, RETURNED_BY_PROVIDER};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::support::{bank_order, vnpost_order, wallet_order, Db, TestStack, HOLDER};

crate::on_both_databases!(
    a_bank_day_with_injected_discrepancies_lists_exactly_those_and_the_return_reaches_upstream,
    a_wallet_day_with_injected_discrepancies_lists_exactly_those_and_the_return_reaches_upstream,
    a_clean_day_balances_with_exit_code_0,
    a_reversed_duplicate_payout_is_listed_for_review_and_upstream_hears_nothing,
    a_bank_statement_naming_payments_by_the_end_to_end_id_alone_balances,
    a_return_on_a_later_day_of_a_payment_booked_twice_is_listed_for_review,
    a_payout_booked_again_on_a_later_days_statement_is_a_second_credit,
    the_first_bookings_of_a_province_sized_statement_are_all_remembered_and_never_moved,
    a_carried_payment_whose_return_the_store_refuses_stays_carried,
    a_return_under_a_reference_remembered_for_another_payment_is_not_called_applied,
    extra_payouts_found_out_of_order_keep_the_earliest_day,
    a_payment_in_transit_over_midnight_is_expected_on_the_next_days_until_it_is_booked,
    a_day_reconciled_after_the_day_that_booked_its_late_payment_does_not_carry_it,
    a_carried_payment_settled_with_the_provider_is_forgotten_and_the_next_day_balances,
);

/// The official camt.053.001.08 schema, shipped with the bank adapter.
const CAMT053_XSD: &str = "adapters/bank-transfer/schemas/camt.053.001.08.xsd";

/// Today in Vietnam, the day the sandbox books today's credits on.
fn today() -> String {
    sandbox_kit::statement::vietnam_date(chrono::Utc::now()).to_string()
}

/// Pays `orders` through the stack and returns (order id, payment id, amount) of each.
async fn pay(stack: &mut TestStack, orders: &[Value]) -> Vec<(String, String, u64)> {
    for order in orders {
        stack.open_account(order, HOLDER);
        stack.publish(order).await;
    }
    let mut paid = Vec::new();
    for order in orders {
        let order_id = order["order_id"].as_str().unwrap().to_string();
        let result = stack.final_result(&order_id).await;
        assert_eq!(
            result.status,
            ResultStatus::Succeeded,
            "{order_id}: {:?}",
            result.reason
        );
        paid.push((order_id, result.payment_id.unwrap(), result.amount.unwrap()));
    }
    paid
}

async fn set_statement_faults(stack: &TestStack, provider: &str, faults: Value) {
    let answer = reqwest::Client::new()
        .put(format!("{}/sandbox/statement-faults/{provider}", stack.sandbox.url()))
        .json(&faults)
        .send()
        .await
        .expect("the sandbox answers");
    assert!(
        answer.status().is_success(),
        "statement faults refused: {}",
        answer.status()
    );
}

/// Fetches the provider's statement for today from the sandbox into `folder`.
async fn fetch_statement(stack: &TestStack, provider: &str, folder: &Path) -> std::path::PathBuf {
    let answer = reqwest::Client::new()
        .get(format!(
            "{}/sandbox/statements/{provider}?date={}",
            stack.sandbox.url(),
            today()
        ))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(answer.status().is_success(), "no statement: {}", answer.status());
    let path = folder.join(format!("{provider}-statement"));
    std::fs::write(&path, answer.bytes().await.expect("a statement body")).expect("write the statement");
    path
}

/// Validates a camt.053 file against the shipped XSD with `xmllint`; a missing xmllint fails.
fn assert_valid_camt053(path: &Path) {
    let output = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", CAMT053_XSD])
        .arg(path)
        .output()
        .unwrap_or_else(|error| {
            panic!("xmllint is needed to validate camt.053 (Debian package libxml2-utils): {error}")
        });
    assert!(
        output.status.success(),
        "the camt.053 statement does not validate against {CAMT053_XSD}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What one `gateway reconcile` run printed and wrote.
struct Run {
    code: i32,
    stdout: String,
    /// (kind, payment id) of every CSV row.
    items: BTreeSet<(String, String)>,
}

/// Runs the real binary against the stack's database.
async fn reconcile(stack: &TestStack, provider: &str, statement: &Path, folder: &Path) -> Run {
    let csv_path = folder.join(format!("{provider}-reconciliation.csv"));
    // The tests pay "today": without grace, a run in the last minutes before Vietnam midnight
    // still lists a payment left off the statement as missing, as the tests expect.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args([
            "reconcile",
            "--provider",
            provider,
            "--grace-minutes",
            "0",
            "--statement",
        ])
        .arg(statement)
        .arg("--csv")
        .arg(&csv_path)
        .env("GATEWAY__DATABASE__URL", stack.settings.database.url.expose_secret())
        .env("GATEWAY__LOG__LEVEL", "warn")
        .output()
        .await
        .expect("the gateway binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 3,
        "reconcile failed ({code}): {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_path(&csv_path).expect("the CSV was written");
    let items = reader
        .records()
        .map(|record| {
            let record = record.expect("a CSV row");
            (record[0].to_string(), record[2].to_string())
        })
        .collect();
    Run { code, stdout, items }
}

fn item(kind: &str, payment_id: &str) -> (String, String) {
    (kind.to_string(), payment_id.to_string())
}

async fn injected_discrepancies_are_listed_and_the_return_reaches_upstream(
    db: Db,
    provider: &str,
    order: fn(u64) -> Value,
) {
    let mut stack = TestStack::start(db).await;
    let orders: Vec<Value> = (0..5).map(|n| order(500_000 + n * 10_000)).collect();
    let paid = pay(&mut stack, &orders).await;
    let [missing, altered, returned, fine_1, fine_2] = [0, 1, 2, 3, 4].map(|n| paid[n].clone());
    set_statement_faults(
        &stack,
        provider,
        json!({
            "omit": [missing.1],
            "amounts": { altered.1.clone(): altered.2 + 1_000 },
            "extra": [{ "amount": 777_000, "reference": "pay_00000000000000000000000000ff" }],
            "returns": [{ "reference": returned.1, "reason_code": "AC04" }],
        }),
    )
    .await;
    let folder = tempfile::tempdir().expect("a temporary folder");
    let statement = fetch_statement(&stack, provider, folder.path()).await;
    if provider == "bank_transfer" {
        assert_valid_camt053(&statement);
    }

    let first = reconcile(&stack, provider, &statement, folder.path()).await;
    assert_eq!(first.code, 3, "the books do not balance:\n{}", first.stdout);
    let expected: BTreeSet<_> = [
        item("missing_at_provider", &missing.1),
        item("amount_mismatch", &altered.1),
        item("unknown_to_gateway", "pay_00000000000000000000000000ff"),
        item("returned", &returned.1),
        item("matched", &returned.1),
        item("matched", &fine_1.1),
        item("matched", &fine_2.1),
    ]
    .into();
    assert_eq!(first.items, expected, "{}", first.stdout);
    assert!(
        first.stdout.contains("The books do not balance: 3 items"),
        "{}",
        first.stdout
    );

    // The return reaches upstream: a final `returned` result after the final `succeeded` one.
    let succeeded_seq = stack.final_result(&returned.0).await.seq;
    let result = stack
        .wait_for(
            &returned.0,
            |m| m.status == ResultStatus::Returned,
            Duration::from_secs(20),
        )
        .await;
    assert!(result.is_final);
    assert_eq!(result.seq, succeeded_seq + 1);
    assert_eq!(result.amount, Some(returned.2));
    assert_eq!(result.reason_code.as_deref(), Some(RETURNED_BY_PROVIDER));
    assert!(
        result.reason.as_deref().unwrap_or_default().contains("AC04"),
        "{result:?}"
    );

    let store = Store::connect(&stack.settings.database).await.unwrap();
    let view = store.order_view(&returned.0).await.unwrap().unwrap();
    assert!(
        view.events
            .iter()
            .any(|e| e.reason_code.as_deref() == Some(RETURNED_BY_PROVIDER)),
        "the event log records the return: {:?}",
        view.events
    );
    let footprint = (view.events.len(), view.results.len(), view.payment.seq);

    // The same statement again changes nothing.
    let second = reconcile(&stack, provider, &statement, folder.path()).await;
    assert_eq!(second.code, 3);
    assert_eq!(second.items, expected);
    assert!(second.stdout.contains("applied by an earlier run"), "{}", second.stdout);
    let again = store.order_view(&returned.0).await.unwrap().unwrap();
    assert_eq!((again.events.len(), again.results.len(), again.payment.seq), footprint);
    assert_eq!(store.returned_count(Some(provider)).await.unwrap(), 1);
    stack.drain_results(Duration::from_secs(1)).await;
    let returned_results = stack.seen[&returned.0]
        .iter()
        .filter(|m| m.status == ResultStatus::Returned)
        .count();
    assert_eq!(returned_results, 1, "upstream heard of the return once");
    stack.stop().await;
}

async fn a_bank_day_with_injected_discrepancies_lists_exactly_those_and_the_return_reaches_upstream(db: Db) {
    injected_discrepancies_are_listed_and_the_return_reaches_upstream(db, "bank_transfer", bank_order).await
}

async fn a_wallet_day_with_injected_discrepancies_lists_exactly_those_and_the_return_reaches_upstream(db: Db) {
    injected_discrepancies_are_listed_and_the_return_reaches_upstream(db, "viettel_money", |amount| {
        wallet_order("viettel_money", amount)
    })
    .await
}

async fn a_clean_day_balances_with_exit_code_0(db: Db) {
    let mut stack = TestStack::start(db).await;
    let orders = [bank_order(1_250_000), bank_order(2_789_000), vnpost_order(900_000)];
    let paid = pay(&mut stack, &orders).await;
    let folder = tempfile::tempdir().expect("a temporary folder");
    for (provider, paid) in [("bank_transfer", &paid[..2]), ("vnpost_account", &paid[2..])] {
        let statement = fetch_statement(&stack, provider, folder.path()).await;
        if provider == "bank_transfer" {
            assert_valid_camt053(&statement);
        }
        let run = reconcile(&stack, provider, &statement, folder.path()).await;
        assert_eq!(run.code, 0, "{provider} balances:\n{}", run.stdout);
        let expected: BTreeSet<_> = paid
            .iter()
            .map(|(_, payment_id, _)| item("matched", payment_id))
            .collect();
        assert_eq!(run.items, expected, "{}", run.stdout);
        assert!(run.stdout.contains("The books balance"), "{}", run.stdout);
    }
    stack.stop().await;
}

/// The `<Ntry>…</Ntry>` block of the camt.053 `xml` whose `InstrId` is `payment_id`.
fn entry_of(xml: &str, payment_id: &str) -> String {
    let at = xml
        .find(&format!("<InstrId>{payment_id}</InstrId>"))
        .unwrap_or_else(|| panic!("{payment_id} is on the statement:\n{xml}"));
    let start = xml[..at].rfind("<Ntry>").expect("the entry starts");
    let end = at + xml[at..].find("</Ntry>").expect("the entry ends") + "</Ntry>".len();
    xml[start..end].to_string()
}

/// The value of the first `<name>` element in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|at| at + open.len()).expect("the element is there");
    let end = start + xml[start..].find('<').expect("the element ends");
    &xml[start..end]
}

/// The bank booked a payout twice and reversed the duplicate (`RvslInd` without return
/// information): one credit reached the beneficiary, so no `returned` result may go upstream,
/// or upstream reissues the order and the beneficiary is paid twice.
async fn a_reversed_duplicate_payout_is_listed_for_review_and_upstream_hears_nothing(db: Db) {
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000), bank_order(1_600_000)]).await;
    let (twice, fine) = (paid[0].clone(), paid[1].clone());
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = fetch_statement(&stack, "bank_transfer", folder.path()).await;
    let xml = std::fs::read_to_string(&path).expect("the statement is text");
    let original = entry_of(&xml, &twice.1);
    let bank_ref = element(&original, "AcctSvcrRef").to_string();
    let duplicate = original.replace(&bank_ref, &format!("DUP-{bank_ref}"));
    let reversal = original.replace(&bank_ref, &format!("RVSL-{bank_ref}")).replace(
        "<CdtDbtInd>DBIT</CdtDbtInd>",
        "<CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd>",
    );
    let edited = xml.replacen("    </Stmt>", &format!("{duplicate}\n{reversal}\n    </Stmt>"), 1);
    std::fs::write(&path, &edited).expect("write the statement");

    let run = reconcile(&stack, "bank_transfer", &path, folder.path()).await;
    assert_eq!(run.code, 3, "a person must look:\n{}", run.stdout);
    let expected: BTreeSet<_> = [
        item("matched", &twice.1),
        item("duplicate_on_statement", &twice.1),
        item("return_needs_review", &twice.1),
        item("matched", &fine.1),
    ]
    .into();
    assert_eq!(run.items, expected, "{}", run.stdout);
    assert!(run.stdout.contains("RvslInd"), "{}", run.stdout);

    let store = Store::connect(&stack.settings.database).await.unwrap();
    assert_eq!(store.returned_count(Some("bank_transfer")).await.unwrap(), 0);
    let view = store.order_view(&twice.0).await.unwrap().unwrap();
    assert!(
        view.results.iter().all(|r| r.status != ResultStatus::Returned),
        "nothing was written for upstream: {:?}",
        view.results
    );
    stack.drain_results(Duration::from_secs(2)).await;
    assert!(
        stack.seen[&twice.0].iter().all(|m| m.status != ResultStatus::Returned),
        "upstream heard no return: {:?}",
        stack.seen[&twice.0]
    );
    stack.stop().await;
}

/// The bank booked a payout twice on one day (that day's reconciliation lists the duplicate)
/// and returned one of the two credits days later: the beneficiary still holds the other, so
/// the return is listed for a person, and upstream hears nothing (a `returned` result would
/// make it reissue the order and pay the beneficiary a third time).
async fn a_return_on_a_later_day_of_a_payment_booked_twice_is_listed_for_review(db: Db) {
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000)]).await;
    let (order_id, payment_id, _) = paid[0].clone();
    let folder = tempfile::tempdir().expect("a temporary folder");

    // The day it was paid: booked twice.
    let path = fetch_statement(&stack, "bank_transfer", folder.path()).await;
    let xml = std::fs::read_to_string(&path).expect("the statement is text");
    let original = entry_of(&xml, &payment_id);
    let bank_ref = element(&original, "AcctSvcrRef").to_string();
    let duplicate = original.replace(&bank_ref, &format!("DUP-{bank_ref}"));
    std::fs::write(
        &path,
        xml.replacen("    </Stmt>", &format!("{duplicate}\n    </Stmt>"), 1),
    )
    .expect("write the statement");
    let first_day = reconcile(&stack, "bank_transfer", &path, folder.path()).await;
    assert_eq!(first_day.code, 3, "{}", first_day.stdout);
    let expected: BTreeSet<_> = [
        item("matched", &payment_id),
        item("duplicate_on_statement", &payment_id),
    ]
    .into();
    assert_eq!(first_day.items, expected, "{}", first_day.stdout);

    // The next day: one credit comes back, as a genuine return (account closed). The next
    // day's statement is this one moved a day on, with the return as its only entry.
    let next_day = (today().parse::<chrono::NaiveDate>().unwrap() + chrono::Duration::days(1)).to_string();
    let returned = genuine_return_of(&original, &bank_ref);
    let entries = xml.find("<Ntry>").unwrap()..xml.rfind("</Ntry>").unwrap() + "</Ntry>".len();
    let next_xml = format!("{}{returned}{}", &xml[..entries.start], &xml[entries.end..]).replace(&today(), &next_day);
    let next_path = folder.path().join("bank_transfer-next-day-statement");
    std::fs::write(&next_path, next_xml).expect("write the statement");
    assert_valid_camt053(&next_path);
    let second_day = reconcile(&stack, "bank_transfer", &next_path, folder.path()).await;
    assert_eq!(second_day.code, 3, "a person must look:\n{}", second_day.stdout);
    let expected: BTreeSet<_> = [item("return_needs_review", &payment_id)].into();
    assert_eq!(second_day.items, expected, "{}", second_day.stdout);

    no_return_applied(&mut stack, &order_id).await;
    stack.stop().await;
}

/// Asserts that no return was written (the bank's provider) and that upstream heard none for
/// `order_id`.
async fn no_return_applied(stack: &mut TestStack, order_id: &str) {
    let store = Store::connect(&stack.settings.database).await.unwrap();
    assert_eq!(store.returned_count(Some("bank_transfer")).await.unwrap(), 0);
    stack.drain_results(Duration::from_secs(2)).await;
    assert!(
        stack.seen[order_id].iter().all(|m| m.status != ResultStatus::Returned),
        "upstream heard no return: {:?}",
        stack.seen[order_id]
    );
}

/// The camt.053 entry of a genuine return (account closed) of payout `entry`, whose bank
/// reference is `bank_ref`.
fn genuine_return_of(entry: &str, bank_ref: &str) -> String {
    entry
        .replace(bank_ref, &format!("RTN-{bank_ref}"))
        .replace("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>CRDT</CdtDbtInd>")
        .replace("<SubFmlyCd>DMCT</SubFmlyCd>", "<SubFmlyCd>RRTN</SubFmlyCd>")
        .replacen(
            "<AddtlTxInf>",
            "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf><AddtlTxInf>",
            1,
        )
}

/// A payout the bank booked today, and a reconciliation found, is booked again on tomorrow's
/// statement with a return of one of the two: tomorrow's payout is a second credit and the
/// return is for a person; upstream hears no return. (Before, tomorrow's payout matched, as if
/// today's statement had never been reconciled, and the return was applied: upstream, told
/// `returned`, would pay again a beneficiary who still held the first credit.) Today's
/// statement reconciled again still balances.
async fn a_payout_booked_again_on_a_later_days_statement_is_a_second_credit(db: Db) {
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000)]).await;
    let (order_id, payment_id, _) = paid[0].clone();
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = fetch_statement(&stack, "bank_transfer", folder.path()).await;
    let first_day = reconcile(&stack, "bank_transfer", &path, folder.path()).await;
    assert_eq!(first_day.code, 0, "{}", first_day.stdout);
    let matched: BTreeSet<_> = [item("matched", &payment_id)].into();
    assert_eq!(first_day.items, matched, "{}", first_day.stdout);

    let xml = std::fs::read_to_string(&path).expect("the statement is text");
    let original = entry_of(&xml, &payment_id);
    let bank_ref = element(&original, "AcctSvcrRef").to_string();
    let returned = genuine_return_of(&original, &bank_ref);
    let next_path = folder.path().join("bank_transfer-next-day-statement");
    std::fs::write(
        &next_path,
        next_day_statement(&xml, &format!("{original}{returned}"), 1),
    )
    .expect("write the statement");
    assert_valid_camt053(&next_path);
    let second_day = reconcile(&stack, "bank_transfer", &next_path, folder.path()).await;
    assert_eq!(second_day.code, 3, "a person must look:\n{}", second_day.stdout);
    let expected: BTreeSet<_> = [
        item("duplicate_on_statement", &payment_id),
        item("return_needs_review", &payment_id),
    ]
    .into();
    assert_eq!(second_day.items, expected, "{}", second_day.stdout);
    no_return_applied(&mut stack, &order_id).await;

    let again = reconcile(&stack, "bank_transfer", &path, folder.path()).await;
    assert_eq!((again.code, again.items), (0, matched), "{}", again.stdout);
    stack.stop().await;
}

/// The bank adapter sends the payment id as `client_reference` (camt.053 `InstrId`) and the
/// order id as `end_to_end_id` (`EndToEndId`); a bank whose statement carries the end-to-end id
/// alone still balances, each line matched to its payment by the order id.
async fn a_bank_statement_naming_payments_by_the_end_to_end_id_alone_balances(db: Db) {
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_250_000), bank_order(2_789_000)]).await;
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = fetch_statement(&stack, "bank_transfer", folder.path()).await;
    assert_valid_camt053(&path);
    let mut xml = std::fs::read_to_string(&path).expect("the statement is text");
    for (order_id, payment_id, _) in &paid {
        let entry = entry_of(&xml, payment_id);
        assert_eq!(element(&entry, "EndToEndId"), order_id, "{entry}");
        xml = xml.replace(&format!("<InstrId>{payment_id}</InstrId>"), "");
    }
    assert!(!xml.contains("<InstrId>"), "{xml}");
    std::fs::write(&path, &xml).expect("write the statement");
    assert_valid_camt053(&path);

    let run = reconcile(&stack, "bank_transfer", &path, folder.path()).await;
    assert_eq!(run.code, 0, "the books balance:\n{}", run.stdout);
    let expected: BTreeSet<_> = paid
        .iter()
        .map(|(_, payment_id, _)| item("matched", payment_id))
        .collect();
    assert_eq!(run.items, expected, "{}", run.stdout);

    // A line of a payment sent on another day is found by its order id too.
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let order_ids: Vec<String> = paid.iter().map(|(order_id, _, _)| order_id.clone()).collect();
    let mut found: Vec<String> = store
        .reconciliation_payments_by_order("bank_transfer", &order_ids)
        .await
        .unwrap()
        .into_iter()
        .map(|payment| payment.payment_id)
        .collect();
    found.sort();
    let mut wanted: Vec<String> = paid.iter().map(|(_, payment_id, _)| payment_id.clone()).collect();
    wanted.sort();
    assert_eq!(found, wanted);
    assert!(store
        .reconciliation_payments_by_order("vnpost_account", &order_ids)
        .await
        .unwrap()
        .is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn an_unreadable_statement_exits_4_with_a_clear_error() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let database = format!("sqlite://{}/gateway.db", folder.path().display());
    let garbage = folder.path().join("garbage.xml");
    std::fs::write(&garbage, "this is not a statement").unwrap();
    // A sparse file one byte over the 256 MiB cap: refused before it is read.
    let huge = folder.path().join("huge.xml");
    std::fs::File::create(&huge)
        .and_then(|file| file.set_len(gateway::reconcile::MAX_STATEMENT_BYTES + 1))
        .unwrap();
    let cases = [
        (folder.path().join("absent.xml"), "cannot be read"),
        (garbage, "not well-formed XML"),
        (huge, "larger than the 268435456 bytes"),
    ];
    for (path, expected) in cases {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["reconcile", "--provider", "bank_transfer", "--statement"])
            .arg(&path)
            .env("GATEWAY__DATABASE__URL", &database)
            .kill_on_drop(true)
            .output();
        let output = crate::support::bounded("gateway reconcile of an unreadable statement", output)
            .await
            .expect("the gateway binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "{stderr}");
        assert!(stderr.contains(expected), "{stderr} should say {expected}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A mistyped `--provider` finds none of the provider's payments: reconciled, a good statement
/// would list every line as unknown and the books as not balancing. It is refused by name,
/// before the statement is read. A provider taken out of the configuration is not refused while
/// the store has payments of it: its last statements are still to be reconciled.
#[tokio::test]
async fn a_provider_neither_configured_nor_paid_through_is_refused_with_the_ones_that_are() {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = crate::support::store_for_one_batch(Db::Sqlite, &run_id).await;
    crate::support::claim_fresh(&store, &settings, &bank_order(500_000), "bank_retired").await;
    let database = settings.database.url.expose_secret().to_string();
    let folder = tempfile::tempdir().expect("a temporary folder");
    let statement = folder.path().join("bank.xml").display().to_string();

    let output = crate::support::gateway_command(
        &["reconcile", "--provider", "bank_tranfser", "--statement", &statement],
        &database,
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no provider \"bank_tranfser\" is configured"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bank_transfer, "),
        "{stderr} lists the configured providers"
    );

    let output = crate::support::gateway_command(
        &["reconcile", "--provider", "bank_retired", "--statement", &statement],
        &database,
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(4),
        "on to the statement, which is absent: {stderr}"
    );
    drop(store);
    crate::support::drop_database(Db::Sqlite, &run_id).await;
}

/// A return of `payment_id` under the statement reference `entry_ref`.
fn return_of(payment_id: &str, amount: u64, entry_ref: &str) -> ReturnToApply {
    ReturnToApply {
        provider: "bank_transfer".into(),
        entry_ref: entry_ref.into(),
        payment_id: payment_id.into(),
        amount: i64::try_from(amount).unwrap(),
        reason_code: "AC04".into(),
        booked_on: today(),
        reason: "the account is closed".into(),
    }
}

/// A bank gave two returns, of two payments, one reference (on two days' statements): the
/// second was reported "applied by an earlier run", balanced, and upstream never heard of it.
async fn a_return_under_a_reference_remembered_for_another_payment_is_not_called_applied(db: Db) {
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000), bank_order(1_600_000)]).await;
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let first = store
        .apply_return(&return_of(&paid[0].1, paid[0].2, "RTN-SHARED"))
        .await
        .unwrap();
    assert!(matches!(first, ReturnOutcome::Applied { .. }), "{first:?}");
    let second = store
        .apply_return(&return_of(&paid[1].1, paid[1].2, "RTN-SHARED"))
        .await
        .unwrap();
    assert_eq!(
        second,
        ReturnOutcome::ReferenceTaken {
            payment_id: paid[0].1.clone()
        }
    );
    let again = store
        .apply_return(&return_of(&paid[0].1, paid[0].2, "RTN-SHARED"))
        .await
        .unwrap();
    assert_eq!(
        again,
        ReturnOutcome::AlreadyApplied,
        "the same line again is still applied once"
    );
    assert_eq!(store.returned_count(Some("bank_transfer")).await.unwrap(), 1);
    stack.stop().await;
}

/// A payment keeps one extra-payout row: reconciled out of order (day 5 found a second credit,
/// then a late day 2 another), the row kept day 5, and a return booked on day 3 was applied as
/// the return of the one credit there was, though a second had been booked on day 2.
async fn extra_payouts_found_out_of_order_keep_the_earliest_day(db: Db) {
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000)]).await;
    let payment_id = paid[0].1.clone();
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let extra = |entry_ref: &str, day: &str| ExtraPayout {
        provider: "bank_transfer".into(),
        entry_ref: entry_ref.into(),
        payment_id: payment_id.clone(),
        amount: 1_500_000,
        booked_on: day.into(),
    };
    store
        .remember_extra_payouts(&[extra("DUP-5", "2026-12-05")])
        .await
        .unwrap();
    store
        .remember_extra_payouts(&[extra("DUP-2", "2026-12-02")])
        .await
        .unwrap();
    store
        .remember_extra_payouts(&[extra("DUP-9", "2026-12-09")])
        .await
        .unwrap();
    let found = store
        .reconciliation_payments("bank_transfer", std::slice::from_ref(&payment_id), (0, 0))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].extra_payout_booked_on.map(|day| day.to_string()).as_deref(),
        Some("2026-12-02")
    );
    stack.stop().await;
}

/// Reconciles a bank statement (camt.053 `statement`) in the library, as `gateway reconcile`
/// does, with `grace_minutes` of grace before midnight.
async fn bank_day(store: &Store, statement: &[u8], grace_minutes: u32) -> gateway::reconcile::Reconciliation {
    use gateway::reconcile::{reconcile, StatementFormat};
    reconcile(
        store,
        "bank_transfer",
        StatementFormat::Camt053,
        statement,
        None,
        grace_minutes,
    )
    .await
    .expect("the statement is reconciled")
}

/// Each item of a reconciliation as (kind, payment id).
fn kinds(run: &gateway::reconcile::Reconciliation) -> BTreeSet<(gateway::reconcile::ItemKind, String)> {
    run.items
        .iter()
        .map(|item| (item.kind, item.payment_id.clone()))
        .collect()
}

/// The statement of the day after today: `xml` (today's) moved a day on, holding `entries` only.
fn next_day_statement(xml: &str, entries: &str, days_on: i64) -> Vec<u8> {
    let day = (today().parse::<chrono::NaiveDate>().unwrap() + chrono::Duration::days(days_on)).to_string();
    let (start, end) = match (xml.find("<Ntry>"), xml.rfind("</Ntry>")) {
        (Some(start), Some(end)) => (start, end + "</Ntry>".len()),
        _ => panic!("the statement has entries:\n{xml}"),
    };
    format!("{}{entries}{}", &xml[..start], &xml[end..])
        .replace(&today(), &day)
        .into_bytes()
}

/// A payment in transit over midnight balanced its own day and was never expected again: one
/// the provider never booked went unnoticed on every later day's statement.
async fn a_payment_in_transit_over_midnight_is_expected_on_the_next_days_until_it_is_booked(db: Db) {
    use gateway::reconcile::ItemKind;
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000), bank_order(1_600_000)]).await;
    let (late, booked) = (paid[0].1.clone(), paid[1].1.clone());
    let folder = tempfile::tempdir().expect("a temporary folder");
    let full = std::fs::read_to_string(fetch_statement(&stack, "bank_transfer", folder.path()).await).unwrap();
    let late_entry = entry_of(&full, &late);
    set_statement_faults(&stack, "bank_transfer", json!({ "omit": [late.clone()] })).await;
    let today_xml = std::fs::read_to_string(fetch_statement(&stack, "bank_transfer", folder.path()).await).unwrap();
    let store = Store::connect(&stack.settings.database).await.unwrap();

    // Today: a whole day of grace makes every payment sent today and not booked in transit.
    let day_one = bank_day(&store, today_xml.as_bytes(), 1_440).await;
    assert_eq!(
        kinds(&day_one),
        [(ItemKind::Matched, booked.clone()), (ItemKind::InTransit, late.clone())].into()
    );
    assert!(day_one.balanced());

    // Tomorrow's statement does not book it either: now it is missing.
    let empty_tomorrow = next_day_statement(&today_xml, "", 1);
    let day_two = bank_day(&store, &empty_tomorrow, 0).await;
    assert_eq!(kinds(&day_two), [(ItemKind::MissingAtProvider, late.clone())].into());
    assert!(!day_two.balanced());

    // The day after books it: matched, and no longer expected after.
    let booked_later = next_day_statement(&today_xml, &late_entry, 2);
    let day_three = bank_day(&store, &booked_later, 0).await;
    assert_eq!(
        kinds(&day_three),
        [(ItemKind::Matched, late.clone())].into(),
        "{day_three:?}"
    );
    let empty_after = next_day_statement(&today_xml, "", 3);
    let day_four = bank_day(&store, &empty_after, 0).await;
    assert!(day_four.items.is_empty(), "{day_four:?}");
    stack.stop().await;
}

/// The day a late payment was booked, reconciled before the day it was sent: the day it was
/// sent then carried it (in transit), and every later day listed it as missing.
async fn a_day_reconciled_after_the_day_that_booked_its_late_payment_does_not_carry_it(db: Db) {
    use gateway::reconcile::ItemKind;
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000)]).await;
    let late = paid[0].1.clone();
    let folder = tempfile::tempdir().expect("a temporary folder");
    let full = std::fs::read_to_string(fetch_statement(&stack, "bank_transfer", folder.path()).await).unwrap();
    let late_entry = entry_of(&full, &late);
    let store = Store::connect(&stack.settings.database).await.unwrap();

    // Tomorrow's statement, which books it, reconciled first.
    let tomorrow = next_day_statement(&full, &late_entry, 1);
    let booked = bank_day(&store, &tomorrow, 0).await;
    assert_eq!(kinds(&booked), [(ItemKind::Matched, late.clone())].into());
    // Then today's, which does not: in transit, as before, but not carried.
    let today_without = next_day_statement(&full, "", 0);
    let today_run = bank_day(&store, &today_without, 1_440).await;
    assert_eq!(kinds(&today_run), [(ItemKind::InTransit, late.clone())].into());
    let after = next_day_statement(&full, "", 2);
    let day_after = bank_day(&store, &after, 0).await;
    assert!(day_after.items.is_empty(), "{day_after:?}");
    stack.stop().await;
}

/// A carried payment the provider will never book kept every later day from balancing, and
/// nothing could stop it being expected: `gateway carried forget` does, with a note. One the
/// provider credited after all stays succeeded; one it refunded uncredited is returned, so that
/// upstream hears of it and can pay again (forgetting it as paid left a beneficiary unpaid).
async fn a_carried_payment_settled_with_the_provider_is_forgotten_and_the_next_day_balances(db: Db) {
    use gateway::reconcile::ItemKind;
    let mut stack = TestStack::start(db).await;
    // The statement of the next days is today's moved on, which needs an entry: `booked`.
    let paid = pay(
        &mut stack,
        &[bank_order(1_700_000), bank_order(1_750_000), bank_order(1_800_000)],
    )
    .await;
    let (credited_order, credited) = (paid[0].0.clone(), paid[0].1.clone());
    let (refunded_order, refunded) = (paid[1].0.clone(), paid[1].1.clone());
    let booked = paid[2].1.clone();
    let folder = tempfile::tempdir().expect("a temporary folder");
    set_statement_faults(
        &stack,
        "bank_transfer",
        json!({ "omit": [credited.clone(), refunded.clone()] }),
    )
    .await;
    let today_xml = std::fs::read_to_string(fetch_statement(&stack, "bank_transfer", folder.path()).await).unwrap();
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let database = stack.settings.database.url.expose_secret().to_string();
    assert!(
        bank_day(&store, today_xml.as_bytes(), 1_440).await.balanced(),
        "in transit today"
    );
    let tomorrow = bank_day(&store, &next_day_statement(&today_xml, "", 1), 0).await;
    assert_eq!(
        kinds(&tomorrow),
        [
            (ItemKind::MissingAtProvider, credited.clone()),
            (ItemKind::MissingAtProvider, refunded.clone())
        ]
        .into()
    );

    let listed = crate::support::gateway_command(&["carried", "list"], &database).await;
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && listing.contains(&credited) && listing.contains("2 carried payments."),
        "{listing}"
    );
    // A mistyped provider lists nothing, which read as "nothing carried": it is refused.
    let mistyped =
        crate::support::gateway_command(&["carried", "list", "--provider", "bank-transfer"], &database).await;
    assert_eq!(mistyped.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&mistyped.stderr).contains("the configured providers are: "),
        "{}",
        String::from_utf8_lossy(&mistyped.stderr)
    );
    let forget =
        |payment_id: &str, provider: &'static str, settled: &'static str, note: &'static str, extra: Vec<String>| {
            let payment_id = payment_id.to_string();
            let database = database.clone();
            async move {
                let mut args = vec![
                    "carried",
                    "forget",
                    payment_id.as_str(),
                    "--provider",
                    provider,
                    "--as",
                    settled,
                    "--note",
                    note,
                ];
                args.extend(extra.iter().map(String::as_str));
                crate::support::gateway_command(&args, &database).await
            }
        };
    let refund_day = |days_on: i64| {
        let day = today().parse::<chrono::NaiveDate>().unwrap() + chrono::Duration::days(days_on);
        vec!["--refunded-on".to_string(), day.to_string()]
    };
    let wrong_provider = forget(&credited, "vnpost_account", "credited", "ticket 42", vec![]).await;
    assert_eq!(
        wrong_provider.status.code(),
        Some(2),
        "another provider carries nothing of it"
    );
    let forgotten = forget(
        &credited,
        "bank_transfer",
        "credited",
        "booked on the 4th, ticket 42",
        vec![],
    )
    .await;
    assert!(
        forgotten.status.success(),
        "{}",
        String::from_utf8_lossy(&forgotten.stderr)
    );
    let again = forget(&credited, "bank_transfer", "credited", "again", vec![]).await;
    assert_eq!(again.status.code(), Some(2), "forgotten once");
    for (days_on, why) in [(-1, "was sent on"), (1, "after today")] {
        let refused = forget(&refunded, "bank_transfer", "refunded", "ticket 43", refund_day(days_on)).await;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(refused.status.code() == Some(2) && stderr.contains(why), "{stderr}");
    }
    let returned = forget(
        &refunded,
        "bank_transfer",
        "refunded",
        "refunded on the 5th, ticket 43",
        refund_day(0),
    )
    .await;
    assert!(
        returned.status.success(),
        "{}",
        String::from_utf8_lossy(&returned.stderr)
    );
    let result = stack
        .wait_for(
            &refunded_order,
            |m| m.status == ResultStatus::Returned,
            Duration::from_secs(20),
        )
        .await;
    assert!(result.is_final, "upstream hears that it was returned: {result:?}");
    assert!(
        result
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("refunded the payout on {}", today())),
        "the day the money came back: {result:?}"
    );

    let day_after = bank_day(&store, &next_day_statement(&today_xml, "", 2), 0).await;
    assert!(day_after.items.is_empty() && day_after.balanced(), "{day_after:?}");
    let today_again = bank_day(&store, today_xml.as_bytes(), 1_440).await;
    assert!(
        kinds(&today_again).contains(&(ItemKind::InTransit, credited.clone())),
        "{today_again:?}"
    );
    let still_forgotten = bank_day(&store, &next_day_statement(&today_xml, "", 3), 0).await;
    assert!(
        still_forgotten.items.is_empty(),
        "the day they were sent, again, does not carry them again: {still_forgotten:?}"
    );
    let shown = crate::support::gateway_command(&["orders", "show", &credited_order], &database).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!(
            "by operator {}: booked on the 4th, ticket 42",
            crate::support::OPERATOR
        )),
        "the note is in the event log, with who wrote it:\n{shown}"
    );
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&booked));

    // The refund then shows on a later statement: it is the refund a person recorded, not a
    // second return of the payment (which left that day unbalanced).
    set_statement_faults(
        &stack,
        "bank_transfer",
        json!({ "omit": [credited.clone(), refunded.clone()], "returns": [{ "reference": refunded.clone() }] }),
    )
    .await;
    let with_return = std::fs::read_to_string(fetch_statement(&stack, "bank_transfer", folder.path()).await).unwrap();
    let return_entry = entry_of(&with_return, &refunded);
    let refund_day = bank_day(&store, &next_day_statement(&today_xml, &return_entry, 4), 0).await;
    assert_eq!(
        kinds(&refund_day),
        [(ItemKind::Returned, refunded.clone())].into(),
        "{refund_day:?}"
    );
    assert!(refund_day.balanced(), "{refund_day:?}");
    let refund_day_again = bank_day(&store, &next_day_statement(&today_xml, &return_entry, 4), 0).await;
    assert!(
        refund_day_again.balanced() && kinds(&refund_day_again) == [(ItemKind::Returned, refunded.clone())].into(),
        "{refund_day_again:?}"
    );
    // A second line returning it is money back twice, as without the refund on record (the
    // person's refund was taken for every return line of the payment).
    let entry_ref = element(&return_entry, "AcctSvcrRef").to_string();
    let second_return = return_entry.replace(&entry_ref, &format!("{entry_ref}-2"));
    let twice = bank_day(&store, &next_day_statement(&today_xml, &second_return, 5), 0).await;
    assert_eq!(
        kinds(&twice),
        [(ItemKind::DuplicateOnStatement, refunded.clone())].into(),
        "{twice:?}"
    );
    stack.stop().await;
}

/// A province's payout day books every payment of it on one statement: its first bookings are
/// remembered 1,024 to a transaction (one transaction for all held SQLite's one write lock
/// against the running gateway's writer for seconds), every one of them; remembered again with
/// another day (the same payments on a later statement), none moves.
async fn the_first_bookings_of_a_province_sized_statement_are_all_remembered_and_never_moved(db: Db) {
    let run_id = gateway::demo::stack::new_run_id();
    let (settings, store) = crate::support::store_for_one_batch(db, &run_id).await;
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 12, d).expect("a day");
    let bookings = |on: u32| -> Vec<(String, i64, chrono::NaiveDate)> {
        (0..2_500)
            .map(|n| (format!("pay-{n:05}"), 1_000_000 + n, day(on)))
            .collect()
    };
    store
        .remember_first_bookings("bank_transfer", &bookings(3))
        .await
        .unwrap();
    store
        .remember_first_bookings("bank_transfer", &bookings(5))
        .await
        .unwrap();

    let pool = sqlx::AnyPool::connect(settings.database.url.expose_secret())
        .await
        .unwrap();
    let (rows, first, last): (i64, String, String) = sqlx::query_as(
        "SELECT COUNT(*), MIN(booked_on), MAX(booked_on) FROM reconciliation_items WHERE kind = 'booked'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (rows, first.as_str(), last.as_str()),
        (2_500, "2026-12-03", "2026-12-03")
    );
    pool.close().await;
    crate::support::drop_database(db, &run_id).await;
}

/// A carried payment whose return on a later statement the store refuses (its reference is
/// remembered for another payment's return) stays carried: still owed a booking, and still
/// there for `carried forget`. (Before, the run settled it on the match's word, before the
/// return was written, and then the store refused the return: no longer expected, never
/// returned.)
async fn a_carried_payment_whose_return_the_store_refuses_stays_carried(db: Db) {
    use gateway::reconcile::{CarryOver, LineKind, ParsedStatement, StatementLine};
    let mut stack = TestStack::start(db).await;
    let paid = pay(&mut stack, &[bank_order(1_500_000), bank_order(1_600_000)]).await;
    let (returned, carried) = (paid[0].clone(), paid[1].clone());
    let store = Store::connect(&stack.settings.database).await.unwrap();
    let first = store
        .apply_return(&return_of(&returned.1, returned.2, "RTN-SHARED"))
        .await
        .unwrap();
    assert!(matches!(first, ReturnOutcome::Applied { .. }), "{first:?}");
    let today: chrono::NaiveDate = today().parse().unwrap();
    let carry = CarryOver {
        carry: vec![(carried.1.clone(), i64::try_from(carried.2).unwrap())],
        ..CarryOver::default()
    };
    store
        .remember_carried("bank_transfer", &today.to_string(), &carry)
        .await
        .unwrap();

    let tomorrow = today + chrono::Duration::days(1);
    let statement = ParsedStatement {
        date: Some(tomorrow),
        lines: vec![StatementLine {
            entry_ref: "RTN-SHARED".into(),
            booked_as: None,
            reference: carried.1.clone(),
            other_reference: None,
            amount: carried.2,
            booked_on: tomorrow,
            kind: LineKind::Return {
                reason_code: "AC04".into(),
            },
        }],
        ..ParsedStatement::default()
    };
    let run = gateway::reconcile::reconcile_parsed(&store, "bank_transfer", statement, None, 0)
        .await
        .unwrap();
    let kinds: Vec<_> = run.items.iter().map(|item| item.kind).collect();
    assert_eq!(
        kinds,
        [gateway::reconcile::ItemKind::ReturnNeedsReview],
        "{:?}",
        run.items
    );
    let still: Vec<String> = store
        .carried(Some("bank_transfer"))
        .await
        .unwrap()
        .into_iter()
        .map(|payment| payment.payment_id)
        .collect();
    assert_eq!(still, std::slice::from_ref(&carried.1), "still owed a booking");
    stack.stop().await;
}
