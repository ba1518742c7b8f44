//! Who the client is: the peer address of the connection, or, when that peer is a trusted proxy
//! (`TRUSTED_PROXIES`), the address the proxy recorded in `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is read from the right, the end each proxy appends to (nginx's
//! `$proxy_add_x_forwarded_for`): the first address that is not a trusted proxy is the client.
//! Anything left of it was written by the client itself and is never believed. A request from an
//! untrusted peer is that peer, whatever its headers say.

use std::net::{IpAddr, SocketAddr};

use hyper::header::HeaderMap;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The connection's peer address, which the server puts in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerAddr(pub SocketAddr);

/// The networks whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses; empty for none.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{item:?} is not an IP address or a CIDR such as 10.0.0.0/8"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client's address for a request that came from `peer` with `headers`.
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // Several header lines are one list, in order (RFC 9110 §5.3): walk them all from the end.
        let hops =
            headers.get_all(X_FORWARDED_FOR).iter().rev().flat_map(|line| line.to_str().unwrap_or("").rsplit(','));
        for hop in hops.map(str::trim) {
            // An entry that is not an address ends the walk: the last trusted hop is the client.
            let Ok(addr) = hop.parse::<IpAddr>() else { break };
            client = addr.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(value: &str) -> IpAddr {
        value.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_addresses() {
        let trusted = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1").unwrap();
        assert!(trusted.trusts(ip("10.1.2.3")));
        assert!(trusted.trusts(ip("192.168.1.7")));
        assert!(!trusted.trusts(ip("192.168.1.8")));
        assert!(trusted.trusts(ip("fd12::1")));
        assert!(trusted.trusts(ip("::1")));
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::default());
        // Host bits are ignored: 10.1.2.3/8 is 10.0.0.0/8.
        assert!(TrustedProxies::parse("10.1.2.3/8").unwrap().trusts(ip("10.200.0.1")));
        for bad in ["10.0.0.0/33", "localhost", "10.0.0", "*"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn untrusted_peers_are_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.9"), &headers(&["198.51.100.1"])), ip("203.0.113.9"));
        let front = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(front.client(ip("203.0.113.9"), &headers(&["198.51.100.1"])), ip("203.0.113.9"));
        // An IPv4 peer seen through an IPv6 socket is the IPv4 address.
        assert_eq!(none.client(ip("::ffff:203.0.113.9"), &HeaderMap::new()), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxies_give_the_rightmost_untrusted_address() {
        let front = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let proxy = ip("10.0.0.5");
        assert_eq!(front.client(proxy, &headers(&["198.51.100.1"])), ip("198.51.100.1"));
        // What the client wrote itself, left of what the proxy appended, is ignored.
        assert_eq!(front.client(proxy, &headers(&["1.2.3.4, 198.51.100.1"])), ip("198.51.100.1"));
        assert_eq!(front.client(proxy, &headers(&["1.2.3.4", "198.51.100.1"])), ip("198.51.100.1"));
        // A chain of trusted proxies is walked through.
        assert_eq!(front.client(proxy, &headers(&["198.51.100.1, 10.9.9.9"])), ip("198.51.100.1"));
        // No header, or only trusted hops: the leftmost trusted hop.
        assert_eq!(front.client(proxy, &HeaderMap::new()), proxy);
        assert_eq!(front.client(proxy, &headers(&["10.1.1.1,10.2.2.2"])), ip("10.1.1.1"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(front.client(proxy, &headers(&["198.51.100.1, junk"])), proxy);
        assert_eq!(front.client(proxy, &headers(&["junk, 10.2.2.2"])), ip("10.2.2.2"));
        assert_eq!(front.client(proxy, &headers(&["2001:db8::1"])), ip("2001:db8::1"));
    }
}
