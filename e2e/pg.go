package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Postgres is a running throw-away PostgreSQL started by
// scripts/pgstack/up.sh.
type Postgres struct {
	Host     string // always 127.0.0.1
	Port     int
	DB, User string
	Password string // the user's
	// Data, Bin and Run are the cluster's data directory, the server's
	// binaries and its run directory (socket, log).
	Data, Bin, Run string
	// StandbyPort and StandbyData are the standby's, once StartStandby ran.
	StandbyPort   int
	StandbyData   string
	adminPassword string
	dir           string
}

// DSN is the connection string of the ticketd role, password included.
func (p *Postgres) DSN() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password), Host: fmt.Sprintf("%s:%d", p.Host, p.Port), Path: "/" + p.DB, RawQuery: "sslmode=disable"}
	return u.String()
}

// AdminDSN is the connection string of the superuser, to database db.
func (p *Postgres) AdminDSN(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", p.adminPassword), Host: fmt.Sprintf("%s:%d", p.Host, p.Port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase creates database name anew (dropping one of that name),
// owned by the ticketd role, and returns its connection string.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	admin, err := pgx.Connect(ctx, p.AdminDSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	defer admin.Close(ctx)
	for _, sql := range []string{fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{p.User}.Sanitize())} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("postgres: %s: %w", sql, err)
		}
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password), Host: fmt.Sprintf("%s:%d", p.Host, p.Port), Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String(), nil
}

// Commits is how many transactions were committed in database name so
// far (pg_stat_database).
func (p *Postgres) Commits(ctx context.Context, name string) (int64, error) {
	admin, err := pgx.Connect(ctx, p.AdminDSN("postgres"))
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	defer admin.Close(ctx)
	var n int64
	if err := admin.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: pg_stat_database: %w", err)
	}
	return n, nil
}

// StartPostgres skips the test unless TICKETD_E2E=1, fails it if not run
// as root, and starts a PostgreSQL on 127.0.0.1:base+432 for the test; it
// is stopped and removed when the test ends. Each test that runs at the
// same time as another needs its own base.
func StartPostgres(t testing.TB, base int) *Postgres {
	t.Helper()
	if os.Getenv(EnvVar) != "1" {
		t.Skipf("end-to-end test against a real PostgreSQL: set %s=1 and run as root, e.g. scripts/test.sh", EnvVar)
	}
	p, stop, err := StartPostgresStack(base)
	if err != nil {
		t.Fatalf("e2e.StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("e2e.StartPostgres: %v", err)
		}
	})
	return p
}

// StartPostgresStack is StartPostgres outside a test (a package's TestMain,
// a benchmark): it must run as root, starts a PostgreSQL on
// 127.0.0.1:base+432 in a new directory, and returns it with the function
// that stops it and removes the directory. On error nothing is left
// running.
func StartPostgresStack(base int) (*Postgres, func() error, error) {
	if os.Geteuid() != 0 {
		return nil, nil, fmt.Errorf("must run as root (to run PostgreSQL as the postgres user)")
	}
	root, err := FindRepoRoot()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "ticketd-pgstack-")
	if err != nil {
		return nil, nil, err
	}
	down := filepath.Join(root, "scripts", "pgstack", "down.sh")
	stop := func() error {
		out, err := exec.Command("bash", down, dir).CombinedOutput()
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("pgstack down.sh: %v\n%s", err, out)
		}
		return nil
	}
	up := exec.Command("bash", filepath.Join(root, "scripts", "pgstack", "up.sh"), dir)
	up.Env = append(os.Environ(), fmt.Sprintf("PGSTACK_PORT_BASE=%d", base))
	if out, err := up.CombinedOutput(); err != nil {
		stop()
		return nil, nil, fmt.Errorf("pgstack up.sh: %v\n%s", err, out)
	}
	p, err := readPostgres(dir)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return p, stop, nil
}

// StartStandby starts a synchronous streaming standby of p on the next
// port (scripts/pgstack/standby.sh); it is stopped with p.
func (p *Postgres) StartStandby() error {
	root, err := FindRepoRoot()
	if err != nil {
		return err
	}
	if out, err := exec.Command("bash", filepath.Join(root, "scripts", "pgstack", "standby.sh"), p.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("pgstack standby.sh: %v\n%s", err, out)
	}
	q, err := readPostgres(p.dir)
	if err != nil {
		return err
	}
	p.StandbyPort, p.StandbyData = q.StandbyPort, q.StandbyData
	return nil
}

// FailoverDSN is DSN naming the primary and the standby, for a client
// that must find the one that takes writes (target_session_attrs).
func (p *Postgres) FailoverDSN() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password),
		Host: fmt.Sprintf("%s:%d,%s:%d", p.Host, p.Port, p.Host, p.StandbyPort), Path: "/" + p.DB,
		RawQuery: "sslmode=disable&target_session_attrs=read-write"}
	return u.String()
}

// KillPrimary stops the primary at once (pg_ctl stop -m immediate: no
// checkpoint, as a crash).
func (p *Postgres) KillPrimary() error {
	return p.pgctl("-D", p.Data, "-m", "immediate", "-w", "-t", "30", "stop")
}

// Promote makes the standby the primary (pg_ctl promote) and waits for it.
func (p *Postgres) Promote() error { return p.pgctl("-D", p.StandbyData, "-w", "-t", "60", "promote") }

func (p *Postgres) pgctl(args ...string) error {
	out, err := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.Bin, "pg_ctl")}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Log is the last n lines of the server's log.
func (p *Postgres) Log(n int) string {
	b, _ := os.ReadFile(filepath.Join(p.Run, "postgres.log"))
	return tail(b, n)
}

// readPostgres reads what up.sh wrote into dir.
func readPostgres(dir string) (*Postgres, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	port, err := strconv.Atoi(env["PG_PORT"])
	if err != nil {
		return nil, fmt.Errorf("env: PG_PORT %q", env["PG_PORT"])
	}
	secret := func(key string) (string, error) {
		b, err := os.ReadFile(env[key])
		return strings.TrimSpace(string(b)), err
	}
	p := &Postgres{Host: env["PG_HOST"], Port: port, DB: env["PG_DB"], User: env["PG_USER"], Data: env["PG_DATA"], Bin: env["PG_BIN"], Run: env["PG_RUN"],
		StandbyData: env["PG_STANDBY_DATA"], dir: dir}
	if sp := env["PG_STANDBY_PORT"]; sp != "" {
		if p.StandbyPort, err = strconv.Atoi(sp); err != nil {
			return nil, fmt.Errorf("env: PG_STANDBY_PORT %q", sp)
		}
	}
	if p.Password, err = secret("PG_PASSWORD_FILE"); err != nil {
		return nil, err
	}
	if p.adminPassword, err = secret("PG_ADMIN_PASSWORD_FILE"); err != nil {
		return nil, err
	}
	return p, nil
}

// tail is the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
