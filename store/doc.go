// Package store keeps ticketd's state in one bbolt file and implements
// [ticket.Store].
//
// # Layout
//
// Every record is JSON under a big-endian uint64 key unless noted:
//
//	meta          "schema_version" -> "1"; "secret": the token signing key
//	tickets       ticket id -> ticket.Ticket (ids come from the bucket sequence)
//	messages      message id -> ticket.Message, without its texts
//	texts         message id ++ 'b'|'v'|'h' -> body, visible (when it differs), HTML;
//	              ++ 'p' -> visible's length (8 bytes) when it is the start of the body
//	ticket_msgs   ticket id ++ message id -> empty (index, in storage order)
//	raw           message id ++ piece number (uint32) -> 64 KiB pieces of the raw
//	              mail, byte-exact (a key of the message id alone: the whole
//	              mail, as databases written before the pieces hold it)
//	msgids        canonical Message-ID -> message id (incoming and ours)
//	seen          dedupe key ("mid:..." or "sha:...") -> message id (0: rejected)
//	cursors       mailbox key -> ticket.Cursor
//	outbox        outbox id -> ticket.Outgoing
//	rejected      quarantine id -> ticket.Rejected; rejected_raw: id -> raw mail, in pieces as raw
//	notified      Message-ID of a notification we sent -> ticket.Notification
//	suppress      lower-cased address -> ticket.Suppression
//	autosent      lower-cased address -> times automatic mail was sent to it (last day)
//	held          lower-cased address -> ticket.HeldAcks (acknowledgements held by the rate limits)
//	oauth         credential name -> its tokens and their state
//	audit         audit id -> ticket.AuditRecord (append-only: who saw personal data, and why)
//	search        term key ‖ ticket id -> count (the search index; term keys are hashed, see search.go)
//	search_docs   ticket id -> its term keys and counts (to update its postings)
//	search_queue  ticket id -> nothing (changed since indexed; IndexPending empties it)
//
// Each index is updated in the same transaction as its data.
//
// # Caveats
//
// bbolt takes an exclusive file lock: only one process can have the database
// open. [Open] waits at most Options.Timeout for it and then returns an error
// that wraps [ErrLocked]; [LockHolder] names the process that has it. The
// file never shrinks by itself; space freed by deletions is reused, and a
// compaction copies into a new file.
//
// A damaged file is never used: [Open] checks the meta and freelist pages
// and that the file is as long as they say (a file cut short would fault
// when read), and reads the first and last key of every bucket; a bbolt
// panic on a bad page, or a fault on the memory map, in any transaction is
// the error [ErrDamaged], and so is every later one. [DB.Check] runs the
// full page check. [Restore] never leaves the database missing: the old
// file is kept as a hard link and the new one renamed onto it.
package store
