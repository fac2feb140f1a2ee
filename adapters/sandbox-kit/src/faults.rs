//! Fault injection for one emulated provider: random rates for soak runs and one-shot counters
//! that make a test's fault happen exactly when the test wants it.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The faults one provider emulation injects. `Default` injects none; every field may be left
/// out of a JSON body (`PUT /sandbox/faults/{provider}`) and keeps its default.
///
/// Rates are probabilities in `0.0..=1.0` rolled per request or per callback; values outside
/// that range are clamped. Counters are consumed before rates are rolled, so a test that sets
/// a counter gets its fault on exactly the next matching event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Delay added before every provider answer, to emulate a slow provider.
    pub latency_ms: u64,
    /// Share of submits answered with HTTP 503 without booking anything.
    pub error_5xx_rate: f64,
    /// Share of submits answered with HTTP 429 without booking anything.
    pub error_429_rate: f64,
    /// Share of submits that book the credit and then hold the answer for `hang_ms`, so the
    /// client times out without knowing the money left: the "unknown outcome" case.
    pub timeout_after_booking_rate: f64,
    /// Share of callbacks never sent, so the gateway must fall back to a status inquiry.
    pub lost_callback_rate: f64,
    /// Share of callbacks sent twice with the same event id, to test replay handling (each
    /// delivery is stamped and signed when it goes out).
    pub duplicate_callback_rate: f64,
    /// Delay between a transfer completing and its callback being sent; the callback is
    /// stamped when sent, so a delay longer than the gateway's tolerance still arrives fresh.
    pub callback_delay_ms: u64,
    /// How long a "timeout after booking" holds the answer; longer than any client timeout.
    pub hang_ms: u64,
    /// The next N submits answer 503 without booking (consumed one per submit).
    pub fail_next_submits: u32,
    /// The next N submits that book a credit then hang for `hang_ms` before answering.
    pub timeout_after_booking_next: u32,
    /// The next N callbacks are lost.
    pub lose_next_callbacks: u32,
    /// The next N callbacks are delivered twice.
    pub duplicate_next_callbacks: u32,
    /// The next N submits are answered "duplicate request in flight" (the wallet style's
    /// HTTP 422 / `resultCode` 7000) without booking anything. Emulations without such an
    /// answer ignore it.
    pub duplicate_in_flight_next: u32,
    /// Time between booking a credit and completing it (when the callback goes out).
    pub complete_after_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_5xx_rate: 0.0,
            error_429_rate: 0.0,
            timeout_after_booking_rate: 0.0,
            lost_callback_rate: 0.0,
            duplicate_callback_rate: 0.0,
            callback_delay_ms: 0,
            hang_ms: 15_000,
            fail_next_submits: 0,
            timeout_after_booking_next: 0,
            lose_next_callbacks: 0,
            duplicate_next_callbacks: 0,
            duplicate_in_flight_next: 0,
            complete_after_ms: 50,
        }
    }
}

/// Why a submit is refused before anything is booked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitRejection {
    /// Answer HTTP 503: the provider is unavailable.
    Unavailable,
    /// Answer HTTP 429: the client is over its rate limit.
    RateLimited,
}

/// The live faults of one provider, shared by its handlers; each `take_*` consumes a counter
/// or rolls a rate under one lock, so concurrent requests never both consume the same count.
#[derive(Debug, Default)]
pub struct FaultState {
    faults: Mutex<Faults>,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        Self {
            faults: Mutex::new(faults),
        }
    }

    /// A copy of the current faults.
    pub fn snapshot(&self) -> Faults {
        self.lock().clone()
    }

    /// Replaces every fault of this provider, counters included.
    pub fn replace(&self, faults: Faults) {
        *self.lock() = faults;
    }

    /// Delay to add before answering any request.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.lock().latency_ms)
    }

    /// Delay between a transfer completing and its callback going out.
    pub fn callback_delay(&self) -> Duration {
        Duration::from_millis(self.lock().callback_delay_ms)
    }

    /// How long a timeout after booking holds the answer.
    pub fn hang(&self) -> Duration {
        Duration::from_millis(self.lock().hang_ms)
    }

    /// Time between booking and completion.
    pub fn complete_after(&self) -> Duration {
        Duration::from_millis(self.lock().complete_after_ms)
    }

    /// Whether this submit fails with 503 without booking: consumes `fail_next_submits` or
    /// rolls `error_5xx_rate`.
    pub fn take_fail_submit(&self) -> bool {
        let mut faults = self.lock();
        take_counter(&mut faults.fail_next_submits) || roll(faults.error_5xx_rate)
    }

    /// Whether (and how) this submit is refused before booking: 503 first, then 429.
    pub fn take_submit_rejection(&self) -> Option<SubmitRejection> {
        if self.take_fail_submit() {
            return Some(SubmitRejection::Unavailable);
        }
        roll(self.lock().error_429_rate).then_some(SubmitRejection::RateLimited)
    }

    /// Whether this freshly booked submit hangs for [`FaultState::hang`] before answering.
    pub fn take_timeout_after_booking(&self) -> bool {
        let mut faults = self.lock();
        take_counter(&mut faults.timeout_after_booking_next) || roll(faults.timeout_after_booking_rate)
    }

    /// Whether this submit is answered "duplicate request in flight" without booking:
    /// consumes `duplicate_in_flight_next`.
    pub fn take_duplicate_in_flight(&self) -> bool {
        take_counter(&mut self.lock().duplicate_in_flight_next)
    }

    /// Whether this callback is lost (never sent).
    pub fn take_lost_callback(&self) -> bool {
        let mut faults = self.lock();
        take_counter(&mut faults.lose_next_callbacks) || roll(faults.lost_callback_rate)
    }

    /// Whether this callback is delivered twice.
    pub fn take_duplicate_callback(&self) -> bool {
        let mut faults = self.lock();
        take_counter(&mut faults.duplicate_next_callbacks) || roll(faults.duplicate_callback_rate)
    }

    fn lock(&self) -> MutexGuard<'_, Faults> {
        // A panic while holding this lock leaves plain data behind, still usable.
        self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Decrements a one-shot counter; true if it was positive.
fn take_counter(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

/// True with probability `rate`, clamped to `0.0..=1.0` (NaN counts as 0).
fn roll(rate: f64) -> bool {
    if rate.is_nan() || rate <= 0.0 {
        false
    } else if rate >= 1.0 {
        true
    } else {
        rand::random_bool(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_faults_inject_nothing() {
        let state = FaultState::default();
        for _ in 0..100 {
            assert_eq!(state.take_submit_rejection(), None);
            assert!(!state.take_timeout_after_booking());
            assert!(!state.take_lost_callback());
            assert!(!state.take_duplicate_callback());
            assert!(!state.take_duplicate_in_flight());
        }
        assert_eq!(state.hang(), Duration::from_millis(15_000));
        assert_eq!(state.complete_after(), Duration::from_millis(50));
    }

    #[test]
    fn fail_next_submits_fires_exactly_that_many_times() {
        let state = FaultState::new(Faults {
            fail_next_submits: 2,
            ..Faults::default()
        });
        assert_eq!(state.take_submit_rejection(), Some(SubmitRejection::Unavailable));
        assert_eq!(state.take_submit_rejection(), Some(SubmitRejection::Unavailable));
        assert_eq!(state.take_submit_rejection(), None);
        assert_eq!(state.snapshot().fail_next_submits, 0);
    }

    #[test]
    fn callback_counters_are_consumed_one_per_callback() {
        let state = FaultState::new(Faults {
            lose_next_callbacks: 1,
            duplicate_next_callbacks: 1,
            timeout_after_booking_next: 1,
            ..Faults::default()
        });
        assert!(state.take_lost_callback());
        assert!(!state.take_lost_callback());
        assert!(state.take_duplicate_callback());
        assert!(!state.take_duplicate_callback());
        assert!(state.take_timeout_after_booking());
        assert!(!state.take_timeout_after_booking());
    }

    #[test]
    fn duplicate_in_flight_next_fires_exactly_that_many_times() {
        let faults: Faults = serde_json::from_str(r#"{"duplicate_in_flight_next":2}"#).expect("valid faults JSON");
        let state = FaultState::new(faults);
        assert!(state.take_duplicate_in_flight());
        assert!(state.take_duplicate_in_flight());
        assert!(!state.take_duplicate_in_flight());
        assert_eq!(state.snapshot().duplicate_in_flight_next, 0);
        // It is independent of the other submit faults.
        assert_eq!(state.take_submit_rejection(), None);
    }

    #[test]
    fn certain_rates_always_fire_and_out_of_range_rates_are_clamped() {
        let state = FaultState::new(Faults {
            error_429_rate: 7.0,
            lost_callback_rate: -1.0,
            duplicate_callback_rate: f64::NAN,
            ..Faults::default()
        });
        for _ in 0..20 {
            assert_eq!(state.take_submit_rejection(), Some(SubmitRejection::RateLimited));
            assert!(!state.take_lost_callback());
            assert!(!state.take_duplicate_callback());
        }
    }

    #[test]
    fn partial_json_keeps_the_other_defaults() {
        let faults: Faults =
            serde_json::from_str(r#"{"timeout_after_booking_next":1,"hang_ms":800}"#).expect("valid faults JSON");
        assert_eq!(faults.timeout_after_booking_next, 1);
        assert_eq!(faults.hang_ms, 800);
        assert_eq!(faults.complete_after_ms, 50);
        assert!(serde_json::from_str::<Faults>(r#"{"hang":1}"#).is_err());
    }
}
