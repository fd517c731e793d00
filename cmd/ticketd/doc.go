// Command ticketd turns the mail of a support mailbox into tickets.
// Run `ticketd help` for the commands, and see ARCHITECTURE.md for the
// packages it wires together.
//
// This is the only package that knows every other: it reads the
// configuration (config.go: the structs and their one table of defaults,
// config_doc.go: what each key does, config_check.go: the checks and what
// each package receives), wires the parts (daemon.go), and runs the
// commands, one file per group: cmd_serve.go (serve, poll, ingest),
// cmd_tickets.go (the agents' commands), cmd_ops.go (quarantine,
// suppressions, the database), cmd_config.go (check-config, config
// example), demo.go. While serve runs, the other commands reach it over
// the admin socket (admin.go); /healthz and /metrics are http.go and
// metrics.go.
package main
