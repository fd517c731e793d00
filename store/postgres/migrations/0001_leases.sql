-- Mailbox leases: the node that holds a mailbox's lease polls it. token
-- grows with every acquisition (the fencing token); expires_at is the
-- database's clock.
CREATE TABLE mailbox_leases (
    mailbox    text        PRIMARY KEY,
    owner      text        NOT NULL DEFAULT '',
    token      bigint      NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);

-- The nodes alive: each writes seen_at when it renews its leases.
CREATE TABLE nodes (
    name    text        PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
