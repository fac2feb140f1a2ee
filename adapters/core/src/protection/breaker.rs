//! The circuit breaker's state machine, free of clocks and locks: every decision is given `now`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::config::ProtectionConfig;

/// Where a provider's circuit breaker stands, for metrics and dashboards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; failures are being counted.
    Closed,
    /// The open time is over; a few probes go through to learn whether the provider is back.
    HalfOpen,
    /// The provider failed too often; calls are refused without being sent.
    Open,
}

impl BreakerState {
    /// The `to` label of `gateway_provider_breaker_transitions_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }

    /// The value of the `gateway_provider_breaker_state` gauge: 0 closed, 1 half-open, 2 open,
    /// so that "above zero" on a dashboard means "not healthy".
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

/// The breaker's thresholds, made sound: zeros become 1 and the ratio stays within (0, 1].
#[derive(Clone, Debug)]
pub(crate) struct BreakerSettings {
    consecutive_failures: u32,
    failure_ratio: f64,
    window: usize,
    open_for: Duration,
    half_open_probes: u32,
}

impl From<&ProtectionConfig> for BreakerSettings {
    fn from(config: &ProtectionConfig) -> Self {
        let failure_ratio = config.breaker_failure_ratio;
        Self {
            consecutive_failures: config.breaker_consecutive_failures.max(1),
            failure_ratio: if failure_ratio > 0.0 {
                failure_ratio.min(1.0)
            } else {
                1.0
            },
            window: (config.breaker_window.max(1)) as usize,
            open_for: config.breaker_open().max(Duration::from_millis(1)),
            half_open_probes: config.breaker_half_open_probes.max(1),
        }
    }
}

/// The permission to make one call, given by [`Breaker::admit`]. It names the state it was
/// given in, so an answer that arrives after the breaker moved on cannot steer the new state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    generation: u64,
    probe: bool,
}

/// Why a call was refused, and when asking again makes sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// `Open` or `HalfOpen` (all probes are out).
    pub state: BreakerState,
    /// Until half-open when open; the open time when half-open, since a failing probe
    /// re-opens the breaker for that long.
    pub retry_after: Duration,
}

#[derive(Clone, Debug)]
enum Phase {
    Closed {
        consecutive_failures: u32,
        /// The outcomes of the last `window` calls, oldest first; `true` is a failure.
        recent_failed: VecDeque<bool>,
        recent_failures: usize,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        probes_out: u32,
    },
}

/// One provider's circuit breaker. Transitions: closed → open (consecutive failures or failure
/// ratio), open → half-open (open time over), half-open → closed (a probe succeeded),
/// half-open → open (a probe failed). Nothing else.
#[derive(Clone, Debug)]
pub(crate) struct Breaker {
    settings: BreakerSettings,
    phase: Phase,
    /// Bumped on every transition; tickets from an older generation are ignored.
    generation: u64,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        let phase = Self::closed(&settings);
        Self {
            settings,
            phase,
            generation: 0,
        }
    }

    fn closed(settings: &BreakerSettings) -> Phase {
        Phase::Closed {
            consecutive_failures: 0,
            recent_failed: VecDeque::with_capacity(settings.window),
            recent_failures: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// How long calls will still be refused unasked: the time left until half-open while
    /// open, `None` in any other state. Call [`Breaker::tick`] first.
    pub fn open_for(&self, now: Instant) -> Option<Duration> {
        match self.phase {
            Phase::Open { until } => Some(until.saturating_duration_since(now)),
            Phase::Closed { .. } | Phase::HalfOpen { .. } => None,
        }
    }

    /// Counts transitions; a caller compares it before and after to publish them.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether `ticket` was given in the current state, i.e. its answer would still count.
    pub fn is_current(&self, ticket: Ticket) -> bool {
        ticket.generation == self.generation
    }

    fn move_to(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
    }

    /// Moves an open breaker to half-open once its open time is over.
    pub fn tick(&mut self, now: Instant) {
        if let Phase::Open { until } = self.phase {
            if now >= until {
                self.move_to(Phase::HalfOpen { probes_out: 0 });
            }
        }
    }

    /// Lets one call through, or says why not and for how long.
    pub fn admit(&mut self, now: Instant) -> Result<Ticket, Refusal> {
        self.tick(now);
        let generation = self.generation;
        match &mut self.phase {
            Phase::Closed { .. } => Ok(Ticket {
                generation,
                probe: false,
            }),
            Phase::HalfOpen { probes_out } if *probes_out < self.settings.half_open_probes => {
                *probes_out += 1;
                Ok(Ticket {
                    generation,
                    probe: true,
                })
            }
            Phase::HalfOpen { .. } => Err(Refusal {
                state: BreakerState::HalfOpen,
                retry_after: self.settings.open_for,
            }),
            Phase::Open { until } => Err(Refusal {
                state: BreakerState::Open,
                retry_after: until.saturating_duration_since(now),
            }),
        }
    }

    /// Takes the answer of a call this breaker admitted.
    pub fn record(&mut self, ticket: Ticket, succeeded: bool, now: Instant) {
        if !self.is_current(ticket) {
            return;
        }
        let settings = &self.settings;
        match &mut self.phase {
            Phase::Closed {
                consecutive_failures,
                recent_failed,
                recent_failures,
            } => {
                if recent_failed.len() == settings.window && recent_failed.pop_front() == Some(true) {
                    *recent_failures -= 1;
                }
                recent_failed.push_back(!succeeded);
                if succeeded {
                    *consecutive_failures = 0;
                } else {
                    *consecutive_failures += 1;
                    *recent_failures += 1;
                }
                let window_full = recent_failed.len() == settings.window;
                let ratio = *recent_failures as f64 / recent_failed.len() as f64;
                if *consecutive_failures >= settings.consecutive_failures
                    || (window_full && ratio >= settings.failure_ratio)
                {
                    self.open(now);
                }
            }
            Phase::HalfOpen { .. } if ticket.probe => {
                if succeeded {
                    let closed = Self::closed(&self.settings);
                    self.move_to(closed);
                } else {
                    self.open(now);
                }
            }
            // Only probes are admitted while half-open, and nothing while open.
            Phase::HalfOpen { .. } | Phase::Open { .. } => {}
        }
    }

    /// Forgets a call that was admitted but never answered (cancelled): it counts neither way,
    /// but frees its probe slot so a half-open breaker can probe again.
    pub fn cancel(&mut self, ticket: Ticket) {
        if !self.is_current(ticket) {
            return;
        }
        if let Phase::HalfOpen { probes_out } = &mut self.phase {
            if ticket.probe {
                *probes_out = probes_out.saturating_sub(1);
            }
        }
    }

    fn open(&mut self, now: Instant) {
        let until = now + self.settings.open_for;
        self.move_to(Phase::Open { until });
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
