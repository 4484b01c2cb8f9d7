package vault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// TestReadAfterAChangeSinceItsPreRead: a read reads its subject's row
// before its transaction, beside the store's writer; a change committed
// in between must show, never the row as it was.
func TestReadAfterAChangeSinceItsPreRead(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, v *vault.Vault, s store.Store, id string, unit string)
		check  func(t *testing.T, view *vault.View, err error)
	}{
		{"updated", func(t *testing.T, v *vault.Vault, _ store.Store, id, unit string) {
			cw := identity.Actor{ID: "op_cw2", Role: "caseworker", Unit: unit, Origin: "127.0.0.1"}
			neuve := "Juriste"
			if _, err := v.Update(ctx, cw, id, "case-update", "ticket 9", map[string]*string{"job_title": &neuve}); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, view *vault.View, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if got := view.Fields["job_title"]; got != "Juriste" {
				t.Errorf("job_title = %q, want the value written after the pre-read", got)
			}
		}},
		{"erased", func(t *testing.T, v *vault.Vault, _ store.Store, id, _ string) {
			if err := v.Erase(ctx, hr, id, "ticket 10"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, view *vault.View, err error) {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("read of a record erased after its pre-read = %v, %v; want not found", view, err)
			}
		}},
		{"restricted", func(t *testing.T, _ *vault.Vault, s store.Store, id, _ string) {
			if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				return tx.PutLimit(ctx, rights.Limit{Subject: id, Kind: rights.LimitRestricted, Target: "req_1", Created: time.Now()})
			}); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, view *vault.View, err error) {
			if !errors.Is(err, access.ErrRestricted) {
				t.Errorf("read of a record restricted after its pre-read = %v, %v; want refused as restricted", view, err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, fs := newVault(t)
			id, p := create(t, v, 1)
			once := false
			vault.AfterPreRead(v, func() {
				if !once {
					once = true
					c.change(t, v, fs, id, p.Unit)
				}
			})
			view, err := v.Read(ctx, worker, id, "directory", "")
			if !once {
				t.Fatal("the read made no pre-read")
			}
			c.check(t, view, err)
		})
	}
}
