package vault_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
)

// TestPendingExtensions: a supervisor sees the requests of their unit
// waiting for approval, a first approval still waiting, an approved one
// gone; another unit's supervisor sees none of them; a caseworker is
// refused; each list and the refusal are audited.
func TestPendingExtensions(t *testing.T) {
	g := newGuarded(t)
	sup := identity.Actor{ID: "op_s1", Role: "supervisor", Unit: "u1", Origin: "10.0.0.8"}
	far := identity.Actor{ID: "op_s9", Role: "supervisor", Unit: "u9", Origin: "10.0.0.9"}
	ids := func(l []guard.Extension) []string {
		var out []string
		for _, e := range l {
			out = append(out, e.ID)
		}
		return out
	}
	first, err := g.v.RequestExtension(ctx, cw, 20, 4, "relance des dossiers")
	if err != nil {
		t.Fatal(err)
	}
	g.clock.Add(time.Second)
	second, err := g.v.RequestExtension(ctx, cw, 30, 2, "campagne")
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.v.PendingExtensions(ctx, sup)
	if err != nil || !slices.Equal(ids(l), []string{first.ID, second.ID}) || l[0].Subjects != 20 || l[0].Hours != 4 || l[0].Reason != "relance des dossiers" || l[0].Operator != cw.ID {
		t.Fatalf("PendingExtensions = %+v, %v; want both requests, oldest first", l, err)
	}
	if l, err := g.v.PendingExtensions(ctx, far); err != nil || len(l) != 0 {
		t.Errorf("another unit's supervisor: %+v, %v; want none", l, err)
	}
	if _, err := g.v.PendingExtensions(ctx, cw); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("a caseworker's list: %v, want ErrForbidden", err)
	}
	if _, err := g.v.ApproveExtension(ctx, sup, first.ID); err != nil {
		t.Fatal(err)
	}
	if l, err := g.v.PendingExtensions(ctx, sup); err != nil || !slices.Equal(ids(l), []string{second.ID}) {
		t.Errorf("after approving the first: %+v, %v", l, err)
	}
	if got, want := g.decisions("extension.list"), []string{"allow", "allow", "deny:forbidden", "allow"}; !slices.Equal(got, want) {
		t.Errorf("audited %q, want %q", got, want)
	}
}
