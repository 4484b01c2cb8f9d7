package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/subject"
)

// A record read before its access's group (subject.Stamped), on the pool
// beside the writer, is stamped with its row version's xmin: every UPDATE
// of a PostgreSQL row makes a new version, with the xmin of the
// transaction that wrote it, and a change to the person's limits touches
// the row too (touchSubject). Inside the group, Unchanged cannot ask the
// server without the round trip the pre-read saves, so it says yes and
// notes the stamp; just before COMMIT the group checks every stamp it
// noted in one statement (queueFresh). A row changed since its pre-read
// (by another node, by an earlier function of the same group, or by a
// transaction that committed in between) fails the group with errStale,
// and the group runs again without trusting any pre-read: each access
// then reads its row in the transaction, as it did before. What an access
// decides on is therefore the row as it is at the group's end, as if read
// there.

// errStale fails a group one of whose pre-read rows changed since it was
// read; the store runs the group again, reading every row itself.
var errStale = errors.New("a record read before its transaction changed since")

// freshCheck is a stamp Unchanged accepted, to verify before COMMIT.
type freshCheck struct {
	seq   int64
	stamp uint64
}

var (
	_ subject.Stamped = (*tx)(nil)
	_ subject.Fresh   = (*tx)(nil)
)

func (t *tx) GetSubjectStamped(ctx context.Context, id string) (*subject.Row, bool, uint64, error) {
	var xmin int64
	var limited bool
	seq, given := t.subject(id)
	s, err := scanSubject(t.q.QueryRow(ctx, `SELECT `+subjectColumns+`, xmin::text::bigint, EXISTS (SELECT 1 FROM person_limits WHERE subject = $3)
		FROM subjects WHERE seq = `+subjectSeq+` AND `+sameID, seq, given, id), id, &xmin, &limited)
	if err != nil {
		return nil, false, 0, err
	}
	return s, limited, uint64(xmin), nil
}

// Unchanged accepts a record read under stamp for a write transaction of
// a group, and notes it for queueFresh; it refuses one with an id given
// from elsewhere, and every one in a group run again after errStale.
func (t *tx) Unchanged(id string, stamp uint64) bool {
	if !t.write || t.g == nil || t.g.distrust {
		return false
	}
	n, ok := t.ids.Seq(id)
	if !ok {
		return false
	}
	t.g.fresh = append(t.g.fresh, freshCheck{seq: n, stamp: stamp})
	return true
}

// queueFresh queues the check, in the group's transaction just before
// its COMMIT, that every record Unchanged accepted is still the version
// read: the pipeline fails with errStale if one is not.
func (t *tx) queueFresh(p *pipeline) {
	n := len(t.g.fresh)
	if n == 0 {
		return
	}
	seqs, stamps := make([]int64, n), make([]int64, n)
	for i, c := range t.g.fresh {
		seqs[i], stamps[i] = c.seq, int64(c.stamp)
	}
	p.row(`SELECT count(*) FROM unnest($1::bigint[], $2::bigint[]) AS v(seq, stamp)
		JOIN subjects s ON s.seq = v.seq AND s.xmin::text::bigint = v.stamp`, func(r pgx.Row) error {
		var same int
		if err := r.Scan(&same); err != nil {
			return fmt.Errorf("verify records read before the transaction: %w", err)
		} else if same != n {
			return errStale
		}
		return nil
	}, seqs, stamps)
}

// touchSubject makes a new version of subject id's row, unchanged, so
// that a pre-read of it no longer verifies: a change to the person's
// limits on the record, which the pre-read reads with it.
func (t *tx) touchSubject(ctx context.Context, id string) error {
	seq, given := t.subject(id)
	if _, err := t.q.Exec(ctx, `UPDATE subjects SET updated = updated WHERE seq = `+subjectSeq+` AND `+sameID, seq, given); err != nil {
		return fmt.Errorf("touch record: %w", err)
	}
	return nil
}
