//! The legacy list's cache: the list last rendered, under the key of the rows it was rendered
//! from.
//!
//! - **The key**: the rows' count and the XOR of a 64-bit hash of each row's `rev` (a row version
//!   never used twice, `schema.rs`): `hashint8extended(rev, rev >> 32)`. PostgreSQL's
//!   `hashint8extended` folds its value to 32 bits (high XOR low) before hashing, so the high half
//!   is its seed too: two revs that fold alike differ in it, and only chance (2^-64) makes two row
//!   sets share a key.
//! - **A request** asks the database only for the current key (`KEY`, one row, the same snapshot
//!   rules as any read) and serves the cached body when it matches; otherwise it runs the full
//!   SELECT, which gives the rows and their hashes, so the body and its key come from one
//!   snapshot. A write committed before the request started changes the key, on whichever back
//!   it was made.
//! - **One reader at a time** refills it: requests that miss together wait for the first, then
//!   serve its body if their key is the one it rendered.
//! - **Emptied** whenever the back loses its database (the key carries the pool's epoch,
//!   `connection.rs`): a restore or a failover to a standby that missed transactions can bring
//!   revs back, and a list cached before must not match the rows after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use deadpool_postgres::Object;
use tokio_postgres::Row;

/// The list, and each row's hash of its version.
const LIST: &str = "SELECT name, age, legacy_age, hashint8extended(rev, rev >> 32) FROM students ORDER BY id";
/// The key of the rows a list would show now: their count, and the XOR of the same hashes
/// (`bit_xor`, PostgreSQL 14 and later, is NULL without rows: 0, as the XOR of no hash).
const KEY: &str = "SELECT count(*), coalesce(bit_xor(hashint8extended(rev, rev >> 32)), 0) FROM students";

/// (epoch of the pool, count, XOR of the rows' hashes).
type Key = (u64, i64, i64);

pub(super) struct ListCache {
    rendered: Mutex<Option<(Key, Bytes)>>,
    refill: tokio::sync::Mutex<()>,
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
}

impl ListCache {
    pub(super) fn new() -> Self {
        ListCache {
            rendered: Mutex::new(None),
            refill: tokio::sync::Mutex::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn cached(&self, key: Key) -> Option<Bytes> {
        let rendered = self.rendered.lock().unwrap_or_else(PoisonError::into_inner);
        rendered.as_ref().filter(|(k, _)| *k == key).map(|(_, body)| body.clone())
    }

    /// On `client` (a connection of `epoch`): the cached body, or the rows read and rendered by
    /// `render` (then cached).
    pub(super) async fn list(
        &self,
        client: &mut Object,
        epoch: u64,
        render: impl Fn(&[Row]) -> Bytes,
    ) -> Result<Bytes, tokio_postgres::Error> {
        let check = client.prepare_cached(KEY).await?;
        let now = client.query_one(&check, &[]).await?;
        let key = (epoch, now.get(0), now.get(1));
        if let Some(body) = self.cached(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(body);
        }
        let _refilling = self.refill.lock().await;
        if let Some(body) = self.cached(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(body);
        }
        let statement = client.prepare_cached(LIST).await?;
        let rows = client.query(&statement, &[]).await?;
        self.misses.fetch_add(1, Ordering::Relaxed);
        let key = (epoch, rows.len() as i64, rows.iter().fold(0, |xor, row| xor ^ row.get::<_, i64>(3)));
        let body = render(&rows);
        *self.rendered.lock().unwrap_or_else(PoisonError::into_inner) = Some((key, body.clone()));
        Ok(body)
    }
}
