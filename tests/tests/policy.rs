//! The destination policy from the attacker's side, over real loopback sockets: every
//! spelling of an address, names resolving to loopback under a wildcard, tunnels through an
//! allowed proxy, and the audit hook seeing the address each connection really goes to.

use httplib_host::bindings::client::{Body, ConnectionOptions};
use httplib_host::bindings::types::HttpError;
use httplib_host::client::{ClientError, ClientSession};
use httplib_host::policy::{AuditHook, OutboundPolicy};
use httplib_tests::*;
use std::io::Read;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A listener that counts the connections it accepts and the bytes they send.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<(usize, usize)>>,
}

impl Recorder {
    fn new(bind: &str) -> Self {
        let listener = TcpListener::bind(bind).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new((0, 0)));
        let log = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                log.lock().unwrap().0 += 1;
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = client.read(&mut buf) {
                        log.lock().unwrap().1 += n;
                    }
                });
            }
        });
        Self { port, seen }
    }

    /// (connections accepted, bytes received) after a moment for stragglers.
    fn seen(&self) -> (usize, usize) {
        std::thread::sleep(Duration::from_millis(50));
        *self.seen.lock().unwrap()
    }
}

/// GET `path` from `host:port` in a session under `policy`: the status, or the exception.
fn get(policy: &OutboundPolicy, host: &str, port: u16) -> Result<u16, HttpError> {
    let mut s = ClientSession::new(&runtime(), policy.clone()).unwrap();
    let options = ConnectionOptions {
        timeout_ms: Some(5000),
        ..ConnectionOptions::http()
    };
    let result = s
        .open(host, Some(port), &options)
        .and_then(|c| {
            s.request(c, "GET", "/hello.txt", &Body::None, &[])?;
            s.getresponse(c)
        })
        .and_then(|r| s.status(r));
    result.map_err(|e| match e {
        ClientError::Http(h, _) => h,
        other => panic!("{other:?}"),
    })
}

fn denied(result: Result<u16, HttpError>) -> String {
    match result {
        Err(HttpError::Denied(why)) => why,
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// Spellings the C resolver takes for 127.0.0.1.
const LOOPBACK_SPELLINGS: &[&str] = &[
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "[::ffff:127.0.0.1]",
    "127.0.0.1.",
];

#[test]
fn a_rule_by_name_grants_that_name_and_no_other_spelling() {
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.0");
    let policy = OutboundPolicy::allow_only([format!("http://localhost:{}", peer.port)]);
    assert_eq!(get(&policy, "localhost", peer.port), Ok(200));
    assert_eq!(get(&policy, "LOCALHOST.", peer.port), Ok(200));
    for spelling in LOOPBACK_SPELLINGS {
        let why = denied(get(&policy, spelling, peer.port));
        assert!(why.contains("127.0.0.1, loopback"), "{spelling}: {why}");
    }
    // Another port of the same host is another destination.
    let other = Recorder::new("127.0.0.1:0");
    denied(get(&policy, "localhost", other.port));
    assert_eq!(other.seen(), (0, 0));
}

#[test]
fn a_rule_by_address_grants_every_spelling_of_it() {
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.0");
    let policy = OutboundPolicy::allow_only([format!("http://127.0.0.1:{}", peer.port)]);
    for spelling in LOOPBACK_SPELLINGS.iter().chain(&["localhost"]) {
        assert_eq!(get(&policy, spelling, peer.port), Ok(200), "{spelling}");
    }
}

#[test]
fn wildcards_never_reach_loopback_however_it_is_named() {
    let target = Recorder::new("127.0.0.1:0");
    for rule in ["*:*", "http://*:*", "*.localhost:*", "0.0.0.0/0"] {
        let policy = OutboundPolicy::allow_only([rule]);
        for host in LOOPBACK_SPELLINGS.iter().chain(&["localhost"]) {
            let why = denied(get(&policy, host, target.port));
            // `localhost` is not under `.localhost`: refused before it is looked up, so the
            // refusal cannot name the address.
            let unresolved = rule == "*.localhost:*" && *host == "localhost";
            assert!(why.contains("loopback") || unresolved, "{rule} {host}: {why}");
            assert!(why.contains("not allowed by the policy"), "{rule} {host}: {why}");
        }
    }
    assert_eq!(target.seen(), (0, 0), "no connection was made");
    // The embedder's default grants nothing.
    denied(get(&OutboundPolicy::default(), "127.0.0.1", target.port));
    assert_eq!(target.seen(), (0, 0));
}

#[test]
fn an_ipv6_entry_matches_its_address() {
    let v6 = Recorder::new("[::1]:0");
    let policy = OutboundPolicy::allow_only([format!("[::1]:{}", v6.port)]);
    // The recorder answers nothing: the request is sent, then the read times out.
    let mut s = ClientSession::new(&runtime(), policy.clone()).unwrap();
    let options = ConnectionOptions {
        timeout_ms: Some(300),
        ..ConnectionOptions::http()
    };
    let c = s.open("::1", Some(v6.port), &options).unwrap();
    s.request(c, "GET", "/", &Body::None, &[]).unwrap();
    assert!(v6.seen().0 == 1 && v6.seen().1 > 0);
    denied(get(&policy, "[::1]", v6.port + 1));
}

#[test]
fn the_audit_hook_sees_the_address_each_connection_goes_to() {
    let site = fixture_dir();
    let peer = cpython_server(site.path(), "HTTP/1.0");
    let events = Arc::new(Mutex::new(Vec::<(String, Vec<String>)>::new()));
    let log = events.clone();
    let hook: AuditHook = Arc::new(move |event: &str, args: &[String]| {
        log.lock().unwrap().push((event.to_string(), args.to_vec()));
        if event == "http.client.connect" && args[2] == "127.0.0.1" {
            return Err("no loopback for plugins".into());
        }
        Ok(())
    });
    let policy = OutboundPolicy::allow_all().with_audit(hook);
    for spelling in LOOPBACK_SPELLINGS.iter().chain(&["localhost"]) {
        let why = denied(get(&policy, spelling, peer.port));
        assert!(why.contains("no loopback for plugins"), "{spelling}: {why}");
    }
    let events = events.lock().unwrap();
    let connects: Vec<&Vec<String>> = events
        .iter()
        .filter(|(e, _)| e == "http.client.connect")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(connects.len(), LOOPBACK_SPELLINGS.len() + 1);
    assert!(
        connects
            .iter()
            .all(|a| a[2] == "127.0.0.1" && a[3] == "plain" && a[1] == peer.port.to_string())
    );
    assert_eq!(connects[1][0], "127.1", "the host as the guest wrote it");
    let sends: Vec<&Vec<String>> = events
        .iter()
        .filter(|(e, _)| e == "http.client.send")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(sends[0][..2], ["GET".to_string(), "/hello.txt".to_string()]);
}

#[test]
fn a_tunnel_to_a_denied_target_never_reaches_the_proxy() {
    let proxy = Recorder::new("127.0.0.1:0");
    let policy = OutboundPolicy::allow_only([format!("http://127.0.0.1:{}", proxy.port), "https://*:443".to_string()]);
    for (target, port) in [
        ("169.254.169.254", 80),
        ("169.254.169.254", 443),
        ("0xa9fea9fe", 443),
        ("[::ffff:169.254.169.254]", 443),
        ("localhost", 443),
        ("10.0.0.1", 443),
    ] {
        let mut s = ClientSession::new(&runtime(), policy.clone()).unwrap();
        let c = s
            .open("127.0.0.1", Some(proxy.port), &ConnectionOptions::http())
            .unwrap();
        s.set_tunnel(c, target, Some(port), &[]).unwrap();
        let result = s.request(c, "GET", "/latest/meta-data/", &Body::None, &[]);
        match result {
            Err(ClientError::Http(HttpError::Denied(why), _)) => assert!(why.starts_with("tunnel "), "{why}"),
            other => panic!("{target}:{port}: {other:?}"),
        }
    }
    assert_eq!(proxy.seen(), (0, 0), "not a byte reached the proxy");
}
