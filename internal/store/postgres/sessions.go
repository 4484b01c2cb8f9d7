package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/internal/store/sessioncache"
)

// watchedTx is the writer's transaction, or a savepoint of it, noting in
// *wrote whether a statement wrote the tables a cached session is read
// from (sessioncache.Writes): the writer then moves the store's session
// cache on after the group's COMMIT, before it answers the group's
// callers. Every statement of a group goes through it, so no statement
// can be forgotten; a bulk import's COPY (Conn, never into sessions or
// operators) does not.
type watchedTx struct {
	pgx.Tx
	wrote *bool
}

func (w watchedTx) note(sql string) {
	if !*w.wrote && sessioncache.Writes(sql) {
		*w.wrote = true
	}
}

func (w watchedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	w.note(sql)
	return w.Tx.Exec(ctx, sql, args...)
}

func (w watchedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	w.note(sql)
	return w.Tx.Query(ctx, sql, args...)
}

func (w watchedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	w.note(sql)
	return w.Tx.QueryRow(ctx, sql, args...)
}

func (w watchedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	for _, q := range b.QueuedQueries {
		w.note(q.SQL)
	}
	return w.Tx.SendBatch(ctx, b)
}
