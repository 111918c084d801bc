//! The tests' CGI script. By PATH_INFO: "/exit3" writes to stderr and exits with status 3
//! (which wasi:cli 0.2 reports as a plain failure);
//! "/trap" traps; "/redirect" answers with a Location; "/notfound" with `Status: 404`;
//! "/slow" prints a line every half second, three times; "/hog" prints a line, then asks for
//! memory until its limit stops it; "/sized" gives its Content-Length; anything else prints a
//! text/plain page of its argv, its CGI environment (sorted) and the body it read from stdin.

use std::io::{Read, Write};

fn main() {
    let path_info = std::env::var("PATH_INFO").unwrap_or_default();
    match path_info.as_str() {
        "/exit3" => {
            eprintln!("going wrong on purpose");
            std::process::exit(3);
        }
        // A real trap (std::process::abort exits with status 1 under wasi-libc).
        "/trap" => core::arch::wasm32::unreachable(),
        "/redirect" => {
            print!("Status: 302 Found\r\nLocation: /elsewhere\r\n\r\n");
            return;
        }
        "/notfound" => {
            print!("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such thing\n");
            return;
        }
        "/sized" => {
            print!("Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nsized\n");
            return;
        }
        "/slow" => {
            let mut out = std::io::stdout();
            write!(out, "Content-Type: text/plain\r\n\r\n").unwrap();
            for i in 1..=3 {
                writeln!(out, "line {i}").unwrap();
                out.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            return;
        }
        "/hog" => {
            let mut out = std::io::stdout();
            write!(out, "Content-Type: text/plain\r\n\r\nbefore the limit\n").unwrap();
            out.flush().unwrap();
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
            }
        }
        _ => {}
    }
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body).expect("reading stdin");
    let mut out = String::from("Content-Type: text/plain\r\n\r\n");
    out.push_str(&format!("argv={:?}\n", std::env::args().collect::<Vec<_>>()));
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (k, v) in vars {
        out.push_str(&format!("{k}={v}\n"));
    }
    out.push_str(&format!("stdin={}\n", String::from_utf8_lossy(&body)));
    // Can it see the server's files? (It must not: no preopens.)
    out.push_str(&format!("can_read_root={}\n", std::fs::read_dir("/").is_ok()));
    std::io::stdout().write_all(out.as_bytes()).expect("writing stdout");
}
