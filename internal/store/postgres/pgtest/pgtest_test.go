package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
)

// schemaSQL is a schema with what a reset must put back: a row the
// migration writes (with an identity column and a default), a sequence it
// advances, a foreign key, and a trigger that writes on insert.
const schemaSQL = `
CREATE TABLE seeded (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v TEXT NOT NULL, b BYTEA, at TIMESTAMPTZ DEFAULT now());
INSERT INTO seeded (v, b) VALUES ('seed', '\x00ff'::bytea);
CREATE SEQUENCE counter;
SELECT setval('counter', 5);
CREATE TABLE data (x BIGINT REFERENCES seeded (id), j JSONB);
CREATE FUNCTION data_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO seeded (v) VALUES ('by trigger'); RETURN NEW; END $$;
CREATE TRIGGER data_seen AFTER INSERT ON data FOR EACH ROW EXECUTE FUNCTION data_seen();
`

// digest names this test's own template (and pool), apart from the
// store's.
var digest = func() string {
	h := sha256.Sum256([]byte("pgtest self-test\n" + schemaSQL))
	return hex.EncodeToString(h[:])
}()

func migrate(ctx context.Context, u string, _ *slog.Logger) ([]store.Migration, error) {
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, schemaSQL)
	return nil, err
}

func open(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// state is what a test can see of the schema's rows and sequences.
func state(t *testing.T, c *pgx.Conn) (seeded []string, data, counter, nextID int64) {
	t.Helper()
	ctx := context.Background()
	rows, err := c.Query(ctx, `SELECT id || ' ' || v || ' ' || encode(b, 'hex') FROM seeded ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if seeded, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, `SELECT count(*) FROM data`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, `SELECT nextval('counter')`).Scan(&counter); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('seeded', 'id'))`).Scan(&nextID); err != nil {
		t.Fatal(err)
	}
	return seeded, data, counter, nextID
}

// TestPoolReset: a pool database a test wrote to, or changed the schema
// of, is handed to the next test as the migrations left it; two holders
// at once get two databases.
func TestPoolReset(t *testing.T) {
	ctx := context.Background()
	var first string
	check := func(t *testing.T, c *pgx.Conn) {
		t.Helper()
		seeded, data, counter, nextID := state(t, c)
		if len(seeded) != 1 || seeded[0] != "1 seed 00ff" || data != 0 || counter != 6 || nextID != 2 {
			t.Errorf("fresh database: seeded %q, %d data rows, counter %d, next id %d; want [1 seed 00ff], 0, 6, 2", seeded, data, counter, nextID)
		}
	}
	t.Run("write", func(t *testing.T) {
		c := open(t, Migrated(t, digest, migrate))
		check(t, c)
		if err := c.QueryRow(ctx, `SELECT current_database()`).Scan(&first); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO data VALUES (1, '{"a": 1}'), (1, NULL)`,
			`INSERT INTO seeded (v) VALUES ('more')`,
			`SELECT nextval('counter')`,
			`UPDATE seeded SET v = 'changed' WHERE id = 1`,
		} {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// A session left open, in a transaction, holding a lock: the next
		// holder ends it.
		straggler, err := pgx.Connect(ctx, databaseURL(first))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := straggler.Exec(ctx, `SELECT pg_advisory_lock(42); BEGIN; INSERT INTO data VALUES (1, NULL)`); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		c := open(t, Migrated(t, digest, migrate))
		var name string
		if err := c.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name != first {
			t.Errorf("got %s, want %s back (no one else holds it)", name, first)
		}
		check(t, c)
		var got bool
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock(42)`).Scan(&got); err != nil || !got {
			t.Errorf("the earlier holder's advisory lock is still held (%v)", err)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE extra (x INT); ALTER TABLE data ADD COLUMN y INT`); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("schema changed", func(t *testing.T) {
		c := open(t, Migrated(t, digest, migrate))
		check(t, c)
		var extra *string
		if err := c.QueryRow(ctx, `SELECT to_regclass('extra')::text`).Scan(&extra); err != nil || extra != nil {
			t.Errorf("table extra = %v (%v), want the database copied again without it", extra, err)
		}
	})
	t.Run("two holders", func(t *testing.T) {
		a, b := Migrated(t, digest, migrate), Migrated(t, digest, migrate)
		if a == b {
			t.Errorf("two holders got the same database %s", a)
		}
		check(t, open(t, b))
	})
}
