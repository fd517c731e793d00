package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/mailbox/smtp"
	"github.com/ticketd/ticketd/ticket"
)

// Config is ticketd's configuration file. config.example.yaml documents
// every key.
type Config struct {
	DataDir   string          `yaml:"data_dir"`
	Timezone  string          `yaml:"timezone"`
	Log       LogConfig       `yaml:"log"`
	Admin     AdminConfig     `yaml:"admin"`
	Center    CenterConfig    `yaml:"center"`
	Mailboxes []MailboxConfig `yaml:"mailboxes"`
	SMTP      SMTPConfig      `yaml:"smtp"`
	Templates TemplatesConfig `yaml:"templates"`
	Outbox    OutboxConfig    `yaml:"outbox"`
	Agents    []AgentConfig   `yaml:"agents"`
	Notify    NotifyConfig    `yaml:"notify"`
	Replies   RepliesConfig   `yaml:"replies"`
	Threading ThreadingConfig `yaml:"threading"`
	Limits    LimitsConfig    `yaml:"limits"`
	Spam      SpamConfig      `yaml:"spam"`
	// HTTP and Health: see http.go.
	HTTP   HTTPConfig   `yaml:"http"`
	Health HealthConfig `yaml:"health"`
}

// LimitsConfig bounds what one mail and one correspondent can cost.
type LimitsConfig struct {
	MaxMessageBytes int64    `yaml:"max_message_bytes"`
	OversizedFolder string   `yaml:"oversized_folder"`
	AutoPerHour     int      `yaml:"auto_per_hour"`
	AutoPerDay      int      `yaml:"auto_per_day"`
	AutoMinInterval Duration `yaml:"auto_min_interval"`
	SuppressFor     Duration `yaml:"suppress_for"`
	// MaxParticipants bounds the other customers of a ticket whom replies
	// Cc (0: 10).
	MaxParticipants int `yaml:"max_participants"`
	// IngestWorkers parse mails in parallel (0: one per core);
	// IngestInFlightBytes bounds the raw mail fetched but not yet
	// committed, per mailbox (0: 8 MiB).
	IngestWorkers       int   `yaml:"ingest_workers"`
	IngestInFlightBytes int64 `yaml:"ingest_in_flight_bytes"`
}

// SpamConfig says how mail flagged by the upstream filter is recognised
// and handled.
type SpamConfig struct {
	Header string `yaml:"header"`
	Value  string `yaml:"value"`
	// Action is "ticket" (default: a ticket marked spam, no
	// acknowledgement) or "move" (moved to Folder, no ticket).
	Action string `yaml:"action"`
	Folder string `yaml:"folder"`
}

// AgentConfig is one agent.
type AgentConfig struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// NotifyConfig says who hears of new tickets and customer follow-ups.
type NotifyConfig struct {
	Address  string `yaml:"address"`
	Disabled bool   `yaml:"disabled"`
}

// RepliesConfig shapes the agents' replies relayed to customers.
type RepliesConfig struct {
	FromName       string `yaml:"from_name"`
	CcParticipants *bool  `yaml:"cc_participants"`
	// RequireAuthFrom is an authserv-id; see config.example.yaml.
	RequireAuthFrom string `yaml:"require_auth_from"`
}

// ThreadingConfig holds the token secret and plus-addressing.
type ThreadingConfig struct {
	PlusAddressing bool     `yaml:"plus_addressing"`
	SecretFile     string   `yaml:"secret_file"`
	SecretEnv      string   `yaml:"secret_env"`
	ReopenWithin   Duration `yaml:"reopen_within"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// AdminConfig is the local admin endpoint the CLI uses while serve runs.
type AdminConfig struct {
	Socket string `yaml:"socket"` // default <data_dir>/ticketd.sock
}

// CenterConfig describes the help desk.
type CenterConfig struct {
	Name     string      `yaml:"name"`
	Address  string      `yaml:"address"`
	Language string      `yaml:"language"`
	Hours    HoursConfig `yaml:"hours"`
}

// HoursConfig are the opening hours.
type HoursConfig struct {
	Days  string `yaml:"days"`
	Open  string `yaml:"open"`
	Close string `yaml:"close"`
}

// MailboxConfig is one polled IMAP folder.
type MailboxConfig struct {
	Name            string `yaml:"name"`
	Host            string `yaml:"host"`
	Port            int    `yaml:"port"`
	Security        string `yaml:"security"`
	Auth            string `yaml:"auth"`
	Username        string `yaml:"username"`
	Password        string `yaml:"password"`
	PasswordFile    string `yaml:"password_file"`
	PasswordEnv     string `yaml:"password_env"`
	CAFile          string `yaml:"ca_file"`
	Folder          string `yaml:"folder"`
	Schedule        string `yaml:"schedule"`
	PostAction      string `yaml:"post_action"`
	MoveTo          string `yaml:"move_to"`
	BatchSize       int    `yaml:"batch_size"`
	MaxMessageBytes int64  `yaml:"max_message_bytes"`
	// Idle keeps an IMAP IDLE connection open so new mail is polled within
	// seconds; the schedule stays as the safety net. IdleRestart is how
	// often IDLE is restarted to prove the connection alive (default 5m).
	Idle        bool     `yaml:"idle"`
	IdleRestart Duration `yaml:"idle_restart"`
	// Timeout bounds every IMAP command and read (default 2m).
	Timeout Duration `yaml:"timeout"`
}

// SMTPConfig is the outgoing mail server.
type SMTPConfig struct {
	Host         string   `yaml:"host"`
	Port         int      `yaml:"port"`
	Security     string   `yaml:"security"`
	Auth         string   `yaml:"auth"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	PasswordEnv  string   `yaml:"password_env"`
	CAFile       string   `yaml:"ca_file"`
	Timeout      Duration `yaml:"timeout"`
	HELO         string   `yaml:"helo"`
}

// TemplatesConfig points at operator overrides of the mail templates.
type TemplatesConfig struct {
	Dir string `yaml:"dir"`
}

// OutboxConfig tunes retries of outgoing mail.
type OutboxConfig struct {
	MaxAge     Duration `yaml:"max_age"`
	Lease      Duration `yaml:"lease"`
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
}

// Duration is a time.Duration written as "30s", "48h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: want a duration like 30s or 48h, got %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Settings is a checked configuration, ready to wire.
type Settings struct {
	Config
	Loc       *time.Location
	Hours     ticket.Hours
	Support   ticket.Address
	Domain    string
	IMAP      []imap.Config
	Schedules []string
	// Watch holds, per mailbox, the IDLE options; nil when idle is off.
	Watch     []*imap.WatchOptions
	SMTP      smtp.Config
	DBPath    string
	Socket    string
	AgentList []ticket.Agent
	// Warnings are what check-config and serve point out without failing:
	// a secret file others can read.
	Warnings []string
	// SMTPPasswordKey is the key the SMTP password came from, for
	// messages that say what to fix.
	SMTPPasswordKey string
	// OwnAddresses are the mailboxes' login addresses: ours, so never
	// participants and never sent mail.
	OwnAddresses []string
	// Secret is the token signing key from the config; nil means the one
	// kept in the database.
	Secret []byte
	// HTTPListen is the loopback address of /healthz and /metrics; ""
	// when off (see http.go).
	HTTPListen string
}

// findConfig resolves the config path: the flag, then $TICKETD_CONFIG, then
// ./ticketd.yaml.
func findConfig(flagPath string) string {
	if flagPath != "" {
		return flagPath
	}
	if p := os.Getenv("TICKETD_CONFIG"); p != "" {
		return p
	}
	return "ticketd.yaml"
}

// loadConfig reads and checks the file at path. It returns every problem
// found, each naming its key.
func loadConfig(path string) (*Settings, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{fmt.Errorf("config: %w (set --config or $TICKETD_CONFIG)", err)}
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, []error{fmt.Errorf("config %s: %w", path, err)}
	}
	return checkConfig(c, filepath.Dir(path))
}

// checkConfig fills defaults and validates c. Relative paths are taken
// relative to base (the config file's directory).
func checkConfig(c Config, base string) (*Settings, []error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	s := &Settings{Config: c}

	if c.DataDir == "" {
		bad("data_dir", "required (the directory for the database and the admin socket)")
	}
	s.DataDir = rel(c.DataDir)
	s.DBPath = filepath.Join(s.DataDir, "ticketd.db")
	s.Socket = rel(c.Admin.Socket)
	if s.Socket == "" {
		s.Socket = filepath.Join(s.DataDir, "ticketd.sock")
	}
	if len(s.Socket) > 104 {
		bad("admin.socket", "path %q is longer than a unix socket allows (104 bytes); set a shorter one", s.Socket)
	}

	if c.Timezone == "" {
		s.Timezone = "Asia/Seoul"
	}
	if loc, err := time.LoadLocation(s.Timezone); err != nil {
		bad("timezone", "unknown time zone %q", s.Timezone)
	} else {
		s.Loc = loc
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}

	if a, err := mail.ParseAddress(c.Center.Address); c.Center.Address == "" {
		bad("center.address", "required (the support address customers write to)")
	} else if err != nil {
		bad("center.address", "not an address: %v", err)
	} else {
		s.Support = ticket.Address{Name: c.Center.Name, Email: a.Address}
		s.Domain = a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	}
	if c.Center.Name == "" {
		s.Center.Name = map[bool]string{true: "Customer Center", false: "고객센터"}[c.Center.Language == "en"]
		s.Support.Name = s.Center.Name
	}
	switch c.Center.Language {
	case "":
		s.Center.Language = "ko"
	case "ko", "en":
	default:
		bad("center.language", "want ko or en, got %q", c.Center.Language)
	}
	s.Hours = ticket.DefaultHours(s.Loc)
	if c.Center.Hours.Days != "" {
		if d, err := ticket.ParseDays(c.Center.Hours.Days); err != nil {
			bad("center.hours.days", "%v", err)
		} else {
			s.Hours.Days = d
		}
	}
	if c.Center.Hours.Open != "" {
		if d, err := ticket.ParseClock(c.Center.Hours.Open); err != nil {
			bad("center.hours.open", "%v", err)
		} else {
			s.Hours.Open = d
		}
	}
	if c.Center.Hours.Close != "" {
		if d, err := ticket.ParseClock(c.Center.Hours.Close); err != nil {
			bad("center.hours.close", "%v", err)
		} else {
			s.Hours.Close = d
		}
	}
	if s.Hours.Close <= s.Hours.Open {
		bad("center.hours.close", "must be after center.hours.open")
	}

	if len(c.Mailboxes) == 0 {
		bad("mailboxes", "at least one IMAP mailbox is required")
	}
	parser := cronParser()
	names := map[string]bool{}
	for i, m := range c.Mailboxes {
		key := fmt.Sprintf("mailboxes[%d]", i)
		if m.Name == "" {
			m.Name = fmt.Sprintf("mailbox%d", i+1)
		}
		if names[m.Name] {
			bad(key+".name", "duplicate name %q", m.Name)
		}
		names[m.Name] = true
		if m.Host == "" {
			bad(key+".host", "required")
		}
		if m.Security == "" {
			m.Security = "tls"
		}
		switch m.Security {
		case "tls", "starttls":
		case "plain":
			if m.Host != "" && !mailbox.IsLoopback(m.Host) {
				bad(key+".security", "plain IMAP is only allowed to a loopback host; use tls or starttls for %q", m.Host)
			}
		default:
			bad(key+".security", "want tls, starttls or plain, got %q", m.Security)
		}
		if m.Port == 0 {
			m.Port = map[bool]int{true: 993, false: 143}[m.Security == "tls"]
		} else if m.Port < 0 || m.Port > 65535 {
			bad(key+".port", "out of range: %d", m.Port)
		}
		switch m.Auth {
		case "", "login", "plain":
		default:
			bad(key+".auth", "want login or plain, got %q", m.Auth)
		}
		if m.Username == "" {
			bad(key+".username", "required")
		}
		s.warnMode(key+".password_file", rel(m.PasswordFile))
		pw, err := secret(m.Password, rel(m.PasswordFile), m.PasswordEnv)
		if err != nil {
			bad(key+".password", "%v", err)
		} else if pw == "" {
			bad(key+".password", "required: set password_file, password_env, or password")
		}
		tlsCfg, err := tlsConfig(rel(m.CAFile))
		if err != nil {
			bad(key+".ca_file", "%v", err)
		}
		if m.Schedule == "" {
			m.Schedule = "@every 1m"
		}
		if _, err := parser.Parse(m.Schedule); err != nil {
			bad(key+".schedule", "%v (want a 5-field cron spec such as \"*/5 * * * *\" or a descriptor such as \"@every 1m\")", err)
		}
		switch m.PostAction {
		case "", imap.PostSeen:
			m.PostAction = imap.PostSeen
		case imap.PostMove:
			if m.MoveTo == "" {
				bad(key+".move_to", "required when post_action is move")
			}
		default:
			bad(key+".post_action", "want seen or move, got %q", m.PostAction)
		}
		if m.Timeout < 0 {
			bad(key+".timeout", "must be positive (default 2m), got %v", time.Duration(m.Timeout))
		}
		if m.BatchSize < 0 {
			bad(key+".batch_size", "must be positive")
		}
		if m.MaxMessageBytes < 0 {
			bad(key+".max_message_bytes", "must be positive")
		} else if m.MaxMessageBytes == 0 {
			m.MaxMessageBytes = c.Limits.MaxMessageBytes
		}
		var watch *imap.WatchOptions
		if m.IdleRestart < 0 || m.IdleRestart > Duration(29*time.Minute) {
			bad(key+".idle_restart", "want a duration up to 29m (RFC 2177: a server may drop an IDLE client after 30m), got %v", time.Duration(m.IdleRestart))
		} else if m.Idle {
			watch = &imap.WatchOptions{Restart: time.Duration(m.IdleRestart)} // 0: the default, 5m
		}
		if strings.Contains(m.Username, "@") {
			s.OwnAddresses = append(s.OwnAddresses, m.Username)
		}
		s.Watch = append(s.Watch, watch)
		s.Schedules = append(s.Schedules, m.Schedule)
		s.IMAP = append(s.IMAP, imap.Config{
			Name: m.Name, Host: m.Host, Port: m.Port, Security: m.Security, Auth: m.Auth,
			Username: m.Username, Password: pw, Folder: m.Folder, PostAction: m.PostAction,
			MoveTo: m.MoveTo, TLSConfig: tlsCfg, BatchSize: m.BatchSize, MaxMessageBytes: m.MaxMessageBytes, Timeout: time.Duration(m.Timeout),
			OversizedFolder: c.Limits.OversizedFolder, SpamFolder: map[bool]string{true: c.Spam.Folder}[c.Spam.Action == "move"],
			Pipe: mailbox.PipeOptions{Workers: c.Limits.IngestWorkers, MaxBytes: c.Limits.IngestInFlightBytes},
		})
	}

	sm := c.SMTP
	if sm.Host == "" {
		bad("smtp.host", "required (the server acknowledgements are sent through)")
	}
	if sm.Security == "" {
		sm.Security = "starttls"
	}
	switch sm.Security {
	case "tls", "starttls":
	case "plain":
		if sm.Host != "" && !mailbox.IsLoopback(sm.Host) {
			bad("smtp.security", "plain SMTP is only allowed to a loopback host; use starttls or tls for %q", sm.Host)
		}
	default:
		bad("smtp.security", "want starttls, tls or plain, got %q", sm.Security)
	}
	if sm.Port == 0 {
		sm.Port = map[string]int{"tls": 465, "starttls": 587, "plain": 25}[sm.Security]
	} else if sm.Port < 0 || sm.Port > 65535 {
		bad("smtp.port", "out of range: %d", sm.Port)
	}
	switch sm.Auth {
	case "", "plain", "login":
	default:
		bad("smtp.auth", "want plain or login, got %q", sm.Auth)
	}
	s.SMTPPasswordKey = "smtp.password"
	switch {
	case sm.PasswordFile != "":
		s.SMTPPasswordKey = "smtp.password_file"
	case sm.PasswordEnv != "":
		s.SMTPPasswordKey = "smtp.password_env"
	}
	s.warnMode("smtp.password_file", rel(sm.PasswordFile))
	smtpPW, err := secret(sm.Password, rel(sm.PasswordFile), sm.PasswordEnv)
	if err != nil {
		bad("smtp.password", "%v", err)
	} else if sm.Username != "" && smtpPW == "" {
		bad("smtp.password", "required with smtp.username: set password_file, password_env, or password")
	}
	smtpTLS, err := tlsConfig(rel(sm.CAFile))
	if err != nil {
		bad("smtp.ca_file", "%v", err)
	}
	s.SMTP = smtp.Config{
		Host: sm.Host, Port: sm.Port, Security: sm.Security, Username: sm.Username, Password: smtpPW,
		Auth: sm.Auth, TLSConfig: smtpTLS, Timeout: time.Duration(sm.Timeout), HELO: sm.HELO,
	}
	s.Templates.Dir = rel(c.Templates.Dir)
	if s.Templates.Dir != "" {
		if st, err := os.Stat(s.Templates.Dir); err != nil || !st.IsDir() {
			bad("templates.dir", "%q is not a directory", s.Templates.Dir)
		}
	}
	if c.Limits.MaxMessageBytes < 0 {
		bad("limits.max_message_bytes", "must be positive")
	} else if c.Limits.MaxMessageBytes == 0 {
		s.Limits.MaxMessageBytes = 25 << 20
	}
	if c.Limits.IngestWorkers < 0 || c.Limits.IngestWorkers > 256 {
		bad("limits.ingest_workers", "want 0 (one per core) to 256, got %d", c.Limits.IngestWorkers)
	}
	if c.Limits.IngestInFlightBytes < 0 {
		bad("limits.ingest_in_flight_bytes", "must be positive")
	}
	if c.Limits.MaxParticipants < 0 {
		bad("limits.max_participants", "must be 0 (the default, 10) or more, got %d", c.Limits.MaxParticipants)
	}
	if c.Limits.AutoPerHour < 0 || c.Limits.AutoPerDay < 0 || c.Limits.SuppressFor < 0 {
		bad("limits", "auto_per_hour, auto_per_day and suppress_for must be positive")
	}
	switch c.Spam.Action {
	case "", "ticket":
	case "move":
		if c.Spam.Folder == "" {
			bad("spam.folder", "required when spam.action is move")
		}
	default:
		bad("spam.action", "want ticket or move, got %q", c.Spam.Action)
	}
	seenAgents := map[string]bool{}
	for i, a := range c.Agents {
		key := fmt.Sprintf("agents[%d]", i)
		addr, err := mail.ParseAddress(a.Email)
		if err != nil {
			bad(key+".email", "not an address: %q", a.Email)
			continue
		}
		if seenAgents[strings.ToLower(addr.Address)] {
			bad(key+".email", "duplicate agent %s", addr.Address)
		}
		seenAgents[strings.ToLower(addr.Address)] = true
		if s.Support.Email != "" && ticket.IsSupportAddress(s.Support.Email, addr.Address) {
			bad(key+".email", "an agent cannot be the support address")
		}
		name := a.Name
		if name == "" {
			name = addr.Address
		}
		s.AgentList = append(s.AgentList, ticket.Agent{Name: name, Email: addr.Address})
	}
	if c.Notify.Address != "" {
		if _, err := mail.ParseAddress(c.Notify.Address); err != nil {
			bad("notify.address", "not an address: %q", c.Notify.Address)
		}
	}
	s.warnMode("threading.secret_file", rel(c.Threading.SecretFile))
	if c.Threading.SecretFile != "" || c.Threading.SecretEnv != "" {
		sec, err := secret("", rel(c.Threading.SecretFile), c.Threading.SecretEnv)
		if err != nil {
			bad("threading.secret", "%v", err)
		} else if len(sec) < 16 {
			bad("threading.secret", "the secret must be at least 16 bytes (32 random bytes recommended)")
		} else {
			s.Secret = []byte(sec)
		}
	}
	if c.Threading.ReopenWithin < 0 {
		bad("threading.reopen_within", "must be positive")
	}
	for key, d := range map[string]Duration{"outbox.max_age": c.Outbox.MaxAge, "outbox.min_backoff": c.Outbox.MinBackoff, "outbox.max_backoff": c.Outbox.MaxBackoff} {
		if d < 0 {
			bad(key, "must be positive")
		}
	}
	checkHTTP(c, s, bad)
	return s, errs
}

// warnMode adds a warning when the secret file at path (the value of key)
// can be read or written by its group or others.
func (s *Settings) warnMode(key, path string) {
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return // a missing file is an error of its own
	}
	s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %s is mode %04o, open to its group or to others; a secret file should be mode 0600 (chmod 600 %s)",
		key, path, st.Mode().Perm(), path))
}

// secret returns the first of: the contents of file (trailing newline
// removed), the environment variable env, the inline value.
func secret(inline, file, env string) (string, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("password_file: %w", err)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("password_env: environment variable %s is not set", env)
		}
		return v, nil
	}
	return inline, nil
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
