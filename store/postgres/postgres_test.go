package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd/ticketd/e2e"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// pgBase is the port base of this package's PostgreSQL (port pgBase+432);
// no other test uses it.
const pgBase = 33000

// pgSrv is the package's PostgreSQL, running while its tests do (nil
// without TICKETD_E2E=1).
var pgSrv *e2e.Postgres

func TestMain(m *testing.M) {
	if os.Getenv(e2e.EnvVar) == "1" {
		srv, stop, err := e2e.StartPostgresStack(pgBase)
		if err != nil {
			fmt.Fprintf(os.Stderr, "store/postgres: %v\n", err)
			os.Exit(1)
		}
		pgSrv = srv
		code := tickettest.Run(m)
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "store/postgres: %v\n", err)
		}
		os.Exit(code)
	}
	tickettest.Main(m)
}

// freshDSN creates a new, empty database named after the test on the
// package's PostgreSQL and returns its connection string.
func freshDSN(t *testing.T) string {
	t.Helper()
	if pgSrv == nil {
		t.Skipf("needs a real PostgreSQL: set %s=1 and run as root, e.g. scripts/test.sh", e2e.EnvVar)
	}
	dsn, err := pgSrv.CreateDatabase(context.Background(), strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// database returns a pool on a new, empty database (migrated if migrate
// is set).
func database(t *testing.T, migrate bool) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, freshDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if migrate {
		if _, _, err := Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}
