package auditlog_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"
)

// BenchmarkRecordActivity measures the integrator's recording of the
// records' activity, which reads no longer pay for one by one: 200,000
// records of 1 KB (the bench's size), 100,000 reads of random ones
// integrated, then one RecordActivity pass without rests (the rests only
// spread it out). It reports the pass's time per entry (µs-per-entry) and
// the records touched. b.N is ignored (-benchtime 1x; -count for more).
//
//	go test ./internal/auditlog -run '^$' -bench RecordActivity -benchtime 1x -count 3
func BenchmarkRecordActivity(b *testing.B) {
	const people, reads = 200_000, 100_000
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	fields := bytes.Repeat([]byte{7}, 1000)
	for done := 0; done < people; done += 50_000 {
		err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := done; i < done+50_000; i++ {
				r := &subject.Row{ID: fmt.Sprintf("sub_%026d", i), Unit: "unit-a", DEK: []byte("k"), DEKVersion: 1, Fields: fields, Created: t0, Updated: t0}
				if err := tx.PutSubject(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range reads {
			if err := tx.AppendAudit(ctx, catchUpEntry(i, r)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	in := &auditlog.Integrator{Store: st, Signer: catchUpSigner, MaxBatch: 200_000, Rest: -1, Activity: readDay}
	if _, err := in.Step(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	n, err := in.RecordActivity(ctx)
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(took.Microseconds())/reads, "µs-per-entry")
	b.ReportMetric(float64(n), "records")
}
