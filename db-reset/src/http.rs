//! The one HTTP(S) client of the workspace: ureq 2 over rustls, trusting what
//! [`crate::tls`] decides. db-reset and httpwait both go through here, so
//! timeouts, redirects and error wording are the same in both.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use portwait::diag::Diag;

use crate::tls;

/// An agent that never follows redirects (a 3xx is an answer) and keeps no
/// idle connection: each request connects afresh, so a name is looked up
/// again and every one of its addresses is tried, IPv4 and IPv6. A lookup
/// gets at most what `lookup_limit` says when it starts (see [`lookup`]).
pub fn agent(
    tls: rustls::ClientConfig,
    connect_timeout: Option<Duration>,
    lookup_limit: impl Fn() -> Duration + Send + Sync + 'static,
    user_agent: &str,
) -> ureq::Agent {
    let mut builder = ureq::AgentBuilder::new()
        .tls_connector(Arc::new(Tls(Arc::new(tls))))
        .resolver(move |netloc: &str| lookup(netloc, lookup_limit()))
        .redirects(0)
        .max_idle_connections(0)
        .user_agent(user_agent);
    if let Some(timeout) = connect_timeout {
        builder = builder.timeout_connect(timeout);
    }
    builder.build()
}

/// rustls under ureq (ureq's own adapter comes with its "tls" feature,
/// which also embeds a root store we never use).
struct Tls(Arc<rustls::ClientConfig>);

impl ureq::TlsConnector for Tls {
    fn connect(
        &self,
        dns_name: &str,
        mut io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        // An IPv6 address comes in brackets.
        let name = dns_name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(dns_name);
        let server = rustls_pki_types::ServerName::try_from(name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            .to_owned();
        let mut conn =
            rustls::ClientConnection::new(self.0.clone(), server).map_err(io::Error::other)?;
        // The handshake; a rustls error comes inside the io::Error, where
        // [`Failure::of`] finds it.
        conn.complete_io(&mut io)?;
        Ok(Box::new(TlsStream(rustls::StreamOwned::new(conn, io))))
    }
}

struct TlsStream(rustls::StreamOwned<rustls::ClientConnection, Box<dyn ureq::ReadWrite>>);

impl ureq::ReadWrite for TlsStream {
    fn socket(&self) -> Option<&TcpStream> {
        self.0.get_ref().socket()
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsStream")
    }
}

/// The addresses of `netloc` (`host:port`, an IPv6 address in brackets),
/// from the system resolver, which cannot be given a timeout: a name server
/// that never answers would hold the caller for as long as resolv.conf's
/// timeouts and attempts add up to, past any deadline. So the lookup runs
/// on a thread that is abandoned after `limit` (the process exits soon
/// anyway); an address needs no lookup.
pub fn lookup(netloc: &str, limit: Duration) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = netloc.parse() {
        return Ok(vec![addr]);
    }
    lookup_with(netloc, limit, |name| {
        name.to_socket_addrs().map(Iterator::collect)
    })
}

/// A lookup still running. Whoever asks for the same name meanwhile waits
/// for it too, rather than starting another: tries every few milliseconds
/// of a name whose server never answers leave one thread waiting, not one
/// a try.
struct Pending {
    name: String,
    result: Mutex<Option<Result<Vec<SocketAddr>, String>>>,
    done: Condvar,
}

static PENDING: Mutex<Vec<Arc<Pending>>> = Mutex::new(Vec::new());

/// [`lookup`] with the resolver given (tests give one that hangs).
fn lookup_with(
    netloc: &str,
    limit: Duration,
    resolve: fn(&str) -> io::Result<Vec<SocketAddr>>,
) -> io::Result<Vec<SocketAddr>> {
    let job = {
        let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(job) = pending.iter().find(|j| j.name == netloc) {
            job.clone()
        } else {
            let job = Arc::new(Pending {
                name: netloc.to_owned(),
                result: Mutex::new(None),
                done: Condvar::new(),
            });
            pending.push(job.clone());
            let worker = job.clone();
            thread::spawn(move || {
                let found = resolve(&worker.name).map_err(|e| e.to_string());
                PENDING
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|j| !Arc::ptr_eq(j, &worker));
                *worker.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(found);
                worker.done.notify_all();
            });
            job
        }
    };
    let result = job.result.lock().unwrap_or_else(PoisonError::into_inner);
    let (result, _) = job
        .done
        .wait_timeout_while(result, limit, |r| r.is_none())
        .unwrap_or_else(PoisonError::into_inner);
    match &*result {
        Some(Ok(addrs)) => Ok(addrs.clone()),
        Some(Err(why)) => Err(io::Error::other(why.clone())),
        None => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            LookupTimedOut(limit),
        )),
    }
}

/// A name lookup that did not end in time.
#[derive(Debug)]
struct LookupTimedOut(Duration);

impl std::fmt::Display for LookupTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no answer from the name service within {}",
            humanize(self.0)
        )
    }
}

impl std::error::Error for LookupTimedOut {}

/// Why a request got no answer, as a user needs to hear it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nobody listens there (yet).
    Refused(String),
    /// No connection, or no (whole) answer, in time. `connecting` tells which.
    TimedOut { connecting: bool },
    /// The TLS handshake failed, in plain words.
    Tls(String),
    /// The name could not be looked up.
    Dns(String),
    /// The name service did not answer in time.
    LookupTimedOut(String),
    /// The URL itself is wrong.
    Url(String),
    /// Connecting failed otherwise (unreachable network, reset).
    Connect(String),
    /// Anything else: a reset connection, a broken answer.
    Other(String),
}

impl Failure {
    pub fn of(err: &ureq::Transport) -> Failure {
        if let Some(tls) = tls_error(err) {
            return Failure::Tls(tls::explain(tls));
        }
        if err.kind() == ureq::ErrorKind::Dns {
            let timed_out = io_errors(err)
                .filter_map(io::Error::get_ref)
                .any(<dyn std::error::Error + Send + Sync>::is::<LookupTimedOut>);
            return if timed_out {
                Failure::LookupTimedOut(cause(err))
            } else {
                Failure::Dns(cause(err))
            };
        }
        if io_errors(err).any(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            )
        }) {
            // ureq marks the TCP connect step with this message; the TLS
            // handshake and the answer come later.
            return Failure::TimedOut {
                connecting: err.message() == Some("Connect error"),
            };
        }
        match err.kind() {
            ureq::ErrorKind::ConnectionFailed
                if io_errors(err).any(|e| e.kind() == io::ErrorKind::ConnectionRefused) =>
            {
                Failure::Refused(cause(err))
            }
            ureq::ErrorKind::ConnectionFailed => Failure::Connect(cause(err)),
            ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
                Failure::Url(err.to_string())
            }
            _ => Failure::Other(cause(err)),
        }
    }
}

fn io_errors(err: &ureq::Transport) -> impl Iterator<Item = &io::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    std::iter::from_fn(move || loop {
        let cur = next?;
        next = cur.source();
        if let Some(io) = cur.downcast_ref::<io::Error>() {
            return Some(io);
        }
    })
}

/// The rustls error inside an I/O error, if the failure was TLS.
fn tls_error(err: &ureq::Transport) -> Option<&rustls::Error> {
    io_errors(err).find_map(|e| e.get_ref()?.downcast_ref::<rustls::Error>())
}

fn cause(err: &ureq::Transport) -> String {
    io_errors(err)
        .next()
        .map_or_else(|| err.to_string(), ToString::to_string)
}

/// A duration as the user wrote it: `60s`, `300ms`.
pub fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// While connections are refused, a whole request (which looks the name up
/// again) still goes this often between [`Listeners::none`] looks: should a
/// look ever miss a listener, the request finds it.
pub const FULL_EVERY: Duration = Duration::from_secs(1);
/// How often the looks look the name up again: a lookup reads /etc/hosts,
/// nsswitch.conf and gai.conf, or asks a name server, on a thread of its
/// own; that would cost more than the looks (and a whole refused request
/// several looks' worth).
const LOOKUP_EVERY: Duration = Duration::from_secs(1);

/// Whether anyone listens at a URL's addresses, looked at without a request.
pub struct Listeners {
    /// `host:port`, an IPv6 address in brackets.
    netloc: String,
    /// Its addresses, each with whether to ask the kernel about it (one of
    /// this host's own, not link-local: the kernel's lookup of one listener
    /// has no interface to go with it).
    /// And when they were looked up.
    addrs: Option<(Vec<(SocketAddr, bool)>, Instant)>,
    /// The kernel's socket table (portwait's).
    kernel: Kernel,
}

impl Listeners {
    pub fn new(url: &str) -> Option<Listeners> {
        let parsed = ureq::get(url).request_url().ok()?;
        let port = parsed
            .port()
            .unwrap_or(if parsed.scheme() == "https" { 443 } else { 80 });
        Some(Listeners {
            netloc: format!("{}:{port}", parsed.host()),
            addrs: None,
            kernel: Kernel::Unopened,
        })
    }

    /// True if nobody listens at any address of the URL. A local address is
    /// asked of the kernel (the listener a connection would reach, as
    /// portwait does: nothing is sent, no socket made); another gets a bare
    /// TCP connect, closed at once without a byte sent. Anything but
    /// "nobody" (a listener, a lookup error, a timeout) is left for the whole
    /// request to find and name.
    pub fn none(&mut self, timeout: Duration) -> bool {
        let stale = self
            .addrs
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= LOOKUP_EVERY);
        if stale {
            let Ok(found) = lookup(&self.netloc, timeout) else {
                return false;
            };
            let addrs = found
                .into_iter()
                .map(|a| {
                    let ask =
                        portwait::target::is_local(a) && !portwait::target::link_local(a.ip());
                    (a, ask)
                })
                .collect();
            self.addrs = Some((addrs, Instant::now()));
        }
        let Some((addrs, _)) = &self.addrs else {
            return false;
        };
        if addrs.is_empty() {
            return false;
        }
        for &(addr, local) in addrs {
            if local {
                // An IPv4-mapped IPv6 address reaches an IPv4 listener.
                match self.kernel.serving(addr.ip().to_canonical(), addr.port()) {
                    Some(false) => continue,
                    Some(true) => return false,
                    None => {}
                }
            }
            match TcpStream::connect_timeout(&addr, timeout) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                _ => return false,
            }
        }
        true
    }
}

/// The kernel's socket table, opened on first need.
enum Kernel {
    Unopened,
    Open(Diag),
    /// It cannot answer here: local addresses are connected to instead.
    Unavailable,
}

impl Kernel {
    /// Whether a local listener would take a connection to `ip`:`port`;
    /// None if the kernel cannot tell.
    fn serving(&mut self, ip: IpAddr, port: u16) -> Option<bool> {
        if matches!(self, Kernel::Unopened) {
            *self = Diag::open().map_or(Kernel::Unavailable, Kernel::Open);
        }
        let Kernel::Open(diag) = self else {
            return None;
        };
        let found = diag.serving(ip, port).ok().map(|l| l.is_some());
        if !diag.can_look_up() {
            *self = Kernel::Unavailable;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netloc(url: &str) -> Option<String> {
        Listeners::new(url).map(|l| l.netloc)
    }

    #[test]
    fn netlocs() {
        assert_eq!(netloc("http://h/x").as_deref(), Some("h:80"));
        assert_eq!(netloc("https://h/").as_deref(), Some("h:443"));
        assert_eq!(netloc("https://[::1]:8443/").as_deref(), Some("[::1]:8443"));
        assert_eq!(netloc("not a url"), None);
    }

    #[test]
    fn refusal_is_seen() {
        use rustix::net::{bind, getsockname, listen, socket, AddressFamily, SocketType};
        // A port bound but not listening refuses; once it listens, it does
        // not: asked of the kernel, and by a bare connect.
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        bind(
            &fd,
            &std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
        )
        .unwrap();
        let addr = std::net::SocketAddrV4::try_from(getsockname(&fd).unwrap()).unwrap();
        let url = format!("http://{addr}/");
        let second = Duration::from_secs(1);
        let mut kernel = Listeners::new(&url).unwrap();
        let mut connect = Listeners::new(&url).unwrap();
        connect.kernel = Kernel::Unavailable;
        assert!(kernel.none(second) && connect.none(second));
        assert!(
            matches!(kernel.kernel, Kernel::Open(_)),
            "the kernel was asked"
        );
        let mut mapped =
            Listeners::new(&format!("http://[::ffff:127.0.0.1]:{}/", addr.port())).unwrap();
        assert!(mapped.none(second));
        listen(&fd, 8).unwrap();
        assert!(!kernel.none(second));
        assert!(!connect.none(second));
        assert!(!mapped.none(second));
        assert!(
            matches!(mapped.kernel, Kernel::Open(_)),
            "the kernel was asked"
        );
        // A name that does not resolve is left for the full request to name.
        let mut unknown = Listeners::new("http://nonexistent.invalid/").unwrap();
        assert!(!unknown.none(second));
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(humanize(Duration::from_secs(60)), "60s");
        assert_eq!(humanize(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn a_hanging_lookup_is_shared() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static RELEASE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
        #[allow(clippy::unnecessary_wraps)] // a resolver's signature
        fn hangs(_: &str) -> io::Result<Vec<SocketAddr>> {
            CALLS.fetch_add(1, Ordering::SeqCst);
            let (lock, cvar) = &RELEASE;
            let _released = cvar
                .wait_while(lock.lock().unwrap(), |released| !*released)
                .unwrap();
            Ok(vec!["127.0.0.1:1".parse().unwrap()])
        }
        let limit = Duration::from_millis(20);
        for _ in 0..3 {
            let err = lookup_with("shared.test:1", limit, hangs).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        }
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            1,
            "one lookup for three tries"
        );
        *RELEASE.0.lock().unwrap() = true;
        RELEASE.1.notify_all();
        let found = lookup_with("shared.test:1", Duration::from_secs(30), hangs).unwrap();
        assert_eq!(found, vec!["127.0.0.1:1".parse().unwrap()]);
    }

    #[test]
    fn lookups_end_in_time() {
        // An address is no lookup: even no time at all is enough.
        assert_eq!(
            lookup("[::1]:80", Duration::ZERO).unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert_eq!(
            LookupTimedOut(Duration::from_millis(1500)).to_string(),
            "no answer from the name service within 1500ms"
        );
        assert!(!lookup("localhost:80", Duration::from_secs(30))
            .unwrap()
            .is_empty());
    }
}
