-- A webhook's signing secret is replaced with an overlap: the one it
-- replaced (sealed like secret) keeps signing beside it until
-- previous_until. Both NULL when there is none.

ALTER TABLE webhooks ADD COLUMN previous_secret bytea, ADD COLUMN previous_until timestamptz;
