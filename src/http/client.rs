//! The client's address: the connection's peer, or (only when that peer is a trusted
//! proxy, `USERD_TRUSTED_PROXIES`) the address the proxies say they forwarded for.
//!
//! `Forwarded` (RFC 7239) is read when present, else `X-Forwarded-For`. Either list is read
//! from the right: each hop appends the address it received from, so the rightmost entry
//! that is not itself a trusted proxy is the first address no trusted hop vouches for;
//! entries left of it were written by the client and are ignored. A peer that is not a
//! trusted proxy is the client, whatever headers it sends.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};
use ipnet::IpNet;

/// The address a request is counted and logged under (inserted by the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops = if headers.contains_key(header::FORWARDED) { forwarded(headers) } else { x_forwarded_for(headers) };
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An entry that is not an address (`unknown`, an obfuscated name, garbage) ends
            // what can be believed: the last address vouched for stands.
            let Some(ip) = hop else { break };
            client = canonical(*ip);
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// IPv4 clients reached over IPv6 sockets are IPv4 clients.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Every `X-Forwarded-For` entry in order (all header lines joined).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|s| address(s.trim()))
        .collect()
}

/// Every `for=` of `Forwarded` in order; an element without `for` counts as unknown.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(header::FORWARDED)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| address(value.trim().trim_matches('"')))
            })?
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).and_then(|t| t.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TrustedProxies, String> {
        crate::config::parse_proxies(text).map(TrustedProxies::new)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().expect("header value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let proxies = parse("10.0.0.0/8").expect("parse");
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(proxies.client(ip("198.51.100.7"), &h), ip("198.51.100.7"));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let proxies = parse("10.0.0.0/8, 192.0.2.10").expect("parse");
        // The client wrote the first entry itself; the proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        let split = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(proxies.client(ip("192.0.2.10"), &split), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Every hop trusted: the leftmost.
        let all = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &all), ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_is_read_with_ports_brackets_and_quotes() {
        let proxies = parse("10.0.0.1,2001:db8:ffff::/48").expect("parse");
        let h = headers(&[("forwarded", r#"for=1.2.3.4, for="[2001:db8:1::7]:4711";proto=https, for=10.0.0.1:80"#)]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &h), ip("2001:db8:1::7"));
        let v4 = headers(&[("forwarded", "for=198.51.100.3:1234;by=10.0.0.1")]);
        assert_eq!(proxies.client(ip("2001:db8:ffff::1"), &v4), ip("198.51.100.3"));
        // Forwarded wins over X-Forwarded-For.
        let both = headers(&[("forwarded", "for=198.51.100.3"), ("x-forwarded-for", "203.0.113.1")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &both), ip("198.51.100.3"));
        // An obfuscated or unknown hop stops at the last vouched-for address.
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &unknown), ip("10.0.0.1"));
        let garbage = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &garbage), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_proxies_and_bad_lists_are_refused() {
        let proxies = parse("127.0.0.1").expect("parse");
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(proxies.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.9"));
        assert!(parse("10.0.0.0/33").is_err());
        assert!(parse("proxy.internal").is_err());
        assert!(parse("").expect("empty").is_empty());
    }
}
