//! Real HTTP servers for the interop tests (`tests/nginx.rs`, `tests/python_server.rs`,
//! `tests/proxy.rs`, `tests/hickory.rs`): nginx (as a server, or as a forward proxy),
//! Python's `http.server`, tinyproxy, microsocks (a SOCKS5 proxy) and dnsmasq (a DNS server), started by the test itself as a foreground child
//! process listening on 127.0.0.1, with its configuration, pid, logs and temp files in a
//! per-test directory under `std::env::temp_dir()`.
//!
//! A [`ServerProcess`] kills and reaps its child when dropped, so the server stops even
//! when the test panics; its directory is removed then too. Each server writes an access
//! log that says which connection served each request (nginx: `$connection` and
//! `$connection_requests`; the Python script: the client's port), read with
//! [`ServerProcess::wait_log_lines`].
//!
//! When a server binary is not installed, [`installed`] prints that the test is skipped
//! and returns `false`, unless `TETHER_REQUIRE_SERVERS` is set (CI sets it): then it
//! panics, so a missing server fails the run instead of passing silently.
//!
//! TLS only for nginx speaking HTTP/2 (certificates made by the test). Not covered here:
//! servers that need root or a fixed port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to start, and a log to show its lines (real time).
const START_LIMIT: Duration = Duration::from_secs(15);
/// How many ports to try when the one picked was taken in the meantime.
const PORT_ATTEMPTS: usize = 5;

/// Whether `binary` can be run. If not: panics when `TETHER_REQUIRE_SERVERS` is set,
/// else prints that `test` is skipped and returns `false`.
pub fn installed(binary: &str, version_flag: &str, test: &str) -> bool {
    let found = Command::new(binary)
        .arg(version_flag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return true;
    }
    let required = std::env::var_os("TETHER_REQUIRE_SERVERS").is_some_and(|v| !v.is_empty());
    if required {
        panic!("{test}: `{binary}` is not installed and TETHER_REQUIRE_SERVERS is set");
    }
    println!("{test}: skipped, `{binary}` is not installed (set TETHER_REQUIRE_SERVERS=1 to fail instead)");
    false
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory named after `label`.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tether-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server: its child process, port and directory. Dropping it kills the child,
/// waits for it, and removes the directory.
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    /// Dropped after the child is reaped (fields drop in order, after `Drop::drop`).
    dir: TempDir,
}

impl ServerProcess {
    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The access log's lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (polling, real time) until the access log holds at least `n` lines, and
    /// returns them. A server may write its log line just after the response, so the
    /// client can be done before the line is there. Panics after [`START_LIMIT`].
    pub fn wait_log_lines(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines = self.log_lines();
            if lines.len() >= n {
                return lines;
            }
            if start.elapsed() > START_LIMIT {
                panic!(
                    "{}: the access log has {} lines, expected {n}: {lines:#?}\n{}",
                    self.name,
                    lines.len(),
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (polling, real time) until the log has a line containing `needle`, and
    /// returns the lines. Panics after [`START_LIMIT`].
    pub fn wait_for_log(&self, needle: &str) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines = self.log_lines();
            if lines.iter().any(|l| l.contains(needle)) {
                return lines;
            }
            if start.elapsed() > START_LIMIT {
                panic!(
                    "{}: no log line with {needle:?}: {lines:#?}\n{}",
                    self.name,
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's error log (or output), for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for name in ["error.log", "stderr.log", "tinyproxy.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir().join(name)) {
                out.push_str(&format!("--- {} {name} ---\n{text}", self.name));
            }
        }
        out
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (bound with port 0, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// nginx settings a test varies; the rest is in `tests/servers/nginx.conf.template`.
#[derive(Clone, Debug)]
pub struct NginxConf {
    /// The `keepalive_timeout` directive's arguments, e.g. `"1s"` or `"1s 1s"` (the
    /// second one makes nginx send `Keep-Alive: timeout=N`).
    pub keepalive_timeout: &'static str,
    /// `keepalive_requests`: nginx answers the last one with `Connection: close`.
    pub keepalive_requests: u32,
}

const NGINX_TEMPLATE: &str = include_str!("nginx.conf.template");

/// Starts nginx in the foreground (`daemon off; master_process off;`) with `conf`, on a
/// free port of 127.0.0.1 (another one is tried if it was taken in the meantime).
/// Ready when it has written its pid file, which it does after binding its socket.
pub fn start_nginx(label: &str, conf: &NginxConf) -> ServerProcess {
    start_nginx_with(label, |_, port| {
        NGINX_TEMPLATE
            .replace("@PORT@", &port.to_string())
            .replace("@KEEPALIVE_TIMEOUT@", conf.keepalive_timeout)
            .replace("@KEEPALIVE_REQUESTS@", &conf.keepalive_requests.to_string())
            .replace("@UNIX@", "")
    })
}

/// [`start_nginx`], listening on the Unix domain socket `nginx.sock` in its directory
/// too ([`ServerProcess::dir`]).
pub fn start_nginx_unix(label: &str, conf: &NginxConf) -> ServerProcess {
    start_nginx_with(label, |dir, port| {
        NGINX_TEMPLATE
            .replace("@PORT@", &port.to_string())
            .replace("@KEEPALIVE_TIMEOUT@", conf.keepalive_timeout)
            .replace("@KEEPALIVE_REQUESTS@", &conf.keepalive_requests.to_string())
            .replace(
                "@UNIX@",
                &format!("listen unix:{};", dir.join("nginx.sock").display()),
            )
    })
}

const NGINX_H2_TEMPLATE: &str = include_str!("nginx-h2.conf.template");

/// Starts nginx speaking HTTP/2 (and HTTP/1.1) over TLS with the certificate and key in
/// the PEM files `cert` and `key`, at most `max_streams` streams per connection
/// (`tests/servers/nginx-h2.conf.template`), on its port and on the Unix domain socket
/// `tls.sock` in its directory.
pub fn start_nginx_h2(label: &str, cert: &Path, key: &Path, max_streams: u32) -> ServerProcess {
    start_nginx_with(label, |dir, port| {
        NGINX_H2_TEMPLATE
            .replace("@PORT@", &port.to_string())
            .replace(
                "@UNIX@",
                &format!("listen unix:{} ssl http2;", dir.join("tls.sock").display()),
            )
            .replace("@CERT@", &cert.display().to_string())
            .replace("@KEY@", &key.display().to_string())
            .replace("@MAX_STREAMS@", &max_streams.to_string())
    })
}

const NGINX_PROXY_TEMPLATE: &str = include_str!("nginx-proxy.conf.template");

/// Starts nginx as a forward proxy for plain HTTP (`tests/servers/nginx-proxy.conf.template`):
/// it takes absolute-form requests, keeps client connections alive, and logs each request
/// line with the client connection's serial number and request count on it.
pub fn start_nginx_forward_proxy(label: &str) -> ServerProcess {
    start_nginx_with(label, |_, port| {
        NGINX_PROXY_TEMPLATE.replace("@PORT@", &port.to_string())
    })
}

/// Starts nginx with the configuration `text(dir, port)` gives for its directory and a
/// free port. Ready when it has written its pid file, which it does after binding its
/// sockets.
fn start_nginx_with(label: &str, text: impl Fn(&Path, u16) -> String) -> ServerProcess {
    let ready = |server: &ServerProcess| server.dir().join("nginx.pid").exists();
    start_child(
        "nginx",
        label,
        "access.log",
        free_port,
        ready,
        |dir, port| {
            std::fs::create_dir_all(dir.join("tmp")).expect("create nginx tmp dir");
            let conf_path = dir.join("nginx.conf");
            std::fs::write(&conf_path, text(dir, port)).expect("write nginx.conf");
            let mut command = Command::new("nginx");
            command
                .arg("-p")
                .arg(dir)
                .args(["-e", "error.log", "-c"])
                .arg(&conf_path)
                .args(["-g", "daemon off; master_process off;"]);
            command
        },
    )
}

/// Starts `binary` as a foreground child on a port `pick_port` gives: `command(dir, port)`
/// says how, in a new per-test directory; `log` (in that directory) is the log the tests
/// read; `ready` says when it serves. When the child exits first (the port was taken in
/// the meantime), another port is tried.
fn start_child(
    binary: &'static str,
    label: &str,
    log: &str,
    pick_port: fn() -> u16,
    ready: impl Fn(&ServerProcess) -> bool,
    command: impl Fn(&Path, u16) -> Command,
) -> ServerProcess {
    let mut last_failure = String::new();
    for _ in 0..PORT_ATTEMPTS {
        let dir = TempDir::new(label);
        let port = pick_port();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr.log");
        let child = command(dir.path(), port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
        let mut server = ServerProcess {
            name: binary,
            child,
            port,
            log: dir.path().join(log),
            dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                last_failure = format!("{binary} exited with {status}\n{}", server.diagnostics());
                break;
            }
            if ready(&server) {
                return server;
            }
            if start.elapsed() > START_LIMIT {
                panic!("{binary} did not start in time\n{}", server.diagnostics());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("{binary} failed to start: {last_failure}");
}

/// Starts tinyproxy in the foreground (`-d`) on a free port of 127.0.0.1 with the
/// configuration of `tests/servers/tinyproxy.conf.template`, and `BasicAuth user password`
/// when `basic_auth` is given. Its log (`tinyproxy.log`, level Connect) names each
/// connection it accepts and each request or CONNECT. Ready when the port accepts.
pub fn start_tinyproxy(label: &str, basic_auth: Option<(&str, &str)>) -> ServerProcess {
    let auth = basic_auth
        .map(|(user, pass)| format!("BasicAuth {user} {pass}"))
        .unwrap_or_default();
    let ready =
        |server: &ServerProcess| std::net::TcpStream::connect(("127.0.0.1", server.port())).is_ok();
    start_child(
        "tinyproxy",
        label,
        "tinyproxy.log",
        free_port,
        ready,
        |dir, port| {
            let text = TINYPROXY_TEMPLATE
                .replace("@PORT@", &port.to_string())
                .replace("@BASIC_AUTH@", &auth)
                .replace("@LOG@", &dir.join("tinyproxy.log").display().to_string());
            let conf_path = dir.join("tinyproxy.conf");
            std::fs::write(&conf_path, text).expect("write tinyproxy.conf");
            let mut command = Command::new("tinyproxy");
            command.arg("-d").arg("-c").arg(&conf_path);
            command
        },
    )
}

const TINYPROXY_TEMPLATE: &str = include_str!("tinyproxy.conf.template");

/// Starts microsocks, a SOCKS5 proxy, on a free port of 127.0.0.1, asking for `login`
/// (username, password) when given. It resolves names itself (for `socks5h://`) and
/// writes a line per connection it opens to its error output (`stderr.log`, the log here):
/// `client[N] 127.0.0.1: connected to HOST:PORT`, HOST as the client gave it. Ready when
/// the port answers a SOCKS5 greeting (so that another server that took the port in the
/// meantime is not taken for it).
pub fn start_microsocks(label: &str, login: Option<(&str, &str)>) -> ServerProcess {
    let ready = |server: &ServerProcess| {
        use std::io::{Read, Write};
        let Ok(mut probe) = std::net::TcpStream::connect(("127.0.0.1", server.port())) else {
            return false;
        };
        let _ = probe.set_read_timeout(Some(Duration::from_secs(1)));
        let mut choice = [0u8; 2];
        probe.write_all(&[5, 2, 0, 2]).is_ok()
            && probe.read_exact(&mut choice).is_ok()
            && choice[0] == 5
    };
    start_child(
        "microsocks",
        label,
        "stderr.log",
        free_port,
        ready,
        |_, port| {
            let mut command = Command::new("microsocks");
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, password)) = login {
                command.args(["-u", user, "-P", password]);
            }
            command
        },
    )
}

/// Starts Dante (`danted`), a SOCKS4 and SOCKS5 proxy, in the foreground on a free port
/// of 127.0.0.1 with `tests/servers/danted.conf.template`: no authentication, every
/// destination but port 9, which it refuses. SOCKS4 only (it does not take 4a's host
/// names). Its log (`danted.log`) has a line per connection it opens, naming the address
/// it connected to as `A.B.C.D.PORT`. Ready when the port answers a SOCKS5 greeting.
pub fn start_dante(label: &str) -> ServerProcess {
    let ready = |server: &ServerProcess| {
        use std::io::{Read, Write};
        let Ok(mut probe) = std::net::TcpStream::connect(("127.0.0.1", server.port())) else {
            return false;
        };
        let _ = probe.set_read_timeout(Some(Duration::from_secs(1)));
        let mut choice = [0u8; 2];
        probe.write_all(&[5, 1, 0]).is_ok()
            && probe.read_exact(&mut choice).is_ok()
            && choice == [5, 0]
    };
    start_child(
        "danted",
        label,
        "danted.log",
        free_port,
        ready,
        |dir, port| {
            let text = DANTE_TEMPLATE
                .replace("@PORT@", &port.to_string())
                .replace("@LOG@", &dir.join("danted.log").display().to_string());
            let conf_path = dir.join("danted.conf");
            std::fs::write(&conf_path, text).expect("write danted.conf");
            let mut command = Command::new("danted");
            command
                .arg("-f")
                .arg(&conf_path)
                .arg("-p")
                .arg(dir.join("danted.pid"));
            command
        },
    )
}

const DANTE_TEMPLATE: &str = include_str!("danted.conf.template");

/// Starts dnsmasq in the foreground as a DNS server on a free UDP port of 127.0.0.1 that
/// answers `names` (each `(domain, address)`: the domain and every name under it) and
/// nothing else (no upstream servers, no `/etc/hosts`), logging every query to
/// `stderr.log` (the access log here). Ready when it answers a query.
pub fn start_dnsmasq(label: &str, names: &[(&str, &str)]) -> ServerProcess {
    let free_udp_port = || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
        socket.local_addr().expect("local_addr").port()
    };
    let ready = |server: &ServerProcess| dns_answers(server.port());
    start_child(
        "dnsmasq",
        label,
        "stderr.log",
        free_udp_port,
        ready,
        |_, port| {
            let mut command = Command::new("dnsmasq");
            command.args([
                "--keep-in-foreground",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--log-queries",
                "--log-facility=-",
                "--pid-file=",
                "--user=root",
                "--cache-size=0",
            ]);
            command.arg(format!("--port={port}"));
            for (domain, address) in names {
                command.arg(format!("--address=/{domain}/{address}"));
            }
            command
        },
    )
}

/// Whether a DNS server on 127.0.0.1:`port` answers a query (for `ready.invalid`, A).
fn dns_answers(port: u16) -> bool {
    let Ok(socket) = std::net::UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(50)));
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["ready", "invalid"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut answer = [0u8; 512];
    socket.send_to(&query, ("127.0.0.1", port)).is_ok()
        && matches!(socket.recv_from(&mut answer), Ok((n, _)) if n >= 12 && answer[..2] == [0x12, 0x34])
}

/// One nginx access-log line (format `conns` in the template).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NginxLogLine {
    /// `$connection`: the connection's serial number.
    pub connection: u64,
    /// `$connection_requests`: this request's number on its connection (from 1).
    pub connection_requests: u64,
    pub method: String,
    pub uri: String,
    pub status: u16,
}

/// Parses lines written with `log_format conns '$connection $connection_requests
/// $request_method $request_uri $status'`.
pub fn parse_nginx_log(lines: &[String]) -> Vec<NginxLogLine> {
    lines
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 5, "unexpected nginx log line {line:?}");
            NginxLogLine {
                connection: f[0].parse().expect("$connection"),
                connection_requests: f[1].parse().expect("$connection_requests"),
                method: f[2].to_owned(),
                uri: f[3].to_owned(),
                status: f[4].parse().expect("$status"),
            }
        })
        .collect()
}

/// One line of the forward proxy's access log (`tests/servers/nginx-proxy.conf.template`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NginxProxyLogLine {
    /// `$connection`: the client connection's serial number.
    pub connection: u64,
    /// `$connection_requests`: this request's number on it (from 1).
    pub connection_requests: u64,
    /// `$request`: the request line as the client sent it.
    pub request: String,
}

/// Parses lines written with `log_format proxied '$connection $connection_requests
/// $request'`.
pub fn parse_nginx_proxy_log(lines: &[String]) -> Vec<NginxProxyLogLine> {
    lines
        .iter()
        .map(|line| {
            let mut f = line.splitn(3, ' ');
            let mut next = || {
                f.next()
                    .unwrap_or_else(|| panic!("short log line {line:?}"))
            };
            NginxProxyLogLine {
                connection: next().parse().expect("$connection"),
                connection_requests: next().parse().expect("$connection_requests"),
                request: next().to_owned(),
            }
        })
        .collect()
}

/// Python's `http.server` (the `protocol_version` its handler speaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PythonProtocol {
    /// The module's default: HTTP/1.0, one request per connection.
    Http10,
    /// `protocol_version = "HTTP/1.1"`: persistent connections.
    Http11,
}

/// The body of `/hello.txt` on the Python server.
pub const PYTHON_HELLO: &str = "hello from python\n";

/// Starts `tests/servers/http_server.py` (Python's `http.server` with a threading server
/// and an access log naming each request's client port) serving a directory that holds
/// `hello.txt`. The script binds port 0 itself and prints the port.
pub fn start_python(label: &str, protocol: PythonProtocol) -> ServerProcess {
    let dir = TempDir::new(label);
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("create python root");
    std::fs::write(root.join("hello.txt"), PYTHON_HELLO).expect("write hello.txt");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/http_server.py");
    let log = dir.path().join("access.log");
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr.log");
    let mut child = Command::new("python3")
        .arg("-u")
        .arg(&script)
        .arg("--protocol")
        .arg(match protocol {
            PythonProtocol::Http10 => "HTTP/1.0",
            PythonProtocol::Http11 => "HTTP/1.1",
        })
        .arg("--root")
        .arg(&root)
        .arg("--log")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
    let stdout = child.stdout.take().expect("python stdout");
    // The first line is the port; read it on a thread so a hung script cannot hang us.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut server = ServerProcess {
        name: "python http.server",
        child,
        port: 0,
        log,
        dir,
    };
    let line = rx.recv_timeout(START_LIMIT).unwrap_or_default();
    server.port = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "python server did not report its port (got {line:?})\n{}",
                server.diagnostics()
            )
        });
    server
}

/// One line of the Python script's access log: `PEER_PORT METHOD PATH STATUS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonLogLine {
    /// The client's port: one per connection.
    pub peer_port: u16,
    pub method: String,
    pub path: String,
    pub status: u16,
}

pub fn parse_python_log(lines: &[String]) -> Vec<PythonLogLine> {
    lines
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 4, "unexpected python log line {line:?}");
            PythonLogLine {
                peer_port: f[0].parse().expect("peer port"),
                method: f[1].to_owned(),
                path: f[2].to_owned(),
                status: f[3].parse().expect("status"),
            }
        })
        .collect()
}
