package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// lifecycleExample is the example of the acts' help.
const lifecycleExample = "coffre operator disable marie --reason 'left the agency (HR-1234)' --dev"

// lifecycleStatus is what an account is after an act.
var lifecycleStatus = map[auth.Act]string{auth.Disable: "disabled", auth.Enable: "enabled", auth.Delete: "deleted", auth.Lock: "locked"}

// maxReason bounds --reason, as reason_max_len bounds the API's reasons.
const maxReason = 200

// runLifecycle runs coffre operator disable|enable|delete|lock.
func runLifecycle(ctx context.Context, act auth.Act, args []string, stdout, stderr io.Writer) error {
	synopsis := "USERNAME|ID [--reason TEXT] [--dev | --config FILE] [--json]"
	if act == auth.Lock {
		synopsis = "USERNAME|ID --reason TEXT [--dev | --config FILE] [--json]"
	}
	fs := newFlags("operator "+string(act), synopsis, lifecycleExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	reason := fs.String("reason", "", "why (a ticket or case number), kept in the audit log; required to lock")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, argFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || !validUsername(fs.Arg(0)) {
		return &usageError{msg: "want one username or operator id (a-z, 0-9, '.', '-', '_')", hint: lifecycleExample}
	}
	ref := fs.Arg(0)
	switch r := *reason; {
	case len(r) > maxReason || !utf8.ValidString(r) || strings.ContainsFunc(r, unicode.IsControl):
		return &usageError{msg: fmt.Sprintf("--reason: printable text of at most %d bytes", maxReason)}
	case act == auth.Lock && strings.TrimSpace(r) == "":
		return &usageError{msg: "a lock needs a --reason", hint: "coffre operator lock marie --reason 'phishing report 42' --dev"}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	id, err := a.auth.Lifecycle(ctx, auth.Host, a.cfg.Policy, act, ref, *reason)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &usageError{msg: fmt.Sprintf("no operator %q", ref), hint: "coffre operator review lists the accounts"}
	case errors.Is(err, store.ErrConflict), errors.Is(err, access.ErrInvalid), errors.Is(err, access.ErrForbidden):
		return &usageError{msg: public.Message(err, "refused")}
	case err != nil:
		return err
	}
	status := lifecycleStatus[act]
	if *asJSON {
		return writeJSON(stdout, map[string]any{"operator": ref, "id": id, "status": status})
	}
	switch act {
	case auth.Enable:
		fmt.Fprintf(stdout, "operator %s (%s) enabled\n", ref, id)
	case auth.Delete:
		fmt.Fprintf(stdout, "operator %s (%s) deleted: its identity is erased, its id stays in the audit log\n", ref, id)
	case auth.Lock:
		fmt.Fprintf(stdout, "operator %s (%s) locked; its sessions are ended, a security officer lifts the lock\n", ref, id)
	default:
		fmt.Fprintf(stdout, "operator %s (%s) %s; its sessions are ended\n", ref, id, status)
	}
	return nil
}

// reviewWindow is how far back the review counts reads.
const reviewWindow = 30 * 24 * time.Hour

// runReview runs coffre operator review: the recertification report.
func runReview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre operator review --dev"
	fs := newFlags("operator review", "[--dev | --config FILE] [--json]", example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "review takes no argument: it lists every account", hint: example}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	rows, err := a.auth.Review(ctx, auth.Host, reviewWindow)
	if err != nil {
		return err
	}
	if *asJSON {
		if rows == nil {
			rows = []auth.ReviewRow{}
		}
		return writeJSON(stdout, map[string]any{"generated": a.now().UTC().Format(time.RFC3339), "reads_days": 30, "operators": rows})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tUNIT\tCREATED\tLAST LOGIN\tSTATE\tCASELOAD\tREADS 30D")
	var active int
	for _, r := range rows {
		last := "never"
		if !r.LastLogin.IsZero() {
			last = r.LastLogin.Format(time.DateOnly)
		}
		st := state(r)
		if st == "active" {
			active++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.ID, r.Username, r.Role, r.Unit, r.Created.Format(time.DateOnly), last, st, r.Caseload, r.Reads)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d accounts, %d active. Each account's manager confirms it is still needed, with this role and unit;\n"+
		"disable or delete the others (coffre operator disable|delete USERNAME).\n", len(rows), active)
	return nil
}

// state is an account's state in the review: active, or what it is.
func state(r auth.ReviewRow) string {
	var s []string
	if r.Partner {
		s = append(s, "partner")
	}
	switch {
	case !r.Deleted.IsZero():
		s = append(s, "deleted")
	case r.Disabled:
		s = append(s, "disabled")
	case r.Inactive:
		s = append(s, "inactive")
	case r.Pending:
		s = append(s, "pending")
	}
	if r.Locked != "" && r.Deleted.IsZero() {
		s = append(s, "locked:"+r.Locked)
	}
	if len(s) == 0 || len(s) == 1 && r.Partner {
		s = append(s, "active")
	}
	return strings.Join(s, ",")
}

// now is the app's clock.
func (a *app) now() time.Time {
	if a.auth.Now != nil {
		return a.auth.Now()
	}
	return time.Now()
}

// sweepEvery is how often serve disables the accounts without a login
// within login.disable_after.
const sweepEvery = time.Hour

// sweepInactive disables inactive accounts now and then every sweepEvery
// until ctx ends (the login attempt disables them too; the sweep makes it
// visible in the list and the review, and audited when it happens). The
// channel it returns closes when it stops.
func (a *app) sweepInactive(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if a.auth.DisableAfter <= 0 {
			return
		}
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		for {
			switch n, err := a.auth.DisableInactive(ctx); {
			case err != nil && ctx.Err() == nil:
				a.log.Warn("disabling inactive accounts", "error", err)
			case n > 0:
				a.log.Info("disabled accounts without a login", "count", n, "after", a.auth.DisableAfter.String())
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}
