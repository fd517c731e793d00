package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnmaskIsAudited: tickets show masks personal data; --unmask needs a
// reason, shows the stored values and writes an audit record that privacy
// audit lists; the JSON counts the findings.
func TestUnmaskIsAudited(t *testing.T) {
	s := newStack(t, "agents: [{name: 김상담, email: agent@example.test}]")
	mail := "From: 김민수 <kim@example.org>\r\nTo: support@example.test\r\nSubject: 본인 확인 900101-1234568\r\n" +
		"Message-ID: <pii@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n카드 4111-1111-1111-1111 분실 신고합니다.\r\n"
	if code, _, errs := s.ticketd(t, []byte(mail), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	code, out, _ := s.ticketd(t, nil, "tickets", "show", "1")
	if code != 0 || strings.Contains(out, "1234568") || strings.Contains(out, "4111-1111-1111-1111") || !strings.Contains(out, "900101-1******") {
		t.Fatalf("tickets show is not masked:\n%s", out)
	}
	if code, _, errs := s.ticketd(t, nil, "tickets", "show", "1", "--unmask"); code == 0 || !strings.Contains(errs, "--reason") {
		t.Fatalf("--unmask without a reason: exit %d %s", code, errs)
	}
	if code, out, _ := s.ticketd(t, nil, "privacy", "audit"); code != 0 || strings.Contains(out, "#1") {
		t.Fatalf("an audit record before anything was unmasked:\n%s", out)
	}
	code, out, errs := s.ticketd(t, nil, "tickets", "show", "1", "--unmask", "--reason", "본인 확인 요청(전화)", "--as", "김상담")
	if code != 0 || !strings.Contains(out, "900101-1234568") || !strings.Contains(out, "4111-1111-1111-1111") {
		t.Fatalf("--unmask: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = s.ticketd(t, nil, "privacy", "audit")
	if code != 0 || !strings.Contains(out, "김상담 (") || !strings.Contains(out, "개인정보 보기") || !strings.Contains(out, "#1") ||
		!strings.Contains(out, "본인 확인 요청(전화)") {
		t.Fatalf("privacy audit:\n%s", out)
	}
	v := s.show(t, 1)
	msgs := v["messages"].([]any)
	pd := msgs[0].(map[string]any)["personal_data"].([]any)
	if len(pd) != 2 || pd[0].(map[string]any)["kind"] != "rrn" || pd[1].(map[string]any)["kind"] != "card" {
		t.Errorf("personal_data: %v", pd)
	}
}

// TestEncryptedDatabase: with privacy.key_file, mails full of personal data
// are ingested, backed up and shown, and none of it is in the database
// file, the backup or the log; check-db says the key opens it; another
// key, a missing key and a key file others can read are refused by name.
func TestEncryptedDatabase(t *testing.T) {
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "db-key")
	s0 := &testStack{}
	if code, out, errs := s0.ticketd(t, nil, "privacy", "keygen", keyFile); code != 0 || !strings.Contains(out, "wrote a new key") {
		t.Fatalf("keygen: exit %d %s %s", code, out, errs)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o400 {
		t.Fatalf("key file mode %04o, want 0400", st.Mode().Perm())
	}
	if code, _, errs := s0.ticketd(t, nil, "privacy", "keygen", keyFile); code == 0 || !strings.Contains(errs, "never overwritten") {
		t.Fatalf("keygen over an existing key: exit %d %s", code, errs)
	}
	s := newStack(t, "privacy: {key_file: "+keyFile+"}", "agents: [{name: 김상담, email: agent@example.test}]")
	secrets := []string{"900101-1234568", "4111-1111-1111-1111", "010-9876-5432", "상환일을 다음 달부터 바꾸고 싶습니다"}
	for i := range 3 {
		mail := fmt.Sprintf("From: 김민수 <kim@example.org>\r\nTo: support@example.test\r\nSubject: 본인 확인 900101-1234568 (%d)\r\n"+
			"Message-ID: <enc-%d@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"상환일을 다음 달부터 바꾸고 싶습니다. 카드 4111-1111-1111-1111, 연락처 010-9876-5432\r\n", i, i)
		code, out, errs := s.ticketd(t, []byte(mail), "ingest")
		if code != 0 {
			t.Fatalf("ingest: %s", errs)
		}
		for _, v := range secrets {
			if strings.Contains(out+errs, v) {
				t.Errorf("ingest's output or log holds %q:\n%s%s", v, out, errs)
			}
		}
	}
	backup := filepath.Join(keyDir, "backup.db")
	if code, _, errs := s.ticketd(t, nil, "backup", backup); code != 0 {
		t.Fatalf("backup: %s", errs)
	}
	for _, f := range []string{filepath.Join(s.dir, "ticketd.db"), backup} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds %q", f, v)
			}
		}
	}
	if code, out, _ := s.ticketd(t, nil, "check-db"); code != 0 || !strings.Contains(out, "encrypted, and the key opens it") {
		t.Errorf("check-db: exit %d %s", code, out)
	}
	if code, out, _ := s.ticketd(t, nil, "tickets", "show", "1", "--unmask", "--reason", "test"); code != 0 || !strings.Contains(out, "900101-1234568") {
		t.Errorf("the stored mail does not read back: exit %d\n%s", code, out)
	}
	// Another key: refused, and said so.
	other := filepath.Join(keyDir, "other-key")
	s0.ticketd(t, nil, "privacy", "keygen", other)
	cfg, _ := os.ReadFile(s.cfg)
	os.WriteFile(s.cfg, bytes.Replace(cfg, []byte(keyFile), []byte(other), 1), 0o600)
	if code, _, errs := s.ticketd(t, nil, "tickets", "list"); code == 0 || !strings.Contains(errs, "does not open this database") {
		t.Errorf("another key: exit %d %s", code, errs)
	}
	// No key: refused.
	os.WriteFile(s.cfg, bytes.Replace(cfg, []byte("privacy: {key_file: "+keyFile+"}"), nil, 1), 0o600)
	if code, _, errs := s.ticketd(t, nil, "tickets", "list"); code == 0 || !strings.Contains(errs, "the database is encrypted") {
		t.Errorf("no key: exit %d %s", code, errs)
	}
	// A key file others can read is a config error naming the key.
	os.WriteFile(s.cfg, cfg, 0o600)
	os.Chmod(keyFile, 0o644)
	if code, _, errs := s.ticketd(t, nil, "check-config"); code == 0 || !strings.Contains(errs, "privacy.key_file") || !strings.Contains(errs, "chmod 400") {
		t.Errorf("a readable key file: exit %d %s", code, errs)
	}
}

// TestPrivacyExportAndErase: the rights of access and erasure from the
// command line, each in the audit log.
func TestPrivacyExportAndErase(t *testing.T) {
	s := newStack(t)
	mail := "From: 김민수 <kim@example.org>\r\nTo: support@example.test\r\nSubject: 본인 확인 900101-1234568\r\n" +
		"Message-ID: <x1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n서류를 보냅니다.\r\n"
	if code, _, errs := s.ticketd(t, []byte(mail), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	dir := filepath.Join(t.TempDir(), "export")
	code, out, errs := s.ticketd(t, nil, "privacy", "export", "--requester", "kim@example.org", "--reason", "열람 요청 2026-3", "--out", dir)
	if code != 0 || !strings.Contains(out, "exported 1 ticket(s) and 1 mail(s)") {
		t.Fatalf("export: exit %d %s %s", code, out, errs)
	}
	eml, _ := os.ReadFile(filepath.Join(dir, "ticket-1-message-1.eml"))
	js, _ := os.ReadFile(filepath.Join(dir, "export.json"))
	if !bytes.Contains(eml, []byte("Message-ID: <x1@example.org>")) || !strings.Contains(string(js), "900101-1234568") {
		t.Fatalf("export files: %d bytes of mail, json %s", len(eml), js)
	}
	if code, out, _ := s.ticketd(t, nil, "privacy", "erase", "--requester", "kim@example.org", "--reason", "삭제 요청 2026-4", "--dry-run"); code != 0 || !strings.Contains(out, "would erase") {
		t.Fatalf("erase --dry-run: exit %d %s", code, out)
	}
	if code, out, _ := s.ticketd(t, nil, "privacy", "erase", "--requester", "kim@example.org", "--reason", "삭제 요청 2026-4"); code != 0 || !strings.Contains(out, "erased: 1 ticket(s) [1]") {
		t.Fatalf("erase: exit %d %s", code, out)
	}
	if _, out, _ := s.ticketd(t, nil, "tickets", "show", "1", "--unmask", "--reason", "check"); strings.Contains(out, "kim@example.org") || strings.Contains(out, "서류를 보냅니다") {
		t.Fatalf("the erased ticket still shows the customer:\n%s", out)
	}
	code, out, _ = s.ticketd(t, nil, "privacy", "audit")
	if code != 0 || !strings.Contains(out, "열람(내보내기)") || !strings.Contains(out, "삭제(익명화)") || strings.Contains(out, "kim@example.org") {
		t.Fatalf("privacy audit:\n%s", out)
	}
	// The retention by hand: nothing closed long enough.
	if code, out, errs := s.ticketd(t, nil, "privacy", "purge", "--dry-run"); code != 0 || !strings.Contains(out, "would purge (dry run, nothing changed): raw mail of 0 ticket(s)") {
		t.Fatalf("privacy purge --dry-run: exit %d %s %s", code, out, errs)
	}
}

// TestRotateKeyCLI: privacy rotate-key re-encrypts with the new key and
// audits it; afterwards the new key opens the database and the old one
// does not. The way serve does it (key_file the new key, old_key_files the
// old) is sealDatabase, which stops when its context ends and resumes.
func TestRotateKeyCLI(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey, newer := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "newer")
	s0 := &testStack{}
	for _, f := range []string{oldKey, newKey, newer} {
		if code, _, errs := s0.ticketd(t, nil, "privacy", "keygen", f); code != 0 {
			t.Fatal(errs)
		}
	}
	s := newStack(t, "privacy: {key_file: "+oldKey+"}")
	mail := "From: kim@example.org\r\nTo: support@example.test\r\nSubject: 900101-1234568\r\nMessage-ID: <rk@example.org>\r\n\r\n본문\r\n"
	if code, _, errs := s.ticketd(t, []byte(mail), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	code, out, errs := s.ticketd(t, nil, "privacy", "rotate-key", newKey)
	if code != 0 || !strings.Contains(out, "now set privacy.key_file: "+newKey) {
		t.Fatalf("rotate-key: exit %d %s %s", code, out, errs)
	}
	cfg, _ := os.ReadFile(s.cfg)
	os.WriteFile(s.cfg, bytes.Replace(cfg, []byte(oldKey), []byte(newKey), 1), 0o600)
	if code, out, _ := s.ticketd(t, nil, "privacy", "audit"); code != 0 || !strings.Contains(out, "암호화 키 교체") {
		t.Fatalf("after the rotation, with the new key: exit %d %s", code, out)
	}
	os.WriteFile(s.cfg, cfg, 0o600)
	if code, _, errs := s.ticketd(t, nil, "tickets", "list"); code == 0 || !strings.Contains(errs, "does not open this database") {
		t.Fatalf("the old key after the rotation: exit %d %s", code, errs)
	}
	// As serve does it, to a third key.
	os.WriteFile(s.cfg, bytes.Replace(cfg, []byte("privacy: {key_file: "+oldKey+"}"), []byte("privacy: {key_file: "+newer+", old_key_files: ["+newKey+"]}"), 1), 0o600)
	st, errList := loadConfig(s.cfg)
	if len(errList) > 0 {
		t.Fatal(errList)
	}
	db, err := openStore(st, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.NeedsSealing() {
		t.Fatal("a rotation in the config does not need re-encryption")
	}
	var logs bytes.Buffer
	if err := sealDatabase(context.Background(), db, newLogger(&logs, LogConfig{}, nil)); err != nil || db.NeedsSealing() {
		t.Fatalf("sealDatabase: %v; needs sealing %v\n%s", err, db.NeedsSealing(), logs.String())
	}
	if !strings.Contains(logs.String(), "database encrypted with privacy.key_file") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestInitMakesTheKey: ticketd init makes the key the config names when it
// is missing, so the database is encrypted from its first record.
func TestInitMakesTheKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "db-key")
	s := newStack(t, "privacy: {key_file: "+keyFile+"}") // runs init
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o400 {
		t.Fatalf("init made no 0400 key: %v", err)
	}
	if code, out, _ := s.ticketd(t, nil, "check-db"); code != 0 || !strings.Contains(out, "encrypted, and the key opens it") {
		t.Fatalf("check-db: exit %d %s", code, out)
	}
}
