//! The admin connection, parsed from a libpq-style URI with a URL parser (not by splitting on
//! `@` and `:`, which breaks on passwords that contain them). The password lives in a
//! [`Secret`]; the only printable form of a connection is [`ConnInfo::redacted`].

use std::fmt;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use crate::secret::Secret;

/// libpq's `sslmode`. Its default is `prefer`. Ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Characters kept as they are in the user and password parts of a URL (RFC 3986 unreserved).
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What RFC 3986 requires encoded in a query value, plus the characters form-style parsers give
/// a meaning (`&`, `=`, `+`, `#`, `%`): a path such as `/tmp/ca.pem` stays readable and, above
/// all, free of `%`, which configparser (Alembic's `set_main_option`) would try to interpolate.
const QUERY_VALUE: &AsciiSet = &USERINFO
    .remove(b'/')
    .remove(b':')
    .remove(b'@')
    .remove(b',')
    .remove(b'!');

/// Query keys we understand; libpq rejects unknown ones too, and silently ignoring a typo such
/// as `sslmdoe=require` would connect without the TLS the user asked for.
/// A user name or password as it appears in an exported URL.
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, USERINFO).to_string()
}

const KNOWN_PARAMS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "application_name",
];

#[derive(Clone)]
pub struct ConnInfo {
    /// A host name, an IP address, or (starting with `/`) a Unix socket directory.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
    pub connect_timeout: Option<Duration>,
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl ConnInfo {
    /// Parses `postgresql://user:password@host:port/dbname?param=value`. The error text never
    /// repeats the input, which may hold a password.
    pub fn parse(text: &str) -> Result<ConnInfo, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("it is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "postgresql" | "postgres") {
            return Err(format!(
                "the scheme is `{}`; it must be postgresql:// or postgres://",
                url.scheme()
            ));
        }
        let decode = |s: &str, what: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| format!("the {what} is not valid UTF-8 after percent-decoding"))
        };
        let mut info = ConnInfo {
            host: decode(
                url.host_str()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']'),
                "host",
            )?,
            port: url.port().unwrap_or(5432),
            user: decode(url.username(), "user name")?,
            password: url
                .password()
                .map(|p| decode(p, "password").map(Secret::new))
                .transpose()?,
            dbname: decode(url.path().trim_start_matches('/'), "database name")?,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: None,
        };
        for (key, value) in url.query_pairs() {
            let value = value.into_owned();
            match key.as_ref() {
                "host" => info.host = value,
                "port" => {
                    info.port = value
                        .parse()
                        .map_err(|_| format!("port `{value}` is not a number"))?
                }
                "user" => info.user = value,
                "password" => info.password = Some(Secret::new(value)),
                "dbname" => info.dbname = value,
                "sslmode" => {
                    info.sslmode = SslMode::parse(&value).ok_or_else(|| {
                        format!("sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full")
                    })?
                }
                "sslrootcert" => info.sslrootcert = Some(value),
                "connect_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("connect_timeout `{value}` is not a number of seconds"))?;
                    info.connect_timeout = Some(Duration::from_secs(secs));
                }
                "application_name" => {}
                other => {
                    return Err(format!(
                        "parameter `{other}` is not supported (known: {})",
                        KNOWN_PARAMS.join(", ")
                    ));
                }
            }
        }
        if info.host.is_empty() {
            info.host = "localhost".into();
        }
        if info.host.contains(',') {
            return Err("it names several hosts; deploydb needs exactly one".into());
        }
        if info.user.is_empty() {
            return Err("it has no user name; write postgresql://USER:PASSWORD@HOST:PORT/".into());
        }
        if info.dbname.is_empty() {
            info.dbname = "postgres".into();
        }
        Ok(info)
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, dbname: &str) -> ConnInfo {
        ConnInfo {
            dbname: dbname.to_string(),
            ..self.clone()
        }
    }

    /// The URL with the password shown as `****`: the only form that may be printed.
    pub fn redacted(&self) -> String {
        self.render(self.password.as_ref().map(|_| "****"))
    }

    /// The URL with the password, percent-encoded.
    pub fn url(&self) -> Secret {
        let password = self
            .password
            .as_ref()
            .map(|p| utf8_percent_encode(p.expose(), USERINFO).to_string());
        Secret::new(self.render(password.as_deref()))
    }

    fn render(&self, password: Option<&str>) -> String {
        let mut out = String::from("postgresql://");
        out.extend(utf8_percent_encode(&self.user, USERINFO));
        if let Some(password) = password {
            out.push(':');
            out.push_str(password);
        }
        out.push('@');
        if self.host.contains(':') {
            out.push_str(&format!("[{}]", self.host));
        } else {
            // A socket directory is percent-encoded into the host part, as libpq accepts it.
            out.extend(utf8_percent_encode(&self.host, USERINFO));
        }
        out.push_str(&format!(":{}/", self.port));
        out.extend(utf8_percent_encode(&self.dbname, USERINFO));
        let mut query = vec![format!("sslmode={}", self.sslmode.as_str())];
        if let Some(ca) = &self.sslrootcert {
            query.push(format!(
                "sslrootcert={}",
                utf8_percent_encode(ca, QUERY_VALUE)
            ));
        }
        out.push('?');
        out.push_str(&query.join("&"));
        out
    }

    /// The JDBC form (`jdbc:postgresql://host:port/db?…`), user and password as query
    /// parameters as pgjdbc and the Java buildpacks expect them. `None` for a Unix socket,
    /// which pgjdbc cannot reach without a socket factory of the app's own.
    pub fn jdbc_url(&self) -> Option<Secret> {
        if self.host.starts_with('/') {
            return None;
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut out = format!(
            "jdbc:postgresql://{host}:{}/{}?user={}",
            self.port,
            utf8_percent_encode(&self.dbname, USERINFO),
            utf8_percent_encode(&self.user, QUERY_VALUE)
        );
        if let Some(password) = &self.password {
            out.push_str(&format!(
                "&password={}",
                utf8_percent_encode(password.expose(), QUERY_VALUE)
            ));
        }
        out.push_str(&format!("&sslmode={}", self.sslmode.as_str()));
        if let Some(ca) = &self.sslrootcert {
            out.push_str(&format!(
                "&sslrootcert={}",
                utf8_percent_encode(ca, QUERY_VALUE)
            ));
        }
        Some(Secret::new(out))
    }

    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        #[cfg(unix)]
        if self.host.starts_with('/') {
            config.host_path(&self.host);
        } else {
            config.host(&self.host);
        }
        #[cfg(not(unix))]
        config.host(&self.host);
        config
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("deploydb");
        if let Some(password) = &self.password {
            config.password(password.expose());
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url_round_trip() {
        let info = ConnInfo::parse(
            "postgresql://ad%40min:p%3Aw%2Fd%40x@db.example:6543/app?sslmode=require",
        )
        .unwrap();
        assert_eq!(info.user, "ad@min");
        assert_eq!(info.password.as_ref().unwrap().expose(), "p:w/d@x");
        assert_eq!((info.host.as_str(), info.port), ("db.example", 6543));
        assert_eq!(info.dbname, "app");
        assert_eq!(info.sslmode, SslMode::Require);
        let again = ConnInfo::parse(info.url().expose()).unwrap();
        assert_eq!(again.password.unwrap().expose(), "p:w/d@x");
        assert_eq!(again.user, "ad@min");
    }

    #[test]
    fn defaults_and_query_params() {
        let info =
            ConnInfo::parse("postgres:///?host=/var/run/postgresql&port=5433&user=u").unwrap();
        assert_eq!(info.host, "/var/run/postgresql");
        assert_eq!(info.port, 5433);
        assert_eq!(info.dbname, "postgres");
        assert_eq!(info.sslmode, SslMode::Prefer);
        assert!(info.password.is_none());
        let back = ConnInfo::parse(info.url().expose()).unwrap();
        assert_eq!(
            (back.host.as_str(), back.port),
            ("/var/run/postgresql", 5433)
        );
    }

    #[test]
    fn socket_directory_as_encoded_host() {
        let info = ConnInfo::parse("postgresql://u@%2Ftmp%2Fpg/db").unwrap();
        assert_eq!(info.host, "/tmp/pg");
    }

    #[test]
    fn ipv6_host() {
        let info = ConnInfo::parse("postgresql://u:p@[::1]:5432/db").unwrap();
        assert_eq!(info.host, "::1");
        assert!(info.url().expose().contains("@[::1]:5432/"));
    }

    #[test]
    fn redacted_hides_password_and_errors_do_not_echo_input() {
        let info = ConnInfo::parse("postgresql://u:topsecret@h/db").unwrap();
        assert!(!info.redacted().contains("topsecret"));
        assert!(info.redacted().contains("****"));
        assert!(!format!("{info:?}").contains("topsecret"));
        for bad in [
            "mysql://u:topsecret@h/db",
            "postgresql://u:topsecret@h/db?sslmdoe=require",
            "postgresql://u:topsecret@h:port/db",
            "postgresql://:topsecret@h/db",
            "postgresql://u:topsecret@h/db?sslmode=sometimes",
        ] {
            let err = ConnInfo::parse(bad).unwrap_err();
            assert!(!err.contains("topsecret"), "{err}");
        }
    }

    #[test]
    fn query_values_keep_slashes_and_have_no_percent() {
        let info = ConnInfo::parse(
            "postgresql://u:p@h/db?sslmode=verify-full&sslrootcert=/tmp/a%20b%26c.pem",
        )
        .unwrap();
        let url = info.url();
        assert!(
            url.expose().ends_with("sslrootcert=/tmp/a%20b%26c.pem"),
            "{}",
            url.expose()
        );
        let plain = ConnInfo::parse("postgresql://u:p@h/db?sslrootcert=/tmp/ca.pem").unwrap();
        assert!(!plain.url().expose().contains('%'));
        assert_eq!(
            ConnInfo::parse(info.url().expose())
                .unwrap()
                .sslrootcert
                .as_deref(),
            Some("/tmp/a b&c.pem")
        );
    }

    #[test]
    fn jdbc_url_follows_pgjdbc() {
        let info = ConnInfo::parse(
            "postgresql://app:p%25w%40r%3Ad%2F%23%3F@[::1]:6543/shop?sslmode=verify-full&sslrootcert=/ca.pem",
        )
        .unwrap();
        let jdbc = info.jdbc_url().unwrap();
        assert_eq!(
            jdbc.expose(),
            "jdbc:postgresql://[::1]:6543/shop?user=app&password=p%25w@r:d/%23%3F&sslmode=verify-full&sslrootcert=/ca.pem"
        );
        let socket = ConnInfo::parse("postgresql://u@%2Ftmp/db").unwrap();
        assert!(socket.jdbc_url().is_none());
    }

    /// Prisma's engines cannot be downloaded here, so the exported URL is held to the rules of
    /// Prisma's PostgreSQL connector documentation instead: `postgresql://` or `postgres://`,
    /// user and password percent-encoded (the docs name `@ : / # ? %` among what must be),
    /// the database as the path, and `sslmode` one of `disable`, `prefer`, `require`.
    #[test]
    fn the_plain_url_meets_prismas_documented_rules() {
        let password = "p%w@r:d/#?x";
        let info = ConnInfo {
            sslmode: SslMode::Disable,
            ..ConnInfo::parse(&format!(
                "postgresql://app:{}@db.example:5432/shop--feature-x",
                utf8_percent_encode(password, NON_ALPHANUMERIC)
            ))
            .unwrap()
        };
        let url = url::Url::parse(info.url().expose()).unwrap();
        assert_eq!(url.scheme(), "postgresql");
        let userinfo = url.password().unwrap();
        assert!(!userinfo.contains(['@', ':', '/', '#', '?']), "{userinfo}");
        assert_eq!(
            percent_decode_str(userinfo).decode_utf8().unwrap(),
            password
        );
        assert_eq!(url.path(), "/shop--feature-x");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(query, [("sslmode".to_string(), "disable".to_string())]);
    }
}
