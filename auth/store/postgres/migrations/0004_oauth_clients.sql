-- Registered OAuth clients that no token names are pruned (anyone may
-- register one): the prune asks, for each old client, whether a token
-- names it, one probe of this index each.

CREATE INDEX oauth_tokens_client ON oauth_tokens (client);
