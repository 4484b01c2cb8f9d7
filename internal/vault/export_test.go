package vault

import (
	"context"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// OpenReasons opens the sealed reasons of es as the log's views do, for
// tests that read entries from the store.
func OpenReasons(ctx context.Context, v *Vault, es []audit.Entry) error {
	return v.store.View(ctx, func(ctx context.Context, tx store.Tx) error { return v.openReasons(ctx, tx, es) })
}
