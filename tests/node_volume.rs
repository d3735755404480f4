//! Two daemons with mirrored volumes (`[volume]`) over real raw sockets: writes while
//! unmirrored are journaled and resynced, writes while mirrored reach both volumes before
//! they are acknowledged, a peer back after a stop gets an incremental resync, and a
//! damaged journal is found at start and leads to a full resync. Needs root (namespaces,
//! raw sockets): skipped otherwise, per the project's skip policy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sft3::lab::testing::privileged;
use sft3::node::control::query_bytes;
use sft3::node::NodeHandle;
use sft3::role::RoleState;

mod common;
mod node_bed;
use common::pattern;
use node_bed::{dump, mirrored_pair, serial, wait_for, Bed};

const SIZE: u64 = 8 << 20;
const REGION: u64 = 64 << 10;

fn volume_toml(bed: &Bed, id: u64) -> String {
    format!(
        "[volume]\npath = \"{}\"\nsize = \"8MiB\"\nregion_size = \"64KiB\"\n",
        image(bed, id).display()
    )
}

fn image(bed: &Bed, id: u64) -> PathBuf {
    bed.dir.join(format!("vol{id}.img"))
}

fn start(bed: &Bed, id: u64) -> NodeHandle {
    let (msl, lan) = if id == 1 {
        ("va", "la0")
    } else {
        ("vb", "lb0")
    };
    bed.start_cfg(bed.config_with(id, msl, lan, &volume_toml(bed, id)))
}

/// Writes through the daemon's control socket; the answer line.
fn write(bed: &Bed, id: u64, offset: u64, data: &[u8]) -> String {
    let header = format!("volume write {offset} {}", data.len());
    let out = query_bytes(&bed.socket(id), &header, data).expect("control socket");
    String::from_utf8_lossy(&out).into_owned()
}

fn same(a: &Path, b: &Path) -> bool {
    std::fs::read(a).expect("volume a") == std::fs::read(b).expect("volume b")
}

fn resync_notices(h: &NodeHandle) -> String {
    h.notices()
        .into_iter()
        .filter(|n| n.contains("resync"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn writes_while_unmirrored_are_resynced_and_mirrored_writes_reach_both() {
    if !privileged("writes_while_unmirrored_are_resynced_and_mirrored_writes_reach_both") {
        return;
    }
    let _serial = serial();
    let bed = Bed::new("nvol", true);
    // A alone: the primary, unmirrored; its writes are journaled.
    let a = start(&bed, 1);
    let alone = wait_for(Duration::from_secs(5), || {
        a.snapshot().state == RoleState::UnmirroredPrimary
    });
    assert!(alone.is_some(), "{}", a.snapshot().to_json());
    for i in 0..20u64 {
        let off = (i * 7 % 120) * REGION + i * 100;
        let ans = write(&bed, 1, off, &pattern(i, 5000));
        assert!(
            ans.starts_with("ok version") && ans.contains("mirrored false"),
            "{ans}"
        );
    }
    // The status is published every 100 ms.
    let dirty = wait_for(Duration::from_secs(2), || {
        a.snapshot()
            .volume
            .is_some_and(|v| v.writes == 20 && v.dirty_regions > 0)
    });
    assert!(dirty.is_some(), "{}", a.snapshot().to_json());
    let text = a.snapshot().to_text();
    assert!(text.contains("volume      "), "{text}");
    assert!(text.contains("consistent, unmirrored"), "{text}");
    assert!(
        text.contains("regions dirty; bitmap 2080 KiB per TiB"),
        "{text}"
    );
    // Refused: past the end, and at a server that does not serve.
    let ans = write(&bed, 1, SIZE - 10, &[1; 20]);
    assert!(
        ans.starts_with("error:") && ans.contains("past the volume's end"),
        "{ans}"
    );

    // B joins: a fresh volume (no history), so the resync is full; then they are equal.
    let b = start(&bed, 2);
    let ok = wait_for(Duration::from_secs(20), || mirrored_pair(&a, &b));
    assert!(ok.is_some(), "{}", dump("never mirrored", &a, &b));
    assert!(
        same(&image(&bed, 1), &image(&bed, 2)),
        "volumes differ after the resync"
    );
    let na = resync_notices(&a);
    assert!(na.contains("Full"), "{na}");
    let ans = write(&bed, 2, 0, &[1; 10]);
    assert!(ans.contains("not serving"), "{ans}");
    // The target adopted the source's generations.
    let adopted = wait_for(Duration::from_secs(2), || {
        let (va, vb) = (a.snapshot().volume.unwrap(), b.snapshot().volume.unwrap());
        vb.consistent && !vb.history.is_empty() && vb.history == va.history
    });
    assert!(
        adopted.is_some(),
        "{}",
        dump("generations not adopted", &a, &b)
    );

    // Mirrored: acknowledged only with both copies durable, so B has it at once.
    for i in 100..110u64 {
        let off = (i % 40) * 3 * REGION + 17;
        let data = pattern(i, 70_000);
        let ans = write(&bed, 1, off, &data);
        assert!(ans.contains("mirrored true"), "{ans}");
        let got = std::fs::read(image(&bed, 2)).unwrap();
        assert_eq!(&got[off as usize..off as usize + data.len()], &data[..]);
    }
    let clean = wait_for(Duration::from_secs(2), || {
        a.snapshot()
            .volume
            .is_some_and(|v| v.writes == 30 && v.dirty_regions == 0)
    });
    assert!(clean.is_some(), "{}", a.snapshot().to_json());

    // Silent damage at the secondary: the online verify finds it, marks it and the short
    // resync that follows repairs it while the pair stays mirrored.
    let damaged = 77 * REGION + 5;
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(image(&bed, 2))
            .unwrap();
        let mut byte = [0u8; 1];
        f.read_exact_at(&mut byte, damaged).ok();
        f.write_all_at(&[byte[0] ^ 0x40], damaged).unwrap();
    }
    assert!(!same(&image(&bed, 1), &image(&bed, 2)));
    let ans = String::from_utf8_lossy(&query_bytes(&bed.socket(2), "volume verify", &[]).unwrap())
        .into_owned();
    assert!(ans.contains("verify needs a mirrored pair"), "{ans}");
    let ans = String::from_utf8_lossy(&query_bytes(&bed.socket(1), "volume verify", &[]).unwrap())
        .into_owned();
    assert!(ans.starts_with("ok verify"), "{ans}");
    let verified = wait_for(Duration::from_secs(10), || {
        a.snapshot()
            .volume
            .and_then(|v| v.verify)
            .is_some_and(|v| !v.running && v.mismatches == 1 && v.error.is_none())
    });
    assert!(verified.is_some(), "{}", dump("verify", &a, &b));
    let repaired = wait_for(Duration::from_secs(10), || {
        same(&image(&bed, 1), &image(&bed, 2))
    });
    assert!(repaired.is_some(), "{}", dump("not repaired", &a, &b));
    let n = a.notices().join("\n");
    assert!(n.contains("1 of 128 regions differ (regions 77)"), "{n}");
    assert!(mirrored_pair(&a, &b), "{}", dump("mirroring lost", &a, &b));

    // B stops; A writes alone; B comes back: an incremental resync of what changed.
    b.stop();
    let alone = wait_for(Duration::from_secs(5), || {
        a.snapshot().state == RoleState::UnmirroredPrimary
    });
    assert!(alone.is_some(), "{}", a.snapshot().to_json());
    for i in 200..205u64 {
        let ans = write(&bed, 1, i * REGION / 2, &pattern(i, 3000));
        assert!(ans.contains("mirrored false"), "{ans}");
    }
    let settled = wait_for(Duration::from_secs(2), || {
        a.snapshot()
            .volume
            .is_some_and(|v| v.writes == 35 && v.resync.is_none())
    });
    assert!(settled.is_some(), "{}", a.snapshot().to_json());
    let dirty = a.snapshot().volume.unwrap().dirty_regions;
    assert!((1..=10).contains(&dirty), "{}", a.snapshot().to_json());
    let b = start(&bed, 2);
    let ok = wait_for(Duration::from_secs(20), || mirrored_pair(&a, &b));
    assert!(ok.is_some(), "{}", dump("never mirrored again", &a, &b));
    assert!(
        same(&image(&bed, 1), &image(&bed, 2)),
        "volumes differ after the incremental resync"
    );
    let na = resync_notices(&a);
    assert!(na.contains("Incremental"), "{na}");
    assert!(
        na.contains(&format!(
            "as the source, {dirty} of {} regions",
            SIZE / REGION
        )),
        "{na}"
    );
    b.stop();
    a.stop();
}

#[test]
fn a_damaged_journal_is_found_at_start_and_the_resync_is_full() {
    if !privileged("a_damaged_journal_is_found_at_start_and_the_resync_is_full") {
        return;
    }
    let _serial = serial();
    let bed = Bed::new("njrn", true);
    let a = start(&bed, 1);
    let b = start(&bed, 2);
    let ok = wait_for(Duration::from_secs(20), || mirrored_pair(&a, &b));
    assert!(ok.is_some(), "{}", dump("never mirrored", &a, &b));
    let secondary = if a.snapshot().role() == "secondary" {
        1
    } else {
        2
    };
    let (prim, sec) = if secondary == 1 { (b, a) } else { (a, b) };
    sec.stop();
    // Both header slots damaged: nothing in the journal can be trusted.
    let journal = {
        let mut p = image(&bed, secondary).into_os_string();
        p.push(".journal");
        PathBuf::from(p)
    };
    let mut bytes = std::fs::read(&journal).expect("journal");
    bytes[100] ^= 0xff;
    bytes[4096 + 100] ^= 0xff;
    std::fs::write(&journal, &bytes).unwrap();
    let sec = start(&bed, secondary);
    let n = wait_for(Duration::from_secs(5), || {
        sec.notices()
            .join("\n")
            .contains("change journal not trusted")
    });
    assert!(n.is_some(), "{:#?}", sec.notices());
    let ok = wait_for(Duration::from_secs(20), || mirrored_pair(&prim, &sec));
    assert!(
        ok.is_some(),
        "{}",
        dump("never mirrored after the rebuild", &prim, &sec)
    );
    let np = resync_notices(&prim);
    assert!(np.contains("Full"), "{np}");
    let clean = wait_for(Duration::from_secs(2), || {
        let sv = sec.snapshot().volume.unwrap();
        sv.journal.starts_with("rebuilt") && sv.dirty_regions == 0 && sv.consistent
    });
    assert!(clean.is_some(), "{}", sec.snapshot().to_json());
    assert!(same(&image(&bed, 1), &image(&bed, 2)));
    sec.stop();
    prim.stop();
}

#[test]
fn volumes_of_different_sizes_never_mirror() {
    if !privileged("volumes_of_different_sizes_never_mirror") {
        return;
    }
    let _serial = serial();
    let bed = Bed::new("nsz", true);
    let a = start(&bed, 1);
    let alone = wait_for(Duration::from_secs(5), || {
        a.snapshot().state == RoleState::UnmirroredPrimary
    });
    assert!(alone.is_some(), "{}", a.snapshot().to_json());
    let ans = write(&bed, 1, 0, &[7u8; 4096]);
    assert!(ans.starts_with("ok"), "{ans}");
    // B's volume is twice as large: the MSL handshake refuses it before any copy.
    let toml = volume_toml(&bed, 2).replace("8MiB", "16MiB");
    let b = bed.start_cfg(bed.config_with(2, "vb", "lb0", &toml));
    let refused = wait_for(Duration::from_secs(5), || {
        a.notices()
            .join("\n")
            .contains("mirrored server link refused")
    });
    assert!(refused.is_some(), "{}", dump("not refused", &a, &b));
    let n = a.notices().join("\n");
    assert!(n.contains("volume size"), "{n}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!mirrored_pair(&a, &b), "{}", dump("mirrored", &a, &b));
    let vb = std::fs::read(image(&bed, 2)).unwrap();
    assert!(vb.iter().all(|&x| x == 0), "B's volume was written");
    b.stop();
    a.stop();
}

#[test]
fn diverged_volumes_wait_for_the_operator_then_the_survivor_wins() {
    if !privileged("diverged_volumes_wait_for_the_operator_then_the_survivor_wins") {
        return;
    }
    let _serial = serial();
    let bed = Bed::new("ndiv", true);
    let a = start(&bed, 1);
    let b = start(&bed, 2);
    let ok = wait_for(Duration::from_secs(20), || mirrored_pair(&a, &b));
    assert!(ok.is_some(), "{}", dump("never mirrored", &a, &b));
    // Split brain in time: A alone writes, stops; B alone writes.
    b.stop();
    let alone = wait_for(Duration::from_secs(5), || {
        a.snapshot().state == RoleState::UnmirroredPrimary
    });
    assert!(alone.is_some(), "{}", a.snapshot().to_json());
    assert!(write(&bed, 1, 0, &pattern(1, 9000)).starts_with("ok"));
    a.stop();
    let b = start(&bed, 2);
    let alone = wait_for(Duration::from_secs(5), || {
        b.snapshot().state == RoleState::UnmirroredPrimary
    });
    assert!(alone.is_some(), "{}", b.snapshot().to_json());
    let b_data = pattern(2, 9000);
    assert!(write(&bed, 2, 3 * REGION, &b_data).starts_with("ok"));
    // A returns: each holds a generation the other never saw. No silent overwrite.
    let a = start(&bed, 1);
    let refused = wait_for(Duration::from_secs(5), || {
        let n = a.notices().join("\n") + &b.notices().join("\n");
        n.contains("data diverged")
    });
    assert!(
        refused.is_some(),
        "{}",
        dump("divergence not found", &a, &b)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !mirrored_pair(&a, &b),
        "{}",
        dump("mirrored anyway", &a, &b)
    );
    let va = std::fs::read(image(&bed, 1)).unwrap();
    assert_eq!(
        &va[..9000],
        &pattern(1, 9000)[..],
        "A's data was overwritten unasked"
    );
    // The operator keeps B's data (through the control socket, as `sft3 ctl survivor`).
    let ans = sft3::node::control::query(&bed.socket(2), "command survivor 2").unwrap();
    assert!(ans.starts_with("ok"), "{ans}");
    let ok = wait_for(Duration::from_secs(20), || {
        mirrored_pair(&a, &b) && same(&image(&bed, 1), &image(&bed, 2))
    });
    assert!(ok.is_some(), "{}", dump("survivor not resynced", &a, &b));
    let va = std::fs::read(image(&bed, 1)).unwrap();
    let off = (3 * REGION) as usize;
    assert_eq!(&va[off..off + 9000], &b_data[..]);
    assert!(va[..9000].iter().all(|&x| x == 0), "A's own write survived");
    b.stop();
    a.stop();
}

#[test]
fn status_shows_a_resync_as_a_bar_with_rate_and_eta() {
    use sft3::node::volume::{ResyncStatus, VolumeStatus};
    let v = VolumeStatus {
        path: "/var/lib/sft3/volume.img".into(),
        size: 1 << 30,
        region_size: 64 << 10,
        regions: 16384,
        dirty_regions: 12288,
        bitmap_bytes_per_tib: 2080 << 10,
        consistent: true,
        history: vec![7, 3],
        tracked_since: 3,
        mode: "resyncing",
        journal: "trusted".into(),
        resync: Some(ResyncStatus {
            role: "source",
            session: 9,
            done: 4096,
            total: 16384,
            bytes: 256 << 20,
            micros: 2_000_000,
        }),
        ..VolumeStatus::default()
    };
    let t = v.to_text();
    // A quarter done in 2 s: 128 MiB/s, 6 s to go.
    assert!(t.contains("[#######......................."), "{t}");
    assert!(
        t.contains("25.0% (4096/16384 regions), 128.0 MiB/s, eta 6.0 s"),
        "{t}"
    );
    let j: serde_json::Value = serde_json::from_str(&v.to_json()).expect("valid JSON");
    assert_eq!(j["resync"]["percent"], 25.0);
    assert_eq!(j["resync"]["eta_s"], 6.0);
    assert_eq!(j["history"], serde_json::json!([7, 3]));
    assert!(j["verify"].is_null());
}
