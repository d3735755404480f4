//! A witness for the soak: a real-time thread that asks to sleep 1 ms, over and over, and
//! notes every time it woke 10 ms or more late. It shares no lock, socket or queue with
//! the daemons, so a stall it sees at the same instant as theirs was the host's (a vCPU the
//! hypervisor did not run, counted as steal time, or the kernel keeping every thread off a
//! CPU), not something the daemons did to themselves.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::msl::driver::set_thread_realtime;

/// Lateness worth a line.
const NOTE: Duration = Duration::from_millis(10);

/// One late wake-up.
#[derive(Clone, Copy, Debug)]
pub struct Stall {
    /// When it ended (wall clock).
    pub at: SystemTime,
    /// How late the thread woke.
    pub late: Duration,
    /// Steal time the host counted meanwhile (all vCPUs, 10 ms resolution).
    pub steal: Duration,
}

/// The running probe.
pub struct HostProbe {
    stop: Arc<AtomicBool>,
    stalls: Arc<Mutex<Vec<Stall>>>,
    thread: Option<JoinHandle<()>>,
    steal0: Option<Duration>,
    /// The probe got the real-time priority it asked for.
    pub realtime: bool,
}

/// The host's steal time so far (`/proc/stat`, all CPUs), if readable.
pub fn steal_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = s.lines().next()?;
    // cpu user nice system idle iowait irq softirq steal ...
    let ticks: u64 = cpu.split_whitespace().nth(8)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis(ticks * 1000 / hz))
}

impl HostProbe {
    /// Starts the probe at SCHED_FIFO `priority` (the daemons' own, so it competes as they
    /// do; nice −10 if real time is not permitted).
    pub fn start(priority: u8) -> std::io::Result<HostProbe> {
        let stop = Arc::new(AtomicBool::new(false));
        let stalls = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (s, st) = (stop.clone(), stalls.clone());
        let thread = std::thread::Builder::new()
            .name("soak-probe".into())
            .spawn(move || {
                let rt = set_thread_realtime(priority);
                if !rt {
                    crate::msl::driver::set_thread_nice(-10);
                }
                let _ = tx.send(rt);
                while !s.load(Relaxed) {
                    let (t0, steal0) = (Instant::now(), steal_time());
                    std::thread::sleep(Duration::from_millis(1));
                    let late = t0.elapsed().saturating_sub(Duration::from_millis(1));
                    if late >= NOTE {
                        let steal = match (steal0, steal_time()) {
                            (Some(a), Some(b)) => b.saturating_sub(a),
                            _ => Duration::ZERO,
                        };
                        let at = SystemTime::now();
                        st.lock().unwrap_or_else(|p| p.into_inner()).push(Stall {
                            at,
                            late,
                            steal,
                        });
                    }
                }
            })?;
        let realtime = rx.recv().unwrap_or(false);
        Ok(HostProbe {
            stop,
            stalls,
            thread: Some(thread),
            steal0: steal_time(),
            realtime,
        })
    }

    /// Stops the probe; the stalls it saw, in order, and the steal time of the whole run.
    pub fn finish(mut self) -> (Vec<Stall>, Option<Duration>) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let steal = match (self.steal0, steal_time()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let v = std::mem::take(&mut *self.stalls.lock().unwrap_or_else(|p| p.into_inner()));
        (v, steal)
    }
}

impl Drop for HostProbe {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_time_reads_and_the_probe_stops() {
        let s0 = steal_time().expect("/proc/stat has a steal column");
        let p = HostProbe::start(1).expect("probe thread");
        std::thread::sleep(Duration::from_millis(30));
        let (stalls, steal) = p.finish();
        assert!(steal.is_some());
        assert!(steal_time().is_some_and(|s| s >= s0));
        // Whatever it saw is well formed.
        assert!(stalls.iter().all(|x| x.late >= NOTE));
    }
}
