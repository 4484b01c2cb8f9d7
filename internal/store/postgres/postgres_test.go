package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/store/storetest"
	"github.com/coffre/coffre/internal/vault"
)

// testURL is the server the tests use: COFFRE_TEST_POSTGRES, or the
// machine's own (trust authentication, database test).
func testURL() string {
	if u := os.Getenv("COFFRE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshSchema makes an empty schema of its own for one test and returns
// the URL of the server with that schema first on the search path. Without
// a server the test is skipped, unless COFFRE_REQUIRE_POSTGRES is set (CI).
func freshSchema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		if os.Getenv("COFFRE_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL at %s: %v", redact(testURL()), err)
		}
		t.Skipf("no PostgreSQL at %s (%v); set COFFRE_TEST_POSTGRES", redact(testURL()), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "coffre_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshSchema(t), Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store { return openTest(t) })
}
