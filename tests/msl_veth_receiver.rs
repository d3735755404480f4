//! The driver's receiver on a real veth pair: a consumer that goes away with deliveries
//! still queued must not leave the peer's sender stalled behind a closed window (the bytes
//! it held are released when the receiver is dropped, and later deliveries are released by
//! the driver itself).

use std::time::{Duration, Instant};

use sft3::lab::testing::{privileged, VethPair};
use sft3::link::raw::RawOptions;
use sft3::link::{LinkKind, RawLink};
use sft3::msl::driver::{spawn, DriverEvent, DriverOptions, MslHandle, MslReceiver};
use sft3::msl::{CloseReason, MslConfig, MslEvent, Priority};
use sft3::wire::MacAddr;

const BUDGET: usize = 4 << 20;

fn start(pair: &VethPair, dev: &'static str, id: u64) -> (MslHandle, MslReceiver) {
    let mut cfg = MslConfig::new(id, id, MacAddr::ZERO);
    cfg.max_queued = 8 << 20;
    let opts = DriverOptions {
        rx_budget: BUDGET,
        ..DriverOptions::default()
    };
    pair.run(move || {
        let ro = RawOptions {
            recv_buffer: Some(16 << 20),
            ..RawOptions::new(LinkKind::Msl)
        };
        let link = RawLink::open_with(dev, &ro).expect("opening the raw link");
        spawn(link, cfg, opts).expect("spawning the driver")
    })
}

fn wait_up(rx: &mut MslReceiver) {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Some(DriverEvent::Msl(MslEvent::Up { .. })) =
            rx.recv_timeout(Duration::from_millis(100))
        {
            return;
        }
    }
    panic!("no session within 5 s");
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_dropped_receiver_releases_what_it_held() {
    if !privileged("a_dropped_receiver_releases_what_it_held") {
        return;
    }
    let pair = VethPair::new("rxdrop");
    let (ha, mut ra) = start(&pair, "va", 1);
    let (hb, mut rb) = start(&pair, "vb", 2);
    wait_up(&mut ra);
    wait_up(&mut rb);
    let bulk = Priority::Bulk.bits() as usize;
    // 24 MiB to a consumer that takes nothing: B's window closes at the budget.
    let sender = {
        let ha = ha.clone();
        std::thread::spawn(move || {
            for i in 0..24u8 {
                ha.send_blocking(Priority::Bulk, vec![i; 1 << 20])
                    .expect("send_blocking");
            }
        })
    };
    wait_for("B holding its budget", Duration::from_secs(10), || {
        hb.status().held[bulk] >= BUDGET
    });
    std::thread::sleep(Duration::from_millis(100));
    let held = hb.status().held[bulk];
    assert!(
        ha.status().queued[bulk] > 0,
        "A still has data queued behind the closed window"
    );
    // The consumer goes away with its deliveries untaken.
    drop(rb);
    wait_for("A's queue draining", Duration::from_secs(20), || {
        ha.status().queued[bulk] == 0
    });
    sender.join().expect("sender");
    wait_for("B releasing every delivery", Duration::from_secs(5), || {
        hb.status().held[bulk] == 0
    });
    let st = hb.status();
    println!(
        "B held {:.1} MiB when its receiver was dropped; afterwards {} B held, {} messages delivered",
        held as f64 / (1 << 20) as f64,
        st.held[bulk],
        st.counters.messages_delivered
    );
    assert_eq!(st.held[bulk], 0, "everything delivered was released");
    ha.shutdown(CloseReason::SHUTDOWN).unwrap();
    hb.shutdown(CloseReason::SHUTDOWN).unwrap();
}
