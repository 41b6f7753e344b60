// Package postgres is verifyd's shared storage engine: one PostgreSQL
// database that several verifyd instances use at once, driven by pgx v5
// through a pgxpool connection pool.
//
// # Connection string
//
// [Open] takes a libpq-style DSN, either a URL
// (postgres://user@host:5432/verifyd?sslmode=verify-full) or keyword/value
// pairs (host=... dbname=...). The libpq environment variables (PGPASSWORD,
// PGSSLMODE, ...) fill in what the DSN leaves out, so a password need not
// appear on a command line. Besides the usual libpq parameters, the DSN
// sets up the pool:
//
//	pool_max_conns                 most connections the pool opens (default 16)
//	pool_min_conns                 connections kept open even when idle (default 0)
//	pool_min_idle_conns            idle connections kept ready (default 0)
//	pool_max_conn_lifetime         a connection is replaced after this long (default 1h)
//	pool_max_conn_lifetime_jitter  random extra lifetime, so replacements spread out (default 0)
//	pool_max_conn_idle_time        an idle connection is closed after this long (default 30m)
//	pool_health_check_period       how often idle connections are checked (default 1m)
//	pool_ping_timeout              bound on the liveness ping of a connection idle for over 1s (default none)
//	connect_timeout                seconds to wait for a new connection (default 5; 0 also means 5)
//	application_name               shown in pg_stat_activity (default verifyd)
//
// Durations are Go durations (90s, 1h30m). Every instance has its own pool,
// so the server must allow instances × pool_max_conns connections. Waiting
// for a free connection is bounded only by the call's context: a request
// that cannot get one before its deadline fails with store.ErrUnavailable.
//
// # Schema
//
// The schema is migrated at Open from the numbered files embedded from
// migrations/, in one transaction that holds a transaction-level advisory
// lock ([MigrationLockID]), so instances that start together apply each
// migration exactly once and the others wait for it. schema_migrations
// records what was applied; a database migrated by a newer build is
// refused.
//
// # Semantics
//
// The engine behaves as store/sqlite does, which store/storetest checks:
// times are stored as timestamptz truncated to whole seconds and come back
// in UTC; SIDs compare and sort byte by byte (collation "C"); a duplicate
// primary key is store.ErrConflict; a missing or foreign owner, enforced by
// foreign keys, is store.ErrNotFound; and a database that cannot be reached
// or answers "not now", or a passed deadline, is store.ErrUnavailable.
//
// Limits hold across instances: CreateFactor counts an entity's factors
// while it holds the entity's row lock, and an access token's single use is
// the primary key of used_access_tokens, so concurrent creates on any number
// of instances store at most store.MaxFactorsPerEntity factors per entity
// and use each token once. Of concurrent answers to one challenge, on any
// instances, exactly one wins: the answer is one conditional UPDATE, which
// waits for the row lock of another and then reads what it stored. An
// UpdateFactor reads the factor it changes under its row lock, so the
// events of concurrent updates see each factor as the one before left it.
// ClaimDeliveries skips the rows that another claim has locked (FOR
// UPDATE SKIP LOCKED), so instances never claim one delivery at once.
//
// When the server goes away, calls fail with store.ErrUnavailable as soon
// as a connection is refused or lost, or at the latest when their context's
// deadline passes. The first such failure resets the pool, and when the
// server is back the next call opens a fresh connection: nothing needs to
// be reopened or restarted. A read that finds its pooled connection lost
// (the server restarted since it was last used) runs once more on a fresh
// one; a write does not, because it may have been applied, and fails with
// store.ErrUnavailable instead.
package postgres
