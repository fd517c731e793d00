package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/mailbox/oauth"
	"github.com/ticketd/ticketd/mailbox/smtp"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

// Settings is a checked configuration, ready to wire: the file as read and
// what follows from it, each part in the form its package takes.
type Settings struct {
	// Config is the file as read, with the defaults of absent keys.
	Config Config
	// Warnings are what check-config and serve point out without failing:
	// a secret file others can read.
	Warnings []string

	Loc     *time.Location
	DataDir string // resolved against the config file's directory
	DBPath  string
	// StoreDriver is store.driver ("bbolt" or "postgres"); StoreDSN the
	// PostgreSQL connection string (with its password).
	StoreDriver string
	StoreDSN    string
	StoreLease  time.Duration
	Socket      string
	// TemplatesDir holds template overrides ("": none).
	TemplatesDir string
	// HTTPListen is the loopback address of /healthz and /metrics; ""
	// when off (see http.go).
	HTTPListen string
	// Web is the web view's listener (see web.go); Web.Listen "" when off.
	Web webSettings

	// Ticket is the ticket policy; wire adds the signer and the hooks.
	Ticket ticket.Config
	// Outbox is the retry policy; wire adds the hooks.
	Outbox ticket.OutboxConfig
	// Secret is the token signing key from the config; nil means the one
	// kept in the database.
	Secret []byte
	// Key encrypts the database (privacy.key_file or key_env); nil: none.
	// OldKeys are privacy.old_key_files (a rotation in progress).
	Key     []byte
	OldKeys [][]byte

	// OAuth are the OAuth credentials; wire makes a token source of each.
	// SecretExpires is a client secret's expiry date (config), by name.
	OAuth         []oauth.Credential
	SecretExpires map[string]time.Time
	// MailboxOAuth names, per mailbox, the credential it signs in with
	// (""; none); SMTPOAuth the smtp section's.
	MailboxOAuth []string
	SMTPOAuth    string

	IMAP      []imap.Config
	Schedules []string
	// Watch holds, per mailbox, the IDLE options; nil when idle is off.
	Watch []*imap.WatchOptions
	SMTP  smtp.Config
	// SMTPPasswordKey is the key the SMTP password came from, for
	// messages that say what to fix.
	SMTPPasswordKey string
	// FAQFile is faq.file resolved ("": none), FAQOptions its options,
	// and FAQ the index check-config loaded from it.
	FAQFile    string
	FAQOptions ticket.FAQOptions
	FAQ        *ticket.FAQIndex
}

// checker collects the problems of one configuration, each naming its key.
type checker struct {
	c    Config
	s    *Settings
	base string // the config file's directory
	errs []error
}

func (k *checker) bad(key, format string, args ...any) {
	k.errs = append(k.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// rel resolves a path in the config against the file's directory.
func (k *checker) rel(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(k.base, p)
}

// checkConfig validates c (its defaults applied) and derives the
// settings. Relative paths are taken relative to base (the config file's
// directory).
func checkConfig(c Config, base string) (*Settings, []error) {
	k := &checker{c: c, s: &Settings{Config: c}, base: base}
	k.paths()
	k.general()
	k.privacy()
	k.retention()
	k.center()
	k.oauth()
	for i, m := range c.Mailboxes {
		k.mailbox(i, m)
	}
	if len(c.Mailboxes) == 0 {
		k.bad("mailboxes", "at least one IMAP mailbox is required")
	}
	k.smtp()
	k.store()
	k.policy()
	k.agents()
	k.routing()
	k.faq()
	k.threading()
	k.outbox()
	k.http()
	k.web()
	return k.s, k.errs
}

// paths checks data_dir, admin.socket and templates.dir.
func (k *checker) paths() {
	c, s := k.c, k.s
	if c.DataDir == "" {
		k.bad("data_dir", "required (the directory for the database and the admin socket)")
	}
	s.DataDir = k.rel(c.DataDir)
	s.DBPath = filepath.Join(s.DataDir, "ticketd.db")
	s.Socket = k.rel(c.Admin.Socket)
	if s.Socket == "" {
		s.Socket = filepath.Join(s.DataDir, "ticketd.sock")
	}
	if len(s.Socket) > 104 {
		k.bad("admin.socket", "path %q is longer than a unix socket allows (104 bytes); set a shorter one", s.Socket)
	}
	s.TemplatesDir = k.rel(c.Templates.Dir)
	if s.TemplatesDir != "" {
		if st, err := os.Stat(s.TemplatesDir); err != nil || !st.IsDir() {
			k.bad("templates.dir", "%q is not a directory", s.TemplatesDir)
		}
	}
}

// zoneHint suggests the IANA name for the abbreviations people write.
func zoneHint(tz string) string {
	names := map[string]string{"KST": "Asia/Seoul", "JST": "Asia/Tokyo", "CST": "Asia/Shanghai", "GMT": "UTC",
		"UTC+9": "Asia/Seoul", "GMT+9": "Asia/Seoul", "+09:00": "Asia/Seoul", "SEOUL": "Asia/Seoul"}
	if n, ok := names[strings.ToUpper(strings.TrimSpace(tz))]; ok {
		return fmt.Sprintf("; did you mean %q?", n)
	}
	return " (want an IANA name such as Asia/Seoul)"
}

// privacy reads the database key.
func (k *checker) privacy() {
	p := k.c.Privacy
	path := k.rel(p.KeyFile)
	switch {
	case path != "":
		k.s.Key = k.keyFile("privacy.key_file", path)
	case p.KeyEnv != "":
		v, ok := os.LookupEnv(p.KeyEnv)
		if !ok || v == "" {
			k.bad("privacy.key_env", "environment variable %s is not set", p.KeyEnv)
			return
		}
		var err error
		if k.s.Key, err = parseKey([]byte(v)); err != nil {
			k.bad("privacy.key_env", "%s: %v", p.KeyEnv, err)
		}
	default:
		if len(p.OldKeyFiles) > 0 {
			k.bad("privacy.old_key_files", "set without a key: privacy.key_file names the key the old ones are rotated to")
		}
		k.s.Warnings = append(k.s.Warnings, "privacy.key_file is not set: mail, texts and attachments are stored UNENCRYPTED in the database; make a key with `ticketd privacy keygen FILE` and set privacy.key_file")
	}
	for i, f := range p.OldKeyFiles {
		if b := k.keyFile(fmt.Sprintf("privacy.old_key_files[%d]", i), k.rel(f)); b != nil {
			k.s.OldKeys = append(k.s.OldKeys, b)
		}
	}
}

// retention checks privacy.retention.
func (k *checker) retention() {
	r := k.c.Privacy.Retention
	if r.RawAfterClose < 0 {
		k.bad("privacy.retention.raw_after_close", "must not be negative (0: keep for ever)")
	}
	if r.AnonymiseAfterClose < 0 {
		k.bad("privacy.retention.anonymise_after_close", "must not be negative (0: keep for ever)")
	}
	if r.Schedule != "" {
		if _, err := cronParser().Parse(r.Schedule); err != nil {
			k.bad("privacy.retention.schedule", "%v (want a 5-field cron spec such as \"0 10 * * 1-5\")", err)
		}
	}
}

// keyFile reads one key file for key (a config key path), refusing a file
// others can read.
func (k *checker) keyFile(key, path string) []byte {
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o007 != 0 {
		k.bad(key, "%s is mode %04o, open to others; the key must be readable by ticketd only (chmod 400 %s)", path, st.Mode().Perm(), path)
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k.bad(key, "%s does not exist; make one with: ticketd privacy keygen %s", path, path)
		return nil
	} else if err != nil {
		k.bad(key, "%v", err)
		return nil
	}
	b, err := parseKey(data)
	if err != nil {
		k.bad(key, "%s: %v", path, err)
	}
	return b
}

// parseKey reads a database key: 32 bytes as they are, or in base64 or
// hex on one line.
func parseKey(data []byte) ([]byte, error) {
	if len(data) == store.KeySize {
		return data, nil
	}
	s := strings.TrimSpace(string(data))
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == store.KeySize {
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == store.KeySize {
		return b, nil
	}
	return nil, fmt.Errorf("not a key: want %d bytes, as they are or in base64 or hex (ticketd privacy keygen makes one)", store.KeySize)
}

// general checks timezone and log.
func (k *checker) general() {
	c := k.c
	if loc, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		k.bad("timezone", "unknown time zone %q%s", c.Timezone, zoneHint(c.Timezone))
		k.s.Loc = time.UTC
	} else {
		k.s.Loc = loc
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		k.bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		k.bad("log.level", "%v", err)
	}
}

// center checks the center: its address, language and hours.
func (k *checker) center() {
	c, t := k.c.Center, &k.s.Ticket
	if a, err := mail.ParseAddress(c.Address); c.Address == "" {
		k.bad("center.address", "required (the support address customers write to)")
	} else if err != nil {
		k.bad("center.address", "not an address: %v", err)
	} else {
		t.Support.Email = a.Address
		t.Domain = a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	}
	switch c.Language {
	case "ko", "en":
		t.Language = c.Language
	default:
		k.bad("center.language", "want ko or en, got %q", c.Language)
	}
	t.CenterName = c.Name
	if t.CenterName == "" {
		t.CenterName = map[bool]string{true: "Customer Center", false: "고객센터"}[c.Language == "en"]
	}
	t.Support.Name = t.CenterName
	t.WithholdAttachments, t.HoldRRNReplies = !k.c.Privacy.NotifyAttachments, k.c.Privacy.HoldRRNReplies
	t.CenterPhone = strings.TrimSpace(c.Phone)
	for i, l := range c.Footer {
		if strings.ContainsAny(l, "\r\n") {
			k.bad(fmt.Sprintf("center.footer[%d]", i), "one line per entry (this one holds a line break)")
		}
		if l = strings.TrimSpace(l); l != "" {
			t.CenterFooter = append(t.CenterFooter, l)
		}
	}
	t.Hours.Loc = k.s.Loc
	t.Hours.Holidays = map[string]ticket.Holiday{}
	switch c.PublicHolidays {
	case "kr":
		for y := ticket.KoreanHolidaysFirst; y <= ticket.KoreanHolidaysLast; y++ {
			for _, h := range ticket.KoreanHolidays(y) {
				if prev, ok := t.Hours.Holidays[h.Date]; ok {
					h.Name, h.NameEn = prev.Name+", "+h.Name, prev.NameEn+", "+h.NameEn
				}
				t.Hours.Holidays[h.Date] = h
			}
		}
		if next := time.Now().Year() + 1; ticket.KoreanHolidaysLast < next {
			k.s.Warnings = append(k.s.Warnings, fmt.Sprintf("center.public_holidays: the built-in Korean holidays end with %d; add %d's to center.holidays (or update ticketd; README: Holidays)", ticket.KoreanHolidaysLast, next))
		}
	case "none":
	default:
		k.bad("center.public_holidays", "want kr or none, got %q", c.PublicHolidays)
	}
	if c.HolidaysICS != "" {
		hs, err := icsHolidays(k.rel(c.HolidaysICS), k.s.Loc)
		if err != nil {
			k.bad("center.holidays_ics", "%v", err)
		}
		for _, h := range hs {
			t.Hours.Holidays[h.Date] = h
		}
	}
	for i, h := range c.Holidays {
		key := fmt.Sprintf("center.holidays[%d]", i)
		days, name, _ := strings.Cut(strings.TrimSpace(h), " ")
		first, last, _ := strings.Cut(days, "..")
		from, err := time.Parse(time.DateOnly, first)
		if err != nil {
			k.bad(key, "want \"2026-12-31 NAME\" or \"2026-12-29..2026-12-31 NAME\", got %q", h)
			continue
		}
		to := from
		if last != "" {
			if to, err = time.Parse(time.DateOnly, last); err != nil || to.Before(from) || to.Sub(from) > 366*24*time.Hour {
				k.bad(key, "the last day %q is not a date on or after %s within a year", last, first)
				continue
			}
		}
		if name = strings.TrimSpace(name); name == "" {
			k.bad(key, "the name is missing (it is shown to customers: 임시공휴일, 연말 휴무, ...)")
			continue
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			s := d.Format(time.DateOnly)
			t.Hours.Holidays[s] = ticket.Holiday{Date: s, Name: name, NameEn: name}
		}
	}

	var err error
	if t.Hours.Days, err = ticket.ParseDays(c.Hours.Days); err != nil {
		k.bad("center.hours.days", "%v", err)
	}
	if t.Hours.Open, err = ticket.ParseClock(c.Hours.Open); err != nil {
		k.bad("center.hours.open", "%v", err)
	}
	if t.Hours.Close, err = ticket.ParseClock(c.Hours.Close); err != nil {
		k.bad("center.hours.close", "%v", err)
	} else if t.Hours.Close <= t.Hours.Open {
		k.bad("center.hours.close", "must be after center.hours.open")
	}
	for i, bd := range c.Hours.ByDay {
		key := fmt.Sprintf("center.hours.by_day[%d]", i)
		day, spans, _ := strings.Cut(strings.TrimSpace(bd), " ")
		wd, err := ticket.ParseDays(day)
		if err != nil || len(wd) != 1 {
			k.bad(key, "want \"sat 09:00-13:00\", got %q", bd)
			continue
		}
		sp, err := ticket.ParseSpans(spans)
		if err != nil {
			k.bad(key, "%v", err)
			continue
		}
		if !slices.Contains(t.Hours.Days, wd[0]) {
			k.bad(key, "%s is not in center.hours.days (%s)", day, c.Hours.Days)
		}
		if t.Hours.Week == nil {
			t.Hours.Week = map[time.Weekday][]ticket.Span{}
		}
		t.Hours.Week[wd[0]] = sp
	}
	for i, b := range c.Hours.Breaks {
		sp, err := ticket.ParseSpans(b)
		if err != nil {
			k.bad(fmt.Sprintf("center.hours.breaks[%d]", i), "%v", err)
			continue
		}
		t.Hours.Breaks = append(t.Hours.Breaks, sp...)
	}
	for i, sd := range c.Hours.Special {
		key := fmt.Sprintf("center.hours.special[%d]", i)
		date, spans, _ := strings.Cut(strings.TrimSpace(sd), " ")
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			k.bad(key, "want \"2026-12-24 09:00-13:00\", got %q", sd)
			continue
		}
		sp, err := ticket.ParseSpans(spans)
		if err != nil {
			k.bad(key, "%v", err)
			continue
		}
		if t.Hours.Special == nil {
			t.Hours.Special = map[string][]ticket.Span{}
		}
		t.Hours.Special[date] = sp
	}
	sla := k.c.SLA
	if sla.FirstResponse < 0 {
		k.bad("sla.first_response", "must not be negative (0: none)")
	}
	if sla.ResolutionDays < 0 {
		k.bad("sla.resolution_days", "must not be negative (0: none)")
	}
	t.SLAFirstResponse, t.SLARemindBefore = time.Duration(sla.FirstResponse), time.Duration(sla.RemindBefore)
	if a := strings.TrimSpace(sla.EscalateTo); a != "" {
		if p, err := mail.ParseAddress(a); err != nil {
			k.bad("sla.escalate_to", "not an address: %v", err)
		} else {
			t.EscalateTo = p.Address
		}
	}
	if _, err := cronParser().Parse(sla.Schedule); sla.Schedule != "" && err != nil {
		k.bad("sla.schedule", "%v (want a 5-field cron spec such as \"*/15 * * * *\")", err)
	}
	pd := k.c.Pending
	if pd.RemindAfterDays < 0 || pd.CloseAfterDays < 0 {
		k.bad("pending", "remind_after_days and close_after_days must not be negative (0: never)")
	} else if pd.CloseAfterDays > 0 && pd.RemindAfterDays >= pd.CloseAfterDays {
		k.bad("pending.remind_after_days", "must be less than pending.close_after_days (%d), or 0", pd.CloseAfterDays)
	}
	if day := t.Hours.Close - t.Hours.Open; day > 0 {
		t.SLAResolution = time.Duration(sla.ResolutionDays) * day
		t.PendingRemindAfter, t.PendingCloseAfter = time.Duration(pd.RemindAfterDays)*day, time.Duration(pd.CloseAfterDays)*day
	}
}

// mailbox checks mailboxes[i] and adds its poller's configuration.
func (k *checker) mailbox(i int, m MailboxConfig) {
	key := fmt.Sprintf("mailboxes[%d]", i)
	s, l := k.s, k.c.Limits
	if m.Name == "" {
		m.Name = fmt.Sprintf("mailbox%d", i+1)
	}
	for _, prev := range s.IMAP {
		if prev.Name == m.Name {
			k.bad(key+".name", "duplicate name %q", m.Name)
		}
	}
	if m.Host == "" {
		k.bad(key+".host", "required")
	}
	switch m.Security {
	case "tls", "starttls":
	case "plain":
		if m.Host != "" && !mailbox.IsLoopback(m.Host) {
			k.bad(key+".security", "plain IMAP is only allowed to a loopback host; use tls or starttls for %q", m.Host)
		}
	default:
		k.bad(key+".security", "want tls, starttls or plain, got %q", m.Security)
	}
	if m.Port == 0 {
		m.Port = map[bool]int{true: 993, false: 143}[m.Security == "tls"]
	} else if m.Port < 0 || m.Port > 65535 {
		k.bad(key+".port", "out of range: %d", m.Port)
	}
	switch m.Auth {
	case "login", "plain", oauth.AuthXOAuth2, oauth.AuthOAuthBearer:
	default:
		k.bad(key+".auth", "want login, plain, xoauth2 or oauthbearer, got %q", m.Auth)
	}
	if m.Username == "" {
		k.bad(key+".username", "required")
	}
	var pw string
	if m.Auth == oauth.AuthXOAuth2 || m.Auth == oauth.AuthOAuthBearer {
		k.oauthUse(key, m.OAuth, m.Password != "" || m.PasswordFile != "" || m.PasswordEnv != "")
	} else {
		if m.OAuth != "" {
			k.bad(key+".oauth", "set, but auth is %s; use auth xoauth2 or oauthbearer to sign in with it", m.Auth)
		}
		k.warnMode(key+".password_file", k.rel(m.PasswordFile))
		var err error
		k.warnInline(key+".password", m.Password, m.PasswordFile, m.PasswordEnv)
		pw, err = secret(m.Password, k.rel(m.PasswordFile), m.PasswordEnv, "password")
		if err != nil {
			k.bad(key+".password", "%v", err)
		} else if pw == "" {
			k.bad(key+".password", "required: set password_file, password_env, or password")
		}
	}
	tlsCfg, err := tlsConfig(k.rel(m.CAFile))
	if err != nil {
		k.bad(key+".ca_file", "%v", err)
	}
	if m.Folder == "" {
		k.bad(key+".folder", "must not be empty (INBOX is the inbox)")
	}
	if _, err := cronParser().Parse(m.Schedule); err != nil {
		k.bad(key+".schedule", "%v (want a 5-field cron spec such as \"*/5 * * * *\" or a descriptor such as \"@every 1m\")", err)
	}
	switch m.PostAction {
	case imap.PostSeen:
	case imap.PostMove:
		if m.MoveTo == "" {
			k.bad(key+".move_to", "required when post_action is move")
		}
	default:
		k.bad(key+".post_action", "want seen or move, got %q", m.PostAction)
	}
	if m.Timeout <= 0 {
		k.bad(key+".timeout", "must be positive, got %v", time.Duration(m.Timeout))
	}
	if m.BatchSize < 1 {
		k.bad(key+".batch_size", "must be 1 or more, got %d", m.BatchSize)
	}
	if m.MaxMessageBytes < 0 {
		k.bad(key+".max_message_bytes", "must be positive")
	} else if m.MaxMessageBytes == 0 {
		m.MaxMessageBytes = l.MaxMessageBytes
	}
	var watch *imap.WatchOptions
	if m.IdleRestart <= 0 || m.IdleRestart > Duration(29*time.Minute) {
		k.bad(key+".idle_restart", "want a duration up to 29m (RFC 2177: a server may drop an IDLE client after 30m), got %v", time.Duration(m.IdleRestart))
	} else if m.Idle {
		watch = &imap.WatchOptions{Restart: time.Duration(m.IdleRestart)}
	}
	if strings.Contains(m.Username, "@") {
		s.Ticket.OwnAddresses = append(s.Ticket.OwnAddresses, m.Username)
	}
	workers := l.IngestWorkers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s.Watch = append(s.Watch, watch)
	s.Schedules = append(s.Schedules, m.Schedule)
	s.MailboxOAuth = append(s.MailboxOAuth, m.OAuth)
	s.IMAP = append(s.IMAP, imap.Config{
		Name: m.Name, Host: m.Host, Port: m.Port, Security: m.Security, Auth: m.Auth,
		Username: m.Username, Password: pw, Folder: m.Folder, PostAction: m.PostAction,
		MoveTo: m.MoveTo, TLSConfig: tlsCfg, BatchSize: m.BatchSize, MaxMessageBytes: m.MaxMessageBytes, Timeout: time.Duration(m.Timeout),
		OversizedFolder: l.OversizedFolder, SpamFolder: map[bool]string{true: k.c.Spam.Folder}[k.c.Spam.Action == "move"],
		Pipe: mailbox.PipeOptions{Workers: workers, MaxBytes: l.IngestInFlightBytes},
	})
}

// oauth checks the oauth credentials.
func (k *checker) oauth() {
	s := k.s
	s.SecretExpires = map[string]time.Time{}
	for i, o := range k.c.OAuth {
		key := fmt.Sprintf("oauth[%d]", i)
		if !validCredentialName(o.Name) {
			k.bad(key+".name", "want a name of letters, digits, '.', '_' or '-', got %q", o.Name)
		}
		for _, prev := range s.OAuth {
			if prev.Name == o.Name {
				k.bad(key+".name", "duplicate name %q", o.Name)
			}
		}
		if o.Flow != oauth.FlowDevice && o.Flow != oauth.FlowClientCredentials {
			k.bad(key+".flow", "want %s or %s, got %q", oauth.FlowDevice, oauth.FlowClientCredentials, o.Flow)
		}
		ep, err := oauth.Preset(o.Provider, o.Tenant, o.Flow)
		if err != nil {
			k.bad(key+".provider", "%v", err)
		}
		if o.Provider == oauth.Custom {
			ep = oauth.Endpoints{TokenURL: o.TokenURL, DeviceURL: o.DeviceURL}
			if o.TokenURL == "" {
				k.bad(key+".token_url", "required with provider custom")
			}
			if o.Flow == oauth.FlowDevice && o.DeviceURL == "" {
				k.bad(key+".device_url", "required with provider custom and flow device")
			}
			if len(o.Scopes) == 0 {
				k.bad(key+".scopes", "required with provider custom")
			}
		} else if o.TokenURL != "" || o.DeviceURL != "" {
			k.bad(key+".token_url", "only for provider custom; %s's endpoints are known", o.Provider)
		}
		for _, u := range []struct{ key, url string }{{"token_url", ep.TokenURL}, {"device_url", ep.DeviceURL}} {
			if u.url != "" && !secureURL(u.url) {
				k.bad(key+"."+u.key, "%q: want https, or http only to a loopback host", u.url)
			}
		}
		if len(o.Scopes) > 0 {
			ep.Scopes = o.Scopes
		}
		if o.ClientID == "" {
			k.bad(key+".client_id", "required (the app's ID at the provider)")
		}
		k.warnMode(key+".client_secret_file", k.rel(o.ClientSecretFile))
		sec, err := secret("", k.rel(o.ClientSecretFile), o.ClientSecretEnv, "client_secret")
		if err != nil {
			k.bad(key+".client_secret", "%v", err)
		} else if sec == "" && o.Flow == oauth.FlowClientCredentials {
			k.bad(key+".client_secret_file", "required with flow client_credentials: set client_secret_file or client_secret_env")
		}
		if o.ClientSecretExpires != "" {
			if d, err := time.ParseInLocation("2006-01-02", o.ClientSecretExpires, s.Loc); err != nil {
				k.bad(key+".client_secret_expires", "want a date as YYYY-MM-DD, got %q", o.ClientSecretExpires)
			} else {
				s.SecretExpires[o.Name] = d
				if w := secretExpiryWarning(o.Name, d, time.Now()); w != "" {
					s.Warnings = append(s.Warnings, key+".client_secret_expires: "+w)
				}
			}
		}
		tlsCfg, err := tlsConfig(k.rel(o.CAFile))
		if err != nil {
			k.bad(key+".ca_file", "%v", err)
		}
		s.OAuth = append(s.OAuth, oauth.Credential{Name: o.Name, Flow: o.Flow, ClientID: o.ClientID, ClientSecret: sec,
			TokenURL: ep.TokenURL, DeviceURL: ep.DeviceURL, Scopes: ep.Scopes,
			HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}}})
	}
}

// oauthUse checks that the section at key, signing in with an access
// token, names a credential and sets no password.
func (k *checker) oauthUse(key, name string, password bool) {
	switch {
	case name == "":
		k.bad(key+".oauth", "required with auth xoauth2 or oauthbearer: the name of an oauth credential")
	case !slices.ContainsFunc(k.s.OAuth, func(c oauth.Credential) bool { return c.Name == name }):
		k.bad(key+".oauth", "no oauth credential is named %q", name)
	}
	if password {
		k.bad(key+".password", "set, but auth signs in with an access token; remove password, password_file and password_env")
	}
}

// validCredentialName reports whether name can name a credential (in a
// command line, a metric label, a database key).
func validCredentialName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// secureURL reports whether u is https, or http to a loopback host.
func secureURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	return p.Scheme == "https" || p.Scheme == "http" && mailbox.IsLoopback(p.Hostname())
}

// secretExpiryWarning says that the client secret of credential name
// expires at d, from 14 days before (or "").
func secretExpiryWarning(name string, d, now time.Time) string {
	left := d.Sub(now)
	switch {
	case left < 0:
		return fmt.Sprintf("the client secret of %s expired on %s; make a new one at the provider", name, d.Format("2006-01-02"))
	case left < 14*24*time.Hour:
		return fmt.Sprintf("the client secret of %s expires on %s, in %d day(s); make a new one at the provider", name, d.Format("2006-01-02"), int(left.Hours()/24))
	}
	return ""
}

// store checks the store section: bbolt in data_dir, or PostgreSQL by a
// connection string from a file, the environment or the config, which
// must verify the server's certificate unless the host is a loopback one.
func (k *checker) store() {
	st := k.c.Store
	k.s.StoreDriver = st.Driver
	switch st.Driver {
	case "bbolt":
		if st.DSN != "" || st.DSNFile != "" || st.DSNEnv != "" {
			k.bad("store.dsn", "set, but store.driver is bbolt; set driver: postgres to use it")
		}
		return
	case "postgres":
	default:
		k.bad("store.driver", "want bbolt or postgres, got %q", st.Driver)
		return
	}
	k.warnMode("store.dsn_file", k.rel(st.DSNFile))
	k.warnInline("store.dsn", st.DSN, st.DSNFile, st.DSNEnv)
	dsn, err := secret(st.DSN, k.rel(st.DSNFile), st.DSNEnv, "connection string")
	switch {
	case err != nil:
		k.bad("store.dsn", "%v", err)
		return
	case dsn == "":
		k.bad("store.dsn", "required with store.driver postgres: set dsn_file, dsn_env or dsn (postgres://user:password@host:5432/ticketd?sslmode=verify-full)")
		return
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		k.bad("store.dsn", "not a PostgreSQL connection string: %v", redactDSN(err, dsn))
		return
	}
	hosts := []string{cc.Host}
	for _, f := range cc.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") || mailbox.IsLoopback(h) {
			continue
		}
		if cc.TLSConfig == nil || cc.TLSConfig.InsecureSkipVerify {
			k.bad("store.dsn", "host %s is not a loopback one: set sslmode=verify-full (and sslrootcert if the server's CA is not the system's), so that the database's certificate is verified", h)
		}
	}
	if st.Lease < 3*Duration(time.Second) {
		k.bad("store.lease", "must be 3s or more, got %v", time.Duration(st.Lease))
	}
	k.s.StoreDSN, k.s.StoreLease = dsn, time.Duration(st.Lease)
}

// redactDSN is err's text without the connection string's password.
func redactDSN(err error, dsn string) string {
	msg := err.Error()
	if cc, perr := pgx.ParseConfig(dsn); perr == nil && cc.Password != "" {
		msg = strings.ReplaceAll(msg, cc.Password, "xxxxx")
	}
	return msg
}

func (k *checker) smtp() {
	sm := k.c.SMTP
	if sm.Host == "" {
		k.bad("smtp.host", "required (the server acknowledgements are sent through)")
	}
	switch sm.Security {
	case "tls", "starttls":
	case "plain":
		if sm.Host != "" && !mailbox.IsLoopback(sm.Host) {
			k.bad("smtp.security", "plain SMTP is only allowed to a loopback host; use starttls or tls for %q", sm.Host)
		}
	default:
		k.bad("smtp.security", "want starttls, tls or plain, got %q", sm.Security)
	}
	if sm.Port == 0 {
		sm.Port = map[string]int{"tls": 465, "starttls": 587, "plain": 25}[sm.Security]
	} else if sm.Port < 0 || sm.Port > 65535 {
		k.bad("smtp.port", "out of range: %d", sm.Port)
	}
	switch sm.Auth {
	case "plain", "login", oauth.AuthXOAuth2, oauth.AuthOAuthBearer:
	default:
		k.bad("smtp.auth", "want plain, login, xoauth2 or oauthbearer, got %q", sm.Auth)
	}
	oauthSMTP := sm.Auth == oauth.AuthXOAuth2 || sm.Auth == oauth.AuthOAuthBearer
	if sm.Timeout <= 0 {
		k.bad("smtp.timeout", "must be positive, got %v", time.Duration(sm.Timeout))
	}
	k.s.SMTPPasswordKey = "smtp.password"
	switch {
	case sm.PasswordFile != "":
		k.s.SMTPPasswordKey = "smtp.password_file"
	case sm.PasswordEnv != "":
		k.s.SMTPPasswordKey = "smtp.password_env"
	}
	var pw string
	switch {
	case oauthSMTP:
		k.s.SMTPPasswordKey = "the oauth credential " + sm.OAuth + " (ticketd oauth status)"
		k.oauthUse("smtp", sm.OAuth, sm.Password != "" || sm.PasswordFile != "" || sm.PasswordEnv != "")
		if sm.Username == "" {
			k.bad("smtp.username", "required with auth %s (the address the token signs in as)", sm.Auth)
		}
		k.s.SMTPOAuth = sm.OAuth
	default:
		if sm.OAuth != "" {
			k.bad("smtp.oauth", "set, but auth is %s; use auth xoauth2 or oauthbearer to sign in with it", sm.Auth)
		}
		k.warnMode("smtp.password_file", k.rel(sm.PasswordFile))
		var err error
		k.warnInline("smtp.password", sm.Password, sm.PasswordFile, sm.PasswordEnv)
		pw, err = secret(sm.Password, k.rel(sm.PasswordFile), sm.PasswordEnv, "password")
		if err != nil {
			k.bad("smtp.password", "%v", err)
		} else if sm.Username != "" && pw == "" {
			k.bad("smtp.password", "required with smtp.username: set password_file, password_env, or password")
		}
	}
	tlsCfg, err := tlsConfig(k.rel(sm.CAFile))
	if err != nil {
		k.bad("smtp.ca_file", "%v", err)
	}
	k.s.SMTP = smtp.Config{
		Host: sm.Host, Port: sm.Port, Security: sm.Security, Username: sm.Username, Password: pw,
		Auth: sm.Auth, TLSConfig: tlsCfg, Timeout: time.Duration(sm.Timeout), HELO: sm.HELO,
	}
}

// policy checks the limits, spam, notify and replies sections: the rules
// of the ticket service.
func (k *checker) policy() {
	c, t := k.c, &k.s.Ticket
	l := c.Limits
	if l.MaxMessageBytes < 1 {
		k.bad("limits.max_message_bytes", "must be 1 or more, got %d", l.MaxMessageBytes)
	}
	if l.IngestWorkers < 0 || l.IngestWorkers > 256 {
		k.bad("limits.ingest_workers", "want 0 (one per core) to 256, got %d", l.IngestWorkers)
	}
	if l.IngestInFlightBytes < 1 {
		k.bad("limits.ingest_in_flight_bytes", "must be 1 or more, got %d", l.IngestInFlightBytes)
	}
	if l.MaxParticipants < 0 {
		k.bad("limits.max_participants", "must be 0 (no participants) or more, got %d", l.MaxParticipants)
	}
	if l.AutoPerHour < 1 {
		k.bad("limits.auto_per_hour", "must be 1 or more, got %d", l.AutoPerHour)
	}
	if l.AutoPerDay < 1 {
		k.bad("limits.auto_per_day", "must be 1 or more, got %d", l.AutoPerDay)
	}
	if l.SuppressFor <= 0 {
		k.bad("limits.suppress_for", "must be positive, got %v", time.Duration(l.SuppressFor))
	}
	switch c.Spam.Action {
	case "ticket":
	case "move":
		if c.Spam.Folder == "" {
			k.bad("spam.folder", "required when spam.action is move")
		}
	default:
		k.bad("spam.action", "want ticket or move, got %q", c.Spam.Action)
	}
	if c.Spam.Header == "" || c.Spam.Value == "" {
		k.bad("spam", "header and value must not be empty")
	}
	if c.Notify.Address != "" {
		if _, err := mail.ParseAddress(c.Notify.Address); err != nil {
			k.bad("notify.address", "not an address: %q", c.Notify.Address)
		}
	}
	if c.Operator.Address != "" {
		if _, err := mail.ParseAddress(c.Operator.Address); err != nil {
			k.bad("operator.address", "not an address: %q", c.Operator.Address)
		}
	}
	for i, o := range c.OAuth {
		if !slices.Contains(k.s.MailboxOAuth, o.Name) && k.s.SMTPOAuth != o.Name {
			k.s.Warnings = append(k.s.Warnings, fmt.Sprintf("oauth[%d]: the credential %s is named by no mailbox and not by smtp", i, o.Name))
		}
	}
	if c.Replies.FromName == "" {
		k.bad("replies.from_name", "must not be empty (\"{agent}\" is the agent's name alone)")
	}
	t.AutoPerHour, t.AutoPerDay = l.AutoPerHour, l.AutoPerDay
	t.AutoMinInterval = time.Duration(l.AutoMinInterval)
	t.SuppressFor = time.Duration(l.SuppressFor)
	t.MaxParticipants, t.MaxMessageBytes = l.MaxParticipants, l.MaxMessageBytes
	t.SpamHeader, t.SpamValue = c.Spam.Header, c.Spam.Value
	t.NotifyAddress, t.NoNotify = c.Notify.Address, c.Notify.Disabled
	t.AgentFrom, t.CcParticipants, t.AuthServID = c.Replies.FromName, c.Replies.CcParticipants, c.Replies.RequireAuthFrom
}

// agents checks the agents.
func (k *checker) agents() {
	seen := map[string]bool{}
	for i, a := range k.c.Agents {
		key := fmt.Sprintf("agents[%d]", i)
		addr, err := mail.ParseAddress(a.Email)
		if err != nil {
			k.bad(key+".email", "not an address: %q", a.Email)
			continue
		}
		lower := strings.ToLower(addr.Address)
		if seen[lower] {
			k.bad(key+".email", "duplicate agent %s", addr.Address)
		}
		seen[lower] = true
		if support := k.s.Ticket.Support.Email; support != "" && ticket.IsSupportAddress(support, addr.Address) {
			k.bad(key+".email", "an agent cannot be the support address")
		}
		name := a.Name
		if name == "" {
			name = addr.Address
		}
		k.s.Ticket.Agents = append(k.s.Ticket.Agents, ticket.Agent{Name: name, Email: addr.Address})
	}
}

// threading checks the token secret and reopening.
func (k *checker) threading() {
	th := k.c.Threading
	k.warnMode("threading.secret_file", k.rel(th.SecretFile))
	if th.SecretFile != "" || th.SecretEnv != "" {
		sec, err := secret("", k.rel(th.SecretFile), th.SecretEnv, "secret")
		if err != nil {
			k.bad("threading.secret", "%v", err)
		} else if len(sec) < 16 {
			k.bad("threading.secret", "the secret must be at least 16 bytes (32 random bytes recommended)")
		} else {
			k.s.Secret = []byte(sec)
		}
	}
	if th.ReopenWithin < 0 {
		k.bad("threading.reopen_within", "must not be negative")
	}
	k.s.Ticket.PlusAddressing = th.PlusAddressing
	k.s.Ticket.ReopenWithin = time.Duration(th.ReopenWithin)
}

// maxOutboxConnections bounds outbox.connections: Postfix's own client
// opens at most 20 connections to one destination by default
// (default_destination_concurrency_limit).
const maxOutboxConnections = 20

// outbox checks the outbox section.
func (k *checker) outbox() {
	o := k.c.Outbox
	for _, d := range []struct {
		key string
		v   Duration
	}{{"outbox.max_age", o.MaxAge}, {"outbox.lease", o.Lease}, {"outbox.min_backoff", o.MinBackoff}, {"outbox.max_backoff", o.MaxBackoff}} {
		if d.v <= 0 {
			k.bad(d.key, "must be positive, got %v", time.Duration(d.v))
		}
	}
	if o.Connections < 1 || o.Connections > maxOutboxConnections {
		k.bad("outbox.connections", "must be from 1 to %d, got %d", maxOutboxConnections, o.Connections)
	}
	k.s.Outbox = ticket.OutboxConfig{
		Connections: o.Connections,
		Deadline:    time.Duration(o.MaxAge),
		Lease:       time.Duration(o.Lease),
		MinBackoff:  time.Duration(o.MinBackoff),
		MaxBackoff:  time.Duration(o.MaxBackoff),
		SuppressFor: time.Duration(k.c.Limits.SuppressFor),
	}
}

// http checks the http and health sections.
func (k *checker) http() {
	c := k.c
	addr := strings.TrimSpace(c.HTTP.Listen)
	if strings.EqualFold(addr, "off") {
		addr = ""
	}
	if addr != "" {
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			k.bad("http.listen", "want a loopback host:port such as 127.0.0.1:9180 (or \"off\"), got %q", addr)
		case !mailbox.IsLoopback(host):
			k.bad("http.listen", "%q is not a loopback address; /healthz and /metrics have no authentication, so listen on 127.0.0.1 or [::1] (or set \"off\")", addr)
		case perr != nil || n < 0 || n > 65535:
			k.bad("http.listen", "port %q is not a number from 0 to 65535", port)
		}
	}
	k.s.HTTPListen = addr
	if c.Health.FailAfter < 1 {
		k.bad("health.fail_after", "must be 1 or more, got %d", c.Health.FailAfter)
	}
	if c.Health.OutboxMaxAge <= 0 {
		k.bad("health.outbox_max_age", "must be positive, got %v", time.Duration(c.Health.OutboxMaxAge))
	}
}

// webSettings is the checked web section.
type webSettings struct {
	Listen            string // "": off
	CertFile, KeyFile string // both or neither
	SessionLifetime   time.Duration
	TrustedHeader     string
	TrustedProxies    []netip.Prefix
}

// web checks the web section. The link base and lifetime go to the ticket
// policy, which signs the links of the notifications.
func (k *checker) web() {
	c, w := k.c.Web, &k.s.Web
	addr := strings.TrimSpace(c.Listen)
	if strings.EqualFold(addr, "off") {
		addr = ""
	}
	w.CertFile, w.KeyFile = k.rel(c.CertFile), k.rel(c.KeyFile)
	tls := w.CertFile != ""
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		k.bad("web.cert_file", "cert_file and key_file go together; set both for HTTPS, or neither for plain HTTP on loopback")
	case tls && addr != "":
		if _, err := tlsKeyPair(w.CertFile, w.KeyFile); err != nil {
			k.bad("web.cert_file", "%v", err)
		}
		k.warnMode("web.key_file", w.KeyFile)
	}
	if addr == "" {
		if c.URL != "" || c.TrustedHeader != "" {
			k.bad("web.listen", "is off, but web.url or web.trusted_header is set; set web.listen to serve the web view")
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil:
		k.bad("web.listen", "want host:port such as 127.0.0.1:9443 (or \"off\"), got %q", addr)
		return
	case perr != nil || n < 0 || n > 65535:
		k.bad("web.listen", "port %q is not a number from 0 to 65535", port)
	case !tls && !mailbox.IsLoopback(host):
		k.bad("web.listen", "%q is not a loopback address; plain HTTP is served only on loopback (127.0.0.1, [::1]): set web.cert_file and web.key_file for HTTPS, or put a TLS proxy in front", addr)
	}
	w.Listen = addr
	base := strings.TrimRight(strings.TrimSpace(c.URL), "/")
	if base == "" {
		scheme := "http"
		if tls {
			scheme = "https"
		}
		base = scheme + "://" + addr
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		k.bad("web.url", "want the absolute http or https URL of a host's root such as https://tickets.example.com (no path), got %q", c.URL)
	} else if u.Scheme == "http" && !mailbox.IsLoopback(u.Hostname()) {
		k.bad("web.url", "%q is plain HTTP to a host that is not loopback; the links carry the agent's sign-in, so use https", c.URL)
	}
	k.s.Ticket.WebURL = base
	if k.s.Ticket.WebLinkLifetime = time.Duration(c.LinkLifetime); c.LinkLifetime <= 0 {
		k.bad("web.link_lifetime", "must be positive, got %v", time.Duration(c.LinkLifetime))
	}
	if w.SessionLifetime = time.Duration(c.SessionLifetime); c.SessionLifetime <= 0 {
		k.bad("web.session_lifetime", "must be positive, got %v", time.Duration(c.SessionLifetime))
	}
	w.TrustedHeader = http.CanonicalHeaderKey(strings.TrimSpace(c.TrustedHeader))
	for i, p := range c.TrustedProxies {
		pr, err := netip.ParsePrefix(strings.TrimSpace(p))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(p))
			if aerr != nil {
				k.bad(fmt.Sprintf("web.trusted_proxies[%d]", i), "want an IP address or CIDR such as 127.0.0.1 or 10.0.0.0/24, got %q", p)
				continue
			}
			pr = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		w.TrustedProxies = append(w.TrustedProxies, pr.Masked())
	}
	if w.TrustedHeader != "" && len(w.TrustedProxies) == 0 {
		k.bad("web.trusted_proxies", "web.trusted_header is set, but no proxy is trusted to set it; list the proxy's address")
	}
}

// tlsKeyPair loads a certificate and its key, saying which file failed.
func tlsKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return cert, fmt.Errorf("%s and %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// warnMode adds a warning when the secret file at path (the value of key)
// can be read or written by its group or others.
func (k *checker) warnMode(key, path string) {
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return // a missing file is an error of its own
	}
	k.s.Warnings = append(k.s.Warnings, fmt.Sprintf("%s: %s is mode %04o, open to its group or to others; a secret file should be mode 0600 (chmod 600 %s)",
		key, path, st.Mode().Perm(), path))
}

// secret returns the first of: the contents of file (trailing newline
// removed), the environment variable env, the inline value.
// The errors name the keys by prefix: "password" (password_file,
// password_env), "client_secret", "secret".
func secret(inline, file, env, prefix string) (string, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return "", fmt.Errorf("%s_file: %s does not exist (relative paths are read from the config file's directory)", prefix, file)
		case err != nil:
			return "", fmt.Errorf("%s_file: %w", prefix, err)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s_env: environment variable %s is not set", prefix, env)
		}
		return v, nil
	}
	return inline, nil
}

// warnInline adds a warning for a password written into the config file
// itself, which ends up in backups, diffs and screen shares.
func (k *checker) warnInline(key, inline, file, env string) {
	if inline != "" && file == "" && env == "" {
		k.s.Warnings = append(k.s.Warnings, fmt.Sprintf("%s: the password is written in the config file; put it in a file of its own (%s_file, mode 0600) or the environment (%s_env)", key, key, key))
	}
}

// tlsConfig returns a TLS config that trusts the system roots plus the
// certificates in caFile. Verification is always on.
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return cfg, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return cfg, errors.New("no PEM certificate found in " + caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// cronParser accepts 5-field specs, an optional leading seconds field, and
// descriptors such as @every 1m and @hourly.
func cronParser() cron.Parser {
	return cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}
