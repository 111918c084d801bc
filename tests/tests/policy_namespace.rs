//! The destination policy from the attacker's side, on addresses that are not loopback: in a
//! network namespace this test makes (`unshare -n -m`: its own `lo`, its own /etc/hosts), every
//! address below is put on `lo` with a listener that counts the connections it gets. An app run
//! by `httplib run` under the wildcard `--allow 'http://*:*'` reaches the public one and none
//! of the special-purpose ones (IANA's registries, the IPv6 forms that carry an IPv4 address,
//! a name that resolves to one); a rule naming one reaches it. A name no rule could grant
//! is refused before any lookup: the namespace's resolver (a UDP listener on its `lo`)
//! receives no query for it. Nothing leaves the namespace.

use httplib_tests::*;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const FETCH_APP: &str = env!("FETCH_APP_WASM");
/// Set in the copy of this test that runs inside the namespace.
const INSIDE: &str = "HTTPLIB_TEST_IN_NETNS";
/// A port for every listener (each on its own address).
const PORT: u16 = 8181;
/// A name the namespace's /etc/hosts points at a benchmarking address (RFC 2544).
const REBINDING_NAME: &str = "bench.rebind.test";

/// The addresses a wildcard must not reach, each with why (the refusal names it).
const SPECIAL: &[(&str, &str)] = &[
    ("198.18.0.1", "benchmarking"),
    ("192.0.0.1", "IPv4 service continuity"),
    ("192.0.0.100", "IETF protocol assignments"),
    ("192.0.2.1", "documentation (TEST-NET-1)"),
    ("203.0.113.7", "documentation (TEST-NET-3)"),
    ("169.254.169.254", "link-local"),
    ("10.1.2.3", "private"),
    ("100.64.0.1", "shared (carrier-grade NAT)"),
    ("64:ff9b:1::a9fe:a9fe", "local-use IPv4/IPv6 translation"),
    ("2002:a9fe:a9fe::1", "link-local"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:db8::1", "documentation"),
    ("100::1", "discard-only"),
];
/// An address the registries call globally reachable, put on this namespace's `lo`.
const PUBLIC: &str = "93.184.216.34";

/// Counts connections to `addr` and answers each with a small 200.
fn listener(addr: IpAddr) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind(SocketAddr::new(addr, PORT)).unwrap_or_else(|e| panic!("{addr}: {e}"));
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head);
            let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nhi\n");
        }
    });
    count
}

/// Counts the DNS queries sent to 127.0.0.1:53 (answering none: each lookup times out).
fn dns_listener() -> Arc<AtomicUsize> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:53").unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        let mut query = [0u8; 1500];
        while socket.recv(&mut query).is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    count
}

fn url(addr: &str) -> String {
    match addr.contains(':') {
        true => format!("http://[{addr}]:{PORT}/"),
        false => format!("http://{addr}:{PORT}/"),
    }
}

fn fetch(allow: &str, url: &str) -> Output {
    fetch_granting(&[allow], url)
}

fn fetch_granting(rules: &[&str], url: &str) -> Output {
    let mut run = Command::new(httplib_bin!());
    run.args(["run", FETCH_APP]);
    for rule in rules {
        run.args(["--allow", rule]);
    }
    run.args(["--", url]).output().unwrap()
}

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wildcard_reaches_no_special_address_in_a_namespace_of_its_own() {
    if std::env::var_os(INSIDE).is_none() {
        // Outside: run this same test again inside a new network and mount namespace.
        let probe = Command::new("unshare").args(["-n", "-m", "true"]).output();
        match probe {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                eprintln!(
                    "skipped: this machine makes no network namespace (unshare -n -m: {})",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                return;
            }
            Err(e) => {
                eprintln!("skipped: no unshare here ({e})");
                return;
            }
        }
        let me = std::env::current_exe().unwrap();
        let out = Command::new("unshare")
            .args(["-n", "-m", "--propagation", "private", "--"])
            .arg(me)
            .args([
                "--exact",
                "a_wildcard_reaches_no_special_address_in_a_namespace_of_its_own",
                "--nocapture",
            ])
            .env(INSIDE, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "inside the namespace:\n{text}");
        assert!(text.contains("1 passed"), "the test ran inside the namespace:\n{text}");
        eprintln!("{text}");
        return;
    }
    // Inside: this namespace's lo holds every address, and its /etc/hosts the rebinding name.
    sh("ip link set lo up");
    for (addr, _) in SPECIAL.iter().chain(&[(PUBLIC, "")]) {
        match addr.contains(':') {
            true => sh(&format!("ip -6 addr add {addr}/128 dev lo nodad")),
            false => sh(&format!("ip addr add {addr}/32 dev lo")),
        }
    }
    let hosts = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        hosts.path(),
        format!("127.0.0.1 localhost\n198.18.0.1 {REBINDING_NAME}\n"),
    )
    .unwrap();
    sh(&format!("mount --bind {} /etc/hosts", hosts.path().display()));

    let counts: Vec<Arc<AtomicUsize>> = SPECIAL.iter().map(|(a, _)| listener(a.parse().unwrap())).collect();
    let public = listener(PUBLIC.parse().unwrap());

    // The control: the wildcard does reach a globally reachable address, so a refusal below
    // is the policy's and not a network that does not work.
    let out = fetch("http://*:*", &url(PUBLIC));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(public.load(Ordering::SeqCst), 1);

    for ((addr, why), count) in SPECIAL.iter().zip(&counts) {
        let out = fetch("http://*:*", &url(addr));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{addr}: {err}");
        assert!(
            err.contains("PermissionError") && err.contains("not allowed by the policy"),
            "{addr}: {err}"
        );
        assert!(err.contains(why), "{addr}: the refusal says why ({why}): {err}");
        assert_eq!(count.load(Ordering::SeqCst), 0, "{addr}: a socket reached it");
        eprintln!("refused {addr}: {why}");
    }

    let at = |addr: &str| SPECIAL.iter().position(|(a, _)| *a == addr).unwrap();
    // A name that resolves to a special address is judged by the address.
    let out = fetch("http://*:*", &format!("http://{REBINDING_NAME}:{PORT}/"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resolved to 198.18.0.1, benchmarking"), "{err}");
    assert_eq!(counts[at("198.18.0.1")].load(Ordering::SeqCst), 0);

    // Rules that name the address, its range or its name grant it.
    for (allow, target, index) in [
        (format!("http://198.18.0.1:{PORT}"), url("198.18.0.1"), at("198.18.0.1")),
        (
            format!("http://{REBINDING_NAME}:{PORT}"),
            format!("http://{REBINDING_NAME}:{PORT}/"),
            at("198.18.0.1"),
        ),
        (
            "2002:a9fe:a9fe::/48".to_string(),
            url("2002:a9fe:a9fe::1"),
            at("2002:a9fe:a9fe::1"),
        ),
    ] {
        let before = counts[index].load(Ordering::SeqCst);
        let out = fetch(&allow, &target);
        assert!(
            out.status.success(),
            "{allow}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(counts[index].load(Ordering::SeqCst), before + 1, "{allow}");
    }

    // A name no rule could grant is refused before it is looked up: the namespace's resolver
    // sees no query (a plugin under a deny-all policy cannot send names of its choosing to
    // the resolver), and the error is the policy's, not a failed lookup.
    let queries = dns_listener();
    let resolv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(resolv.path(), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n").unwrap();
    sh(&format!("mount --bind {} /etc/resolv.conf", resolv.path().display()));
    let leak = format!("http://secret-1234.leak.example:{PORT}/");
    let granted = format!("http://granted.test:{PORT}");
    for rules in [
        &[][..],
        &[granted.as_str()],
        &["https://*:*", "http://*.other.example:*"],
    ] {
        let out = fetch_granting(rules, &leak);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("PermissionError") && err.contains("not allowed by the policy"),
            "{rules:?}: {err}"
        );
        assert_eq!(queries.load(Ordering::SeqCst), 0, "{rules:?}: the name was looked up");
    }
    // The control: under a rule that could match it, the name is looked up (and, unanswered,
    // fails as a lookup), so the silence above is the policy's.
    let out = fetch("http://*:*", &leak);
    assert!(!out.status.success());
    assert!(queries.load(Ordering::SeqCst) >= 1, "the resolver saw no query");
    eprintln!("a name no rule could grant: refused with no DNS query");
}
