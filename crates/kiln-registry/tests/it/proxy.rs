//! A test proxy on 127.0.0.1 between kiln and a registry: logs every request, injects faults into chosen
//! requests (cut a response or request body after N bytes, stall, flip a byte, answer an error status),
//! and can play a token-auth front end (a Bearer challenge and a `/token` service checking a user and
//! password), so the token flow runs against a real registry behind it.
//!
//! Each connection carries one request: the proxy adds `Connection: close` both ways, which keeps the
//! parsing to the request and response heads; bodies are piped raw.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

/// What to do to a matching request.
#[derive(Debug, Clone)]
pub(crate) enum FaultKind {
    /// Close the connection after this many response body bytes.
    DropResponseAfter(u64),
    /// Stop sending after this many response body bytes (until the client gives up).
    StallResponseAfter(u64),
    /// Flip the response body byte at this offset.
    CorruptResponseAt(u64),
    /// Answer with this status instead of forwarding.
    Status(u16),
    /// Close the connection after this many request body bytes.
    DropRequestAfter(u64),
    /// Flip the request body byte at this offset.
    CorruptRequestAt(u64),
}

/// A fault for requests whose method is `method` and whose path contains `path`, applied `times` times.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) kind: FaultKind,
    pub(crate) times: usize,
}

/// One request that went through.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
}

#[derive(Default)]
struct Shared {
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<Logged>>,
    bearer: Mutex<Option<(String, String)>>,
    stop: AtomicBool,
}

/// A running proxy.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Proxies to `127.0.0.1:upstream` (plain HTTP).
    pub(crate) fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || handle(conn, upstream, port, &s));
            }
        });
        Proxy { port, shared }
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Adds a fault.
    pub(crate) fn fault(&self, method: &'static str, path: &str, kind: FaultKind, times: usize) {
        self.shared.faults.lock().unwrap().push(Fault { method, path: path.to_owned(), kind, times });
    }

    /// Removes all faults.
    pub(crate) fn clear_faults(&self) {
        self.shared.faults.lock().unwrap().clear();
    }

    /// Requires Bearer tokens from this proxy's `/token` service, which wants `user`/`password`.
    pub(crate) fn require_bearer(&self, user: &str, password: &str) {
        *self.shared.bearer.lock().unwrap() = Some((user.to_owned(), password.to_owned()));
    }

    /// The requests so far.
    pub(crate) fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Forgets the requests so far.
    pub(crate) fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// How many logged requests have `method` and a path containing `path`.
    pub(crate) fn count(&self, method: &str, path: &str) -> usize {
        self.log().iter().filter(|l| l.method == method && l.path.contains(path)).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads up to the end of an HTTP head; returns (head, bytes read past it).
fn read_head(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
            return Some((head, buf[end + 4..].to_vec()));
        }
        let n = stream.read(&mut chunk).ok()?;
        // 0x16 opens a TLS handshake (a client trying HTTPS first): refuse it at once, as a plain-HTTP
        // server answers it with an error, instead of waiting for a head that never comes.
        if n == 0 || (buf.is_empty() && chunk[0] == 0x16) {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `head` with its `Connection` header (and `Authorization`, when `strip_auth`) replaced by `Connection: close`.
fn close_head(head: &str, strip_auth: bool) -> String {
    let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
    lines.retain(|l| {
        let lower = l.to_ascii_lowercase();
        !(lower.starts_with("connection:") || (strip_auth && lower.starts_with("authorization:")))
    });
    format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn respond(client: &mut TcpStream, status: u16, extra: &str, body: &str) {
    let _ = write!(
        client,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = client.shutdown(Shutdown::Both);
}

/// Checks Bearer auth; `Some(response)` when the request must be refused or is a token request.
fn bearer_gate(
    head: &str,
    method: &str,
    path: &str,
    port: u16,
    creds: &(String, String),
) -> Option<(u16, String, String)> {
    if path.starts_with("/token") {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.0, creds.1))
        );
        if header(head, "authorization") != Some(want.as_str()) {
            return Some((401, String::new(), r#"{"details":"bad credentials"}"#.to_owned()));
        }
        let query = path.split_once('?').map_or("", |(_, q)| q);
        let scopes: Vec<String> =
            query.split('&').filter_map(|kv| kv.strip_prefix("scope=")).map(percent_decode).collect();
        // The token lists the granted scopes (never empty: a token without scopes still proves the login).
        let token =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("granted {}", scopes.join(" ")));
        return Some((200, String::new(), format!(r#"{{"token":"{token}","expires_in":300}}"#)));
    }
    if path == "/v2/" || path == "/v2" {
        let ok = header(head, "authorization").is_some_and(|a| a.starts_with("Bearer "));
        let challenge = format!(
            "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"kiln-test\"\r\n"
        );
        return (!ok).then(|| {
            (
                401,
                challenge,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_owned(),
            )
        });
    }
    let repo = path.strip_prefix("/v2/")?.split("/blobs/").next()?.split("/manifests/").next()?.to_owned();
    let action = if matches!(method, "GET" | "HEAD") { "pull" } else { "push" };
    let granted = header(head, "authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|t| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let allowed = granted.split(' ').any(|s| {
        s.strip_prefix(&format!("repository:{repo}:"))
            .is_some_and(|actions| actions.split(',').any(|a| a == action))
    });
    if allowed {
        return None;
    }
    let scope = if action == "pull" {
        format!("repository:{repo}:pull")
    } else {
        format!("repository:{repo}:pull,push")
    };
    let challenge = format!(
        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"kiln-test\",scope=\"{scope}\",error=\"insufficient_scope\"\r\n"
    );
    Some((
        401,
        challenge,
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"insufficient scope"}]}"#.to_owned(),
    ))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(mut client: TcpStream, upstream: u16, port: u16, shared: &Shared) {
    let Some((head, early)) = read_head(&mut client) else { return };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let log = |status: u16| {
        shared.log.lock().unwrap().push(Logged { method: method.clone(), path: path.clone(), status })
    };
    let bearer = shared.bearer.lock().unwrap().clone();
    if let Some(creds) = &bearer
        && let Some((status, extra, body)) = bearer_gate(&head, &method, &path, port, creds)
    {
        log(status);
        respond(&mut client, status, &extra, &body);
        return;
    }
    // A request-body fault at byte N needs a body that reaches it: a request with a shorter body (the
    // empty `PUT` closing a streamed upload) passes untouched and leaves the fault for the next one.
    let body_len: Option<u64> = header(&head, "content-length").and_then(|v| v.parse().ok());
    let reaches = |kind: &FaultKind| match kind {
        FaultKind::DropRequestAfter(at) | FaultKind::CorruptRequestAt(at) => body_len.is_none_or(|n| n > *at),
        _ => true,
    };
    let fault = {
        let mut faults = shared.faults.lock().unwrap();
        let found = faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && path.contains(&f.path) && reaches(&f.kind));
        found.map(|f| {
            f.times -= 1;
            f.kind.clone()
        })
    };
    if let Some(FaultKind::Status(status)) = fault {
        log(status);
        respond(&mut client, status, "", r#"{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}"#);
        return;
    }
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        respond(&mut client, 502, "", "");
        return;
    };
    if up.write_all(close_head(&head, bearer.is_some()).as_bytes()).is_err() {
        return;
    }
    // Request body: client → upstream, on its own thread.
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), up.try_clone().unwrap());
    let request_fault = fault.clone();
    let pump = std::thread::spawn(move || {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 64 << 10];
        let mut pending = early;
        loop {
            let mut data = if pending.is_empty() {
                match c_read.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf[..n].to_vec(),
                }
            } else {
                std::mem::take(&mut pending)
            };
            match request_fault {
                Some(FaultKind::DropRequestAfter(limit)) if sent + data.len() as u64 > limit => {
                    let keep = (limit - sent.min(limit)) as usize;
                    let _ = u_write.write_all(&data[..keep]);
                    let _ = u_write.shutdown(Shutdown::Both);
                    let _ = c_read.shutdown(Shutdown::Both);
                    return;
                }
                Some(FaultKind::CorruptRequestAt(at)) if at >= sent && at < sent + data.len() as u64 => {
                    data[(at - sent) as usize] ^= 0xff;
                }
                _ => {}
            }
            sent += data.len() as u64;
            if u_write.write_all(&data).is_err() {
                return;
            }
        }
    });
    // Response: upstream → client.
    let Some((rhead, rest)) = read_head(&mut up) else {
        log(0);
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let status = rhead.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    log(status);
    if client.write_all(close_head(&rhead, false).as_bytes()).is_err() {
        return;
    }
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut pending = rest;
    loop {
        let mut data = if pending.is_empty() {
            match up.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf[..n].to_vec(),
            }
        } else {
            std::mem::take(&mut pending)
        };
        match fault {
            Some(FaultKind::DropResponseAfter(limit)) if sent + data.len() as u64 > limit => {
                let keep = (limit - sent.min(limit)) as usize;
                let _ = client.write_all(&data[..keep]);
                break;
            }
            Some(FaultKind::StallResponseAfter(limit)) if sent + data.len() as u64 > limit => {
                let keep = (limit - sent.min(limit)) as usize;
                let _ = client.write_all(&data[..keep]);
                // Hold the connection open without sending until the client gives up (or 30 s pass).
                let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
                let mut sink = [0u8; 1024];
                while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
                break;
            }
            Some(FaultKind::CorruptResponseAt(at)) if at >= sent && at < sent + data.len() as u64 => {
                data[(at - sent) as usize] ^= 0xff;
            }
            _ => {}
        }
        sent += data.len() as u64;
        if client.write_all(&data).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = up.shutdown(Shutdown::Both);
    let _ = pump.join();
}
