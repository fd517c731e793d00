// Package tickettest holds what tests across ticketd share: a ticket
// service and an outbox on a fresh database (with the limits ticketd's
// configuration ships with), a store that fails on demand, a signer with
// a fixed key, a customer's mail, and [Main], the TestMain that fails a
// run in which a panic was recovered. It is for tests only.
package tickettest
