//! Versions of the indicator catalogue, stored as their source text; exactly one is in force.

use hcp_domain::Timestamp;
use sqlx::Row;

use crate::db::Db;
use crate::error::{Conflict, Result, StoreError};
use crate::on_db;
use crate::tx::{Tx, on_tx};

impl Db {
    /// Stores a catalogue version's text and puts it in force. Storing the version in force again is a no-op;
    /// a different text under an existing version number is refused (versions are immutable).
    #[tracing::instrument(skip_all)]
    pub async fn store_catalogue(&self, version: i64, name: &str, text: &str) -> Result<()> {
        let now = Timestamp::now().micros();
        let mut tx = Tx::plain(self).await?;
        let existing: Option<String> = on_tx!(&mut tx, t => sqlx::query("SELECT body FROM catalogues WHERE version = $1")
            .bind(version).fetch_optional(&mut **t).await?.map(|r| r.try_get("body")).transpose()?);
        match existing {
            Some(body) if body != text => return Err(StoreError::Conflict(Conflict::CatalogueVersionExists(version))),
            Some(_) => {}
            None => {
                on_tx!(&mut tx, t => sqlx::query("INSERT INTO catalogues (version, name, body, in_force, loaded_at) VALUES ($1,$2,$3,$4,$5)")
                    .bind(version).bind(name).bind(text).bind(false).bind(now).execute(&mut **t).await?.rows_affected());
            }
        }
        on_tx!(&mut tx, t => sqlx::query("UPDATE catalogues SET in_force = (version = $1)").bind(version).execute(&mut **t).await?.rows_affected());
        tx.commit().await
    }

    /// The text of the catalogue version in force, if any.
    pub async fn catalogue_text_in_force(&self) -> Result<Option<String>> {
        Ok(on_db!(self, pool => sqlx::query("SELECT body FROM catalogues WHERE in_force = $1")
            .bind(true).fetch_optional(pool).await?.map(|r| r.try_get("body")).transpose()?))
    }
}
