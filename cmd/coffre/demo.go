package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/mailsink"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// demoSeed fixes the synthetic directory, so every demo holds the same people.
const demoSeed = 243000

// demoUnit is the demo operators' unit: the first demo person's, so that
// the tour reads inside camille's unit (and caseload).
var demoUnit = synth.Make(demoSeed, 0).Unit

// demoOperators are created on a fresh --dev or demo store, one per role.
var demoOperators = []struct{ name, role string }{
	{"camille", "caseworker"},
	{"lea", "supervisor"},
	{"hugo", "hr-officer"},
	{"sofia", "support"},
	{"sam", "security-officer"},
	{"alex", "auditor"},
	{"root", "admin"},
	{"dominique", "dpo"},
	{"nadia", "analyst"},
}

// demoCaseloadSize is how many people of the demo unit camille is assigned.
const demoCaseloadSize = 300

// demoCaseload returns the loader's callback that assigns camille the
// first demoCaseloadSize people of her unit.
func (a *app) demoCaseload(ctx context.Context) func(first int, ids []string) error {
	var camille string
	a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if op, err := tx.GetOperatorByName(ctx, "camille"); err == nil {
			camille = op.ID
		}
		return nil
	})
	assigned := 0
	return func(first int, ids []string) error {
		if camille == "" || assigned >= demoCaseloadSize {
			return nil
		}
		var mine []string
		for i, id := range ids {
			if synth.Make(demoSeed, first+i).Unit == demoUnit && assigned+len(mine) < demoCaseloadSize {
				mine = append(mine, id)
			}
		}
		assigned += len(mine)
		if len(mine) == 0 {
			return nil
		}
		res, err := a.vault.ChangeCaseload(ctx, identity.Actor{ID: "system", Role: "admin", Origin: "demo"}, vault.CaseloadChange{ID: camille, Rows: vault.CaseloadRows(mine, time.Time{})})
		if err == nil && len(res.Failed) > 0 {
			err = fmt.Errorf("assign camille's caseload: %s", res.Failed[0].Error())
		}
		return err
	}
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	tuneGC()
	fs := newFlags("demo", "[--people N] [--listen ADDR] [--data DIR] [--store URL]", "coffre demo --people 243000", stderr)
	people := fs.Int("people", 243000, "synthetic people to load (once; a second run reuses them)")
	listen := fs.String("listen", "", "listen `address` (default from the demo configuration, 127.0.0.1:8080)")
	data := fs.String("data", "", "data `directory` (default ./coffre-data)")
	store := fs.String("store", "", "a PostgreSQL store (postgres:// `URL`) instead of the SQLite file in the data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *people < 0 || *people > 10_000_000 {
		return &usageError{msg: "--people must be between 0 and 10,000,000"}
	}
	start := time.Now()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data, store: *store, anyHours: true}, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.ensureDemoOperators(ctx, stdout); err != nil {
		return err
	}
	n, err := a.loadDemoPeople(ctx, *people, stderr, a.demoCaseload(ctx))
	if err != nil {
		return err
	}
	addr := a.cfg.Listen
	if *listen != "" {
		addr = *listen
	}
	sink, err := a.demoMail()
	if err != nil {
		return err
	}
	defer sink.Close()
	return a.serve(ctx, addr, func(bound string) {
		fmt.Fprintf(stdout, "\nCoffre demo: %d people ready in %s at http://%s\n", n, time.Since(start).Round(100*time.Millisecond), bound)
		fmt.Fprintf(stdout, "Mail (notices to the people read, and the guard's alerts to the security officer, %s) lands in %s (a local SMTP sink at %s)\n", demoOfficerMail, sink.Dir(), sink.Addr())
		fmt.Fprint(stdout, demoTour(bound, a.cfg.DataDir))
	})
}

// demoOfficerMail is the security officer's address in the demo.
const demoOfficerMail = "sam@security.demo"

// demoMail starts a local SMTP sink that writes each message into the
// data directory's mail/, and has the guard's alerts mailed to the demo
// security officer through it.
func (a *app) demoMail() (*mailsink.Sink, error) {
	sink, err := mailsink.Start(filepath.Join(a.cfg.DataDir, "mail"), "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.cfg.Delivery.SMTP = config.SMTP{Host: "127.0.0.1", Port: sink.Addr().Port, StartTLS: "none", From: "coffre-demo@localhost"}
	a.cfg.Alerts.Email = []string{demoOfficerMail}
	return sink, nil
}

func demoTour(addr, dataDir string) string {
	p0 := synth.Make(demoSeed, 0)
	return fmt.Sprintf(`
In a browser: http://%[1]s/console/ — sign in as camille (password and TOTP
secret in %[2]s/demo-operators.txt; go run ./cmd/coffre totp SECRET gives the
code), then find one person by email_pro %[3]s under case-handling.

Or with curl (the README's tour explains each step):

  CRED=%[2]s/demo-operators.txt      # demo passwords and TOTP secrets
  J='Content-Type: application/json' 
  PW=$(awk '$1=="camille"{print $3}' $CRED); SECRET=$(awk '$1=="camille"{print $4}' $CRED)
  LT=$(curl -s http://%[1]s/v1/auth/login -H "$J" -d "{\"username\":\"camille\",\"password\":\"$PW\"}" | sed 's/.*"login_token":"\([^"]*\)".*/\1/')
  TOKEN=$(curl -s http://%[1]s/v1/auth/totp -H "$J" -d "{\"login_token\":\"$LT\",\"code\":\"$(go run ./cmd/coffre totp $SECRET)\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/')
  ID=$(curl -s http://%[1]s/v1/subjects/lookup -H "$J" -H "Authorization: Bearer $TOKEN" -H 'Coffre-Purpose: directory' -d '{"field":"email_pro","value":"%[3]s"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
  curl -s http://%[1]s/v1/subjects/$ID -H "Authorization: Bearer $TOKEN" -H 'Coffre-Purpose: directory'
  curl -s http://%[1]s/v1/subjects/$ID -H "Authorization: Bearer $TOKEN" -H 'Coffre-Purpose: case-handling' -H 'Coffre-Reason: ticket 4521'
`, addr, dataDir, p0.Fields[synth.EmailPro])
}

// ensureDemoOperators creates the demo operators on an empty store, prints
// their credentials once and keeps them in DataDir/demo-operators.txt
// (0600) so the README tour works on later runs. Demo data only.
func (a *app) ensureDemoOperators(ctx context.Context, stdout io.Writer) error {
	var n int
	if err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountOperators(ctx)
		return err
	}); err != nil {
		return err
	}
	path := filepath.Join(a.cfg.DataDir, "demo-operators.txt")
	if n > 0 {
		if _, err := os.Stat(path); err == nil {
			fmt.Fprintf(stdout, "Demo operators exist; their credentials are in %s\n", path)
		} else {
			fmt.Fprintf(stdout, "Operators exist (not created by the demo); no demo credentials are kept in %s\n", a.cfg.DataDir)
		}
		return nil
	}
	var b strings.Builder
	b.WriteString("# username role password totp-secret (demo only; shown once at creation)\n")
	for _, d := range demoOperators {
		op, err := a.auth.AddReadyOperator(ctx, d.name, "", d.role, demoUnit)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", d.name, d.role, op.Password, op.TOTPSecret)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write demo credentials: %w", err)
	}
	fmt.Fprintf(stdout, "Demo operators created (kept in %s):\n%s", path, b.String())
	return nil
}

// loadDemoPeople imports synthetic people up to want, resuming where an
// earlier run stopped (DataDir/demo-loaded holds the count).
// onIDs, if set, sees the ids of each committed batch, ids[i] being
// synthetic person first+i.
func (a *app) loadDemoPeople(ctx context.Context, want int, stderr io.Writer, onIDs func(first int, ids []string) error) (int, error) {
	mark := filepath.Join(a.cfg.DataDir, "demo-loaded")
	have := 0
	if b, err := os.ReadFile(mark); err == nil {
		have, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if have >= want {
		return have, nil
	}
	actor := identity.Actor{ID: "system", Role: "admin", Origin: "demo"}
	start := time.Now()
	const batch = 20000
	next, loaded := have, have
	var starts []int // the first person of each batch in flight
	err := a.vault.ImportAll(ctx, actor, func() ([]vault.ImportRow, error) {
		end := min(next+batch, want)
		starts = append(starts, next)
		rows := make([]vault.ImportRow, 0, end-next)
		for j := next; j < end; j++ {
			p := synth.Make(demoSeed, j)
			rows = append(rows, vault.ImportRow{Num: j + 1, Unit: p.Unit, Fields: p.Fields})
		}
		next = end
		return rows, nil
	}, func(ids []string, failed []vault.RowError) error {
		if len(failed) > 0 {
			return fmt.Errorf("%s (and %d more)", failed[0].Error(), len(failed)-1)
		}
		first := starts[0]
		starts = starts[1:]
		if onIDs != nil {
			if err := onIDs(first, ids); err != nil {
				return err
			}
		}
		loaded += len(ids)
		if err := os.WriteFile(mark, []byte(strconv.Itoa(loaded)), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "\rloading demo people: %d/%d (%.0f/s)", loaded, want, float64(loaded-have)/time.Since(start).Seconds())
		return nil
	})
	if err != nil {
		return loaded, fmt.Errorf("load demo people: %w", err)
	}
	fmt.Fprintln(stderr)
	return want, nil
}
