//! What the server exchanges with its database per request, from the kernel's counters of the
//! server's TCP connections to the database port (`ss -tinp`, iproute2). The pools keep their
//! connections open for the whole run, so the difference of two readings is the traffic between
//! them; a connection opened in between counts from zero.

use std::process::Command;

#[derive(Clone, Copy, Debug, Default)]
pub struct Traffic {
    /// Bytes the server sent to the database.
    pub sent: u64,
    /// Bytes the server received from it.
    pub received: u64,
    /// TCP segments with data the server sent: a close count of its writes to the database,
    /// each of which (a statement, a batch, a group commit) waits for an answer.
    pub writes: u64,
}

impl Traffic {
    /// The counters of `pid`'s established connections to `port` now, or `None` when `ss` is
    /// missing or fails.
    pub fn now(pid: u32, port: u16) -> Option<Self> {
        let out = Command::new("ss")
            .args(["-tinpH", "state", "established"])
            .arg(format!("( dport = :{port} )"))
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let needle = format!("pid={pid},");
        let mut total = Self::default();
        let mut ours = false;
        // Each socket is a line with its addresses and owner, then an indented line of counters.
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if !line.starts_with(char::is_whitespace) {
                ours = line.contains(&needle);
            } else if ours {
                total.sent += counter(line, "bytes_sent:");
                total.received += counter(line, "bytes_received:");
                total.writes += counter(line, "data_segs_out:");
            }
        }
        Some(total)
    }

    pub fn since(self, earlier: Self) -> Self {
        Self {
            sent: self.sent.saturating_sub(earlier.sent),
            received: self.received.saturating_sub(earlier.received),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }

    /// The traffic of two runs together.
    pub fn plus(self, other: Self) -> Self {
        Self {
            sent: self.sent + other.sent,
            received: self.received + other.received,
            writes: self.writes + other.writes,
        }
    }
}

fn counter(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The TCP port of a PostgreSQL or MySQL URL (`None` for SQLite, which has no connection).
pub fn database_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        _ => return None,
    };
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') => port.parse().ok(),
        _ => Some(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_the_url_or_the_databases_default() {
        assert_eq!(database_port("postgres://u:p@db:6432/x"), Some(6432));
        assert_eq!(database_port("postgres://postgres@127.0.0.1/x"), Some(5432));
        assert_eq!(database_port("mysql://root@127.0.0.1:3306/x"), Some(3306));
        assert_eq!(database_port("sqlite"), None);
    }

    #[test]
    fn counters_are_read_by_name() {
        let line = "\t cubic bytes_sent:834 bytes_acked:835 bytes_received:1883 segs_out:9 data_segs_out:6";
        assert_eq!(counter(line, "bytes_sent:"), 834);
        assert_eq!(counter(line, "bytes_received:"), 1883);
        assert_eq!(counter(line, "data_segs_out:"), 6);
        assert_eq!(counter(line, "missing:"), 0);
    }
}
