// Package store defines how verifyd persists its resources: the records
// (accounts, API keys, services, access tokens, Verify Push entities and
// factors, and the JWE encryption keys), the [Store] interface every
// storage engine implements, and the sentinel errors callers test with
// [errors.Is].
//
// The engines live in subpackages: store/sqlite is the embedded default and
// store/postgres serves several verifyd instances that share one database.
// Both are checked against the same conformance suite, store/storetest, so
// they agree on not-found, conflicts, ownership and time precision.
//
// Every time a store writes or returns is in UTC and truncated to whole
// seconds, so a record round-trips as identical RFC 3339 through any engine.
// Engines never let driver errors decide behaviour upstream: a missing or
// foreign row is [ErrNotFound], a duplicate key is [ErrConflict], a create
// past a limit is [ErrTooMany], and an unreachable, locked or timed-out
// database is [ErrUnavailable].
package store
