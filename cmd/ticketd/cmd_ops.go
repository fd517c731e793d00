package main

// The operators' commands: the quarantine and suppression lists, and the
// database (backup, restore, compact, check-db, init).

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/store/postgres"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// opsCommands look after the lists and the database.
func opsCommands() []command {
	return []command{
		{name: "quarantine list", args: "[--json]", help: "list mail that could not be handled", run: cmdAdmin("quarantine", "list"), flags: jsonFlag},
		{name: "quarantine show", args: "ID", help: "print a quarantined mail's raw bytes", run: cmdAdmin("quarantine", "show")},
		{name: "quarantine retry", args: "ID", help: "run a quarantined mail through the pipeline again", run: cmdAdmin("quarantine", "retry")},
		{name: "quarantine drop", args: "ID", help: "delete a quarantined mail", run: cmdAdmin("quarantine", "drop")},
		{name: "suppressions list", args: "[--json]", help: "list addresses that get no mail after a permanent bounce", run: cmdAdmin("suppressions", "list"), flags: jsonFlag},
		{name: "suppressions remove", args: "EMAIL", help: "let mail go to an address again", run: cmdAdmin("suppressions", "remove")},
		{name: "privacy keygen", args: "FILE", help: "write a new database encryption key to FILE (mode 0400; never overwrites) for privacy.key_file", run: cmdKeygen},
		{name: "privacy erase", args: "--requester EMAIL --reason WHY [--dry-run] [--as AGENT]", help: "the right to erasure: anonymise every ticket of the address and purge its raw mail (audited)", run: cmdPrivacyErase,
			flags: func(c *cli, fs *flag.FlagSet) {
				privacyFlags(c, fs)
				jsonFlag(c, fs)
				fs.BoolVar(&c.dryRun, "dry-run", false, "only say what would be erased")
			}},
		{name: "privacy export", args: "--requester EMAIL --reason WHY --out DIR [--as AGENT]", help: "the right of access: write everything kept about the address (JSON and .eml files) into DIR (audited)", run: cmdPrivacyExport,
			flags: func(c *cli, fs *flag.FlagSet) {
				privacyFlags(c, fs)
				fs.StringVar(&c.out, "out", "", "directory to write into (created)")
			}},
		{name: "pending run", args: "[--dry-run] [--json]", help: "follow up the tickets waiting for the customer now (pending.*; it also runs on sla.schedule)", run: cmdPendingRun,
			flags: func(c *cli, fs *flag.FlagSet) {
				jsonFlag(c, fs)
				fs.BoolVar(&c.dryRun, "dry-run", false, "only say what would be sent")
			}},
		{name: "privacy purge", args: "[--dry-run] [--json]", help: "apply privacy.retention now: purge old raw mail, anonymise old closed tickets (audited)", run: cmdPrivacyPurge,
			flags: func(c *cli, fs *flag.FlagSet) {
				jsonFlag(c, fs)
				fs.BoolVar(&c.dryRun, "dry-run", false, "only say what would be purged")
			}},
		{name: "privacy rotate-key", args: "NEW_KEY_FILE", help: "re-encrypt the database with a new key (serve stopped; resumable), then set privacy.key_file to it", run: cmdRotateKey},
		{name: "privacy audit", args: "[--json]", help: "list the audit log: who saw personal data unmasked, when, on which ticket, and why", run: cmdAdmin("audit", "list"), flags: jsonFlag},
		{name: "backup", args: "FILE", help: "write a consistent copy of the database to FILE (through the daemon while it runs)", run: cmdBackup},
		{name: "restore", args: "FILE", help: "replace the database with a backup (serve must be stopped)", run: cmdRestore},
		{name: "compact", help: "rewrite the database without its free space (serve must be stopped)", run: cmdCompact},
		{name: "check-db", help: "run the full consistency check of the database (through the daemon while it runs); exit 1 if damaged", run: cmdCheckDB},
		{name: "init", help: "create the database in data_dir (serve and poll do it too, in a data dir that never had one)", run: cmdInit},
		{name: "migrate", help: "bring a PostgreSQL database's schema to this version (serve and poll do it too)", run: cmdMigrate},
	}
}

// cmdAdmin runs an operator request on the quarantine or suppression list.
func cmdAdmin(list, op string) func(c *cli) int {
	return func(c *cli) int {
		req := adminOp{List: list, Op: op}
		switch op {
		case "show", "retry", "drop":
			id, ok := c.ticketArg()
			if !ok || len(c.args) != 1 {
				return c.fail("usage: ticketd %s %s ID", list, op)
			}
			req.ID = id
		case "remove":
			if len(c.args) != 1 {
				return c.fail("usage: ticketd suppressions remove EMAIL")
			}
			req.Email = c.args[0]
		}
		s, b, code := c.open()
		if b == nil {
			return code
		}
		defer b.Close()
		out, err := b.Admin(c.ctx, req)
		if err != nil {
			return c.fail("%s %s: %v", list, op, err)
		}
		switch {
		case op == "show":
			c.stdout.Write(out.Raw)
		case c.asJSON:
			return c.printJSON(out)
		case out.Message != "":
			fmt.Fprintln(c.stdout, out.Message)
		case list == "quarantine":
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tSIZE\tSOURCE\tREASON")
			for _, r := range out.Quarantine {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", r.ID, r.ReceivedAt.In(s.Loc).Format("2006-01-02 15:04"), r.RawSize,
					oneLine(r.Source, 40), oneLine(r.Reason, 80))
			}
			tw.Flush()
		case list == "audit":
			term := func(k string) string { return templates.Term(s.Config.Center.Language, k) }
			rows := [][]string{{term("audit_id"), term("audit_at"), term("audit_who"), term("audit_action"), term("ticket"), term("audit_reason"), term("audit_detail")}}
			for _, r := range out.Audit {
				tk := "-"
				if r.Ticket != 0 {
					tk = fmt.Sprintf("#%d", r.Ticket)
				}
				rows = append(rows, []string{fmt.Sprint(r.ID), r.At.In(s.Loc).Format("2006-01-02 15:04:05"), oneLine(r.Who, 40),
					term("audit_" + r.Action), tk, oneLine(r.Reason, 80), oneLine(r.Detail, 80)})
			}
			writeTable(c.stdout, rows)
		default:
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tUNTIL\tTICKET\tREASON")
			for _, x := range out.Suppressions {
				fmt.Fprintf(tw, "%s\t%s\t#%d\t%s\n", x.Email, x.Until.In(s.Loc).Format("2006-01-02"), x.Ticket, oneLine(x.Reason, 80))
			}
			tw.Flush()
		}
		return exitOK
	}
}

func cmdBackup(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd backup FILE")
	}
	s, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	if !c.bboltOnly(s, "backup", "back up with PostgreSQL's own tools: pg_dump (a consistent snapshot of the database), or pg_basebackup with WAL archiving for point-in-time recovery") {
		return exitFail
	}
	path := c.args[0]
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return c.fail("backup: %v", err)
	}
	n, err := b.Backup(c.ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = store.Check(tmp, s.Key) // a copy cut short fails here
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return c.fail("backup: %v", err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s (%d bytes)\n", path, n)
	if err := recordBackup(s, path); err != nil {
		fmt.Fprintf(c.stderr, "ticketd: backup: the backup is written, but it could not be recorded in the data dir: %v\n", err)
	}
	return exitOK
}

func cmdRestore(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd restore FILE")
	}
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if !c.bboltOnly(s, "restore", "restore with PostgreSQL's own tools (pg_restore of a pg_dump, or a base backup and its WAL)") || !c.noDaemon(s, "restore") {
		return exitFail
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return c.fail("restore: %v", err)
	}
	kept, err := store.Restore(c.args[0], s.DBPath, s.Key)
	if err != nil {
		return c.fail("restore: %v", err)
	}
	fmt.Fprintf(c.stdout, "restored %s from %s", s.DBPath, c.args[0])
	if kept != "" {
		fmt.Fprintf(c.stdout, "; the previous database is kept as %s", kept)
	}
	fmt.Fprintln(c.stdout)
	return exitOK
}

func cmdCompact(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if !c.bboltOnly(s, "compact", "PostgreSQL's autovacuum keeps the tables (VACUUM FULL rewrites one)") || !c.noDaemon(s, "compact") {
		return exitFail
	}
	before, after, err := store.Compact(s.DBPath, s.Key)
	if err != nil {
		return c.fail("compact: %v", err)
	}
	fmt.Fprintf(c.stdout, "compacted %s: %d -> %d bytes\n", s.DBPath, before, after)
	return exitOK
}

// privacyFlags are the flags of privacy erase and export.
func privacyFlags(c *cli, fs *flag.FlagSet) {
	fs.StringVar(&c.requester, "requester", "", "the customer's address")
	fs.StringVar(&c.reason, "reason", "", "why (kept in the audit log, e.g. the request's reference)")
	fs.StringVar(&c.as, "as", os.Getenv("TICKETD_AGENT"), "who acts (default $TICKETD_AGENT; the OS user is recorded too)")
}

// cmdPrivacyErase anonymises a requester's tickets (ticket.Service.Erase).
func cmdPrivacyErase(c *cli) int {
	if c.requester == "" || strings.TrimSpace(c.reason) == "" {
		return c.fail("usage: ticketd privacy erase --requester EMAIL --reason WHY [--dry-run]")
	}
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "privacy", Op: "erase", Email: c.requester, Who: whoAmI(c.as), Reason: c.reason, DryRun: c.dryRun})
	if err != nil {
		return c.fail("privacy erase: %v", err)
	}
	if c.asJSON {
		return c.printJSON(out.Erasure)
	}
	e := out.Erasure
	what := "erased"
	if e.DryRun {
		what = "would erase (dry run, nothing changed)"
	}
	fmt.Fprintf(c.stdout, "%s: %d ticket(s) %v, %d message(s) anonymised, %d raw mail(s) purged, %d queued mail(s) dropped; suppression and rate-limit records: %v\n",
		what, len(e.Tickets), e.Tickets, e.Messages, e.Raw, e.Outgoing, map[bool]string{true: "removed", false: "none"}[e.Lists])
	return exitOK
}

// cmdPrivacyExport writes a requester's data into a directory: export.json
// and one .eml file per stored raw mail.
func cmdPrivacyExport(c *cli) int {
	if c.requester == "" || strings.TrimSpace(c.reason) == "" || c.out == "" {
		return c.fail("usage: ticketd privacy export --requester EMAIL --reason WHY --out DIR")
	}
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "privacy", Op: "export", Email: c.requester, Who: whoAmI(c.as), Reason: c.reason})
	if err != nil {
		return c.fail("privacy export: %v", err)
	}
	if err := os.MkdirAll(c.out, 0o700); err != nil {
		return c.fail("privacy export: %v", err)
	}
	data, err := json.MarshalIndent(out.Export, "", "  ")
	if err != nil {
		return c.fail("privacy export: %v", err)
	}
	if err := os.WriteFile(filepath.Join(c.out, "export.json"), data, 0o600); err != nil {
		return c.fail("privacy export: %v", err)
	}
	files := 0
	for _, t := range out.Export.Tickets {
		for _, m := range t.Messages {
			raw, ok := out.ExportRaw[m.ID]
			if !ok {
				continue
			}
			name := filepath.Join(c.out, fmt.Sprintf("ticket-%d-message-%d.eml", t.Ticket.ID, m.ID))
			if err := os.WriteFile(name, raw, 0o600); err != nil {
				return c.fail("privacy export: %v", err)
			}
			files++
		}
	}
	fmt.Fprintf(c.stdout, "exported %d ticket(s) and %d mail(s) of %s into %s (export.json and .eml files, mode 0600)\n",
		len(out.Export.Tickets), files, c.requester, c.out)
	return exitOK
}

// cmdPendingRun runs the pending follow-up once.
func cmdPendingRun(c *cli) int {
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "pending", Op: "run", DryRun: c.dryRun})
	if err != nil {
		return c.fail("pending run: %v", err)
	}
	if c.asJSON {
		return c.printJSON(out.Pending)
	}
	p := out.Pending
	switch {
	case p.Closed:
		fmt.Fprintln(c.stdout, "the center is closed now: nothing is sent outside business hours")
	case p.DryRun:
		fmt.Fprintf(c.stdout, "would remind %v and solve %v (dry run, nothing sent)\n", p.Reminded, p.Solved)
	default:
		fmt.Fprintf(c.stdout, "reminded %v, solved %v, held by the automatic-mail limits %v\n", p.Reminded, p.Solved, p.Held)
	}
	return exitOK
}

// cmdPrivacyPurge runs the retention once.
func cmdPrivacyPurge(c *cli) int {
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "privacy", Op: "purge", DryRun: c.dryRun})
	if err != nil {
		return c.fail("privacy purge: %v", err)
	}
	if c.asJSON {
		return c.printJSON(out.Purge)
	}
	p := out.Purge
	what := "purged"
	if p.DryRun {
		what = "would purge (dry run, nothing changed)"
	}
	fmt.Fprintf(c.stdout, "%s: raw mail of %d ticket(s) %v (%d mails); %d ticket(s) anonymised %v\n", what, len(p.RawTickets), p.RawTickets, p.Raw, len(p.Anonymised), p.Anonymised)
	return exitOK
}

// cmdRotateKey re-encrypts every record with a new key, the configured
// ones opening the old records; run again after an interruption.
func cmdRotateKey(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if len(c.args) != 1 {
		return c.fail("usage: ticketd privacy rotate-key NEW_KEY_FILE")
	}
	if s.Key == nil {
		return c.fail("privacy rotate-key: no privacy.key_file is set; a database without a key is encrypted by setting one and starting serve")
	}
	if !c.noDaemon(s, "privacy rotate-key") {
		return exitFail
	}
	path := c.args[0]
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o007 != 0 {
		return c.fail("privacy rotate-key: %s is mode %04o, open to others (chmod 400 %s)", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c.fail("privacy rotate-key: %v", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return c.fail("privacy rotate-key: %s: %v", path, err)
	}
	rs := *s
	rs.Key, rs.OldKeys = key, append([][]byte{s.Key}, s.OldKeys...)
	db, err := openDatabase(&rs, false, 2*time.Second)
	if err != nil {
		return c.fail("privacy rotate-key: %v", err)
	}
	defer db.Close()
	if pg, ok := db.(*postgres.Store); ok {
		// Every node must stop first: one still running with the old key
		// alone could not read what is re-encrypted.
		nodes, err := postgres.Holders(c.ctx, pg.Pool())
		if err != nil {
			return c.fail("privacy rotate-key: %v", err)
		}
		if len(nodes) > 0 {
			return c.fail("privacy rotate-key: nodes %s hold mailbox leases, so they are serving: stop every node first (or give each privacy.key_file: %s with the old key in privacy.old_key_files, and they re-encrypt as they start)",
				strings.Join(nodes, ", "), path)
		}
	}
	n, err := db.Seal(func(place string, done int) bool {
		fmt.Fprintf(c.stdout, "re-encrypting: %d records (%s)\n", done, place)
		return c.ctx.Err() == nil
	})
	if err != nil {
		return c.fail("privacy rotate-key: %v; run the same command again to go on (until then start serve with privacy.key_file: %s and the old key in privacy.old_key_files)", err, path)
	}
	if err := db.Update(func(tx ticket.Tx) error {
		return tx.AddAudit(&ticket.AuditRecord{At: time.Now().UTC(), Who: whoAmI(c.as), Action: ticket.AuditRotate, Reason: "key rotation",
			Detail: fmt.Sprintf("%d records re-encrypted", n)})
	}); err != nil {
		return c.fail("privacy rotate-key: %v", err)
	}
	fmt.Fprintf(c.stdout, "re-encrypted %d records with %s; now set privacy.key_file: %s (the old key no longer opens the database; keep the new one with the backups)\n", n, path, path)
	return exitOK
}

// writeKeyFile writes a new key, base64 on one line, to a new file of mode
// 0400; it never overwrites one.
func writeKeyFile(path string) error {
	key := make([]byte, store.KeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; a key is never overwritten (the database it encrypts needs it)", path)
	} else if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, base64.StdEncoding.EncodeToString(key))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// cmdKeygen writes 32 random bytes, base64 on one line, to a new file of
// mode 0400.
func cmdKeygen(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd privacy keygen FILE")
	}
	path := c.args[0]
	if err := writeKeyFile(path); err != nil {
		return c.fail("privacy keygen: %v", err)
	}
	fmt.Fprintf(c.stdout, "wrote a new key to %s (mode 0400); set privacy.key_file: %s, and keep a copy with the backups\n", path, path)
	return exitOK
}

func cmdCheckDB(c *cli) int {
	s, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "db", Op: "check"})
	if err != nil {
		return c.fail("check-db: %v", err)
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", s.DBPath, out.Message)
	return exitOK
}

func cmdInit(c *cli) int {
	// The key the config names is made first, so the database is
	// encrypted from its first record.
	path := findConfig(c.config)
	if data, err := os.ReadFile(path); err == nil {
		if cfg, err := parseConfig(data); err == nil && cfg.Privacy.KeyFile != "" {
			kf := cfg.Privacy.KeyFile
			if !filepath.IsAbs(kf) {
				kf = filepath.Join(filepath.Dir(path), kf)
			}
			if _, err := os.Stat(kf); errors.Is(err, os.ErrNotExist) {
				if err := writeKeyFile(kf); err != nil {
					return c.fail("init: %v", err)
				}
				fmt.Fprintf(c.stdout, "wrote a new database key to %s (mode 0400); keep a copy with the backups\n", kf)
			}
		}
	}
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if s.StoreDriver == "postgres" {
		db, err := openDatabase(s, true, 30*time.Second)
		if err != nil {
			return c.fail("init: %v", err)
		}
		defer db.Close()
		if _, err := db.Secret(); err != nil {
			return c.fail("init: %v", err)
		}
		fmt.Fprintf(c.stdout, "%s is ready (schema version %d)\n", db.Path(), postgres.SchemaVersion())
		return exitOK
	}
	if _, err := os.Stat(s.DBPath); err == nil {
		if fi, _ := os.Stat(s.DBPath); fi.Size() > 0 {
			fmt.Fprintf(c.stdout, "%s already exists; nothing to do\n", s.DBPath)
			return exitOK
		}
	}
	if !c.noDaemon(s, "init") {
		return exitFail
	}
	db, err := openStore(s, true, 2*time.Second)
	if err != nil {
		return c.fail("init: %v", err)
	}
	defer db.Close()
	if _, err := db.Secret(); err != nil {
		return c.fail("init: %v", err)
	}
	fmt.Fprintf(c.stdout, "created %s\n", s.DBPath)
	return exitOK
}

// noDaemon refuses to go on while serve answers on the admin socket.
// bboltOnly fails what (a command on the database file) with store.driver
// postgres, saying which tool does it there.
func (c *cli) bboltOnly(s *Settings, what, instead string) bool {
	if s.StoreDriver == "postgres" {
		c.fail("%s: not with store.driver postgres: %s", what, instead)
		return false
	}
	return true
}

func cmdMigrate(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if s.StoreDriver != "postgres" {
		fmt.Fprintln(c.stdout, "store.driver is bbolt: its database needs no migration")
		return exitOK
	}
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, s.StoreDSN)
	if err != nil {
		return c.fail("migrate: store.dsn: %v", err)
	}
	defer pool.Close()
	from, to, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return c.fail("migrate: %v", err)
	}
	if from == to {
		fmt.Fprintf(c.stdout, "the schema is at version %d already\n", to)
	} else {
		fmt.Fprintf(c.stdout, "migrated the schema from version %d to %d\n", from, to)
	}
	return exitOK
}

func (c *cli) noDaemon(s *Settings, what string) bool {
	if rb, ok := dialAdmin(s.Socket); ok {
		rb.Close()
		c.fail("%s: ticketd serve is running (admin socket %s); stop it first", what, s.Socket)
		return false
	}
	return true
}
