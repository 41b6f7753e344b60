-- 0002_push: Verify Push entities and their factors, and the access tokens
-- that enrolled a factor. Additive only: a database migrated by 0001 gains
-- these tables and keeps everything it held.
--
-- Conventions as in 0001: timestamptz truncated to whole seconds by the
-- store, SIDs in the "C" collation so they sort byte by byte.

CREATE TABLE entities (
	sid          text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid  text COLLATE "C" NOT NULL,
	service_sid  text COLLATE "C" NOT NULL,
	identity     text             NOT NULL,
	date_created timestamptz      NOT NULL,
	date_updated timestamptz      NOT NULL,
	-- An Identity names one entity per service. The key includes
	-- account_sid, which the foreign key below ties to the service, so it
	-- is as strict as (service_sid, identity); but an insert into another
	-- account's service then fails the foreign key (not found) rather than
	-- this key (conflict), which would tell that the Identity exists there.
	-- It is also the index that fetches an entity, and the arbiter of
	-- CreateFactor's INSERT ... ON CONFLICT.
	UNIQUE (account_sid, service_sid, identity),
	FOREIGN KEY (account_sid, service_sid) REFERENCES services (account_sid, sid)
);

CREATE INDEX entities_by_service ON entities (service_sid, date_created, sid);

-- factors copies account_sid, service_sid and identity from its entity,
-- which never changes them, so a fetch needs no join.
CREATE TABLE factors (
	sid                   text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid           text COLLATE "C" NOT NULL,
	service_sid           text COLLATE "C" NOT NULL,
	entity_sid            text COLLATE "C" NOT NULL REFERENCES entities (sid) ON DELETE CASCADE,
	identity              text             NOT NULL,
	credential_sid        text COLLATE "C" NOT NULL UNIQUE,
	friendly_name         text             NOT NULL,
	verified              boolean          NOT NULL,
	public_key            bytea            NOT NULL,
	sdk_version           text,
	app_id                text,
	notification_platform text,
	notification_token    text,
	metadata              text, -- a JSON object of strings; NULL for none
	date_created          timestamptz      NOT NULL,
	date_updated          timestamptz      NOT NULL,
	-- One device key binds once per entity.
	UNIQUE (entity_sid, public_key)
);

-- Also the child index the cascade from entities searches.
CREATE INDEX factors_by_entity ON factors (entity_sid, date_created, sid);

-- An access token enrols one factor: CreateFactor records its SID here in
-- the same transaction, and a second use fails on the primary key.
CREATE TABLE used_access_tokens (
	sid       text COLLATE "C" NOT NULL PRIMARY KEY,
	date_used timestamptz      NOT NULL
);
