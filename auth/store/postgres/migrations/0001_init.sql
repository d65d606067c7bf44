-- The first schema: one table per store contract. No foreign keys: the
-- contracts let grants, flow states, policies and counters outlive their
-- tenant's record until the caller removes them (auth/oauth forgets a
-- tenant in order).

CREATE TABLE tenants (
	name       text PRIMARY KEY,
	key_hash   text NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE grants (
	tenant        text NOT NULL,
	provider      text NOT NULL,
	account       text NOT NULL,
	version       bigint NOT NULL CHECK (version > 0),
	secret        bytea NOT NULL,
	scopes        text[] NOT NULL,
	connected_at  timestamptz NOT NULL,
	status        text NOT NULL,
	status_reason text NOT NULL,
	status_at     timestamptz NOT NULL,
	PRIMARY KEY (tenant, provider, account)
);

CREATE TABLE flow_states (
	id           text PRIMARY KEY,
	tenant       text NOT NULL,
	provider     text NOT NULL,
	scopes       text[] NOT NULL,
	verifier     text NOT NULL,
	redirect_uri text NOT NULL,
	login_hint   text NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);
CREATE INDEX flow_states_tenant ON flow_states (tenant, created_at, id);

CREATE TABLE policies (
	tenant              text PRIMARY KEY,
	version             bigint NOT NULL CHECK (version > 0),
	recipient_allowlist text[] NOT NULL,
	max_sends_per_day   integer NOT NULL,
	max_recipients      integer NOT NULL,
	drafts_only         boolean NOT NULL,
	confirm_sends       text NOT NULL,
	allowed_signins     text[] NOT NULL,
	updated_at          timestamptz NOT NULL
);

CREATE TABLE counters (
	tenant   text NOT NULL,
	provider text NOT NULL,
	account  text NOT NULL,
	name     text NOT NULL,
	period   text NOT NULL,
	count    bigint NOT NULL,
	PRIMARY KEY (tenant, provider, account, name)
);

CREATE TABLE data_keys (
	tenant        text PRIMARY KEY,
	version       bigint NOT NULL CHECK (version > 0),
	master_key_id text NOT NULL,
	wrapped       bytea NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);
