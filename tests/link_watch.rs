//! Link-state events from rtnetlink (`sft3::link::raw::watch`): the parser on hand-built
//! datagrams (valid, truncated, garbage, random), then a real watcher in a network namespace
//! seeing a veth pair go down, up and away. The namespace tests need root; without it they
//! say so and skip, unless SFT3_REQUIRE_PRIVILEGED=1 makes that a failure.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sft3::lab::testing::{privileged, sh, VethPair};
use sft3::link::raw::watch::{parse_link_messages, NetlinkError};
use sft3::link::raw::{AsyncLinkWatcher, LinkEvent, LinkWatcher};
use sft3::link::{LinkStatus, OperState};

// ---------------------------------------------------------------------------------------
// Hand-built datagrams (host byte order, as the kernel sends them).

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_CARRIER: u16 = 33;
const IFF_UP: u32 = 1;

/// One attribute, padded to 4 bytes unless `pad` is false.
fn attr(ty: u16, payload: &[u8], pad: bool) -> Vec<u8> {
    let mut a = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    a.extend_from_slice(&ty.to_ne_bytes());
    a.extend_from_slice(payload);
    if pad {
        while !a.len().is_multiple_of(4) {
            a.push(0);
        }
    }
    a
}

/// One netlink message: header, then `body` (ifinfomsg and attributes, or anything).
fn nlmsg(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut m = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&7u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
    m.extend_from_slice(body);
    m
}

fn ifinfo(index: u32, flags: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 1, 0]; // AF_UNSPEC, pad, ARPHRD_ETHER
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&0xffff_ffffu32.to_ne_bytes()); // change
    b
}

/// A link message as the kernel builds it: name, MTU, operstate, carrier, and an
/// attribute the parser skips.
fn link_msg(ty: u16, index: u32, name: &[u8], oper: u8, carrier: u8) -> Vec<u8> {
    let mut body = ifinfo(index, IFF_UP);
    let mut n = name.to_vec();
    n.push(0);
    body.extend(attr(IFLA_IFNAME, &n, true));
    body.extend(attr(IFLA_MTU, &1500u32.to_ne_bytes(), true));
    body.extend(attr(IFLA_OPERSTATE, &[oper], true));
    body.extend(attr(IFLA_CARRIER, &[carrier], true));
    body.extend(attr(0x8000 | 26, &[1, 2, 3, 4, 5, 6, 7, 8], true)); // IFLA_AF_SPEC, nested
    let mut m = nlmsg(ty, &body);
    while !m.len().is_multiple_of(4) {
        m.push(0);
    }
    m
}

fn expected(index: u32, name: &str, oper: OperState, carrier: bool) -> LinkEvent {
    let mut e = LinkEvent::new(index, false);
    e.set_name(name.as_bytes()).unwrap();
    e.flags = IFF_UP;
    e.mtu = Some(1500);
    e.oper = Some(oper);
    e.carrier = Some(carrier);
    e
}

fn all(buf: &[u8]) -> Vec<Result<LinkEvent, NetlinkError>> {
    parse_link_messages(buf).collect()
}

#[test]
fn parses_a_new_link() {
    let m = link_msg(RTM_NEWLINK, 5, b"va", 3, 0);
    let evs = all(&m);
    assert_eq!(
        evs,
        vec![Ok(expected(5, "va", OperState::LowerLayerDown, false))]
    );
    let ev = evs[0].unwrap();
    assert_eq!(ev.name(), Some("va"));
    assert_eq!(ev.name_bytes(), Some(&b"va"[..]));
    assert_eq!(
        ev.status(),
        Some(LinkStatus {
            carrier: false,
            oper: OperState::LowerLayerDown
        })
    );
}

#[test]
fn every_operstate_maps() {
    let want = [
        OperState::Unknown,
        OperState::NotPresent,
        OperState::Down,
        OperState::LowerLayerDown,
        OperState::Testing,
        OperState::Dormant,
        OperState::Up,
        OperState::Unknown,
    ];
    for (v, w) in want.iter().enumerate() {
        let ev = all(&link_msg(RTM_NEWLINK, 1, b"x", v as u8, 1))[0].unwrap();
        assert_eq!(ev.oper, Some(*w), "IF_OPER {v}");
    }
}

#[test]
fn parses_a_removed_link() {
    let ev = all(&link_msg(RTM_DELLINK, 9, b"vb", 2, 0))[0].unwrap();
    assert!(ev.removed);
    assert_eq!(ev.index, 9);
    assert_eq!(ev.status().unwrap().oper, OperState::NotPresent);
}

#[test]
fn several_messages_and_others_skipped() {
    let mut d = Vec::new();
    d.extend(nlmsg(1, &[])); // NLMSG_NOOP
    d.extend(link_msg(RTM_NEWLINK, 2, b"va", 6, 1));
    d.extend(nlmsg(20, &[0; 12])); // RTM_NEWADDR: not ours
    d.extend(nlmsg(2, &[0; 20])); // NLMSG_ERROR 0: an acknowledgement
    d.extend(link_msg(RTM_DELLINK, 3, b"vb", 2, 0));
    d.extend(nlmsg(3, &0u32.to_ne_bytes())); // NLMSG_DONE
    let evs = all(&d);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0], Ok(expected(2, "va", OperState::Up, true)));
    assert!(evs[1].unwrap().removed);
}

#[test]
fn unpadded_last_attribute_and_message() {
    // A 3-byte name without NUL, unpadded, ends the message and the datagram.
    let mut body = ifinfo(4, 0);
    body.extend(attr(IFLA_CARRIER, &[1], true));
    body.extend(attr(IFLA_IFNAME, b"lan", false));
    let m = nlmsg(RTM_NEWLINK, &body);
    assert_eq!(m.len() % 4, 3);
    let ev = all(&m)[0].unwrap();
    assert_eq!(ev.name(), Some("lan"));
    assert_eq!(ev.carrier, Some(true));
    assert_eq!(ev.oper, None);
    assert_eq!(ev.status(), None);
}

#[test]
fn longest_name_and_too_long() {
    let ok = all(&link_msg(RTM_NEWLINK, 1, b"abcdefghijklmno", 6, 1));
    assert_eq!(ok[0].unwrap().name(), Some("abcdefghijklmno"));
    let long = all(&link_msg(RTM_NEWLINK, 1, b"abcdefghijklmnop", 6, 1));
    assert_eq!(long, vec![Err(NetlinkError::NameTooLong { len: 16 })]);
}

#[test]
fn kernel_error_and_overrun() {
    let mut body = (-libc::EPERM).to_ne_bytes().to_vec();
    body.extend_from_slice(&[0; 16]);
    assert_eq!(
        all(&nlmsg(2, &body)),
        vec![Err(NetlinkError::Kernel { errno: libc::EPERM })]
    );
    assert_eq!(
        all(&nlmsg(2, &[1, 2])),
        vec![Err(NetlinkError::ErrorTruncated)]
    );
    assert_eq!(all(&nlmsg(4, &[])), vec![Err(NetlinkError::Overrun)]);
    let e = NetlinkError::Kernel { errno: libc::EPERM };
    assert!(e.to_string().contains("not permitted"), "{e}");
}

#[test]
fn framing_errors_end_the_datagram() {
    assert_eq!(all(&[]), vec![]);
    assert_eq!(
        all(&[1, 2, 3]),
        vec![Err(NetlinkError::HeaderTruncated { have: 3 })]
    );
    let good = link_msg(RTM_NEWLINK, 1, b"va", 6, 1);
    let mut short = nlmsg(RTM_NEWLINK, &[]);
    short[0..4].copy_from_slice(&8u32.to_ne_bytes());
    let mut d = short.clone();
    d.extend(&good);
    assert_eq!(
        all(&d),
        vec![Err(NetlinkError::BadMessageLength {
            len: 8,
            have: d.len()
        })]
    );
    let mut long = good.clone();
    long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert_eq!(
        all(&long),
        vec![Err(NetlinkError::BadMessageLength {
            len: 1000,
            have: good.len()
        })]
    );
    // A good message, then a torn header: one event, one error, the end.
    let mut d = good.clone();
    d.extend_from_slice(&[0; 10]);
    let evs = all(&d);
    assert!(evs[0].is_ok());
    assert_eq!(evs[1], Err(NetlinkError::HeaderTruncated { have: 10 }));
    assert_eq!(evs.len(), 2);
}

#[test]
fn message_errors_skip_to_the_next_message() {
    let good = link_msg(RTM_NEWLINK, 1, b"va", 6, 1);
    let cases: Vec<(Vec<u8>, NetlinkError)> = vec![
        (
            nlmsg(RTM_NEWLINK, &[0; 12]),
            NetlinkError::InfoTruncated { len: 28 },
        ),
        (
            {
                let mut b = ifinfo(1, 0);
                b.extend_from_slice(&[2, 0, 3, 0]); // rta_len 2
                nlmsg(RTM_NEWLINK, &b)
            },
            NetlinkError::BadAttributeLength { len: 2, have: 4 },
        ),
        (
            {
                let mut b = ifinfo(1, 0);
                b.extend_from_slice(&[100, 0, 3, 0, 0, 0, 0, 0]); // rta_len past the end
                nlmsg(RTM_NEWLINK, &b)
            },
            NetlinkError::BadAttributeLength { len: 100, have: 8 },
        ),
        (
            {
                let mut b = ifinfo(1, 0);
                b.extend_from_slice(&[9, 0]); // a torn attribute header
                let mut m = nlmsg(RTM_NEWLINK, &b);
                m.extend_from_slice(&[0, 0]);
                m[0..4].copy_from_slice(&34u32.to_ne_bytes());
                m
            },
            NetlinkError::BadAttributeLength { len: 0, have: 2 },
        ),
        (
            {
                let mut b = ifinfo(1, 0);
                b.extend(attr(IFLA_CARRIER, &[], true));
                nlmsg(RTM_NEWLINK, &b)
            },
            NetlinkError::ShortAttribute {
                kind: IFLA_CARRIER,
                len: 0,
                need: 1,
            },
        ),
        (
            {
                let mut b = ifinfo(1, 0);
                b.extend(attr(IFLA_MTU, &[1, 2], true));
                nlmsg(RTM_NEWLINK, &b)
            },
            NetlinkError::ShortAttribute {
                kind: IFLA_MTU,
                len: 2,
                need: 4,
            },
        ),
        (
            {
                let mut b = ifinfo(1, 0);
                b.extend(attr(IFLA_OPERSTATE, &[], true));
                nlmsg(RTM_NEWLINK, &b)
            },
            NetlinkError::ShortAttribute {
                kind: IFLA_OPERSTATE,
                len: 0,
                need: 1,
            },
        ),
    ];
    for (bad, err) in cases {
        let mut d = bad.clone();
        while d.len() % 4 != 0 {
            d.push(0);
        }
        d.extend(&good);
        let evs = all(&d);
        assert_eq!(evs.len(), 2, "{err:?}");
        assert_eq!(evs[0], Err(err));
        assert_eq!(evs[1], Ok(expected(1, "va", OperState::Up, true)));
    }
}

#[test]
fn every_prefix_parses_or_fails() {
    let mut d = link_msg(RTM_NEWLINK, 2, b"va", 6, 1);
    d.extend(link_msg(RTM_DELLINK, 3, b"vb", 2, 0));
    for n in 0..d.len() {
        let evs = all(&d[..n]);
        assert!(evs.len() <= 2, "{n}");
        // Cut inside the first message: never a whole first event.
        if n > 0 && n < d.len() / 2 {
            assert!(evs.iter().all(|e| e.is_err()), "{n}: {evs:?}");
        }
    }
    assert_eq!(all(&d).len(), 2);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let n = parse_link_messages(&bytes).count();
        prop_assert!(n <= bytes.len() / 16 + 1);
    }

    #[test]
    fn mutated_messages_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut d = link_msg(RTM_NEWLINK, 2, b"va", 6, 1);
        d.extend(link_msg(RTM_DELLINK, 3, b"vb", 2, 0));
        for (i, v) in edits {
            let at = i.index(d.len());
            d[at] = v;
        }
        let cut = cut.index(d.len() + 1);
        let n = parse_link_messages(&d[..cut]).count();
        prop_assert!(n <= cut / 16 + 1);
    }

    #[test]
    fn built_messages_parse_back(
        index in any::<u32>(),
        name in "[a-z0-9-]{1,15}",
        oper in 0u8..8,
        carrier in any::<bool>(),
        removed in any::<bool>(),
    ) {
        let ty = if removed { RTM_DELLINK } else { RTM_NEWLINK };
        let ev = all(&link_msg(ty, index, name.as_bytes(), oper, carrier as u8))[0].unwrap();
        prop_assert_eq!(ev.index, index);
        prop_assert_eq!(ev.name(), Some(name.as_str()));
        prop_assert_eq!(ev.carrier, Some(carrier));
        prop_assert_eq!(ev.removed, removed);
    }
}

// ---------------------------------------------------------------------------------------
// A real watcher in a namespace.

/// Opens a watcher on a thread inside the pair's namespace (the socket stays in it).
fn watcher(ns: &VethPair) -> LinkWatcher {
    ns.run(|| LinkWatcher::open().expect("link watcher"))
}

/// Liveness bound: a broken watcher fails the test instead of hanging it.
const LIVENESS: Duration = Duration::from_secs(10);

/// Polls until `want` holds for some event; panics after [`LIVENESS`].
fn wait_for(w: &mut LinkWatcher, what: &str, mut want: impl FnMut(&LinkEvent) -> bool) {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    loop {
        match w.poll().expect("poll") {
            Some(ev) if want(&ev) => return,
            Some(ev) => seen.push(ev),
            None => std::thread::sleep(Duration::from_millis(10)),
        }
        assert!(
            t0.elapsed() < LIVENESS,
            "no event {what} within {LIVENESS:?}; saw {seen:?}"
        );
    }
}

/// Polls until every condition has held for some event (in any order).
fn wait_all(w: &mut LinkWatcher, what: &str, conds: &[&dyn Fn(&LinkEvent) -> bool]) {
    let mut met = vec![false; conds.len()];
    wait_for(w, what, |ev| {
        for (m, c) in met.iter_mut().zip(conds) {
            *m |= c(ev);
        }
        met.iter().all(|&m| m)
    });
}

fn is(ev: &LinkEvent, name: &str, carrier: bool, oper: OperState) -> bool {
    ev.name() == Some(name) && ev.carrier == Some(carrier) && ev.oper == Some(oper)
}

#[test]
fn veth_down_up_and_removal() {
    if !privileged("veth_down_up_and_removal") {
        return;
    }
    let ns = VethPair::new("du");
    let mut w = watcher(&ns);

    // The dump reports both ends, through the same poll.
    w.request_dump().expect("dump");
    let (mut va, mut vb) = (None, None);
    wait_for(&mut w, "dumping va and vb", |ev| {
        match ev.name() {
            Some("va") => va = Some(ev.index),
            Some("vb") => vb = Some(ev.index),
            _ => {}
        }
        va.is_some() && vb.is_some()
    });
    let (va, vb) = (va.unwrap(), vb.unwrap());
    assert_ne!(va, vb);
    let mut only_va = watcher(&ns);
    only_va.set_filter(Some(va));

    ns.ip(&["link", "set", "vb", "down"]);
    wait_all(
        &mut w,
        "vb down and va lower layer down",
        &[
            &|ev| ev.index == vb && ev.oper == Some(OperState::Down),
            &|ev| is(ev, "va", false, OperState::LowerLayerDown),
        ],
    );
    wait_for(&mut only_va, "va lower layer down (filtered)", |ev| {
        assert_eq!(ev.index, va, "filter let another link through");
        is(ev, "va", false, OperState::LowerLayerDown)
    });

    ns.ip(&["link", "set", "vb", "up"]);
    wait_all(
        &mut w,
        "va and vb up",
        &[&|ev| is(ev, "va", true, OperState::Up), &|ev| {
            is(ev, "vb", true, OperState::Up)
        }],
    );

    ns.ip(&["link", "del", "va"]);
    let mut gone = (false, false);
    wait_for(&mut w, "both ends removed", |ev| {
        if ev.removed {
            gone.0 |= ev.index == va;
            gone.1 |= ev.index == vb;
        }
        gone.0 && gone.1
    });
}

#[test]
fn async_watcher_waits_for_events() {
    if !privileged("async_watcher_waits_for_events") {
        return;
    }
    let ns = VethPair::new("as");
    let w = watcher(&ns);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut w = AsyncLinkWatcher::new(w).expect("register");
        let name = ns.name().to_string();
        // Change the link from another thread while this one waits.
        let toggler = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            sh(&["ip", "-n", &name, "link", "set", "vb", "down"]);
        });
        let wait = async {
            loop {
                let ev = w.next().await.expect("next");
                if is(&ev, "va", false, OperState::LowerLayerDown) {
                    return ev;
                }
            }
        };
        let ev = tokio::time::timeout(LIVENESS, wait)
            .await
            .expect("no event for va within the liveness bound");
        assert!(!ev.removed);
        toggler.join().unwrap();
    });
}

#[test]
fn watcher_is_quiet_without_changes() {
    if !privileged("watcher_is_quiet_without_changes") {
        return;
    }
    let ns = VethPair::new("q");
    let mut w = watcher(&ns);
    // The kernel queues a dump's answers before the request's send returns; a filter that
    // matches no link lets none of them (nor any late change) through.
    w.set_filter(Some(u32::MAX));
    w.request_dump().expect("dump");
    assert_eq!(
        w.poll().expect("poll"),
        None,
        "filter let a dump answer through"
    );
}

/// Regression: messages of another family than `AF_UNSPEC` are another view of a link
/// (`AF_BRIDGE` for a bridge port), not the link: the kernel sends an `AF_BRIDGE`
/// `RTM_DELLINK` when a port leaves its bridge, for a port that still exists.
#[test]
fn other_families_are_skipped() {
    const AF_BRIDGE: u8 = 7;
    let mut del = link_msg(RTM_DELLINK, 9, b"vb", 6, 1);
    del[16] = AF_BRIDGE;
    assert_eq!(all(&del), vec![]);
    let mut new = link_msg(RTM_NEWLINK, 9, b"vb", 6, 1);
    new[16] = AF_BRIDGE;
    let mut buf = del.clone();
    buf.extend(new);
    buf.extend(link_msg(RTM_NEWLINK, 5, b"va", 6, 1));
    assert_eq!(all(&buf), vec![Ok(expected(5, "va", OperState::Up, true))]);
    // The generic view of the same removal still counts.
    let del = link_msg(RTM_DELLINK, 9, b"vb", 6, 1);
    let evs = all(&del);
    assert_eq!(evs.len(), 1);
    assert!(evs[0].unwrap().removed);
}

#[test]
fn leaving_a_bridge_is_not_a_removal() {
    if !privileged("leaving_a_bridge_is_not_a_removal") {
        return;
    }
    let ns = VethPair::new("br");
    let br = format!("sft3br{}", std::process::id());
    ns.ip(&["link", "add", "name", &br, "type", "bridge"]);
    ns.ip(&["link", "set", "vb", "master", &br]);
    let mut w = watcher(&ns);
    w.request_dump().expect("dump");
    let mut vb = None;
    wait_for(&mut w, "dumping vb", |ev| {
        if ev.name() == Some("vb") {
            vb = Some(ev.index);
        }
        vb.is_some()
    });
    let vb = vb.unwrap();
    ns.ip(&["link", "set", "vb", "nomaster"]);
    // A change after the port left: every event about leaving comes before it.
    ns.ip(&["link", "set", "va", "mtu", "1400"]);
    wait_for(&mut w, "va's new MTU", |ev| {
        assert!(
            !(ev.removed && ev.index == vb),
            "vb reported removed: {ev:?}"
        );
        ev.name() == Some("va") && ev.mtu == Some(1400)
    });
}
