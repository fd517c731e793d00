-- The search index keeps keyed hashes of the words (as bbolt's store
-- does), not the words: the postings of the plain words are dropped, and
-- the index, no longer marked built, is built again by the next serve.
DELETE FROM search_postings;
DELETE FROM search_docs;
DELETE FROM settings WHERE name = 'search';
