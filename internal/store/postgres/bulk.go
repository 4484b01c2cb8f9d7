package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// The import's bulk writes (subject.Bulk) are COPY statements in
// PostgreSQL's binary format, encoded here: the rows stream to the server
// in 64 KiB messages as they are encoded, where a multi-row INSERT …
// unnest sends each column as one array parameter (tens of megabytes
// built, and grown, in memory first), and the server writes several heap
// rows per WAL record (heap_multi_insert) instead of one. COPY has no ON
// CONFLICT: a taken or repeated key fails the statement, which is what
// both methods report (ErrConflict).

// copier is a transaction, or a savepoint, that can COPY (pgx.Tx); the
// pool a View runs on is not one.
type copier interface {
	Conn() *pgx.Conn
	Begin(ctx context.Context) (pgx.Tx, error)
}

// copyTx returns the transaction's COPY, or an error in a View.
func (t *tx) copyTx(what string) (copier, error) {
	c, ok := t.q.(copier)
	if !ok || !t.write {
		return nil, fmt.Errorf("%s: not in an Update", what)
	}
	return c, nil
}

// copyIn runs COPY sql FROM STDIN with n rows, row appending the i-th in
// the binary format, and returns the rows the server wrote. A unique
// violation is ErrConflict.
func copyIn(ctx context.Context, c copier, what, sql string, n int, row func(b []byte, i int) []byte) (int64, error) {
	tag, err := c.Conn().PgConn().CopyFrom(ctx, &copyRows{n: n, row: row}, sql+` FROM STDIN (FORMAT binary)`)
	if err != nil {
		if isUnique(err) {
			return 0, fmt.Errorf("%s: %w", what, store.ErrConflict)
		}
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return tag.RowsAffected(), nil
}

// copyRows is a binary COPY stream of n rows, encoded as it is read.
type copyRows struct {
	n, i int                          // rows; rows encoded
	row  func(b []byte, i int) []byte // appends row i
	buf  []byte                       // encoded, from off on not yet read
	off  int
	done bool // the trailer is in buf
}

// copyHeader opens a binary COPY stream: the signature, no flags, no
// header extension.
const copyHeader = "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"

func (c *copyRows) Read(p []byte) (int, error) {
	if c.buf == nil {
		c.buf = append(make([]byte, 0, 2*len(p)), copyHeader...)
	}
	if len(c.buf)-c.off < len(p) && !c.done {
		c.buf = c.buf[:copy(c.buf, c.buf[c.off:])]
		c.off = 0
		for len(c.buf) < len(p) && !c.done {
			if c.i < c.n {
				c.buf = c.row(c.buf, c.i)
				c.i++
			} else {
				c.buf = append(c.buf, 0xff, 0xff) // the trailer: -1 fields
				c.done = true
			}
		}
	}
	if c.off == len(c.buf) {
		return 0, io.EOF
	}
	k := copy(p, c.buf[c.off:])
	c.off += k
	return k, nil
}

// Binary COPY fields: each a length (-1: NULL) and the value's bytes.

func copyInt8(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(v))
}

// copyBytes appends a bytea (nil: NULL, as pgx sends it).
func copyBytes(b, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}

// copyText appends a text in the connection's encoding (UTF-8, as pgx
// sets it).
func copyText(b []byte, v string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}

// PutIndexes writes the entries with one COPY in a savepoint: a taken or
// repeated hash fails the COPY, the savepoint rolls back, and the
// transaction goes on without any of the entries (subject.Bulk's
// contract).
func (t *tx) PutIndexes(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error {
	if len(hashes) != len(subjects) {
		return fmt.Errorf("put indexes: %d hashes for %d subjects", len(hashes), len(subjects))
	}
	if len(hashes) == 0 {
		return nil
	}
	for _, h := range hashes {
		if _, err := hashKey(h); err != nil {
			return fmt.Errorf("put indexes: %w", err)
		}
	}
	seqs := make([]int64, len(subjects))
	for i, id := range subjects {
		n, ok := t.ids.Seq(id)
		if !ok {
			return t.putIndexesOneByOne(ctx, gen, hashes, subjects)
		}
		seqs[i] = n
	}
	c, err := t.copyTx("put indexes")
	if err != nil {
		return err
	}
	if err := t.bulk(ctx); err != nil {
		return err
	}
	sp, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("put indexes: savepoint: %w", err)
	}
	g := int64(gen)
	_, err = copyIn(ctx, sp, "put indexes", `COPY lookup (hash, subject, gen)`, len(hashes), func(b []byte, i int) []byte {
		b = binary.BigEndian.AppendUint16(b, 3)
		// A uuid's binary form is its 16 bytes, as a bytea's would be.
		return copyInt8(copyInt8(copyBytes(b, hashes[i]), seqs[i]), g)
	})
	if err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return fmt.Errorf("put indexes: %w", errors.Join(err, rerr))
		}
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("put indexes: release savepoint: %w", err)
	}
	return nil
}

// putIndexesOneByOne is PutIndexes for subjects with ids given from
// elsewhere.
func (t *tx) putIndexesOneByOne(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error {
	for i := range hashes {
		err := t.PutIndex(ctx, gen, hashes[i], subjects[i])
		if errors.Is(err, store.ErrConflict) {
			for j := range i {
				seq, given := t.subject(subjects[j])
				key, _ := hashKey(hashes[j]) // PutIndex took it
				if _, err := t.exec(ctx, "put indexes: undo", `DELETE FROM lookup WHERE hash = $3 AND subject = `+subjectSeq, seq, given, key); err != nil {
					return err
				}
			}
			return fmt.Errorf("put indexes: %w", store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("put indexes: %w", err)
		}
	}
	return nil
}

// PutSubjects writes the rows with one COPY. A taken id fails it, and
// with it the transaction (subject.Bulk's contract: the caller fails its
// transaction).
func (t *tx) PutSubjects(ctx context.Context, rows []*subject.Row) error {
	if len(rows) == 0 {
		return nil
	}
	c, err := t.copyTx("put subjects")
	if err != nil {
		return err
	}
	if err := t.bulk(ctx); err != nil {
		return err
	}
	seqs := make([]int64, len(rows))
	given := make([]bool, len(rows)) // an id given from elsewhere, kept in the row
	for i, s := range rows {
		seq, g, err := t.newRow(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("put subjects: %w", err)
		}
		seqs[i] = seq
		given[i] = g != nil
	}
	n, err := copyIn(ctx, c, "put subjects", `COPY subjects (seq, id, unit, dek, dek_version, fields, created, updated)`, len(rows), func(b []byte, i int) []byte {
		s := rows[i]
		b = copyInt8(binary.BigEndian.AppendUint16(b, 8), seqs[i])
		if given[i] {
			b = copyText(b, s.ID)
		} else {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
		}
		b = copyBytes(copyText(b, s.Unit), s.DEK)
		b = copyBytes(copyInt8(b, int64(s.DEKVersion)), s.Fields)
		return copyInt8(copyInt8(b, micros(s.Created)), micros(s.Updated))
	})
	if err != nil {
		return err
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("put subjects: %d of %d written", n, len(rows))
	}
	return nil
}
