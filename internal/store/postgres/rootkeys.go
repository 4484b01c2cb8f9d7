package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/coffre/coffre/internal/rotate"
	"github.com/jackc/pgx/v5"
)

func (t *tx) RootKeys(ctx context.Context) ([]rotate.Version, error) {
	rows, err := t.q.Query(ctx, `SELECT version, sealed, created, retired, cursor, rewrapped, done FROM root_keys ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("root keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rotate.Version, error) {
		var v rotate.Version
		var version, created, retired, done int64
		err := r.Scan(&version, &v.Sealed, &created, &retired, &v.Cursor, &v.Rewrapped, &done)
		v.Version = uint32(version)
		v.Created, v.Retired, v.Done = zeroOrMicros(created), zeroOrMicros(retired), zeroOrMicros(done)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("root keys: %w", err)
	}
	return out, nil
}

func (t *tx) PutRootKey(ctx context.Context, v rotate.Version) error {
	_, err := t.exec(ctx, "put root key", `INSERT INTO root_keys (version, sealed, created, retired, cursor, rewrapped, done) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (version) DO UPDATE SET sealed = $2, created = $3, retired = $4, cursor = $5, rewrapped = $6, done = $7`,
		int64(v.Version), v.Sealed, microsOrZero(v.Created), microsOrZero(v.Retired), v.Cursor, v.Rewrapped, microsOrZero(v.Done))
	return err
}

func (t *tx) WrappedKeys(ctx context.Context, after int64, limit int) ([]rotate.Wrapped, error) {
	rows, err := t.q.Query(ctx, `SELECT seq, id, dek FROM subjects WHERE seq > $1 AND dek IS NOT NULL ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("wrapped keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rotate.Wrapped, error) {
		var w rotate.Wrapped
		var id *string
		err := r.Scan(&w.Seq, &id, &w.Key)
		if id != nil {
			w.Subject = *id
		} else {
			w.Subject = t.ids.ID(w.Seq)
		}
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("wrapped keys: %w", err)
	}
	return out, nil
}

func (t *tx) RewrapKey(ctx context.Context, seq int64, old, new []byte) (bool, error) {
	n, err := t.exec(ctx, "rewrap key", `UPDATE subjects SET dek = $1 WHERE seq = $2 AND dek = $3`, new, seq, old)
	return n > 0, err
}

func (t *tx) WrappedSecrets(ctx context.Context) ([]rotate.Secret, error) {
	rows, err := t.q.Query(ctx, `SELECT id, totp_secret FROM operators WHERE length(totp_secret) > 0 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("wrapped secrets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rotate.Secret, error) {
		var s rotate.Secret
		err := r.Scan(&s.Operator, &s.Sealed)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("wrapped secrets: %w", err)
	}
	return out, nil
}

func (t *tx) RewrapSecret(ctx context.Context, operator string, old, new []byte) (bool, error) {
	n, err := t.exec(ctx, "rewrap secret", `UPDATE operators SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3`, new, operator, old)
	return n > 0, err
}

func (t *tx) KeyVersions(ctx context.Context) (map[uint32]int64, error) {
	rows, err := t.q.Query(ctx, `SELECT substring(dek from 1 for 4), count(*) FROM subjects WHERE dek IS NOT NULL GROUP BY 1
		UNION ALL SELECT substring(totp_secret from 1 for 4), count(*) FROM operators WHERE length(totp_secret) > 0 GROUP BY 1`)
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
