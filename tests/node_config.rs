//! The daemon's configuration: defaults, the example file, and errors that name their key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sft3::node::config::{ConfigError, NodeConfig, DEFAULT_CONTROL_SOCKET, DEFAULT_LOG_FILE};
use sft3::wire::addr::Net;
use sft3::wire::ethernet::Framing;

const MINIMAL: &str = r#"
[server]
id = 7
name = "SFT-A"

[msl]
interface = "msl0"

[[lan]]
interface = "eth0"
net = "0000abcd"

[engine]
net = "cafe0001"
"#;

fn err(text: &str) -> ConfigError {
    match NodeConfig::from_toml_str(text) {
        Ok(c) => panic!("accepted: {c:?}\n{text}"),
        Err(e) => e,
    }
}

/// The error names `key` and says something containing `why`.
fn assert_key_err(text: &str, key: &str, why: &str) {
    match err(text) {
        ConfigError::Key { key: k, reason } => {
            assert_eq!(k, key, "reason: {reason}\n{text}");
            assert!(reason.contains(why), "{k}: {reason:?} lacks {why:?}");
        }
        e => panic!("not a key error: {e}\n{text}"),
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sft3-node-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn defaults() {
    let c = NodeConfig::from_toml_str(MINIMAL).unwrap();
    assert_eq!(c.server.id, 7);
    assert_eq!(c.server.name, "SFT-A");
    assert_eq!(c.server.priority, 0);
    assert_eq!(c.server.incarnation, None);
    assert_eq!(c.server.rt_priority, 50);
    assert_eq!(&c.server.name_field()[..6], b"SFT-A\0");
    assert_eq!(c.msl.interface, "msl0");
    assert_eq!(c.msl.heartbeat(), Duration::from_millis(5));
    assert_eq!(c.msl.silent_after, 4);
    assert_eq!(c.msl.key, None);
    assert_eq!(c.lan.len(), 1);
    assert_eq!(c.lan[0].interface, "eth0");
    assert_eq!(c.lan[0].net, Net(0xabcd));
    assert_eq!(c.lan[0].framing, Framing::EthernetII);
    assert_eq!(c.beacon.interval(), Duration::from_millis(5));
    assert_eq!(c.beacon.silent_after, 4);
    assert_eq!(c.engine.net, Net(0xcafe_0001));
    assert_eq!(c.paths.log_file, Path::new(DEFAULT_LOG_FILE));
    assert_eq!(c.paths.control_socket, Path::new(DEFAULT_CONTROL_SOCKET));
    assert_eq!(c.role.startup_wait(), Duration::from_millis(100));
    // The clock in ns: after 2020, and non-zero.
    assert!(c.incarnation() > 1_577_836_800_000_000_000);
}

#[test]
fn every_key_set() {
    let text = r#"
[server]
id = 2
name = "SFT-B"
priority = 9
incarnation = 1234

[msl]
interface = "msl1"
heartbeat_ms = 10
silent_after = 3

[[lan]]
interface = "lan0"
net = "0x00000010"
framing = "802.3"
[[lan]]
interface = "lan1"
net = "00000011"
framing = "802.2"
[[lan]]
interface = "lan2"
net = "12"
framing = "SNAP"
[[lan]]
interface = "lan3"
net = "13"
framing = "ETHERNET_II"

[beacon]
interval_ms = 7
silent_after = 5

[engine]
net = "00c0ffee"

[paths]
log_file = "/tmp/x/admin.log"
control_socket = "/tmp/x/c.sock"

[role]
startup_wait_ms = 0
"#;
    let c = NodeConfig::from_toml_str(text).unwrap();
    assert_eq!((c.server.priority, c.server.incarnation), (9, Some(1234)));
    assert_eq!(c.incarnation(), 1234);
    assert_eq!((c.msl.heartbeat_ms, c.msl.silent_after), (10, 3));
    let framings: Vec<Framing> = c.lan.iter().map(|l| l.framing).collect();
    assert_eq!(
        framings,
        [
            Framing::Raw8023,
            Framing::Llc,
            Framing::Snap,
            Framing::EthernetII
        ]
    );
    assert_eq!(c.lan[2].net, Net(0x12));
    assert_eq!((c.beacon.interval_ms, c.beacon.silent_after), (7, 5));
    assert_eq!(c.paths.control_socket, Path::new("/tmp/x/c.sock"));
    assert_eq!(c.role.startup_wait_ms, 0);
    assert_eq!(c.role.stall_fence_ms, 15);
}

#[test]
fn example_file_parses() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/sft3.example.toml");
    let c = NodeConfig::load(&p).unwrap();
    assert_eq!(c.server.name, "SFT-A");
    assert_eq!(c.lan.len(), 2);
    assert_eq!(c.lan[1].framing, Framing::Llc);
    assert_eq!(c.paths.log_file, Path::new(DEFAULT_LOG_FILE));
}

#[test]
fn missing_required_keys() {
    assert_key_err("", "[server]", "required");
    let without = |line: &str| MINIMAL.replace(line, "");
    assert_key_err(&without("id = 7\n"), "[server].id", "required");
    assert_key_err(&without("name = \"SFT-A\"\n"), "[server].name", "required");
    assert_key_err(
        &without("interface = \"msl0\"\n"),
        "[msl].interface",
        "required",
    );
    assert_key_err(&without("net = \"0000abcd\"\n"), "[lan][0].net", "required");
    assert_key_err(&without("net = \"cafe0001\"\n"), "[engine].net", "required");
    assert_key_err(
        &without("[[lan]]\ninterface = \"eth0\"\nnet = \"0000abcd\"\n"),
        "[[lan]]",
        "at least one",
    );
    assert_key_err(
        &without("[engine]\nnet = \"cafe0001\"\n"),
        "[engine]",
        "required",
    );
}

#[test]
fn unknown_keys_are_errors() {
    let add = |after: &str, line: &str| MINIMAL.replace(after, &format!("{after}{line}\n"));
    assert_key_err(&add("[server]\n", "ID = 3"), "[server].ID", "unknown key");
    assert_key_err(
        &add("[msl]\n", "heartbeat = 5"),
        "[msl].heartbeat",
        "unknown key",
    );
    assert_key_err(
        &add("[[lan]]\n", "frame = \"snap\""),
        "[lan][0].frame",
        "unknown key",
    );
    assert_key_err(
        &format!("{MINIMAL}[beacon]\nintervall_ms = 5\n"),
        "[beacon].intervall_ms",
        "unknown",
    );
    assert_key_err(
        &format!("{MINIMAL}[paths]\nlog = \"x\"\n"),
        "[paths].log",
        "unknown",
    );
    assert_key_err(
        &format!("{MINIMAL}[role]\nwait = 1\n"),
        "[role].wait",
        "unknown",
    );
    assert_key_err(
        &format!("{MINIMAL}[journal]\nx = 1\n"),
        "journal",
        "unknown",
    );
    assert_key_err(&format!("top = 1\n{MINIMAL}"), "top", "unknown");
}

#[test]
fn bad_values_name_their_key() {
    let set = |from: &str, to: &str| MINIMAL.replace(from, to);
    assert_key_err(&set("id = 7", "id = 0"), "[server].id", "out of range");
    assert_key_err(
        &set("id = 7", "id = 7\nrt_priority = 100"),
        "[server].rt_priority",
        "out of range",
    );
    let off = NodeConfig::from_toml_str(&set("id = 7", "id = 7\nrt_priority = 0")).unwrap();
    assert_eq!(off.server.rt_priority, 0);
    assert_key_err(
        &set("id = 7", "id = \"7\""),
        "[server].id",
        "expected an integer",
    );
    assert_key_err(&set("\"SFT-A\"", "\"\""), "[server].name", "printable");
    assert_key_err(
        &set("\"SFT-A\"", "\"two words\""),
        "[server].name",
        "printable",
    );
    assert_key_err(
        &set("\"SFT-A\"", &format!("\"{}\"", "N".repeat(33))),
        "[server].name",
        "32",
    );
    assert_key_err(
        &set("\"SFT-A\"", "\"SFT-\u{e9}\""),
        "[server].name",
        "ASCII",
    );
    assert_key_err(
        &set("name = \"SFT-A\"", "name = \"A\"\npriority = 256"),
        "[server].priority",
        "0 ..= 255",
    );
    assert_key_err(
        &set("name = \"SFT-A\"", "name = \"A\"\nincarnation = -1"),
        "[server].incarnation",
        "out of range",
    );
    assert_key_err(
        &set("\"0000abcd\"", "\"xyz\""),
        "[lan][0].net",
        "\"xyz\" is not a hex IPX network number",
    );
    assert_key_err(
        &set("\"0000abcd\"", "\"123456789\""),
        "[lan][0].net",
        "not a hex",
    );
    assert_key_err(
        &set("\"0000abcd\"", "\"00000000\""),
        "[lan][0].net",
        "reserved",
    );
    assert_key_err(
        &set("\"0000abcd\"", "\"ffffffff\""),
        "[lan][0].net",
        "reserved",
    );
    assert_key_err(
        &set("\"0000abcd\"", "43981"),
        "[lan][0].net",
        "expected a string",
    );
    assert_key_err(&set("\"cafe0001\"", "\"g\""), "[engine].net", "not a hex");
    assert_key_err(
        &set("\"cafe0001\"", "\"0000abcd\""),
        "[engine].net",
        "[lan][0]",
    );
    assert_key_err(
        &set("\"msl0\"", "\"a/b\""),
        "[msl].interface",
        "not an interface name",
    );
    assert_key_err(
        &set("\"msl0\"", "\"sixteen-chars-xx\""),
        "[msl].interface",
        "1 to 15",
    );
    assert_key_err(
        &set("\"eth0\"", "\"\""),
        "[lan][0].interface",
        "interface name",
    );
    let msl = |extra: &str| {
        set(
            "interface = \"msl0\"",
            &format!("interface = \"msl0\"\n{extra}"),
        )
    };
    assert_key_err(
        &msl("heartbeat_ms = 0"),
        "[msl].heartbeat_ms",
        "out of range",
    );
    assert_key_err(
        &msl("heartbeat_ms = 1.5"),
        "[msl].heartbeat_ms",
        "expected an integer, found float",
    );
    assert_key_err(
        &msl("silent_after = 1"),
        "[msl].silent_after",
        "out of range",
    );
    assert_key_err(&msl("key_file = \"\""), "[msl].key_file", "empty");
    assert_key_err(
        &msl("key_file = \"/nonexistent/sft3.key\""),
        "[msl].key_file",
        "cannot read",
    );
    assert_key_err(
        &format!("{MINIMAL}[beacon]\ninterval_ms = 10001\n"),
        "[beacon].interval_ms",
        "10000",
    );
    assert_key_err(
        &format!("{MINIMAL}[beacon]\nsilent_after = 0\n"),
        "[beacon].silent_after",
        "range",
    );
    assert_key_err(
        &format!("{MINIMAL}[role]\nstartup_wait_ms = -5\n"),
        "[role].startup_wait_ms",
        "range",
    );
    assert_key_err(
        &format!("{MINIMAL}[paths]\nlog_file = \"\"\n"),
        "[paths].log_file",
        "empty",
    );
    assert_key_err(
        &format!("{MINIMAL}[paths]\ncontrol_socket = 1\n"),
        "[paths].control_socket",
        "string",
    );
}

#[test]
fn wrong_shapes() {
    assert_key_err(
        &MINIMAL.replace("[server]\n", "server = 1\n[x]\n"),
        "[server]",
        "expected a table",
    );
    let no_lan = MINIMAL.replace("[[lan]]\ninterface = \"eth0\"\nnet = \"0000abcd\"\n", "");
    assert_key_err(&format!("lan = 5\n{no_lan}"), "[[lan]]", "array of tables");
    assert_key_err(
        &format!("lan = [1]\n{no_lan}"),
        "[lan][0]",
        "expected a table",
    );
    assert_key_err(&format!("lan = []\n{no_lan}"), "[[lan]]", "1 to 8");
}

#[test]
fn adapters() {
    let lans = |n: usize| {
        let mut s = MINIMAL.replace("[[lan]]\ninterface = \"eth0\"\nnet = \"0000abcd\"\n", "");
        for i in 0..n {
            s.push_str(&format!(
                "[[lan]]\ninterface = \"eth{i}\"\nnet = \"{:08x}\"\n",
                i + 1
            ));
        }
        s
    };
    assert_eq!(NodeConfig::from_toml_str(&lans(8)).unwrap().lan.len(), 8);
    assert_key_err(&lans(9), "[[lan]]", "9 adapters");
    let dup = format!("{MINIMAL}[[lan]]\ninterface = \"eth0\"\nnet = \"00000002\"\n");
    assert_key_err(&dup, "[lan][1].interface", "already [lan][0]");
    let msl = format!("{MINIMAL}[[lan]]\ninterface = \"msl0\"\nnet = \"00000002\"\n");
    assert_key_err(&msl, "[lan][1].interface", "MSL");
    let framing =
        format!("{MINIMAL}[[lan]]\ninterface = \"eth1\"\nnet = \"2\"\nframing = \"token-ring\"\n");
    assert_key_err(&framing, "[lan][1].framing", "\"token-ring\"");
    let bad_net = format!("{MINIMAL}[[lan]]\ninterface = \"eth1\"\nnet = \"xyz\"\n");
    match err(&bad_net) {
        e @ ConfigError::Key { .. } => assert_eq!(
            e.to_string(),
            "[lan][1].net: \"xyz\" is not a hex IPX network number"
        ),
        e => panic!("{e}"),
    }
}

#[test]
fn syntax_errors_give_a_position() {
    match err("[server]\nid = 7\nname = \"unterminated\n") {
        ConfigError::Syntax {
            line,
            column,
            message,
        } => {
            assert_eq!(line, 3, "{message}");
            assert!(column >= 1);
            assert!(!message.is_empty());
        }
        e => panic!("{e}"),
    }
    // A key given twice is a syntax error in TOML.
    assert!(matches!(
        err(&format!("{MINIMAL}[server]\nid = 1\n")),
        ConfigError::Syntax { .. }
    ));
}

#[test]
fn key_files() {
    let d = scratch("keys");
    let raw: Vec<u8> = (0u8..32).collect();
    std::fs::write(d.join("raw.key"), &raw).unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(d.join("hex.key"), format!("  {hex}\n")).unwrap();
    std::fs::write(d.join("short.key"), "abcd\n").unwrap();
    let cfg = |file: &str| {
        MINIMAL.replace(
            "interface = \"msl0\"",
            &format!("interface = \"msl0\"\nkey_file = \"{file}\""),
        )
    };
    // Relative to the configuration file's directory.
    std::fs::write(d.join("a.toml"), cfg("raw.key")).unwrap();
    let a = NodeConfig::load(&d.join("a.toml")).unwrap();
    assert_eq!(a.msl.key.map(|k| k.to_vec()), Some(raw.clone()));
    assert_eq!(a.msl.key_file.as_deref(), Some(&*d.join("raw.key")));
    assert!(
        !format!("{a:?}").contains("[0, 1, 2"),
        "Debug shows the key"
    );
    std::fs::write(d.join("b.toml"), cfg("hex.key")).unwrap();
    assert_eq!(
        NodeConfig::load(&d.join("b.toml")).unwrap().msl.key,
        a.msl.key
    );
    std::fs::write(d.join("c.toml"), cfg("short.key")).unwrap();
    match NodeConfig::load(&d.join("c.toml")) {
        Err(ConfigError::Key { key, reason }) => {
            assert_eq!(key, "[msl].key_file");
            assert!(
                reason.contains("64 hex digits") && reason.contains("5 bytes"),
                "{reason}"
            );
        }
        r => panic!("{r:?}"),
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn relative_paths_follow_the_file() {
    let d = scratch("paths");
    let text = format!(
        "{MINIMAL}[paths]\nlog_file = \"log/admin.log\"\ncontrol_socket = \"/abs/c.sock\"\n"
    );
    std::fs::write(d.join("n.toml"), &text).unwrap();
    let c = NodeConfig::load(&d.join("n.toml")).unwrap();
    assert_eq!(c.paths.log_file, d.join("log/admin.log"));
    assert_eq!(c.paths.control_socket, Path::new("/abs/c.sock"));
    // From text: left relative.
    let c = NodeConfig::from_toml_str(&text).unwrap();
    assert_eq!(c.paths.log_file, Path::new("log/admin.log"));
    match NodeConfig::load(&d.join("missing.toml")) {
        Err(e @ ConfigError::Read { .. }) => assert!(e.to_string().contains("missing.toml")),
        r => panic!("{r:?}"),
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn commands_refuse_bad_configurations() {
    let sft3 = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sft3"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), err)
    };
    let d = scratch("cli");
    let cfg = d.join("n.toml");
    let c = cfg.to_str().unwrap();
    // Exit 2 with the key named, for `run` and for `status --config`.
    std::fs::write(&cfg, "[server]\nid = 1\nname = \"A\"\nbogus = 1\n").unwrap();
    let (code, err) = sft3(&["run", "--config", c]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("[server].bogus: unknown key"), "{err}");
    let (code, err) = sft3(&["status", "--config", c]);
    assert_eq!(code, 2, "{err}");
    let missing = d.join("none.toml");
    let (code, err) = sft3(&["run", "--config", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}
