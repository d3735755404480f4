//! Admin notices: one line per decision, in SFT III's wording, with the evidence.

use core::fmt;
use core::time::Duration;

/// How serious a notice is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Routine (a resync finished, a peer found).
    Info,
    /// The pair lost protection or a decision was deferred.
    Warning,
    /// Service stopped, or the operator must act.
    Critical,
}

impl Severity {
    /// A short upper-case name for the console.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// One decision for the console and the log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// When (the driver's time, as passed to the machine).
    pub at: Duration,
    /// How serious.
    pub severity: Severity,
    /// The decision, one line, SFT III style ("secondary server is down; still the primary
    /// server").
    pub text: &'static str,
    /// Why: silent paths and their ages, adapter scores, generations (may be empty).
    pub evidence: String,
}

impl fmt::Display for Notice {
    /// `[   12.345] WARNING secondary server is down; still the primary server (evidence)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.at.as_millis();
        write!(
            f,
            "[{:>6}.{:03}] {} {}",
            ms / 1000,
            ms % 1000,
            self.severity.name(),
            self.text
        )?;
        if !self.evidence.is_empty() {
            write!(f, " ({})", self.evidence)?;
        }
        Ok(())
    }
}

/// The notice texts (tests and log readers match on them).
pub mod text {
    /// Scenario 2, primary side.
    pub const SECONDARY_DOWN: &str = "secondary server is down; still the primary server";
    /// Scenario 2 variant: the secondary's process restarted.
    pub const SECONDARY_RESTARTED: &str = "secondary server restarted; still the primary server";
    /// Scenario 3, primary side.
    pub const MSL_FAILED_PRIMARY: &str =
        "mirrored server link failed; secondary still active: still the primary server";
    /// Scenario 3, secondary side.
    pub const MSL_FAILED_SECONDARY: &str =
        "mirrored server link failed; primary still active: secondary shutting down";
    /// Scenario 3 with a peer that does not serve: nobody to take over from safely.
    pub const MSL_FAILED_WAITING: &str =
        "mirrored server link failed; primary not serving: waiting";
    /// Scenario 1.
    pub const PRIMARY_DOWN: &str = "primary server is down; now the primary server";
    /// Scenario 1 with the primary's process restarted (it serves no more).
    pub const PRIMARY_RESTARTED: &str = "primary server restarted; now the primary server";
    /// Scenario 5.
    pub const ISOLATED: &str = "primary server is down; isolated: not promoting";
    /// Scenario 8.
    pub const DISK_INCONSISTENT: &str =
        "primary server is down; disk inconsistent: not serving; waiting for the operator";
    /// A starting server with an inconsistent volume and no primary.
    pub const DISK_INCONSISTENT_START: &str = "disk inconsistent: not serving";
    /// Scenario 4, primary side, when asking the secondary.
    pub const SWITCHING_OVER: &str =
        "LAN adapter failure: secondary more functional: switching over";
    /// Scenario 4, primary side, once released.
    pub const SWITCHED_OVER: &str =
        "switched over to the secondary server; restarting as the secondary server";
    /// A mirrored primary starved past the stall fence.
    pub const STALLED: &str =
        "process stalled: the secondary may have taken over: restarting as the secondary server";
    /// A mirrored primary starved past the stall fence, with the MSL up: it asks first.
    pub const STALLED_ASKING: &str =
        "process stalled: service paused until the secondary server confirms it did not take over";
    /// The secondary answered that it is still the secondary.
    pub const STALL_CLEARED: &str =
        "secondary server did not take over during the stall: service resumed; still the primary server";
    /// Any other server starved past the stall fence.
    pub const STALLED_DEAF: &str =
        "process stalled: silence not counted until the peer can be heard";
    /// Scenario 4, the secondary did not accept in time.
    pub const SWITCHOVER_FAILED: &str =
        "switch-over not accepted by the secondary; still the primary server";
    /// Scenario 4, secondary side, refusing.
    pub const SWITCHOVER_REFUSED: &str = "switch-over requested; cannot take over: refused";
    /// Scenario 4, secondary side, taking over.
    pub const TAKING_OVER: &str = "primary server released; now the primary server";
    /// Secondary: it had accepted a switch-over, the MSL broke before the release arrived,
    /// and the LAN shows the primary no longer serving.
    pub const TAKING_OVER_LINK_DOWN: &str =
        "primary server stopped serving for the switch-over; mirrored server link down: now the primary server";
    /// Scenario 7, not serving.
    pub const DIVERGED: &str = "data diverged: mirroring refused; waiting for the operator";
    /// Scenario 7, while serving.
    pub const DIVERGED_SERVING: &str =
        "data diverged: mirroring refused; still the primary server; waiting for the operator";
    /// Scenario 6, the MSL down: the peer's generation is an ancestor of this server's.
    pub const NEWER_DATA: &str =
        "both servers starting: this server has the newer data: now the primary server";
    /// Scenario 6, winner.
    pub const TIE_BREAK_WON: &str = "both servers starting: tie-break won: now the primary server";
    /// Scenario 6, loser.
    pub const TIE_BREAK_LOST: &str =
        "both servers starting: tie-break lost: becoming the secondary server";
    /// A starting server found a primary.
    pub const FOUND_PRIMARY: &str = "primary server found: becoming the secondary server";
    /// A starting server found no peer.
    pub const SERVING_ALONE: &str = "no peer found: now the primary server (unmirrored)";
    /// A starting server found a peer that does not serve and cannot (halted, inconsistent).
    pub const PEER_NOT_SERVING: &str = "peer not serving: now the primary server";
    /// A starting server found no peer but fails the isolation check.
    pub const ISOLATED_START: &str = "no peer found; isolated: not serving alone";
    /// A starting server hears a primary on the LAN only.
    pub const WAIT_MSL: &str =
        "primary server active on the LAN; waiting for the mirrored server link";
    /// A starting server sees a consistent secondary that will take over.
    pub const WAIT_TAKEOVER: &str = "peer is a consistent secondary; waiting for it to take over";
    /// A starting server sees a starting peer on the LAN only, and loses (or cannot judge).
    pub const WAIT_PEER: &str = "peer starting on the LAN; waiting for the mirrored server link";
    /// Primary starts a resync.
    pub const RESYNC_SOURCE: &str =
        "secondary server found: sending the memory image and disk changes";
    /// Secondary starts a resync.
    pub const RESYNC_TARGET: &str =
        "receiving the memory image and disk changes from the primary server";
    /// The pair is protected again.
    pub const MIRRORED: &str = "servers are mirrored";
    /// Two primaries heard (a healed partition): this one stops.
    pub const DUAL_STOP: &str =
        "another primary server is serving: tie-break lost: stopping; waiting for the operator";
    /// Two primaries heard: this one keeps serving.
    pub const DUAL_KEEP: &str = "another primary server is serving: tie-break won: still serving";
    /// The MSL handshake was refused for another reason than divergence.
    pub const MSL_REFUSED: &str = "mirrored server link refused: mirroring not possible";
    /// Operator promote.
    pub const OP_PROMOTED: &str = "operator: promoted: now the primary server";
    /// Operator promote refused.
    pub const OP_PROMOTE_REFUSED: &str = "operator: promote refused";
    /// Operator shutdown or demote of an unmirrored primary.
    pub const OP_SHUTDOWN: &str = "operator: shutting down";
    /// Operator demote of a server that does not serve.
    pub const OP_NOT_PRIMARY: &str = "operator: demote ignored: not the primary server";
    /// Operator chose this server.
    pub const OP_SURVIVOR_SELF: &str = "operator chose this server as the survivor";
    /// The two consoles chose different survivors.
    pub const OP_SURVIVOR_CONFLICT: &str =
        "operator choices conflict: the peer's console chose another survivor: ignored";
    /// Operator chose the peer.
    pub const OP_SURVIVOR_PEER: &str =
        "operator chose the peer as the survivor: waiting to resync from it (full)";
}
