//! `STUDENTS_MAX` under concurrency, with any number of backs: both statements of a create, and
//! why the students never exceed the maximum.
//!
//! `student_quota` holds one row: `id_limit`, the highest `id` a create may take without counting,
//! and `counted_max`, the `STUDENTS_MAX` it was set under.
//!
//! - **Within the quota** (`CREATE`, the common case): one statement takes the next id of the
//!   identity and inserts only when it is at most `id_limit` and the limit was set under a maximum
//!   no larger than this back's (`counted_max <= $3`). It reads the quota row and writes none, so
//!   writers never meet on it.
//! - **Beyond it** (`create_counted`): one transaction locks `students` (SHARE ROW EXCLUSIVE: it
//!   waits for every write in flight to commit, and holds new ones off), counts the students
//!   (`count`), refuses at the maximum, or inserts (id `i`) and sets `id_limit = i + max - count - 1`
//!   and `counted_max = max`.
//!
//! Why it is exact: every later create takes a new, higher id, so at most `max - count - 1` more
//! fit under that limit, and the students never exceed `max`. A refusal is decided on an exact
//! count. Each count gives a limit at least as high as the one before (ids grow at least as fast
//! as the count), so a create that read the previous one is still within bounds. Deletes give
//! nothing back until the next count sees them.
//!
//! What resets it (`id_limit = 0`: the next create counts):
//! - `back students import` (it adds students without taking ids one by one);
//! - a TRUNCATE of `students` (the trigger `students_truncated`, schema version 3): with
//!   RESTART IDENTITY the ids start again at 1, far below the old limit;
//! - a lower `STUDENTS_MAX`: `counted_max` is larger than the back's maximum, so its creates
//!   count from the first one on (a back with a higher maximum still uses the lower limit, which
//!   only makes it count sooner).
//!
//! A restore to an earlier point brings the quota back with the rows it was counted on.

use tokio_postgres::Client;

/// A create in one statement: the next id of the identity, inserted only when it is within the
/// quota (no row when it is not: the count decides). The CTE calls `nextval` once (a CTE with a
/// volatile function is evaluated once, never inlined).
pub(super) const CREATE: &str = "WITH next AS (SELECT nextval('students_id_seq') AS id, id_limit, counted_max \
                                 FROM student_quota) \
                                 INSERT INTO students (id, name, age) OVERRIDING SYSTEM VALUE \
                                 SELECT id, $1, $2 FROM next WHERE id <= id_limit AND counted_max <= $3 RETURNING id";

/// The outcome of a create that counted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Counted {
    Created,
    Exists,
    Full,
}

/// A create whose id was beyond the quota's limit: one transaction that counts exactly.
pub(super) async fn create_counted(
    client: &mut Client,
    name: &str,
    age: u8,
    max: i64,
) -> Result<Counted, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction.batch_execute("LOCK TABLE students IN SHARE ROW EXCLUSIVE MODE").await?;
    // The same order of refusals as the file store: a duplicate before a full store.
    if !transaction.query("SELECT 1 FROM students WHERE name = $1", &[&name]).await?.is_empty() {
        return Ok(Counted::Exists);
    }
    let count: i64 = transaction.query_one("SELECT count(*) FROM students", &[]).await?.get(0);
    if count >= max {
        return Ok(Counted::Full);
    }
    let id: i64 = transaction
        .query_one("INSERT INTO students (name, age) VALUES ($1, $2) RETURNING id", &[&name, &i16::from(age)])
        .await?
        .get(0);
    transaction
        .execute(
            "UPDATE student_quota SET id_limit = $1, counted_max = $2",
            &[&id.saturating_add(max - count - 1), &max],
        )
        .await?;
    transaction.commit().await?;
    Ok(Counted::Created)
}
