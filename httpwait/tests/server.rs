//! Real HTTP and HTTPS servers on loopback for the tests: a std listener,
//! rustls for TLS, and just enough HTTP/1.1 to read a request and answer it
//! the way the test wants (a status, a body, a trickle, an endless body).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// As much of the body as Content-Length said (at most 64 KiB).
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
pub enum Reply {
    /// A status with headers and a body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// A 200 whose body never ends.
    Endless,
    /// These bytes, one every `Duration`.
    Trickle(Vec<u8>, Duration),
    /// These bytes at once, then nothing until the client hangs up.
    Stall(Vec<u8>),
}

impl Reply {
    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Full(status, Vec::new(), body.as_bytes().to_vec())
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    seen: Receiver<Seen>,
}

impl Server {
    /// Plain HTTP on a fresh port of 127.0.0.1.
    pub fn http(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), None, handler)
    }

    /// HTTPS with this certificate and key on a fresh port of 127.0.0.1.
    pub fn https(
        cert: &Path,
        key: &Path,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Self::on(
            TcpListener::bind("127.0.0.1:0").unwrap(),
            Some(crate::certs::server_config(cert, key)),
            handler,
        )
    }

    /// Serves on `listener` (TLS if `tls`), one thread a connection.
    pub fn on(
        listener: TcpListener,
        tls: Option<ServerConfig>,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let addr = listener.local_addr().unwrap();
        let tls = tls.map(Arc::new);
        let handler: Arc<Handler> = Arc::new(handler);
        let (tx, seen) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (tls, handler, tx) = (tls.clone(), handler.clone(), tx.clone());
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    // Failures (a client that hung up, a refused handshake)
                    // are part of the tests.
                    let _ = match tls {
                        Some(config) => match ServerConnection::new(config) {
                            Ok(conn) => serve(StreamOwned::new(conn, stream), &*handler, &tx),
                            Err(_) => Ok(()),
                        },
                        None => serve(stream, &*handler, &tx),
                    };
                });
            }
        });
        Server { addr, seen }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request the server read, if one comes within 10 s.
    pub fn request(&self) -> Option<Seen> {
        self.seen.recv_timeout(Duration::from_secs(10)).ok()
    }

    /// Requests already read, without waiting.
    pub fn requests_so_far(&self) -> Vec<Seen> {
        self.seen.try_iter().collect()
    }
}

fn serve(
    stream: impl Read + Write,
    handler: &Handler,
    tx: &mpsc::Sender<Seen>,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    (&mut stream)
        .take(length.min(64 * 1024))
        .read_to_end(&mut body)?;
    let seen = Seen {
        method,
        path,
        headers,
        body,
    };
    let reply = handler(&seen);
    let _ = tx.send(seen);
    let out = stream.get_mut();
    match reply {
        Reply::Full(status, headers, body) => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (name, value) in headers {
                let _ = write!(head, "{name}: {value}\r\n");
            }
            let _ = write!(
                head,
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            out.write_all(head.as_bytes())?;
            out.write_all(&body)?;
        }
        Reply::Endless => {
            out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let chunk = vec![b'x'; 64 * 1024];
            // Until the client hangs up.
            loop {
                out.write_all(&chunk)?;
            }
        }
        Reply::Stall(bytes) => {
            out.write_all(&bytes)?;
            out.flush()?;
            // Returns once the client hangs up (or after the read timeout).
            let _ = out.read(&mut [0; 1]);
        }
        Reply::Trickle(bytes, every) => {
            for b in bytes {
                out.write_all(&[b])?;
                out.flush()?;
                thread::sleep(every);
            }
        }
    }
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Other",
    }
}
