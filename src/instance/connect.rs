//! Opening a connection: TLS per sslmode, and retries for the faults a pipeline meets — a
//! server still starting (57P03), out of connection slots (53300), refused or reset — with
//! capped exponential backoff and jitter up to the connect timeout, each retry logged.
//! Authentication, permission and certificate errors are final: retrying cannot fix them.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Connection, NoTls, Socket};

use super::conninfo::{ConnInfo, SslMode};
use super::tls;
use crate::error::{Error, Result};
use crate::report;

const MAX_DELAY: Duration = Duration::from_secs(5);

/// Connects, retrying transient failures until `timeout` has passed.
pub async fn connect(info: &ConnInfo, timeout: Duration) -> Result<Client> {
    Ok(connect_noting_tls(info, timeout).await?.0)
}

/// [`connect`], and whether the connection is encrypted (what `sslmode` negotiated).
pub async fn connect_noting_tls(info: &ConnInfo, timeout: Duration) -> Result<(Client, bool)> {
    let tls = match info.sslmode {
        SslMode::Disable => None,
        _ => Some(tls::connector(info)?),
    };
    let started = Instant::now();
    let deadline = started + timeout;
    let mut delay = Duration::from_millis(100);
    for attempt in 1.. {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let failure = match connect_once(info, tls.clone(), remaining).await {
            Ok(client) => return Ok(client),
            Err(failure) => failure,
        };
        let retryable = is_retryable(&failure);
        let pause = delay + jitter(delay);
        if !retryable || Instant::now() + pause >= deadline {
            let mut error = connect_error(info, &failure);
            if retryable {
                // What really happened: the next pause would have passed the deadline, so
                // the time spent is less than the timeout.
                error.message = format!(
                    "{} (gave up after {attempt} attempt{} in {:.1}s; the limit is {}s)",
                    error.message,
                    if attempt == 1 { "" } else { "s" },
                    started.elapsed().as_secs_f64(),
                    timeout.as_secs()
                );
            }
            return Err(error);
        }
        report::line(
            "connect",
            format!(
                "{}: {} (attempt {attempt}); retrying in {}ms",
                info.redacted(),
                failure.describe(),
                pause.as_millis()
            ),
        );
        tokio::time::sleep(pause).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
    unreachable!("the loop returns")
}

/// A TCP connection to `info`'s server, opened ahead of a handshake that must wait for
/// something else first: the server forks the connection's backend when it accepts, so that
/// cost is paid while the caller still waits. `None` for a Unix socket or when it fails (the
/// handshake then connects as usual). A server that sees nothing on it logs nothing.
pub async fn open_socket(info: &ConnInfo) -> Option<tokio::net::TcpStream> {
    if info.host.starts_with('/') {
        return None;
    }
    let socket = tokio::net::TcpStream::connect((info.host.as_str(), info.port))
        .await
        .ok()?;
    socket.set_nodelay(true).ok()?;
    Some(socket)
}

/// [`connect`], first over `socket` (from [`open_socket`]) when there is one. If that socket
/// fails for any reason but the server's final refusal, a fresh connection is made as usual.
pub async fn connect_over(
    info: &ConnInfo,
    timeout: Duration,
    socket: Option<tokio::net::TcpStream>,
) -> Result<Client> {
    // The usual path reports what is wrong with TLS settings that cannot be used.
    let tls = match info.sslmode {
        SslMode::Disable => Ok(None),
        _ => tls::connector(info).map(Some),
    };
    if let Some(socket) = socket
        && info.sslmode != SslMode::Allow
        && let Ok(tls) = tls
    {
        match connect_raw(info, socket, tls, timeout).await {
            Ok(client) => return Ok(client),
            Err(failure) if failure.code().is_some() && !is_retryable(&failure) => {
                return Err(connect_error(info, &failure));
            }
            Err(failure) => {
                tracing::debug!("the socket opened ahead failed: {}", failure.describe());
            }
        }
    }
    connect(info, timeout).await
}

/// One handshake over a socket already connected, with TLS as `sslmode` asks (not `allow`).
async fn connect_raw(
    info: &ConnInfo,
    socket: tokio::net::TcpStream,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    remaining: Duration,
) -> std::result::Result<Client, Failure> {
    let mut config = info.pg_config();
    let attempt = async {
        let Some(mut make) = tls else {
            let (client, connection) = config
                .ssl_mode(PgSslMode::Disable)
                .connect_raw(socket, NoTls)
                .await?;
            drive(connection);
            return Ok(client);
        };
        let Ok(tls) =
            MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(&mut make, &info.host);
        let mode = if info.sslmode == SslMode::Prefer {
            PgSslMode::Prefer
        } else {
            PgSslMode::Require
        };
        let (client, connection) = config.ssl_mode(mode).connect_raw(socket, tls).await?;
        drive(connection);
        Ok(client)
    };
    match tokio::time::timeout(remaining, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Failure::TimedOut),
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Driver(e)
    }
}

/// Why one attempt failed.
enum Failure {
    Driver(tokio_postgres::Error),
    TimedOut,
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Driver(e) => describe(e),
            Failure::TimedOut => "timed out".into(),
        }
    }

    fn code(&self) -> Option<&str> {
        match self {
            Failure::Driver(e) => e.code().map(|c| c.code()),
            Failure::TimedOut => None,
        }
    }
}

async fn connect_once(
    info: &ConnInfo,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    remaining: Duration,
) -> std::result::Result<(Client, bool), Failure> {
    tracing::debug!(
        "connecting to {} (sslmode={})",
        info.redacted(),
        info.sslmode.as_str()
    );
    let mut config = info.pg_config();
    config.connect_timeout(info.connect_timeout.unwrap_or(remaining).min(remaining));
    let attempt = async {
        match (info.sslmode, tls) {
            (SslMode::Disable, _) | (_, None) => {
                plain(start(config.ssl_mode(PgSslMode::Disable), NoTls).await)
            }
            (SslMode::Allow, Some(tls)) => {
                // libpq's allow: plain first, TLS only when the server insists on it.
                match start(config.ssl_mode(PgSslMode::Disable), NoTls).await {
                    Err(e) if e.code().map(|c| c.code()) == Some("28000") => {
                        encrypted(start(config.ssl_mode(PgSslMode::Require), tls).await)
                    }
                    other => plain(other),
                }
            }
            (SslMode::Prefer, Some(tls)) => {
                // The server may decline: the connector notes whether it took TLS up.
                let (tls, used) = tls::Noting::new(tls);
                let client = start(config.ssl_mode(PgSslMode::Prefer), tls).await?;
                Ok((client, used.load(std::sync::atomic::Ordering::Relaxed)))
            }
            (_, Some(tls)) => encrypted(start(config.ssl_mode(PgSslMode::Require), tls).await),
        }
    };
    match tokio::time::timeout(remaining, attempt).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(e)) => Err(Failure::Driver(e)),
        Err(_) => Err(Failure::TimedOut),
    }
}

async fn start<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket> + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await?;
    drive(connection);
    Ok(client)
}

fn plain(
    started: std::result::Result<Client, tokio_postgres::Error>,
) -> std::result::Result<(Client, bool), tokio_postgres::Error> {
    started.map(|client| (client, false))
}

fn encrypted(
    started: std::result::Result<Client, tokio_postgres::Error>,
) -> std::result::Result<(Client, bool), tokio_postgres::Error> {
    started.map(|client| (client, true))
}

fn drive<S, T>(connection: Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let _ = connection.await;
    });
}

fn is_retryable(failure: &Failure) -> bool {
    match failure {
        Failure::TimedOut => true,
        Failure::Driver(e) => match e.code().map(|c| c.code()) {
            Some(code) => matches!(code, "57P03" | "53300" | "08006" | "08001"),
            // The driver's own errors: I/O and closed connections are transient; TLS is not.
            None => {
                let text = e.to_string();
                // A host name that does not exist stays so: a typo is reported at once, not
                // after the whole timeout. A temporary resolver failure is retried. (The cause
                // is in the error's source, which `describe` includes.)
                let full = describe(e);
                if full.contains("Name or service not known")
                    || full.contains("nodename nor servname")
                    || full.contains("No address associated with hostname")
                {
                    return false;
                }
                text.starts_with("error connecting to server")
                    || text.starts_with("connection closed")
                    || text.starts_with("error communicating with the server")
                    || text.starts_with("timeout")
            }
        },
    }
}

fn connect_error(info: &ConnInfo, failure: &Failure) -> Error {
    let detail = failure.describe();
    let hint = match failure.code() {
        Some("28P01") => "check the user and password in the admin URL".to_string(),
        Some("28000") => "the server refused this user from this host (pg_hba.conf); check the user, or whether TLS is required".to_string(),
        Some("3D000") => "that database does not exist; name an existing one in the URL (usually postgres)".to_string(),
        Some("53300") => "the server has no free connection slots; retry later or raise max_connections".to_string(),
        Some("57P03") => "the server is still starting up; raise [instance] connect_timeout to wait longer".to_string(),
        _ if detail.contains("Name or service not known")
            || detail.contains("nodename nor servname")
            || detail.contains("No address associated with hostname") =>
        {
            format!("the host name `{}` does not resolve; check it for a typo", info.host)
        }
        _ if detail.contains("does not support TLS") => {
            "the server does not offer TLS; enable ssl on the server, or use sslmode=prefer where the network is trusted".to_string()
        }
        _ if detail.contains("NotValidForName") => format!(
            "the server's certificate does not name host {}; connect by a name it holds, or use sslmode=verify-ca",
            info.host
        ),
        _ if detail.contains("UnknownIssuer") || detail.contains("BadSignature") => {
            "the server's certificate is not signed by the given CA; check sslrootcert, [instance] ca_cert or DEPLOYDB_CA_CERT".to_string()
        }
        _ if detail.contains("TLS") => "check the server's TLS set-up and the sslmode in the admin URL".to_string(),
        _ => "check that the server is running and reachable at that host and port, or raise [instance] connect_timeout".to_string(),
    };
    Error::server(format!(
        "could not connect to {}: {detail}",
        info.redacted()
    ))
    .with_hint(hint)
}

/// A one-line description of a driver error: the server's own message when there is one,
/// else the driver's message with its cause.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text = format!("{text}: {cause_text}");
                }
                source = cause.source();
            }
            text
        }
    }
}

/// Up to a quarter of `delay`, so that racing pipelines do not retry in lockstep.
fn jitter(delay: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    let quarter = delay.as_millis() as u64 / 4;
    Duration::from_millis(u64::from(u32::from_le_bytes(bytes)) % quarter.max(1))
}
