-- mailcal's own OAuth server: registered clients (DCR), every token it
-- issued (stored by the hex SHA-256 of the secret, never the secret), and
-- one row per family, which a token's put and the family's revocation both
-- lock, so that a put racing with a revocation is either refused or
-- revoked with the rest. A tenant's per-policy switch letting people signed
-- in through OAuth use every account of the tenant.

CREATE TABLE oauth_clients (
	id          text PRIMARY KEY,
	secret_hash text NOT NULL,
	metadata    bytea NOT NULL,
	created_at  timestamptz NOT NULL
);

CREATE TABLE oauth_tokens (
	hash         text PRIMARY KEY,
	kind         text NOT NULL,
	family       text NOT NULL,
	tenant       text NOT NULL,
	provider     text NOT NULL,
	account      text NOT NULL,
	client       text NOT NULL,
	resource     text NOT NULL,
	scopes       text[] NOT NULL,
	redirect_uri text NOT NULL,
	challenge    text NOT NULL,
	state        text NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	spent_at     timestamptz
);
CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
CREATE INDEX oauth_tokens_account ON oauth_tokens (tenant, provider, account);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);

-- expires_at: the latest expiry of a token put in the family (a revocation
-- by account or tenant keeps the family revoked that long); revoked_until:
-- NULL while the family may get tokens, else until when it may not.
CREATE TABLE oauth_families (
	family        text PRIMARY KEY,
	expires_at    timestamptz NOT NULL,
	revoked_until timestamptz
);
CREATE INDEX oauth_families_prune ON oauth_families ((coalesce(revoked_until, expires_at)));

ALTER TABLE policies ADD COLUMN shared_accounts boolean NOT NULL DEFAULT false;
