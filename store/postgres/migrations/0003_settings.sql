-- What the nodes share besides the tickets: the signing secret of the
-- threading tokens and web links, and the OAuth credentials' tokens.
CREATE TABLE settings (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);
