package vault

import (
	"context"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// OpenReasons opens the sealed reasons of es as the log's views do, for
// tests that read entries from the store.
func OpenReasons(ctx context.Context, v *Vault, es []audit.Entry) error {
	return v.store.View(ctx, func(ctx context.Context, tx store.Tx) error { return v.openReasons(ctx, tx, es) })
}

// FieldNames lists the fields a stored row holds (their names are in
// clear in the sealed blob), for the external tests.
func FieldNames(row *subject.Row) ([]string, error) {
	var names []string
	err := eachField(row.Fields, func(name string, _ []byte) error {
		names = append(names, name)
		return nil
	})
	return names, err
}

// AfterPreRead makes v call f between a read's pre-read of the subject's
// row and its transaction.
func AfterPreRead(v *Vault, f func()) { v.afterPreRead = f }
