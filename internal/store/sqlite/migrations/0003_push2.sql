-- 0003_push2: Verify Push challenges and the pushes sent for them, a
-- service's webhooks, and the outbox of event deliveries to them.
-- Additive only: a database migrated by 0002 gains these tables and keeps
-- everything it held.
--
-- Conventions as in 0001: INTEGER unix seconds in UTC, TEXT SIDs, STRICT.

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
	sid             TEXT    NOT NULL PRIMARY KEY,
	account_sid     TEXT    NOT NULL,
	service_sid     TEXT    NOT NULL,
	entity_sid      TEXT    NOT NULL,
	identity        TEXT    NOT NULL,
	factor_sid      TEXT    NOT NULL REFERENCES factors (sid) ON DELETE CASCADE,
	status          TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
	details         TEXT    NOT NULL, -- JSON: {"message": ..., "fields": [{"label": ..., "value": ...}]}
	hidden_details  TEXT,             -- a JSON object of strings; NULL for none
	metadata        TEXT,             -- a JSON object of strings; NULL for none
	date_created    INTEGER NOT NULL,
	date_updated    INTEGER NOT NULL,
	date_responded  INTEGER,
	expiration_date INTEGER NOT NULL
) STRICT;

-- Lists by entity.
CREATE INDEX challenges_by_entity ON challenges (entity_sid, date_created, sid);
-- The child index the cascade from factors searches.
CREATE INDEX challenges_by_factor ON challenges (factor_sid, date_created, sid);

CREATE TABLE notifications (
	sid           TEXT    NOT NULL PRIMARY KEY,
	account_sid   TEXT    NOT NULL,
	service_sid   TEXT    NOT NULL,
	entity_sid    TEXT    NOT NULL,
	identity      TEXT    NOT NULL,
	challenge_sid TEXT    NOT NULL REFERENCES challenges (sid) ON DELETE CASCADE,
	factor_sid    TEXT    NOT NULL,
	message       TEXT    NOT NULL, -- the challenge's details.message, the push's text
	priority      TEXT    NOT NULL,
	ttl           INTEGER NOT NULL,
	date_created  INTEGER NOT NULL
) STRICT;

-- Lists by factor.
CREATE INDEX notifications_by_factor ON notifications (factor_sid, date_created, sid);
-- The child index the cascade from challenges searches.
CREATE INDEX notifications_by_challenge ON notifications (challenge_sid);

-- event_types holds the webhook's event types between commas, with one
-- before the first and one after the last (",factor.created,*,"), so that
-- one instr() finds a type in SQL, as strpos() does in PostgreSQL.
CREATE TABLE webhooks (
	sid           TEXT    NOT NULL PRIMARY KEY,
	account_sid   TEXT    NOT NULL,
	service_sid   TEXT    NOT NULL,
	friendly_name TEXT    NOT NULL,
	event_types   TEXT    NOT NULL,
	status        TEXT    NOT NULL CHECK (status IN ('enabled', 'disabled')),
	version       TEXT    NOT NULL,
	url           TEXT    NOT NULL,
	date_created  INTEGER NOT NULL,
	date_updated  INTEGER NOT NULL,
	FOREIGN KEY (account_sid, service_sid) REFERENCES services (account_sid, sid)
) STRICT;

-- Lists by service, and finds the webhooks an event goes to.
CREATE INDEX webhooks_by_service ON webhooks (service_sid, date_created, sid);

-- deliveries is the outbox: one row per event and webhook, written in the
-- transaction of the change the event tells about. A row is due while
-- finished_at is NULL, next_attempt has come and no lease runs past now;
-- a claimer leases it (lease_until) while it delivers.
CREATE TABLE deliveries (
	event_id     TEXT    NOT NULL,
	webhook_sid  TEXT    NOT NULL REFERENCES webhooks (sid) ON DELETE CASCADE,
	event_type   TEXT    NOT NULL,
	account_sid  TEXT    NOT NULL,
	service_sid  TEXT    NOT NULL,
	url          TEXT    NOT NULL, -- the webhook's when the event was recorded
	body         TEXT    NOT NULL,
	attempts     INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	lease_until  INTEGER,
	finished_at  INTEGER,
	last_status  INTEGER NOT NULL,
	last_error   TEXT    NOT NULL,
	PRIMARY KEY (event_id, webhook_sid)
) STRICT;

-- The due rows, in the order they are claimed.
CREATE INDEX deliveries_due ON deliveries (next_attempt, created, event_id, webhook_sid) WHERE finished_at IS NULL;
-- The finished rows, by when, for pruning.
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;
-- The child index the cascade from webhooks searches.
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_sid);
