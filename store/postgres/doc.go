// Package postgres is the beginning of ticketd's PostgreSQL store, for
// running several ticketd nodes against one database (bbolt stays the
// store of a single host).
//
// What is here so far:
//
//   - The schema and its migrations (numbered SQL files in the binary,
//     applied in one transaction under an advisory lock, with a version
//     table; see [Migrate]).
//   - Mailbox leases with fencing tokens ([Leases]): a node polls and IDLEs
//     only the mailboxes it holds; each acquisition increments the lease's
//     token, and a node's ingest transaction checks the token it holds
//     ([Lease.Check]) before it writes, so a node that was paused past its
//     lease (a GC pause, SIGSTOP, a partition) cannot commit after another
//     took over. Leases are spread: while several nodes are alive, each holds
//     at most its share. Every time is the database's own clock (now()), so
//     the nodes' clocks do not matter.
//
// The implementation of ticket.Store on these tables, and its selection by
// store.driver, are not here yet.
package postgres
