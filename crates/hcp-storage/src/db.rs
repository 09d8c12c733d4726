//! The database handle, connection set-up and migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row};

use crate::error::{Result, StoreError};

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// Runs the same code against whichever pool the `Db` holds; the body is compiled once per engine.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Pg($pool) => $body,
        }
    };
}

/// Advisory lock key taken while migrating PostgreSQL ("HCP_MIG" in ASCII).
const MIGRATION_LOCK: i64 = 0x0048_4350_5f4d_4947;

struct Migration {
    version: i64,
    name: &'static str,
    common: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Migrations: version N = the shared text (with `BYTES_TYPE` spelled per engine) followed by the
/// engine's own file of the same number. Same versions on both engines, always.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger_foundation",
        common: include_str!("../migrations/common_0001.sql"),
        sqlite: include_str!("../migrations/sqlite/0001_append_only.sql"),
        postgres: include_str!("../migrations/postgres/0001_append_only.sql"),
    },
    Migration {
        version: 2,
        name: "work_calendar",
        common: include_str!("../migrations/common_0002.sql"),
        sqlite: include_str!("../migrations/sqlite/0002_calendar.sql"),
        postgres: include_str!("../migrations/postgres/0002_calendar.sql"),
    },
    Migration {
        version: 3,
        name: "cases",
        common: include_str!("../migrations/common_0003.sql"),
        sqlite: include_str!("../migrations/sqlite/0003_cases.sql"),
        postgres: include_str!("../migrations/postgres/0003_cases.sql"),
    },
    Migration {
        version: 4,
        name: "notifications",
        common: include_str!("../migrations/common_0004.sql"),
        sqlite: include_str!("../migrations/sqlite/0004_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0004_notifications.sql"),
    },
    Migration {
        version: 5,
        name: "audit_sessions",
        common: include_str!("../migrations/common_0005.sql"),
        sqlite: include_str!("../migrations/sqlite/0005_audit.sql"),
        postgres: include_str!("../migrations/postgres/0005_audit.sql"),
    },
    Migration {
        version: 6,
        name: "job_kinds",
        common: include_str!("../migrations/common_0006.sql"),
        sqlite: include_str!("../migrations/sqlite/0006_job_kinds.sql"),
        postgres: include_str!("../migrations/postgres/0006_job_kinds.sql"),
    },
    Migration {
        version: 7,
        name: "province_link",
        common: include_str!("../migrations/common_0007.sql"),
        sqlite: include_str!("../migrations/sqlite/0007_province.sql"),
        postgres: include_str!("../migrations/postgres/0007_province.sql"),
    },
    Migration {
        version: 8,
        name: "invitations",
        common: include_str!("../migrations/common_0008.sql"),
        sqlite: include_str!("../migrations/sqlite/0008_invitations.sql"),
        postgres: include_str!("../migrations/postgres/0008_invitations.sql"),
    },
    Migration {
        version: 9,
        name: "national_fields",
        common: include_str!("../migrations/common_0009.sql"),
        sqlite: include_str!("../migrations/sqlite/0009_national_fields.sql"),
        postgres: include_str!("../migrations/postgres/0009_national_fields.sql"),
    },
];

impl Db {
    /// Opens `sqlite://PATH` (created if missing; WAL, foreign keys) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(opts).await?;
            Ok(Db::Pg(pool))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(StoreError::Database(sqlx::Error::Configuration(
                "unsupported database URL: use sqlite://PATH or postgres://USER@HOST/DB".into(),
            )))
        }
    }

    /// A handle on the same database with a pool of its own holding one connection: for a single writer,
    /// whose prepared statements then stay in that connection's cache and who never waits behind readers
    /// for a connection.
    pub fn dedicated(&self) -> Db {
        match self {
            Db::Sqlite(pool) => {
                let opts = (*pool.connect_options()).clone();
                Db::Sqlite(SqlitePoolOptions::new().max_connections(1).min_connections(0).connect_lazy_with(opts))
            }
            Db::Pg(pool) => {
                let opts = (*pool.connect_options()).clone();
                Db::Pg(PgPoolOptions::new().max_connections(1).min_connections(0).connect_lazy_with(opts))
            }
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Pg(_) => "postgres",
        }
    }

    pub async fn ping(&self) -> Result<()> {
        on_db!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }

    /// Applies every migration not yet applied. On PostgreSQL an advisory lock makes concurrent starts of
    /// several nodes safe; SQLite takes its write lock with `BEGIN IMMEDIATE`.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        const CREATE: &str =
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
        let mut applied = Vec::new();
        match self {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query(CREATE).execute(&mut *tx).await?;
                for m in MIGRATIONS {
                    let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(m.version)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if done.is_some() {
                        continue;
                    }
                    let text = format!("{}\n{}", m.common.replace("BYTES_TYPE", "BLOB"), m.sqlite);
                    sqlx::raw_sql(AssertSqlSafe(text)).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version)
                        .bind(m.name)
                        .bind(hcp_domain::Timestamp::now().micros())
                        .execute(&mut *tx)
                        .await?;
                    applied.push(m.version);
                }
                tx.commit().await?;
            }
            Db::Pg(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
                sqlx::query(CREATE).execute(&mut *tx).await?;
                for m in MIGRATIONS {
                    let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(m.version)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if done.is_some() {
                        continue;
                    }
                    let text = format!("{}\n{}", m.common.replace("BYTES_TYPE", "BYTEA"), m.postgres);
                    sqlx::raw_sql(AssertSqlSafe(text)).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version)
                        .bind(m.name)
                        .bind(hcp_domain::Timestamp::now().micros())
                        .execute(&mut *tx)
                        .await?;
                    applied.push(m.version);
                }
                tx.commit().await?;
            }
        }
        Ok(applied)
    }

    /// Whether the database holds no units yet (the demo seeds only an empty database).
    pub async fn is_empty(&self) -> Result<bool> {
        let n: i64 = on_db!(self, pool => sqlx::query("SELECT COUNT(*) AS n FROM units").fetch_one(pool).await?.try_get("n")?);
        Ok(n == 0)
    }
}
