-- 0001_init: the initial schema. Released migrations are never edited; a
-- change is a new numbered file.
--
-- Times are INTEGER unix seconds in UTC. SIDs are TEXT primary keys, and every
-- table is STRICT so a wrongly typed value fails instead of being coerced.

CREATE TABLE accounts (
	sid             TEXT    NOT NULL PRIMARY KEY,
	friendly_name   TEXT    NOT NULL,
	auth_token_hash TEXT    NOT NULL,
	date_created    INTEGER NOT NULL
) STRICT;

CREATE INDEX accounts_by_date ON accounts (date_created, sid);

CREATE TABLE api_keys (
	sid           TEXT    NOT NULL PRIMARY KEY,
	account_sid   TEXT    NOT NULL REFERENCES accounts (sid),
	friendly_name TEXT    NOT NULL,
	secret_hash   TEXT    NOT NULL,
	date_created  INTEGER NOT NULL
) STRICT;

CREATE INDEX api_keys_by_account ON api_keys (account_sid, date_created, sid);

CREATE TABLE services (
	sid           TEXT    NOT NULL PRIMARY KEY,
	account_sid   TEXT    NOT NULL REFERENCES accounts (sid),
	friendly_name TEXT    NOT NULL,
	date_created  INTEGER NOT NULL,
	-- The parent key of access_tokens' composite foreign key, which makes the
	-- insert itself enforce that the service belongs to the account.
	UNIQUE (account_sid, sid)
) STRICT;

CREATE INDEX services_by_account ON services (account_sid, date_created, sid);

-- access_tokens has no index on (account_sid, service_sid): services are
-- never deleted or re-keyed, so the foreign key never searches the child
-- side, and every fetch goes through the primary key. One index fewer keeps
-- the hot insert cheap.
CREATE TABLE access_tokens (
	sid                  TEXT    NOT NULL PRIMARY KEY,
	account_sid          TEXT    NOT NULL,
	service_sid          TEXT    NOT NULL,
	identity             TEXT    NOT NULL,
	factor_type          TEXT    NOT NULL,
	factor_friendly_name TEXT,
	ttl                  INTEGER NOT NULL,
	token                TEXT    NOT NULL,
	date_created         INTEGER NOT NULL,
	FOREIGN KEY (account_sid, service_sid) REFERENCES services (account_sid, sid)
) STRICT;

CREATE TABLE token_keys (
	id      TEXT    NOT NULL PRIMARY KEY,
	secret  BLOB    NOT NULL,
	created INTEGER NOT NULL
) STRICT;
