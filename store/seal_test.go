package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// secretsOfMail are the words of the customer's mail that must never be
// in the file of an encrypted database.
var secretsOfMail = []string{"900101-1234568", "4111-1111-1111-1111", "010-9876-5432", "햇살론 상환일을 바꾸고 싶습니다", "김민수"}

// fillSecrets stores a ticket with a message, its raw mail, an outgoing mail, a
// suppression, a quarantined mail and an audit record, all holding the
// secrets.
func fillSecrets(t *testing.T, db *DB) {
	t.Helper()
	body := "햇살론 상환일을 바꾸고 싶습니다. 주민번호 900101-1234568, 카드 4111-1111-1111-1111, 연락처 010-9876-5432"
	raw := []byte("From: 김민수 <kim@example.org>\r\nSubject: 상환일\r\n\r\n" + body + "\r\n")
	err := db.Update(func(tx ticket.Tx) error {
		id, err := tx.NextTicketID()
		if err != nil {
			return err
		}
		if err := tx.PutTicket(ticket.Ticket{ID: id, Subject: "햇살론 상환일을 바꾸고 싶습니다", Requester: ticket.Address{Name: "김민수", Email: "kim@example.org"}}); err != nil {
			return err
		}
		m := &ticket.Message{TicketID: id, Subject: "상환일 900101-1234568", From: ticket.Address{Name: "김민수", Email: "kim@example.org"},
			Body: body, Visible: body[:40], HTML: "<p>" + body + "</p>"}
		if err := tx.AddMessage(m, raw); err != nil {
			return err
		}
		if err := tx.Enqueue(&ticket.Outgoing{TicketID: id, Subject: "[#1] 햇살론 상환일을 바꾸고 싶습니다", Text: body, To: []ticket.Address{{Name: "김민수", Email: "kim@example.org"}}}); err != nil {
			return err
		}
		if err := tx.PutSuppression(ticket.Suppression{Email: "x@example.org", Reason: "5.1.1 김민수 010-9876-5432", Until: time.Now().Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.AddRejected(&ticket.Rejected{Raw: raw, Reason: "test"}); err != nil {
			return err
		}
		return tx.AddAudit(&ticket.AuditRecord{Who: "김민수", Action: ticket.AuditUnmask, Reason: "900101-1234568"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leaked returns the secrets found in b.
func leaked(b []byte) []string {
	var out []string
	for _, s := range secretsOfMail {
		if bytes.Contains(b, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

// TestEncryptedAtRest: with a key nothing of a customer's mail is in the
// file or in a backup, the records read back whole, and the database
// refuses to open without its key or with another.
func TestEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.db")
	key := bytes.Repeat([]byte{1}, KeySize)
	db, err := Open(path, &Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	fillSecrets(t, db)
	var backup bytes.Buffer
	if _, err := db.WriteTo(&backup); err != nil {
		t.Fatal(err)
	}
	db.Close()
	file, _ := os.ReadFile(path)
	if l := leaked(file); len(l) > 0 {
		t.Errorf("the database file holds %q", l)
	}
	if l := leaked(backup.Bytes()); len(l) > 0 {
		t.Errorf("the backup holds %q", l)
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrKeyRequired) {
		t.Errorf("opened without its key: %v", err)
	}
	if _, err := Open(path, &Options{Key: bytes.Repeat([]byte{2}, KeySize)}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("opened with another key: %v", err)
	}
	if err := Check(path, nil); !errors.Is(err, ErrKeyRequired) {
		t.Errorf("check without the key: %v", err)
	}
	if err := Check(path, key); err != nil {
		t.Errorf("check with the key: %v", err)
	}
	db, err = Open(path, &Options{Key: key, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx ticket.ReadTx) error {
		tk, err := tx.Ticket(1)
		if err != nil || tk.Subject != "햇살론 상환일을 바꾸고 싶습니다" {
			t.Errorf("ticket: %+v %v", tk, err)
		}
		m, err := tx.Message(1)
		if err != nil || !strings.Contains(m.Body, "900101-1234568") || m.Visible != m.Body[:40] || !strings.Contains(m.HTML, "<p>") {
			t.Errorf("message: %v %q", err, m.Visible)
		}
		raw, err := tx.Raw(1)
		if err != nil || !bytes.Contains(raw, []byte("4111-1111-1111-1111")) {
			t.Errorf("raw: %v", err)
		}
		os, err := tx.Outbox()
		if err != nil || len(os) != 1 || !strings.Contains(os[0].Text, "010-9876-5432") {
			t.Errorf("outbox: %v", err)
		}
		rs, err := tx.Rejected()
		if err != nil || len(rs) != 1 || !bytes.Contains(rs[0].Raw, []byte("김민수")) {
			t.Errorf("rejected: %v", err)
		}
		var audit []ticket.AuditRecord
		tx.EachAudit(func(r ticket.AuditRecord) error { audit = append(audit, r); return nil })
		if len(audit) != 1 || audit[0].Who != "김민수" {
			t.Errorf("audit: %+v", audit)
		}
		return nil
	})
}

// TestSealExistingDatabase: a database written without a key is encrypted
// in place, resumably; mixed records read back while it runs; after it a
// plain record is refused, and after a compaction the file holds none of
// the old plaintext.
func TestSealExistingDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 300 { // more than one batch
		fillSecrets(t, db)
	}
	db.Close()
	key := bytes.Repeat([]byte{3}, KeySize)
	db, err = Open(path, &Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if !db.NeedsSealing() {
		t.Fatal("a plaintext database opened with a key does not need sealing")
	}
	fillSecrets(t, db) // written sealed, among plain records
	var batches int
	n, err := db.Seal(func(string, int) bool { batches++; return true })
	if err != nil {
		t.Fatal(err)
	}
	if db.NeedsSealing() || n < 300*7 || batches < 2 {
		t.Fatalf("sealed %d records in %d batches; needs sealing %v", n, batches, db.NeedsSealing())
	}
	if again, err := db.Seal(nil); err != nil || again != 0 {
		t.Fatalf("a second Seal sealed %d (%v), want 0", again, err)
	}
	err = db.View(func(tx ticket.ReadTx) error {
		ts, err := tx.Tickets(ticket.TicketFilter{})
		if err != nil || len(ts) != 301 {
			t.Errorf("%d tickets, %v", len(ts), err)
		}
		m, err := tx.Message(1)
		if err != nil || !strings.Contains(m.Body, "900101-1234568") {
			t.Errorf("message 1 after sealing: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, _, err := Compact(path, key); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	if l := leaked(file); len(l) > 0 {
		t.Errorf("after sealing and compacting, the file holds %q", l)
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrKeyRequired) {
		t.Errorf("the sealed database opened without its key: %v", err)
	}
}

// TestRotateKey: a new key with the old one among OldKeys opens the
// database at once; Seal re-encrypts every record with the new key, in
// batches; from then on the new key alone opens it and the old one alone
// does not. Before the re-encryption is done the new key alone is not
// enough, and says which key is missing.
func TestRotateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	oldKey, newKey := bytes.Repeat([]byte{4}, KeySize), bytes.Repeat([]byte{5}, KeySize)
	db, err := Open(path, &Options{Key: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		fillSecrets(t, db)
	}
	db.Close()
	db, err = Open(path, &Options{Key: newKey, OldKeys: [][]byte{oldKey}})
	if err != nil {
		t.Fatal(err)
	}
	if !db.NeedsSealing() {
		t.Fatal("a rotation does not need re-encryption")
	}
	db.Close()
	// Interrupted here: the new key alone cannot read the old records.
	db, err = Open(path, &Options{Key: newKey})
	if err != nil {
		t.Fatal(err) // the check record is already the new key's
	}
	err = db.View(func(tx ticket.ReadTx) error { _, err := tx.Ticket(1); return err })
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "old_key_files") {
		t.Fatalf("an old record with the new key alone: %v", err)
	}
	db.Close()
	db, err = Open(path, &Options{Key: newKey, OldKeys: [][]byte{oldKey}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Seal(nil)
	if err != nil || n < 300*7 {
		t.Fatalf("re-encrypted %d records: %v", n, err)
	}
	db.Close()
	db, err = Open(path, &Options{Key: newKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx ticket.ReadTx) error {
		ts, err := tx.Tickets(ticket.TicketFilter{})
		if err == nil && len(ts) != 300 {
			t.Errorf("%d tickets", len(ts))
		}
		m, err2 := tx.Message(300)
		if err2 != nil || !strings.Contains(m.Body, "900101-1234568") {
			t.Errorf("message 300: %v", err2)
		}
		return err
	})
	if err != nil || db.NeedsSealing() {
		t.Fatalf("after the rotation: %v, needs sealing %v", err, db.NeedsSealing())
	}
	db.Close()
	if _, err := Open(path, &Options{Key: oldKey}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old key after the rotation: %v", err)
	}
}
