//! What the account commands record about vehicles: attributes from Smartcar and whether
//! each is subscribed to the webhook.

use rusqlite::Connection;

use super::StoreError;

/// Records a vehicle's make, model and year (keeping what is known when Smartcar omits one).
pub fn upsert_attributes(
    conn: &Connection,
    id: &str,
    make: Option<&str>,
    model: Option<&str>,
    year: Option<i64>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO vehicles(id, make, model, year) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET make = coalesce(excluded.make, make),
             model = coalesce(excluded.model, model), year = coalesce(excluded.year, year)",
        rusqlite::params![id, make, model, year],
    )?;
    Ok(())
}

/// Marks a vehicle as needing its owner to re-connect it, at `url`.
pub fn mark_needs_reauth(conn: &Connection, id: &str, url: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO vehicles(id, needs_reauth, reauth_url) VALUES (?1, 1, ?2)
         ON CONFLICT(id) DO UPDATE SET needs_reauth = 1, reauth_url = excluded.reauth_url",
        rusqlite::params![id, url],
    )?;
    Ok(())
}

/// Clears the re-connect flag (Smartcar reaches the car again).
pub fn clear_needs_reauth(conn: &Connection, id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE vehicles SET needs_reauth = 0, reauth_url = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Records whether a vehicle is subscribed to the webhook.
pub fn set_subscribed(conn: &Connection, id: &str, subscribed: bool) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO vehicles(id, subscribed) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET subscribed = excluded.subscribed",
        rusqlite::params![id, subscribed],
    )?;
    Ok(())
}

/// A vehicle's display name and subscription state, if it is known.
pub fn name_and_subscription(
    conn: &Connection,
    id: &str,
) -> Result<Option<(String, Option<bool>)>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT coalesce(name, trim(coalesce(make, '') || ' ' || coalesce(model, '') || ' ' || coalesce(year, ''))), subscribed
             FROM vehicles WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}
