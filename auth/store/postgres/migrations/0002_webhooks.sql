-- Webhooks: each tenant's registration (its signing secret sealed by the
-- caller) and the outbox of deliveries, one per tenant and transition key.

CREATE TABLE webhooks (
	tenant     text PRIMARY KEY,
	url        text NOT NULL,
	secret     bytea NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
	id          text PRIMARY KEY,
	tenant      text NOT NULL,
	key         text NOT NULL,
	body        bytea NOT NULL,
	created_at  timestamptz NOT NULL,
	attempts    integer NOT NULL DEFAULT 0,
	next_at     timestamptz NOT NULL,
	last_error  text NOT NULL DEFAULT '',
	done        boolean NOT NULL DEFAULT false,
	lease       text NOT NULL DEFAULT '',
	lease_until timestamptz,
	UNIQUE (tenant, key)
);
-- What a claim scans: the deliveries not yet made, by when they are due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE NOT done;
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
