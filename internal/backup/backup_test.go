package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"
)

func TestKeysRoundTripAndCut(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	want := []Key{{Seq: 1, Version: 1, DEK: []byte("wrapped-1")}, {Seq: 7, Version: 2, DEK: []byte("wrapped-7")}}
	var buf bytes.Buffer
	if err := writeKeys(&buf, []age.Recipient{id.Recipient()}, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadKeys(bytes.NewReader(buf.Bytes()), []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b Key) bool { return a.Seq == b.Seq && a.Version == b.Version && bytes.Equal(a.DEK, b.DEK) }) {
		t.Fatalf("ReadKeys = %v, want %v", got, want)
	}
	for _, n := range []int{buf.Len() - 1, buf.Len() / 2} {
		if _, err := ReadKeys(bytes.NewReader(buf.Bytes()[:n]), []age.Identity{id}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadKeys of %d of %d bytes: err = %v, want ErrCorrupt", n, buf.Len(), err)
		}
	}
}

func TestEmpty(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	if ok, err := Empty(ctx, path); !ok || err != nil {
		t.Fatalf("Empty(absent) = %v, %v", ok, err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE audit (seq INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if ok, err := Empty(ctx, path); !ok || err != nil {
		t.Fatalf("Empty(no rows) = %v, %v", ok, err)
	}
	if _, err := db.Exec(`INSERT INTO audit VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if ok, err := Empty(ctx, path); ok || err != nil {
		t.Fatalf("Empty(one audit entry) = %v, %v", ok, err)
	}
}
