package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"

	"github.com/coffre/coffre/internal/rotate"
)

func (t *tx) RootKeys(ctx context.Context) ([]rotate.Version, error) {
	rows, err := t.rows(ctx, "rootKeys")
	if err != nil {
		return nil, fmt.Errorf("root keys: %w", err)
	}
	defer rows.Close()
	var out []rotate.Version
	for rows.Next() {
		var v rotate.Version
		var created, retired, done int64
		if err := rows.Scan(&v.Version, &v.Sealed, &created, &retired, &v.Cursor, &v.Rewrapped, &done); err != nil {
			return nil, fmt.Errorf("root keys: %w", err)
		}
		v.Created, v.Retired, v.Done = zeroOrMicros(created), zeroOrMicros(retired), zeroOrMicros(done)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("root keys: %w", err)
	}
	return out, nil
}

func (t *tx) PutRootKey(ctx context.Context, v rotate.Version) error {
	if _, err := t.exec(ctx, "putRootKey", v.Version, v.Sealed, microsOrZero(v.Created), microsOrZero(v.Retired), v.Cursor, v.Rewrapped, microsOrZero(v.Done)); err != nil {
		return fmt.Errorf("put root key: %w", err)
	}
	return nil
}

func (t *tx) WrappedKeys(ctx context.Context, after int64, limit int) ([]rotate.Wrapped, error) {
	rows, err := t.rows(ctx, "wrappedKeys", after, limit)
	if err != nil {
		return nil, fmt.Errorf("wrapped keys: %w", err)
	}
	defer rows.Close()
	var out []rotate.Wrapped
	for rows.Next() {
		var w rotate.Wrapped
		var id *string
		if err := rows.Scan(&w.Seq, &id, &w.Key); err != nil {
			return nil, fmt.Errorf("wrapped keys: %w", err)
		}
		if id != nil {
			w.Subject = *id
		} else {
			w.Subject = t.ids.ID(w.Seq)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wrapped keys: %w", err)
	}
	return out, nil
}

func (t *tx) RewrapKey(ctx context.Context, seq int64, old, new []byte) (bool, error) {
	if t.cache != nil {
		t.changes.changedAll() // by seq: the writer's record is by id
	}
	return t.changed(t.exec(ctx, "rewrapKey", new, seq, old))
}

func (t *tx) WrappedSecrets(ctx context.Context) ([]rotate.Secret, error) {
	rows, err := t.rows(ctx, "wrappedSecrets")
	if err != nil {
		return nil, fmt.Errorf("wrapped secrets: %w", err)
	}
	defer rows.Close()
	var out []rotate.Secret
	for rows.Next() {
		var s rotate.Secret
		if err := rows.Scan(&s.Operator, &s.Sealed); err != nil {
			return nil, fmt.Errorf("wrapped secrets: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wrapped secrets: %w", err)
	}
	return out, nil
}

func (t *tx) RewrapSecret(ctx context.Context, operator string, old, new []byte) (bool, error) {
	return t.changed(t.exec(ctx, "rewrapSecret", new, operator, old))
}

func (t *tx) KeyVersions(ctx context.Context) (map[uint32]int64, error) {
	rows, err := t.rows(ctx, "keyVersions")
	if err != nil {
		return nil, fmt.Errorf("key versions: %w", err)
	}
	defer rows.Close()
	out := map[uint32]int64{}
	for rows.Next() {
		var prefix []byte
		var n int64
		if err := rows.Scan(&prefix, &n); err != nil {
			return nil, fmt.Errorf("key versions: %w", err)
		}
		if len(prefix) == 4 {
			out[binary.BigEndian.Uint32(prefix)] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("key versions: %w", err)
	}
	return out, nil
}

// changed reports whether a compare-and-swap update changed a row.
func (t *tx) changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("rewrap: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
