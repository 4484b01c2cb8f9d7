package vault_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/vault"
)

// TestReasonsAreChecked: every path that takes a typed reason refuses one
// that is too long, holds control characters or does not begin with the
// configured pattern, with a hint, and audits the refusal.
func TestReasonsAreChecked(t *testing.T) {
	v, fs := newVaultWith(t, func(c *vault.Config) {
		c.ReasonMaxLen = 40
		c.ReasonPattern, c.ReasonPatternText = regexp.MustCompile(`^(?:[A-Z]+-[0-9]+)`), "[A-Z]+-[0-9]+"
	})
	id, p := create(t, v, 3)
	paths := map[string]func(reason string) error{
		"read": func(r string) error { _, err := v.Read(ctx, worker, id, "case-handling", r); return err },
		"break-glass": func(r string) error {
			_, err := v.BreakGlass(ctx, worker, id, "case-handling", r, "malaise")
			return err
		},
		"lookup": func(r string) error {
			_, err := v.Lookup(ctx, worker, "case-handling", r, "email_pro", p.Fields["email_pro"])
			return err
		},
		"update": func(r string) error {
			x := "Note"
			_, err := v.Update(ctx, hr, id, "hr-admin", r, map[string]*string{"given_name": &x})
			return err
		},
		"erase": func(r string) error { return v.Erase(ctx, hr, id, r) },
	}
	bad := map[string]string{
		"too long":         "OPS-1 " + strings.Repeat("x", 40),
		"control":          "OPS-1\nsecond line",
		"tab":              "OPS-1\tx",
		"pattern":          "ticket 12",
		"invalid UTF-8":    "OPS-1 \xff",
		"pattern not head": "see OPS-12",
	}
	for path, do := range paths {
		for name, reason := range bad {
			t.Run(path+"/"+name, func(t *testing.T) {
				before := len(auditEntries(t, fs))
				err := do(reason)
				if !errors.Is(err, access.ErrInvalid) || public.Hint(err, "") == "" && name != "invalid UTF-8" {
					t.Fatalf("%s with a reason %s: %v, want invalid input with a hint", path, name, err)
				}
				if strings.Contains(err.Error(), reason) {
					t.Errorf("the error quotes the reason: %v", err)
				}
				es := auditEntries(t, fs)
				if len(es) != before+1 || es[len(es)-1].Decision != "deny:invalid" {
					t.Fatalf("refusal not audited deny:invalid: %d → %d entries", before, len(es))
				}
			})
		}
	}
	if _, err := v.Read(ctx, worker, id, "case-handling", "OPS-12 call back"); err != nil {
		t.Errorf("a reason beginning with a ticket id: %v", err)
	}
	if _, err := v.Read(ctx, worker, id, "case-handling", ""); err != nil {
		t.Errorf("no reason, where the purpose asks none: %v", err)
	}
}
