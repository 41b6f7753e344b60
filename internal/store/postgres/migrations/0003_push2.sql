-- 0003_push2: Verify Push challenges and the pushes sent for them, a
-- service's webhooks, and the outbox of event deliveries to them.
-- Additive only: a database migrated by 0002 gains these tables and keeps
-- everything it held.
--
-- Conventions as in 0001: timestamptz truncated to whole seconds by the
-- store, SIDs in the "C" collation so they sort byte by byte.

-- challenges copies account_sid, service_sid, entity_sid and identity from
-- its factor, which never changes them, so a fetch needs no join. Its
-- status is never 'expired': a pending challenge whose expiration_date has
-- passed reads expired, computed from the caller's now.
--
-- Only factor_sid is a foreign key: deleting an entity deletes its factors,
-- and they their challenges. A second key on entity_sid would make a new
-- challenge lock the entity row as well as the factor row, in an order
-- that can deadlock with DeleteEntity (PostgreSQL).
CREATE TABLE challenges (
	sid             text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid     text COLLATE "C" NOT NULL,
	service_sid     text COLLATE "C" NOT NULL,
	entity_sid      text COLLATE "C" NOT NULL,
	identity        text             NOT NULL,
	factor_sid      text COLLATE "C" NOT NULL REFERENCES factors (sid) ON DELETE CASCADE,
	status          text             NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
	details         text             NOT NULL, -- JSON: {"message": ..., "fields": [{"label": ..., "value": ...}]}
	hidden_details  text,                      -- a JSON object of strings; NULL for none
	metadata        text,                      -- a JSON object of strings; NULL for none
	date_created    timestamptz      NOT NULL,
	date_updated    timestamptz      NOT NULL,
	date_responded  timestamptz,
	expiration_date timestamptz      NOT NULL
);

-- Lists by entity.
CREATE INDEX challenges_by_entity ON challenges (entity_sid, date_created, sid);
-- The child index the cascade from factors searches.
CREATE INDEX challenges_by_factor ON challenges (factor_sid, date_created, sid);

CREATE TABLE notifications (
	sid           text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid   text COLLATE "C" NOT NULL,
	service_sid   text COLLATE "C" NOT NULL,
	entity_sid    text COLLATE "C" NOT NULL,
	identity      text             NOT NULL,
	challenge_sid text COLLATE "C" NOT NULL REFERENCES challenges (sid) ON DELETE CASCADE,
	factor_sid    text COLLATE "C" NOT NULL,
	message       text             NOT NULL, -- the challenge's details.message, the push's text
	priority      text             NOT NULL,
	ttl           integer          NOT NULL,
	date_created  timestamptz      NOT NULL
);

-- Lists by factor.
CREATE INDEX notifications_by_factor ON notifications (factor_sid, date_created, sid);
-- The child index the cascade from challenges searches.
CREATE INDEX notifications_by_challenge ON notifications (challenge_sid);

-- event_types holds the webhook's event types between commas, with one
-- before the first and one after the last (',factor.created,*,'), so that
-- one strpos() finds a type in SQL, as instr() does in SQLite.
CREATE TABLE webhooks (
	sid           text COLLATE "C" NOT NULL PRIMARY KEY,
	account_sid   text COLLATE "C" NOT NULL,
	service_sid   text COLLATE "C" NOT NULL,
	friendly_name text             NOT NULL,
	event_types   text             NOT NULL,
	status        text             NOT NULL CHECK (status IN ('enabled', 'disabled')),
	version       text             NOT NULL,
	url           text             NOT NULL,
	date_created  timestamptz      NOT NULL,
	date_updated  timestamptz      NOT NULL,
	FOREIGN KEY (account_sid, service_sid) REFERENCES services (account_sid, sid)
);

-- Lists by service, and finds the webhooks an event goes to.
CREATE INDEX webhooks_by_service ON webhooks (service_sid, date_created, sid);

-- deliveries is the outbox: one row per event and webhook, written in the
-- transaction of the change the event tells about. A row is due while
-- finished_at is NULL, next_attempt has come and no lease runs past now;
-- a claimer leases it (lease_until) while it delivers.
CREATE TABLE deliveries (
	event_id     text COLLATE "C" NOT NULL,
	webhook_sid  text COLLATE "C" NOT NULL REFERENCES webhooks (sid) ON DELETE CASCADE,
	event_type   text             NOT NULL,
	account_sid  text COLLATE "C" NOT NULL,
	service_sid  text COLLATE "C" NOT NULL,
	url          text             NOT NULL, -- the webhook's when the event was recorded
	body         text             NOT NULL,
	attempts     integer          NOT NULL,
	created      timestamptz      NOT NULL,
	next_attempt timestamptz      NOT NULL,
	lease_until  timestamptz,
	finished_at  timestamptz,
	last_status  integer          NOT NULL,
	last_error   text             NOT NULL,
	PRIMARY KEY (event_id, webhook_sid)
);

-- The due rows, in the order they are claimed.
CREATE INDEX deliveries_due ON deliveries (next_attempt, created, event_id, webhook_sid) WHERE finished_at IS NULL;
-- The finished rows, by when, for pruning.
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;
-- The child index the cascade from webhooks searches.
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_sid);
