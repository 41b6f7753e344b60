-- 0001_init: the initial schema. Released migrations are never edited; a
-- change is a new numbered file.
--
-- Times are timestamptz, written by the store already truncated to whole
-- seconds in UTC. SIDs and key ids are text with the "C" collation, so that
-- ORDER BY ..., sid compares bytes, as SQLite does, whatever locale the
-- database was created with.

CREATE TABLE accounts (
	sid             text COLLATE "C" NOT NULL PRIMARY KEY,
	friendly_name   text             NOT NULL,
	auth_token_hash text             NOT NULL,
	date_created    timestamptz      NOT NULL
);

CREATE INDEX accounts_by_date ON accounts (date_created, sid);

CREATE TABLE api_keys (
	sid           text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid   text COLLATE "C" NOT NULL REFERENCES accounts (sid),
	friendly_name text             NOT NULL,
	secret_hash   text             NOT NULL,
	date_created  timestamptz      NOT NULL
);

CREATE INDEX api_keys_by_account ON api_keys (account_sid, date_created, sid);

CREATE TABLE services (
	sid           text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid   text COLLATE "C" NOT NULL REFERENCES accounts (sid),
	friendly_name text             NOT NULL,
	date_created  timestamptz      NOT NULL,
	-- The parent key of access_tokens' composite foreign key, which makes the
	-- insert itself enforce that the service belongs to the account.
	UNIQUE (account_sid, sid)
);

CREATE INDEX services_by_account ON services (account_sid, date_created, sid);

-- access_tokens has no index on (account_sid, service_sid): services are
-- never deleted or re-keyed, so the foreign key never searches the child
-- side, and every fetch goes through the primary key. One index fewer keeps
-- the hot insert cheap.
CREATE TABLE access_tokens (
	sid                  text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid          text COLLATE "C" NOT NULL,
	service_sid          text COLLATE "C" NOT NULL,
	identity             text             NOT NULL,
	factor_type          text             NOT NULL,
	factor_friendly_name text,
	ttl                  integer          NOT NULL,
	token                text             NOT NULL,
	date_created         timestamptz      NOT NULL,
	FOREIGN KEY (account_sid, service_sid) REFERENCES services (account_sid, sid)
);

-- Shared by every verifyd instance on this database: a token minted by one
-- instance opens with the keys any other instance loads.
CREATE TABLE token_keys (
	id      text COLLATE "C" NOT NULL PRIMARY KEY,
	secret  bytea            NOT NULL,
	created timestamptz      NOT NULL
);
