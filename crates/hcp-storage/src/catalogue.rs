//! Versions of the indicator catalogue, stored as their source text; exactly one is in force.

use hcp_domain::{Catalogue, Timestamp};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;

/// The default catalogue, version 1 (`data/catalogue-v1.toml`).
pub const DEFAULT_CATALOGUE: &str = include_str!("../../../data/catalogue-v1.toml");

impl Db {
    /// Stores a catalogue version and puts it in force. Loading the version already in force again is a no-op;
    /// a different text under an existing version number is refused (versions are immutable).
    pub async fn load_catalogue(&self, text: &str) -> Result<Catalogue> {
        let cat = Catalogue::from_toml(text)?;
        let now = Timestamp::now().micros();
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            let existing: Option<String> = sqlx::query("SELECT body FROM catalogues WHERE version = $1")
                .bind(cat.version).fetch_optional(&mut *tx).await?.map(|r| r.try_get("body")).transpose()?;
            match existing {
                Some(body) if body != text => {
                    return Err(StoreError::conflict("catalogue_version_exists", format!("评价内容目录第 {} 版已存在且内容不同，请使用新的版本号", cat.version), None));
                }
                Some(_) => {}
                None => {
                    sqlx::query("INSERT INTO catalogues (version, name, body, in_force, loaded_at) VALUES ($1,$2,$3,$4,$5)")
                        .bind(cat.version).bind(&cat.name).bind(text).bind(false).bind(now).execute(&mut *tx).await?;
                }
            }
            sqlx::query("UPDATE catalogues SET in_force = (version = $1)").bind(cat.version).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(cat)
    }

    pub async fn catalogue_in_force(&self) -> Result<Catalogue> {
        let body: Option<String> = on_db!(self, pool => sqlx::query("SELECT body FROM catalogues WHERE in_force = $1")
            .bind(true).fetch_optional(pool).await?.map(|r| r.try_get("body")).transpose()?);
        match body {
            Some(b) => Ok(Catalogue::from_toml(&b)?),
            None => Err(StoreError::NotFound("评价内容目录")),
        }
    }

    /// Loads the default catalogue when none is in force (first start).
    pub async fn ensure_catalogue(&self) -> Result<Catalogue> {
        match self.catalogue_in_force().await {
            Ok(c) => Ok(c),
            Err(StoreError::NotFound(_)) => self.load_catalogue(DEFAULT_CATALOGUE).await,
            Err(e) => Err(e),
        }
    }
}
