-- 0002_push: Verify Push entities and their factors, and the access tokens
-- that enrolled a factor. Additive only: a database migrated by 0001 gains
-- these tables and keeps everything it held.
--
-- Conventions as in 0001: INTEGER unix seconds in UTC, TEXT SIDs, STRICT.

CREATE TABLE entities (
	sid          TEXT    NOT NULL PRIMARY KEY,
	account_sid  TEXT    NOT NULL,
	service_sid  TEXT    NOT NULL,
	identity     TEXT    NOT NULL,
	date_created INTEGER NOT NULL,
	date_updated INTEGER NOT NULL,
	-- An Identity names one entity per service. The key includes
	-- account_sid, which the foreign key below ties to the service, so it
	-- is as strict as (service_sid, identity); but an insert into another
	-- account's service then fails the foreign key (not found) rather than
	-- this key (conflict), which would tell that the Identity exists there.
	-- It is also the index that fetches an entity.
	UNIQUE (account_sid, service_sid, identity),
	FOREIGN KEY (account_sid, service_sid) REFERENCES services (account_sid, sid)
) STRICT;

CREATE INDEX entities_by_service ON entities (service_sid, date_created, sid);

-- factors copies account_sid, service_sid and identity from its entity,
-- which never changes them, so a fetch needs no join.
CREATE TABLE factors (
	sid                   TEXT    NOT NULL PRIMARY KEY,
	account_sid           TEXT    NOT NULL,
	service_sid           TEXT    NOT NULL,
	entity_sid            TEXT    NOT NULL REFERENCES entities (sid) ON DELETE CASCADE,
	identity              TEXT    NOT NULL,
	credential_sid        TEXT    NOT NULL UNIQUE,
	friendly_name         TEXT    NOT NULL,
	verified              INTEGER NOT NULL CHECK (verified IN (0, 1)),
	public_key            BLOB    NOT NULL,
	sdk_version           TEXT,
	app_id                TEXT,
	notification_platform TEXT,
	notification_token    TEXT,
	metadata              TEXT, -- a JSON object of strings; NULL for none
	date_created          INTEGER NOT NULL,
	date_updated          INTEGER NOT NULL,
	-- One device key binds once per entity.
	UNIQUE (entity_sid, public_key)
) STRICT;

-- Also the child index the cascade from entities searches.
CREATE INDEX factors_by_entity ON factors (entity_sid, date_created, sid);

-- An access token enrols one factor: CreateFactor records its SID here in
-- the same transaction, and a second use fails on the primary key.
CREATE TABLE used_access_tokens (
	sid       TEXT    NOT NULL PRIMARY KEY,
	date_used INTEGER NOT NULL
) STRICT;
