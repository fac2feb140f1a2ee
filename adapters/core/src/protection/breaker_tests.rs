//! The breaker's state machine as a table: each row is a sentence, a script and what follows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::*;

/// 3 failures in a row, or half of the last 6 calls, open it for 1 s; 1 probe when half-open.
fn settings() -> BreakerSettings {
    BreakerSettings::from(&ProtectionConfig {
        breaker_consecutive_failures: 3,
        breaker_failure_ratio: 0.5,
        breaker_window: 6,
        breaker_open_ms: 1_000,
        breaker_half_open_probes: 1,
        ..ProtectionConfig::default()
    })
}

/// One step of a script, at a time in milliseconds since the script began.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Calls are admitted and answer at once, `'S'` succeeded and `'F'` failed, one per char.
    Calls(u64, &'static str),
    /// A call is admitted and is still out.
    Hold(u64),
    /// The oldest call still out answers.
    Answer(u64, bool),
    /// The oldest call still out is cancelled: its admission is dropped.
    Cancel,
}

/// What the next call is told, at the row's `then_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Next {
    Admitted,
    Refused { retry_after_ms: u64 },
}

use Next::*;
use Step::*;

struct Row {
    sentence: &'static str,
    script: &'static [Step],
    then_ms: u64,
    next: Next,
    /// The state after the next call was admitted or refused.
    state: BreakerState,
}

// One row per line reads as a table; rustfmt would break each into seven.
#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row { sentence: "a fresh breaker admits calls", script: &[], then_ms: 0, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "two failures in a row leave it closed", script: &[Calls(0, "FF")], then_ms: 0, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "three failures in a row open it", script: &[Calls(0, "FFF")], then_ms: 0, next: Refused { retry_after_ms: 1_000 }, state: BreakerState::Open },
    Row { sentence: "a success resets the failures in a row", script: &[Calls(0, "FFSFF")], then_ms: 0, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "half of a full window failing opens it", script: &[Calls(0, "FSFSFS")], then_ms: 0, next: Refused { retry_after_ms: 1_000 }, state: BreakerState::Open },
    Row { sentence: "the ratio waits for a full window", script: &[Calls(0, "FSFSF")], then_ms: 0, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "failures older than the window no longer count", script: &[Calls(0, "FFSSSSSFFS")], then_ms: 0, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "an open breaker refuses with the time left until half-open", script: &[Calls(0, "FFF")], then_ms: 400, next: Refused { retry_after_ms: 600 }, state: BreakerState::Open },
    Row { sentence: "after the open time it admits a probe", script: &[Calls(0, "FFF")], then_ms: 1_000, next: Admitted, state: BreakerState::HalfOpen },
    Row { sentence: "while the probe is out it refuses the others", script: &[Calls(0, "FFF"), Hold(1_000)], then_ms: 1_000, next: Refused { retry_after_ms: 1_000 }, state: BreakerState::HalfOpen },
    Row { sentence: "a successful probe closes it", script: &[Calls(0, "FFF"), Hold(1_000), Answer(1_100, true)], then_ms: 1_100, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "a closed-again breaker starts counting afresh", script: &[Calls(0, "FFF"), Hold(1_000), Answer(1_100, true), Calls(1_100, "FF")], then_ms: 1_100, next: Admitted, state: BreakerState::Closed },
    Row { sentence: "a failed probe re-opens it for the whole open time", script: &[Calls(0, "FFF"), Hold(1_000), Answer(1_100, false)], then_ms: 1_100, next: Refused { retry_after_ms: 1_000 }, state: BreakerState::Open },
    Row { sentence: "a cancelled probe frees its slot for another", script: &[Calls(0, "FFF"), Hold(1_000), Cancel], then_ms: 1_000, next: Admitted, state: BreakerState::HalfOpen },
    Row { sentence: "a cancelled call does not reset the failures in a row", script: &[Calls(0, "FF"), Hold(0), Cancel, Calls(0, "F")], then_ms: 0, next: Refused { retry_after_ms: 1_000 }, state: BreakerState::Open },
    Row { sentence: "a success from before the breaker opened does not close it", script: &[Hold(0), Calls(0, "FFF"), Answer(10, true)], then_ms: 10, next: Refused { retry_after_ms: 990 }, state: BreakerState::Open },
    Row { sentence: "a failure from before half-open does not re-open it", script: &[Hold(0), Calls(0, "FFF"), Hold(1_000), Answer(1_100, false)], then_ms: 1_100, next: Refused { retry_after_ms: 1_000 }, state: BreakerState::HalfOpen },
];

fn run(script: &[Step], start: Instant) -> Breaker {
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut breaker = Breaker::new(settings());
    let mut out: VecDeque<Ticket> = VecDeque::new();
    for step in script {
        match *step {
            Calls(ms, outcomes) => {
                for outcome in outcomes.chars() {
                    let ticket = breaker.admit(at(ms)).expect("the script's calls are admitted");
                    breaker.record(ticket, outcome == 'S', at(ms));
                }
            }
            Hold(ms) => out.push_back(breaker.admit(at(ms)).expect("the script's held call is admitted")),
            Answer(ms, succeeded) => {
                let ticket = out.pop_front().expect("a call is out to answer");
                breaker.record(ticket, succeeded, at(ms));
            }
            Cancel => breaker.cancel(out.pop_front().expect("a call is out to cancel")),
        }
    }
    breaker
}

#[test]
fn every_row_of_the_breaker_table_holds() {
    let start = Instant::now();
    for row in ROWS {
        let mut breaker = run(row.script, start);
        let next = match breaker.admit(start + Duration::from_millis(row.then_ms)) {
            Ok(_) => Admitted,
            Err(refusal) => {
                assert_eq!(
                    refusal.state,
                    breaker.state(),
                    "{}: the refusal names the state",
                    row.sentence
                );
                Refused {
                    retry_after_ms: refusal.retry_after.as_millis() as u64,
                }
            }
        };
        assert_eq!((next, breaker.state()), (row.next, row.state), "{}", row.sentence);
    }
}

#[test]
fn each_transition_bumps_the_generation_once() {
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut breaker = run(&[Calls(0, "FFF")], start);
    assert_eq!((breaker.state(), breaker.generation()), (BreakerState::Open, 1));
    breaker.tick(at(999));
    assert_eq!((breaker.state(), breaker.generation()), (BreakerState::Open, 1));
    breaker.tick(at(1_000));
    assert_eq!((breaker.state(), breaker.generation()), (BreakerState::HalfOpen, 2));
    let probe = breaker.admit(at(1_000)).expect("a probe is admitted");
    breaker.record(probe, true, at(1_001));
    assert_eq!((breaker.state(), breaker.generation()), (BreakerState::Closed, 3));
}

#[test]
fn zero_settings_are_taken_as_one_rather_than_disabling_the_breaker() {
    let mut breaker = Breaker::new(BreakerSettings::from(&ProtectionConfig {
        breaker_consecutive_failures: 0,
        breaker_window: 0,
        breaker_failure_ratio: 0.0,
        breaker_open_ms: 0,
        breaker_half_open_probes: 0,
        ..ProtectionConfig::default()
    }));
    let now = Instant::now();
    let ticket = breaker.admit(now).expect("closed");
    breaker.record(ticket, false, now);
    assert_eq!(breaker.state(), BreakerState::Open);
    let later = now + Duration::from_millis(1);
    assert!(breaker.admit(later).is_ok(), "one probe after 1 ms");
    assert!(breaker.admit(later).is_err(), "and only one");
}
