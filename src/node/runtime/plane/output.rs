//! [`Plane`]'s outputs: what a driver drains after each call.
//!
//! | output | method |
//! |---|---|
//! | MSL control messages | [`Plane::poll_msl_message`] |
//! | the handshake's announcement, when it changed | [`Plane::poll_announcement`] |
//! | notices | [`Plane::poll_notice`] ([`Plane::notify`] queues one) |
//! | LAN frames due | [`Plane::transmit_due`], [`Plane::transmit_final_round`] |

use std::time::Duration;

use crate::msl::{Announcement, Priority};
use crate::role::Notice;

use super::{Plane, MAX_NOTICES};

impl Plane {
    /// A notice for the console, the log file ([`Plane::poll_notice`]) and the status.
    pub fn notify(&mut self, n: Notice) {
        let at = n.at;
        let line = self.record(n);
        self.last_decision = Some((line, at));
        self.decisions += 1;
    }

    /// Keeps `n`'s line among the recent notices and queues it for the console and the
    /// log; returns the line. A decision ([`Plane::notify`]) or a report.
    pub(super) fn record(&mut self, n: Notice) -> String {
        let line = if n.evidence.is_empty() {
            n.text.to_string()
        } else {
            format!("{} ({})", n.text, n.evidence)
        };
        if self.notices.len() >= MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(line.clone());
        self.notices_out.push_back(n);
        line
    }

    // ---- outputs ----

    /// The next MSL message to send (control class today), oldest first. A driver that
    /// cannot queue it counts it in [`Plane::msl_send_errors`].
    pub fn poll_msl_message(&mut self) -> Option<(Priority, Vec<u8>)> {
        self.msl_out.pop_front()
    }

    /// What the MSL handshake should announce (the role machine's current role, flags and
    /// history), when it changed since the last call: the driver passes it to
    /// [`Msl::set_announcement`](crate::msl::Msl::set_announcement), so a later session
    /// (a reconnect, a restarted peer) hears the current role, not the one at start.
    /// `tracked_since` is the configured one (the journal will keep it current).
    pub fn poll_announcement(&mut self) -> Option<Announcement> {
        let a = Announcement {
            role: self.role.role(),
            flags: self.role.flags(),
            priority: self.priority,
            tracked_since: self.role.config().tracked_since,
            history: self.role.history().iter().copied().collect(),
        };
        if self.announced.as_ref() == Some(&a) {
            return None;
        }
        self.announced = Some(a.clone());
        Some(a)
    }

    /// The next notice to write (console, log file), oldest first. Its `at` is plane time;
    /// the driver adds the wall-clock time.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices_out.pop_front()
    }

    /// Hands every LAN frame due at `now` to `send(adapter position, frame)`: the state
    /// packets (with fresh local state), then the health probes. A new role or flags
    /// (a takeover, a step-down) goes out on every adapter at once rather than at the next
    /// interval: clients' routers and the peer learn it up to 5 ms sooner. `buf` must hold
    /// [`MAX_FRAME_LEN`](crate::beacon::MAX_FRAME_LEN) bytes.
    pub fn transmit_due(
        &mut self,
        now: Duration,
        buf: &mut [u8],
        mut send: impl FnMut(usize, &[u8]),
    ) {
        let role = Some((self.role.role(), self.role.flags()));
        let changed = self.round_role.is_some() && self.round_role != role;
        // Back from a stall and asking the peer: no state packets until it answers
        // (`RoleMachine::stall_asking`); the round then goes out at once.
        let hold = self.role.stall_asking();
        if !hold && (changed || self.beacon.poll_timeout().is_some_and(|t| t <= now)) {
            self.refresh_local(now);
            self.round_role = role;
            // Each adapter's next packet is then due an interval after its own schedule:
            // never more than two intervals apart.
            let until = if changed {
                now + self.beacon.config().interval
            } else {
                now
            };
            while let Some((index, len)) = self.beacon.poll_transmit(until, buf) {
                if let Some(f) = buf.get(..len) {
                    send(index as usize, f);
                }
            }
        }
        while let Some(p) = self.health.poll_probe(now) {
            send(p.adapter, &p.frame);
        }
    }

    /// Hands one state packet per adapter to `send` now, whatever the schedule (the last
    /// round of a stopping server: the peer sees the final role at once).
    pub fn transmit_final_round(
        &mut self,
        now: Duration,
        buf: &mut [u8],
        mut send: impl FnMut(usize, &[u8]),
    ) {
        self.refresh_local(now);
        // The beacon sends each adapter's packet when due; an interval from now all are.
        let later = now + self.beacon.config().interval;
        while let Some((index, len)) = self.beacon.poll_transmit(later, buf) {
            if let Some(f) = buf.get(..len) {
                send(index as usize, f);
            }
        }
    }
}
