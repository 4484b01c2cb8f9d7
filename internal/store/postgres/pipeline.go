package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pipeline queues statements to send in one round trip (a pgx batch,
// which PostgreSQL runs in order and stops at the first that fails) and
// reads their results in order. The writer sends a group's deferred
// writes and its records' check so, just before COMMIT: on a machine
// where the node and PostgreSQL share the cores, each round trip of the
// one writer is two wake-ups that every read of the group waits for.
type pipeline struct {
	b     pgx.Batch
	reads []func(pgx.BatchResults) error
}

// exec queues a statement whose rows changed are not needed; what names
// it in an error.
func (p *pipeline) exec(what, sql string, args ...any) {
	p.b.Queue(sql, args...)
	p.reads = append(p.reads, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

// row queues a statement whose one row scan reads.
func (p *pipeline) row(sql string, scan func(pgx.Row) error, args ...any) {
	p.b.Queue(sql, args...)
	p.reads = append(p.reads, func(br pgx.BatchResults) error { return scan(br.QueryRow()) })
}

// send runs the queued statements on q and returns the first error.
func (p *pipeline) send(ctx context.Context, q querier) error {
	if len(p.reads) == 0 {
		return nil
	}
	br := q.SendBatch(ctx, &p.b)
	for _, read := range p.reads {
		if err := read(br); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}
