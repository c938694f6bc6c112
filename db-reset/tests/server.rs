//! A real HTTPS server on loopback: rustls over a std `TcpListener`, just enough
//! HTTP/1.1 to read one request and answer it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// One request as the server saw it.
#[derive(Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub content_length: Option<String>,
}

pub struct Server {
    pub port: u16,
    seen: Receiver<Seen>,
}

impl Server {
    /// Serves with `cert`/`key` on a fresh loopback port. A request whose
    /// Authorization is exactly `auth` gets `status` (400 echoes the
    /// Authorization header in its body); any other gets 401.
    pub fn start(cert: &Path, key: &Path, auth: &str, status: u16) -> Server {
        Self::start_on(any_port(), cert, key, auth, status)
    }

    pub fn start_on(
        listener: TcpListener,
        cert: &Path,
        key: &Path,
        auth: &str,
        status: u16,
    ) -> Server {
        Self::with_config(
            listener,
            crate::certs::server_config(cert, key),
            auth,
            status,
        )
    }

    /// Serves with this configuration (its own TLS versions, a certificate
    /// with a key not its own).
    pub fn with_config(
        listener: TcpListener,
        config: ServerConfig,
        auth: &str,
        status: u16,
    ) -> Server {
        let port = listener.local_addr().unwrap().port();
        let config = Arc::new(config);
        let auth = auth.to_owned();
        let (tx, seen) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                // A failed handshake (the client refused us) is part of the tests.
                let _ = serve(stream, &config, &auth, status, &tx);
            }
        });
        Server { port, seen }
    }

    /// Completes the TLS handshake, reads the request, then sends a whole
    /// 200 answer two bytes every 500 ms (a minute in all), the way a hostile
    /// or broken server can hold a client whose timeouts are per read.
    pub fn trickle(cert: &Path, key: &Path) -> Server {
        let listener = any_port();
        let port = listener.local_addr().unwrap().port();
        let config = Arc::new(crate::certs::server_config(cert, key));
        let (tx, seen) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, tx) = (config.clone(), tx.clone());
                thread::spawn(move || {
                    let conn = ServerConnection::new(config).unwrap();
                    let mut tls = BufReader::new(StreamOwned::new(conn, stream));
                    let mut line = String::new();
                    while tls.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    let _ = tx.send(Seen {
                        method: String::new(),
                        path: String::new(),
                        authorization: String::new(),
                        content_length: None,
                    });
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nX-Padding: {}\r\nContent-Length: 0\r\n\r\n",
                        "x".repeat(200)
                    );
                    for pair in answer.as_bytes().chunks(2) {
                        let tls = tls.get_mut();
                        if tls.write_all(pair).and_then(|()| tls.flush()).is_err() {
                            return;
                        }
                        thread::sleep(Duration::from_millis(500));
                    }
                });
            }
        });
        Server { port, seen }
    }

    /// Accepts connections and never says a word.
    pub fn silent() -> Server {
        Self::holding(|_| {})
    }

    /// Answers every connection in plain HTTP, as a server on the wrong
    /// port would.
    pub fn plain_http() -> Server {
        Self::holding(|stream| {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.read(&mut [0; 4096]);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        })
    }

    /// Calls `answer` on each connection, then keeps it open: closing with
    /// the client hello unread would send a reset that can overtake an answer.
    /// Such a server sees no requests.
    fn holding(answer: fn(&mut TcpStream)) -> Server {
        let listener = any_port();
        let port = listener.local_addr().unwrap().port();
        let (_tx, seen) = mpsc::channel();
        thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                answer(&mut stream);
                held.push(stream);
            }
        });
        Server { port, seen }
    }

    /// The next request the server answered, if one came.
    pub fn request(&self) -> Option<Seen> {
        self.seen.recv_timeout(Duration::from_secs(5)).ok()
    }
}

/// A listener on a fresh loopback port.
pub fn any_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

fn serve(
    stream: TcpStream,
    config: &Arc<ServerConfig>,
    auth: &str,
    status: u16,
    tx: &Sender<Seen>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
    let mut tls = BufReader::new(StreamOwned::new(conn, stream));

    let mut line = String::new();
    tls.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut authorization = String::new();
    let mut content_length = None;
    loop {
        line.clear();
        if tls.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "authorization" => authorization = value,
                "content-length" => content_length = Some(value),
                _ => {}
            }
        }
    }
    let body_len = content_length
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut (&mut tls).take(body_len), &mut std::io::sink())?;

    let (status, body) = if authorization == auth {
        let body = match status {
            200 => "{}".to_owned(),
            403 => r#"{"errors":["Forbidden: only admin can reset the database"]}"#.to_owned(),
            // A careless server that echoes the credentials back.
            400 => format!(r#"{{"errors":["Bad request with {authorization}"]}}"#),
            _ => r#"{"errors":["Internal server error: database is on fire"]}"#.to_owned(),
        };
        (status, body)
    } else {
        (401, r#"{"errors":["Not logged in"]}"#.to_owned())
    };
    let reason = match status {
        200 => "OK".to_owned(),
        302 => "Found".to_owned(),
        401 => "Unauthorized".to_owned(),
        // The careless server echoes them in its reason phrase too.
        400 => format!("Bad Request for {authorization}"),
        403 => "Forbidden".to_owned(),
        _ => "Internal Server Error".to_owned(),
    };
    // A redirect that must not be followed: the reset is not done there.
    let location = if status == 302 {
        "Location: /elsewhere\r\n"
    } else {
        ""
    };
    let _ = tx.send(Seen {
        method,
        path,
        authorization,
        content_length,
    });
    let tls = tls.get_mut();
    write!(
        tls,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    tls.conn.send_close_notify();
    tls.flush()
}
