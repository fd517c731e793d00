// Package storetest is the contract every ticket.Store keeps, as a test
// suite: store (bbolt) and store/postgres run it on their own databases.
package storetest
