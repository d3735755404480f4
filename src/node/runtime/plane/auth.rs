//! Frames that fail authentication, or replay old ones, go to the admin log: counted by
//! the beacon and the MSL core and dropped (they change nothing), and said at most once per
//! [`AUTH_NOTICE_EVERY`] per link, so a flood of forgeries cannot flood the log. These are
//! reports, not decisions: `last_decision` and the decision count stay as they were.

use std::time::Duration;

use crate::msl::DropCounters;
use crate::role::{Notice, Severity};

use super::Plane;

/// The shortest interval between two notices about the same link.
pub const AUTH_NOTICE_EVERY: Duration = Duration::from_secs(10);

/// The LAN's state packets whose tag does not verify (or is missing, with a key).
pub const LAN_AUTH_TEXT: &str = "state packets failing authentication on the LAN: dropped";
/// MSL frames whose tag does not verify.
pub const MSL_AUTH_TEXT: &str =
    "mirrored server link frames failing authentication or replayed: dropped";

/// What was last said, per link.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AuthWatch {
    /// The beacon's `bad_auth` when the LAN was last reported.
    lan_count: u64,
    lan_at: Option<Duration>,
    /// MSL drops (bad tag, replayed) when the MSL was last reported.
    msl_count: u64,
    msl_at: Option<Duration>,
}

fn due(last: Option<Duration>, now: Duration) -> bool {
    last.is_none_or(|t| now >= t + AUTH_NOTICE_EVERY)
}

impl Plane {
    /// Reports new LAN authentication failures (called every tick). Replays are counted
    /// (status) but not reported: a broadcast state packet reaching two adapters on one
    /// segment is a "replay" too, and the beacon's window already made them harmless.
    pub(super) fn watch_lan_auth(&mut self, now: Duration) {
        let d = self.beacon.counters().dropped;
        if d.bad_auth <= self.auth.lan_count || !due(self.auth.lan_at, now) {
            return;
        }
        let evidence = format!(
            "{} new, {} since start",
            d.bad_auth - self.auth.lan_count,
            d.bad_auth
        );
        self.auth.lan_count = d.bad_auth;
        self.auth.lan_at = Some(now);
        self.report(now, LAN_AUTH_TEXT, evidence);
    }

    /// The MSL core's drop counters (every tick, from the driver's status): new
    /// authentication failures or replays in a session are reported too (the core's
    /// `AuthFailing` event covers the time before one).
    pub fn msl_drops(&mut self, now: Duration, d: &DropCounters) {
        let count = d.bad_auth + d.replayed;
        if count <= self.auth.msl_count || !due(self.auth.msl_at, now) {
            return;
        }
        let evidence = format!(
            "{} new; since start {} failed authentication, {} replayed",
            count - self.auth.msl_count,
            d.bad_auth,
            d.replayed
        );
        self.auth.msl_count = count;
        self.auth.msl_at = Some(now);
        self.report(now, MSL_AUTH_TEXT, evidence);
    }

    /// The MSL core says frames fail authentication (`count` so far).
    pub(super) fn msl_auth_failing(&mut self, now: Duration, count: u64) {
        if !due(self.auth.msl_at, now) {
            return;
        }
        self.auth.msl_at = Some(now);
        let ev = format!("{count} dropped so far; check that both servers have the same key");
        self.report(now, MSL_AUTH_TEXT, ev);
    }

    /// A warning for the console and the log that is not a decision.
    fn report(&mut self, now: Duration, text: &'static str, evidence: String) {
        let n = Notice {
            at: now,
            severity: Severity::Warning,
            text,
            evidence,
        };
        self.record(n);
    }
}
