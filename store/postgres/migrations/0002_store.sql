-- The ticket store: records are JSON documents (the ticket package's
-- types) in rows keyed for their lookups; raw mail in 64 KiB chunk rows.

CREATE SEQUENCE ticket_ids;

CREATE TABLE tickets (
    id     bigint PRIMARY KEY,
    status text   NOT NULL,
    doc    bytea  NOT NULL
);

CREATE TABLE messages (
    id        bigserial PRIMARY KEY,
    ticket_id bigint    NOT NULL,
    doc       bytea     NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

-- A canonical Message-ID names the first message stored with it.
CREATE TABLE message_ids (
    message_id text   PRIMARY KEY,
    msg_id     bigint NOT NULL
);

-- Dedupe: a mail is stored at most once, by the unique key.
CREATE TABLE seen (
    key    text   PRIMARY KEY,
    msg_id bigint NOT NULL
);

-- Raw bytes: kind 1 a message's raw mail, kind 2 a quarantined mail's.
CREATE TABLE blobs (
    kind  smallint NOT NULL,
    id    bigint   NOT NULL,
    n     integer  NOT NULL,
    chunk bytea    NOT NULL,
    PRIMARY KEY (kind, id, n)
);

CREATE TABLE outgoing (
    id  bigserial PRIMARY KEY,
    doc bytea     NOT NULL
);

CREATE TABLE rejected (
    id  bigserial PRIMARY KEY,
    doc bytea     NOT NULL
);

CREATE TABLE audit (
    id  bigserial PRIMARY KEY,
    doc bytea     NOT NULL
);

-- Small records keyed by a name: cursors (by mailbox), notifications (by
-- Message-ID), suppressions, auto-sent times and held acknowledgements
-- (by lower-cased address).
CREATE TABLE docs (
    kind text  NOT NULL,
    key  text  NOT NULL,
    doc  bytea NOT NULL,
    PRIMARY KEY (kind, key)
);

-- The search index, kept by the transaction that changes a ticket.
CREATE TABLE search_postings (
    term      text    NOT NULL,
    ticket_id bigint  NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (term, ticket_id)
);
CREATE INDEX search_postings_ticket ON search_postings (ticket_id);
CREATE TABLE search_docs (
    ticket_id bigint PRIMARY KEY
);
