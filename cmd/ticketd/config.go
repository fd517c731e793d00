package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is ticketd's configuration file, as written. Every key's default
// is its field's `default` tag: the one table of defaults. A key absent
// from the file takes it; a key present keeps what it says, zero
// included. Every key's documentation is in configDocs (config_doc.go),
// from which `ticketd config example` writes config.example.yaml; an
// `example` tag is the value shown there where it differs from the
// default.
//
// Config is never changed after loading: checkConfig derives [Settings]
// from it.
type Config struct {
	DataDir   string          `yaml:"data_dir" example:"/var/lib/ticketd"`
	Store     StoreConfig     `yaml:"store"`
	Timezone  string          `yaml:"timezone" default:"Asia/Seoul"`
	Log       LogConfig       `yaml:"log"`
	Admin     AdminConfig     `yaml:"admin"`
	HTTP      HTTPConfig      `yaml:"http"`
	Web       WebConfig       `yaml:"web"`
	Health    HealthConfig    `yaml:"health"`
	Center    CenterConfig    `yaml:"center"`
	Operator  OperatorConfig  `yaml:"operator"`
	OAuth     []OAuthConfig   `yaml:"oauth"`
	Mailboxes []MailboxConfig `yaml:"mailboxes"`
	SMTP      SMTPConfig      `yaml:"smtp"`
	Agents    []AgentConfig   `yaml:"agents"`
	Groups    []GroupConfig   `yaml:"groups"`
	Routing   []RouteConfig   `yaml:"routing"`
	// DefaultCategory is the category of a ticket no routing rule
	// matched.
	DefaultCategory string          `yaml:"default_category" example:"기타"`
	FAQ             FAQConfig       `yaml:"faq"`
	Notify          NotifyConfig    `yaml:"notify"`
	Replies         RepliesConfig   `yaml:"replies"`
	Threading       ThreadingConfig `yaml:"threading"`
	Limits          LimitsConfig    `yaml:"limits"`
	Spam            SpamConfig      `yaml:"spam"`
	Templates       TemplatesConfig `yaml:"templates"`
	Outbox          OutboxConfig    `yaml:"outbox"`
	Privacy         PrivacyConfig   `yaml:"privacy"`
	SLA             SLAConfig       `yaml:"sla"`
	Pending         PendingConfig   `yaml:"pending"`
}

// SLAConfig are the service levels, in business time.
type SLAConfig struct {
	FirstResponse  Duration `yaml:"first_response" default:"8h"`
	ResolutionDays int      `yaml:"resolution_days" default:"5"`
	RemindBefore   Duration `yaml:"remind_before" default:"1h"`
	EscalateTo     string   `yaml:"escalate_to"`
	Schedule       string   `yaml:"schedule" default:"*/15 * * * *"`
}

// PendingConfig follows up tickets waiting for the customer, in business
// days.
type PendingConfig struct {
	RemindAfterDays int `yaml:"remind_after_days" default:"3"`
	CloseAfterDays  int `yaml:"close_after_days" default:"7"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format" default:"text"`
	Level  string `yaml:"level" default:"info"`
}

// AdminConfig is the local admin endpoint the CLI uses while serve runs.
type AdminConfig struct {
	Socket string `yaml:"socket"` // "": <data_dir>/ticketd.sock
}

// HTTPConfig is the monitoring endpoint: GET /healthz and GET /metrics.
type HTTPConfig struct {
	Listen string `yaml:"listen" default:"127.0.0.1:9180"`
}

// WebConfig is the agents' web view: the tickets, the queue and search
// (see web.go).
type WebConfig struct {
	Listen          string   `yaml:"listen" default:"off" example:"127.0.0.1:9443"`
	URL             string   `yaml:"url" example:"https://tickets.example.com"`
	CertFile        string   `yaml:"cert_file"`
	KeyFile         string   `yaml:"key_file"`
	LinkLifetime    Duration `yaml:"link_lifetime" default:"336h"`
	SessionLifetime Duration `yaml:"session_lifetime" default:"12h"`
	TrustedHeader   string   `yaml:"trusted_header"`
	TrustedProxies  []string `yaml:"trusted_proxies" default:"[]"`
}

// HealthConfig says when /healthz reports a problem.
type HealthConfig struct {
	FailAfter    int      `yaml:"fail_after" default:"3"`
	OutboxMaxAge Duration `yaml:"outbox_max_age" default:"15m"`
}

// CenterConfig describes the help desk.
type CenterConfig struct {
	Name     string      `yaml:"name" example:"서민금융 고객센터"` // "": by language
	Address  string      `yaml:"address" example:"support@example.com"`
	Language string      `yaml:"language" default:"ko"`
	Hours    HoursConfig `yaml:"hours"`
	// Phone and Footer are the footer of the center's mails: the main
	// telephone number (대표전화) and lines shown as written (the address,
	// a privacy line).
	Phone string `yaml:"phone" example:"1588-0000"`
	// PublicHolidays is the built-in holiday table ("kr" or "none");
	// Holidays are the center's own closed days.
	PublicHolidays string   `yaml:"public_holidays" default:"kr"`
	Holidays       []string `yaml:"holidays" default:"[]"`
	HolidaysICS    string   `yaml:"holidays_ics"`
	Footer         []string `yaml:"footer" default:"[]"`
	// Identities are more addresses ticketd may send as.
	Identities []IdentityConfig `yaml:"identities"`
}

// IdentityConfig is an address ticketd sends as, with its display name.
type IdentityConfig struct {
	Address string `yaml:"address" example:"loan@example.com"`
	Name    string `yaml:"name" example:"서민금융 대출상담"`
}

// HoursConfig are the opening hours.
type HoursConfig struct {
	Days    string   `yaml:"days" default:"mon-fri"`
	Open    string   `yaml:"open" default:"09:00"`
	Close   string   `yaml:"close" default:"18:00"`
	ByDay   []string `yaml:"by_day" default:"[]"`
	Breaks  []string `yaml:"breaks" default:"[]"`
	Special []string `yaml:"special" default:"[]"`
}

// PrivacyConfig is how personal data is handled.
type PrivacyConfig struct {
	KeyFile           string          `yaml:"key_file" example:"/etc/ticketd/db-key"`
	KeyEnv            string          `yaml:"key_env"`
	OldKeyFiles       []string        `yaml:"old_key_files" default:"[]"`
	NotifyAttachments bool            `yaml:"notify_attachments" default:"true"`
	HoldRRNReplies    bool            `yaml:"hold_rrn_replies" default:"true"`
	Retention         RetentionConfig `yaml:"retention"`
}

// RetentionConfig is how long closed tickets keep what they hold.
type RetentionConfig struct {
	RawAfterClose       Duration `yaml:"raw_after_close" default:"8760h"`
	AnonymiseAfterClose Duration `yaml:"anonymise_after_close" default:"26280h"`
	Schedule            string   `yaml:"schedule" default:"0 10 * * 1-5"`
}

// OperatorConfig is who runs this ticketd.
type OperatorConfig struct {
	Address string `yaml:"address"`
}

// OAuthConfig is one OAuth 2.0 credential, named by the mailboxes and the
// smtp section that sign in with it.
type OAuthConfig struct {
	Name                string   `yaml:"name" example:"m365"`
	Provider            string   `yaml:"provider" example:"microsoft"`
	Tenant              string   `yaml:"tenant" example:"contoso.onmicrosoft.com"`
	Flow                string   `yaml:"flow" default:"device"`
	ClientID            string   `yaml:"client_id" example:"00000000-0000-0000-0000-000000000000"`
	ClientSecretFile    string   `yaml:"client_secret_file"`
	ClientSecretEnv     string   `yaml:"client_secret_env"`
	ClientSecretExpires string   `yaml:"client_secret_expires"`
	Scopes              []string `yaml:"scopes" default:"[]"`
	TokenURL            string   `yaml:"token_url"`
	DeviceURL           string   `yaml:"device_url"`
	CAFile              string   `yaml:"ca_file"`
}

// MailboxConfig is one polled IMAP folder.
type MailboxConfig struct {
	Name            string   `yaml:"name" example:"support"` // "": mailboxN
	Host            string   `yaml:"host" example:"imap.example.com"`
	Port            int      `yaml:"port" example:"993"` // 0: by security
	Security        string   `yaml:"security" default:"tls"`
	CAFile          string   `yaml:"ca_file"`
	Auth            string   `yaml:"auth" default:"login"`
	OAuth           string   `yaml:"oauth"`
	Username        string   `yaml:"username" example:"support@example.com"`
	PasswordFile    string   `yaml:"password_file" example:"/etc/ticketd/imap-password"`
	PasswordEnv     string   `yaml:"password_env"`
	Password        string   `yaml:"password"`
	Folder          string   `yaml:"folder" default:"INBOX"`
	Schedule        string   `yaml:"schedule" default:"@every 1m"`
	Idle            bool     `yaml:"idle" default:"false"`
	IdleRestart     Duration `yaml:"idle_restart" default:"5m"`
	PostAction      string   `yaml:"post_action" default:"seen"`
	MoveTo          string   `yaml:"move_to"`
	BatchSize       int      `yaml:"batch_size" default:"500"`
	Timeout         Duration `yaml:"timeout" default:"2m"`
	MaxMessageBytes int64    `yaml:"max_message_bytes" default:"0"` // 0: limits.max_message_bytes
}

// StoreConfig is where the tickets are kept.
type StoreConfig struct {
	Driver  string `yaml:"driver" default:"bbolt"`
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	DSNEnv  string `yaml:"dsn_env"`
	// Lease is how long a node's hold on a mailbox lasts unless renewed.
	Lease Duration `yaml:"lease" default:"30s"`
}

// SMTPConfig is the outgoing mail server.
type SMTPConfig struct {
	Host         string   `yaml:"host" example:"smtp.example.com"`
	Port         int      `yaml:"port" example:"587"` // 0: by security
	Security     string   `yaml:"security" default:"starttls"`
	CAFile       string   `yaml:"ca_file"`
	Auth         string   `yaml:"auth" default:"plain"`
	OAuth        string   `yaml:"oauth"`
	Username     string   `yaml:"username" example:"support@example.com"`
	PasswordFile string   `yaml:"password_file" example:"/etc/ticketd/smtp-password"`
	PasswordEnv  string   `yaml:"password_env"`
	Password     string   `yaml:"password"`
	Timeout      Duration `yaml:"timeout" default:"30s"`
	HELO         string   `yaml:"helo"`
}

// AgentConfig is one agent.
type AgentConfig struct {
	Name  string `yaml:"name" example:"김상담"`
	Email string `yaml:"email" example:"kim.agent@example.com"`
}

// GroupConfig is a named group of agents.
type GroupConfig struct {
	Name    string   `yaml:"name" example:"대출팀"`
	Address string   `yaml:"address" example:"loan-team@example.com"`
	Members []string `yaml:"members" example:"[kim.agent@example.com]"`
}

// RouteConfig is one routing rule.
type RouteConfig struct {
	Name     string     `yaml:"name" example:"loan"`
	Category string     `yaml:"category" example:"대출"`
	Group    string     `yaml:"group" example:"대출팀"`
	Match    RouteMatch `yaml:"match"`
}

// RouteMatch is what a routing rule looks for.
type RouteMatch struct {
	To      []string `yaml:"to" example:"[loan@example.com]"`
	Subject []string `yaml:"subject" default:"[]"`
	Body    []string `yaml:"body" default:"[]"`
}

// FAQConfig is the FAQ the acknowledgements suggest answers from.
type FAQConfig struct {
	File     string   `yaml:"file" example:"/etc/ticketd/faq.yaml"`
	Suggest  int      `yaml:"suggest" default:"3"`
	MinScore float64  `yaml:"min_score" default:"0.23"`
	Synonyms []string `yaml:"synonyms" default:"[]"`
	Check    Duration `yaml:"check_every" default:"10s"`
}

// NotifyConfig says who hears of new tickets and customer follow-ups.
type NotifyConfig struct {
	Address  string `yaml:"address"`
	Disabled bool   `yaml:"disabled" default:"false"`
}

// RepliesConfig shapes the agents' replies relayed to customers.
type RepliesConfig struct {
	FromName        string `yaml:"from_name" default:"{agent} ({center})"`
	CcParticipants  bool   `yaml:"cc_participants" default:"true"`
	RequireAuthFrom string `yaml:"require_auth_from"`
}

// ThreadingConfig holds the token secret and plus-addressing.
type ThreadingConfig struct {
	PlusAddressing bool     `yaml:"plus_addressing" default:"false"`
	SecretFile     string   `yaml:"secret_file"`
	SecretEnv      string   `yaml:"secret_env"`
	ReopenWithin   Duration `yaml:"reopen_within" default:"720h"`
}

// LimitsConfig bounds what one mail and one correspondent can cost.
type LimitsConfig struct {
	MaxMessageBytes     int64    `yaml:"max_message_bytes" default:"26214400"`
	OversizedFolder     string   `yaml:"oversized_folder"`
	AutoPerHour         int      `yaml:"auto_per_hour" default:"5"`
	AutoPerDay          int      `yaml:"auto_per_day" default:"20"`
	AutoMinInterval     Duration `yaml:"auto_min_interval" default:"2m"`
	SuppressFor         Duration `yaml:"suppress_for" default:"720h"`
	MaxParticipants     int      `yaml:"max_participants" default:"10"`
	IngestWorkers       int      `yaml:"ingest_workers" default:"0"` // 0: one per core
	IngestInFlightBytes int64    `yaml:"ingest_in_flight_bytes" default:"8388608"`
}

// SpamConfig says how mail flagged by the upstream filter is recognised
// and handled.
type SpamConfig struct {
	Header string `yaml:"header" default:"X-Spam-Flag"`
	Value  string `yaml:"value" default:"YES"`
	Action string `yaml:"action" default:"ticket"`
	Folder string `yaml:"folder"`
}

// TemplatesConfig points at operator overrides of the mail templates.
type TemplatesConfig struct {
	Dir string `yaml:"dir"`
}

// OutboxConfig tunes retries of outgoing mail.
type OutboxConfig struct {
	MaxAge     Duration `yaml:"max_age" default:"48h"`
	Lease      Duration `yaml:"lease" default:"10m"`
	MinBackoff Duration `yaml:"min_backoff" default:"30s"`
	MaxBackoff Duration `yaml:"max_backoff" default:"1h"`
	// Connections is how many mails are sent at once.
	Connections int `yaml:"connections" default:"8"`
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

// findConfig resolves the config path: the flag, then $TICKETD_CONFIG, then
// ./ticketd.yaml.
func findConfig(flagPath string) string {
	if flagPath != "" {
		return flagPath
	}
	if p := os.Getenv("TICKETD_CONFIG"); p != "" {
		return p
	}
	// On a server the CLI finds the installed daemon's file (the unit's
	// TICKETD_CONFIG) without being told, unless a local one is here.
	if _, err := os.Stat("ticketd.yaml"); err != nil {
		if _, err := os.Stat(systemConfig); err == nil {
			return systemConfig
		}
	}
	return "ticketd.yaml"
}

// systemConfig is where scripts/ticketd.service has the configuration.
const systemConfig = "/etc/ticketd/config.yaml"

// loadConfig reads and checks the file at path. It returns every problem
// found, each naming its key.
func loadConfig(path string) (*Settings, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{fmt.Errorf("config: %w (set --config or $TICKETD_CONFIG; without them ticketd reads ./ticketd.yaml, else %s)", err, systemConfig)}
	}
	c, err := parseConfig(data)
	if err != nil {
		var all []error
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			all = joined.Unwrap()
		} else {
			all = []error{err}
		}
		for i, e := range all {
			all[i] = fmt.Errorf("config %s: %w", path, e)
		}
		return nil, all
	}
	return checkConfig(c, filepath.Dir(path))
}

// parseConfig decodes a config file strictly (an unknown key is an error)
// and gives every absent key its default.
func parseConfig(data []byte) (Config, error) {
	var c Config
	var tree yaml.Node
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return c, err // not YAML at all: yaml says where
	}
	if errs := checkYAML(&tree); len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return c, err
	}
	if err := applyDefaults(reflect.ValueOf(&c).Elem(), &doc, ""); err != nil {
		return c, err
	}
	return c, nil
}

// applyDefaults sets each field of the struct v whose key the mapping n
// (nil: absent) does not set, or sets to null, to its default tag; it
// descends into nested structs and into each element of a list of
// structs. path is the key of v, for errors.
func applyDefaults(v reflect.Value, n *yaml.Node, path string) error {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, f := range configFields(v.Type()) {
		child := mappingValue(n, f.key)
		if child != nil && child.Tag == "!!null" {
			child = nil
		}
		fv := v.Field(f.index)
		switch {
		case f.section:
			if err := applyDefaults(fv, child, path+f.key+"."); err != nil {
				return err
			}
		case f.list:
			for i := 0; i < fv.Len(); i++ {
				var item *yaml.Node
				if child != nil && child.Kind == yaml.SequenceNode && i < len(child.Content) {
					item = child.Content[i]
				}
				if err := applyDefaults(fv.Index(i), item, fmt.Sprintf("%s%s[%d].", path, f.key, i)); err != nil {
					return err
				}
			}
		case child == nil && f.hasDefault:
			if err := setDefault(fv, f.def); err != nil {
				return fmt.Errorf("%s%s: default %q: %w", path, f.key, f.def, err) // a bad tag: a bug
			}
		}
	}
	return nil
}

// setDefault parses the default tag def into v.
func setDefault(v reflect.Value, def string) error {
	if v.Kind() == reflect.String {
		v.SetString(def) // verbatim: "@every 1m" is not valid YAML unquoted
		return nil
	}
	return yaml.Unmarshal([]byte(def), v.Addr().Interface())
}

// mappingValue is the value of key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// configField is one key of a config struct.
type configField struct {
	key        string
	index      int
	section    bool // a nested struct
	list       bool // a list of structs
	def        string
	hasDefault bool
	example    string
	hasExample bool
	typ        reflect.Type
}

var durationType = reflect.TypeOf(Duration(0))

// configFields lists the keys of the config struct t in order.
func configFields(t reflect.Type) []configField {
	var out []configField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		f := configField{key: key, index: i, typ: sf.Type}
		f.def, f.hasDefault = sf.Tag.Lookup("default")
		f.example, f.hasExample = sf.Tag.Lookup("example")
		f.section = sf.Type.Kind() == reflect.Struct && sf.Type != durationType
		f.list = sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct
		out = append(out, f)
	}
	return out
}
