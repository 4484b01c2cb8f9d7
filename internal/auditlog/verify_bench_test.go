package auditlog_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store/sqlite"
)

// BenchmarkVerify measures full verification per entry (b.N entries).
func BenchmarkVerify(b *testing.B) {
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{5}, 32))
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range b.N {
			tx.AppendAudit(ctx, &audit.Entry{Time: t0.Add(time.Duration(i)), Actor: "op_bench", Action: "read",
				Subject: "sub_00000000000000000000000000", Purpose: "case-handling", Fields: []string{"given_name", "phone"}, Decision: "allow", Origin: "127.0.0.1"})
		}
		return nil
	})
	in := &auditlog.Integrator{Store: st, Signer: signer, MaxBatch: 1 << 30}
	if _, err := in.Step(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := auditlog.Verify(ctx, st, signer.VerifierKey()); err != nil {
		b.Fatal(err)
	}
}
