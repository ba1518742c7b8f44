//! Throttling of failed logins, per client: after `max_failures` wrong credentials within one
//! window (counted from the client's first failure), the client is refused with 429 until that
//! window ends, and its attempts are not checked meanwhile. Correct logins are never counted.
//!
//! Memory is bounded: at most `max_clients` clients are tracked, one small entry each, and an
//! entry is dropped only once its window has ended (the oldest first, in O(1) each). When the
//! table is full of live entries, failures of clients not in it are counted together in one
//! shared overflow entry, which throttles all of them at once. So a flood of new addresses
//! neither grows the table nor pushes out a tracked client's count: nothing resets a count but
//! the end of its window. IPv6 clients are counted per /64, the block one host usually gets.
//!
//! Why not the `governor` crate: its keyed limiter keeps a map that grows with every new key
//! until `retain_recent` is called (no cap), it has no way to look at a key without spending a
//! cell, and its GCRA refills one attempt every `window / max_failures`, which is not "blocked
//! until the window ends".

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginThrottleConfig;

/// What a login attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The credentials were checked and are right.
    Allowed,
    /// The credentials were checked and are wrong (or missing).
    Denied,
    /// Too many failures: not checked; retry after this long.
    Throttled(Duration),
}

pub(crate) struct LoginThrottle {
    /// 0: throttling is off.
    max_failures: u32,
    window: Duration,
    max_clients: usize,
    table: Mutex<Table>,
    failures: AtomicU64,
    throttled: AtomicU64,
    lockouts: AtomicU64,
    overflowed: AtomicU64,
}

#[derive(Default)]
struct Table {
    entries: HashMap<IpAddr, Entry>,
    /// The entries' keys in the order their windows started, hence ended.
    order: VecDeque<(IpAddr, Instant)>,
    /// Failures of clients that found the table full.
    overflow: Option<Entry>,
}

#[derive(Clone, Copy)]
struct Entry {
    since: Instant,
    failures: u32,
}

impl LoginThrottle {
    pub(crate) fn new(config: &LoginThrottleConfig) -> Self {
        LoginThrottle {
            max_failures: config.max_failures,
            window: config.window,
            max_clients: config.max_clients,
            table: Mutex::new(Table::default()),
            failures: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            lockouts: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
        }
    }

    /// Runs `check` (true: the credentials are right; `counted`: wrong credentials were given,
    /// as opposed to none) unless `client` is throttled, and records a counted failure. The
    /// check and the count happen under one lock, so concurrent guesses cannot slip past the limit.
    pub(crate) fn attempt(&self, client: IpAddr, now: Instant, counted: bool, check: impl FnOnce() -> bool) -> Verdict {
        if self.max_failures == 0 {
            return if check() { Verdict::Allowed } else { Verdict::Denied };
        }
        let key = key(client);
        let Ok(mut table) = self.table.lock() else {
            // A panic while holding the lock cannot happen (no code in it panics); refuse safely.
            return Verdict::Throttled(self.window);
        };
        table.expire(now, self.window);
        if let Some(retry) = self.blocked(&table, key, now) {
            self.throttled.fetch_add(1, Relaxed);
            return Verdict::Throttled(retry);
        }
        if check() {
            return Verdict::Allowed;
        }
        if counted {
            self.failures.fetch_add(1, Relaxed);
            let failures = self.count_failure(&mut table, key, now);
            if failures == self.max_failures {
                self.lockouts.fetch_add(1, Relaxed);
            }
        }
        Verdict::Denied
    }

    /// How long `key` is still refused, if it is.
    fn blocked(&self, table: &Table, key: IpAddr, now: Instant) -> Option<Duration> {
        let entry = match table.entries.get(&key) {
            Some(entry) => entry,
            None if table.entries.len() >= self.max_clients => table.overflow.as_ref()?,
            None => return None,
        };
        let ends = entry.since + self.window;
        (entry.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts one failure of `key`; returns its failures in the current window.
    fn count_failure(&self, table: &mut Table, key: IpAddr, now: Instant) -> u32 {
        if let Some(entry) = table.entries.get_mut(&key) {
            entry.failures = entry.failures.saturating_add(1);
            return entry.failures;
        }
        if table.entries.len() < self.max_clients {
            table.entries.insert(key, Entry { since: now, failures: 1 });
            table.order.push_back((key, now));
            return 1;
        }
        self.overflowed.fetch_add(1, Relaxed);
        let window = self.window;
        let entry = table.overflow.get_or_insert(Entry { since: now, failures: 0 });
        if now >= entry.since + window {
            *entry = Entry { since: now, failures: 0 };
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.failures
    }

    /// Clients tracked now.
    pub(crate) fn tracked(&self) -> usize {
        self.table.lock().map(|table| table.entries.len()).unwrap_or(0)
    }

    /// The throttle's lines of `/metrics`, in the Prometheus text format.
    pub(crate) fn render_metrics(&self, out: &mut String) {
        let counters = [
            ("racontemoi_login_failures_total", "Logins refused 401 for wrong credentials.", &self.failures),
            ("racontemoi_login_throttled_total", "Login attempts refused 429 without being checked.", &self.throttled),
            (
                "racontemoi_login_lockouts_total",
                "Times a client reached LOGIN_THROTTLE_FAILURES in one window.",
                &self.lockouts,
            ),
            (
                "racontemoi_login_throttle_overflow_total",
                "Failures counted in the shared entry because the client table was full.",
                &self.overflowed,
            ),
        ];
        for (name, help, counter) in counters {
            writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.load(Relaxed)).ok();
        }
        let gauges = [
            (
                "racontemoi_login_throttle_clients",
                "Clients with failed logins in their current window.",
                self.tracked(),
            ),
            (
                "racontemoi_login_throttle_max_clients",
                "The cap of that table (LOGIN_THROTTLE_MAX_CLIENTS).",
                self.max_clients,
            ),
        ];
        for (name, help, value) in gauges {
            writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}").ok();
        }
    }
}

impl Table {
    /// Drops the entries whose window has ended, oldest first.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(key, since)) = self.order.front() {
            if now < since + window {
                break;
            }
            self.order.pop_front();
            if self.entries.get(&key).is_some_and(|entry| entry.since == since) {
                self.entries.remove(&key);
            }
        }
        if self.overflow.is_some_and(|entry| now >= entry.since + window) {
            self.overflow = None;
        }
    }
}

/// The table key of a client: IPv4 as is, IPv6 by its /64.
fn key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn throttle(max_failures: u32, max_clients: usize) -> LoginThrottle {
        LoginThrottle::new(&LoginThrottleConfig {
            max_failures,
            window: WINDOW,
            max_clients,
            trusted_proxies: Default::default(),
        })
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    fn wrong(t: &LoginThrottle, client: IpAddr, now: Instant) -> Verdict {
        t.attempt(client, now, true, || false)
    }

    fn right(t: &LoginThrottle, client: IpAddr, now: Instant) -> Verdict {
        t.attempt(client, now, true, || true)
    }

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let t = throttle(3, 100);
        let start = Instant::now();
        let a = ip(1);
        for _ in 0..3 {
            assert_eq!(wrong(&t, a, start), Verdict::Denied);
        }
        assert_eq!(wrong(&t, a, start), Verdict::Throttled(WINDOW));
        // Not checked while blocked: a right password gets 429 too, and the check is not run.
        let later = start + Duration::from_secs(20);
        assert_eq!(t.attempt(a, later, true, || unreachable!()), Verdict::Throttled(Duration::from_secs(40)));
        // Others are unaffected.
        assert_eq!(right(&t, ip(2), later), Verdict::Allowed);
        assert_eq!(wrong(&t, ip(2), later), Verdict::Denied);
        // The window's end lifts the block and forgets the count.
        let after = start + WINDOW;
        assert_eq!(right(&t, a, after), Verdict::Allowed);
        assert_eq!(wrong(&t, a, after), Verdict::Denied);
        assert_eq!(t.failures.load(Relaxed), 5);
        assert_eq!(t.throttled.load(Relaxed), 2);
        assert_eq!(t.lockouts.load(Relaxed), 1);
    }

    #[test]
    fn correct_logins_are_never_counted() {
        let t = throttle(2, 100);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(right(&t, ip(1), now), Verdict::Allowed);
        }
        // Requests without credentials are refused but count nothing.
        for _ in 0..10 {
            assert_eq!(t.attempt(ip(1), now, false, || false), Verdict::Denied);
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn zero_turns_throttling_off() {
        let t = throttle(0, 100);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(wrong(&t, ip(1), now), Verdict::Denied);
        }
        assert_eq!(right(&t, ip(1), now), Verdict::Allowed);
    }

    #[test]
    fn a_flood_of_addresses_stays_at_the_cap_and_resets_no_count() {
        let t = throttle(3, 1000);
        let start = Instant::now();
        let attacker = ip(0xdead_beef);
        for _ in 0..3 {
            wrong(&t, attacker, start);
        }
        assert!(matches!(wrong(&t, attacker, start), Verdict::Throttled(_)));
        // 100,000 distinct addresses, one failure each, within the window.
        for n in 0..100_000 {
            wrong(&t, ip(n), start + Duration::from_millis(u64::from(n) / 10_000));
        }
        let table = t.table.lock().unwrap();
        assert_eq!(table.entries.len(), 1000);
        assert_eq!(table.order.len(), 1000);
        drop(table);
        assert_eq!(t.tracked(), 1000);
        // The attacker's own count survived the flood.
        assert!(matches!(wrong(&t, attacker, start + Duration::from_secs(30)), Verdict::Throttled(_)));
        // Newcomers while the table is full share the overflow entry, which is blocked by now.
        assert!(matches!(wrong(&t, ip(200_000), start + Duration::from_secs(30)), Verdict::Throttled(_)));
        assert!(t.overflowed.load(Relaxed) > 0);
        // Once the windows end, the table empties as it is used again.
        assert_eq!(right(&t, ip(7), start + WINDOW * 2), Verdict::Allowed);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let t = throttle(2, 100);
        let now = Instant::now();
        wrong(&t, "2001:db8:1:2::1".parse().unwrap(), now);
        wrong(&t, "2001:db8:1:2:ffff::9".parse().unwrap(), now);
        assert!(matches!(wrong(&t, "2001:db8:1:2::77".parse().unwrap(), now), Verdict::Throttled(_)));
        assert_eq!(wrong(&t, "2001:db8:1:3::1".parse().unwrap(), now), Verdict::Denied);
        assert_eq!(key("::ffff:10.0.0.1".parse().unwrap()), ip(0x0a00_0001));
    }

    #[test]
    fn metrics_lines() {
        let t = throttle(1, 100);
        let now = Instant::now();
        wrong(&t, ip(1), now);
        wrong(&t, ip(1), now);
        let mut text = String::new();
        t.render_metrics(&mut text);
        for line in [
            "# TYPE racontemoi_login_failures_total counter\n",
            "racontemoi_login_failures_total 1\n",
            "racontemoi_login_throttled_total 1\n",
            "racontemoi_login_lockouts_total 1\n",
            "racontemoi_login_throttle_overflow_total 0\n",
            "# TYPE racontemoi_login_throttle_clients gauge\n",
            "racontemoi_login_throttle_clients 1\n",
            "racontemoi_login_throttle_max_clients 100\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
    }
}
