// Package pgtest gives a test a PostgreSQL schema of its own on the test
// server, so that tests of several packages share one server without
// seeing each other's tables.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL is the server tests use: COFFRE_TEST_POSTGRES, or the
// machine's own (trust authentication, database test).
func ServerURL() string {
	if u := os.Getenv("COFFRE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Schema makes an empty schema, named prefix and random hex, dropped at
// the end of the test, and returns the server's URL with that schema
// first on the search path, and the schema's name. Without a server the
// test is skipped, unless COFFRE_REQUIRE_POSTGRES is set (CI), when it
// fails.
func Schema(t testing.TB, prefix string) (pgURL, schema string) {
	t.Helper()
	u, schema := create(t, prefix, "CREATE SCHEMA %s", "DROP SCHEMA %s CASCADE")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// Database makes an empty database of the test server, named prefix and
// random hex, dropped at the end of the test, and returns its URL: for
// the tools that take no search path (psql, pg_dump, pg_restore). It
// skips or fails as Schema does.
func Database(t testing.TB, prefix string) string {
	t.Helper()
	u, name := create(t, prefix, "CREATE DATABASE %s", "DROP DATABASE IF EXISTS %s WITH (FORCE)")
	u.Path = "/" + name
	return u.String()
}

// create runs makeSQL on the server for a new name, prefix and random
// hex, and dropSQL at the end of the test; it returns the server's URL
// and the name.
func create(t testing.TB, prefix, makeSQL, dropSQL string) (*url.URL, string) {
	t.Helper()
	base := ServerURL()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("COFFRE_TEST_POSTGRES: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("COFFRE_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL at %s: %v", u.Redacted(), err)
		}
		t.Skipf("no PostgreSQL at %s (%v); set COFFRE_TEST_POSTGRES", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, fmt.Sprintf(makeSQL, name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), fmt.Sprintf(dropSQL, name))
	})
	return u, name
}
