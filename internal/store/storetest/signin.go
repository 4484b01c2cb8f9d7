package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectauth"
)

// signin checks what subject sign-in keeps: one-time codes (round trip,
// attempts counted, spent once), the limits of a contact key (counts
// that restart with their window, a lock that clears the failures), the
// persons' sessions, and the purge of what has run out.
func signin(t *testing.T, s store.Store) {
	tok, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	code := &subjectauth.Code{Token: tok, Contact: "c:abc", Subject: "sub_a", Hash: []byte("hash"), Created: t0, Expires: t0.Add(10 * time.Minute)}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutSigninCode(ctx, code); err != nil {
			return err
		}
		return tx.PutSigninCode(ctx, &subjectauth.Code{Token: other, Contact: "c:def", Hash: []byte("h2"), Created: t0, Expires: t0.Add(time.Minute)})
	})
	get := func(token []byte) (*subjectauth.Code, error) {
		var c *subjectauth.Code
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			c, err = tx.GetSigninCode(ctx, token)
			return err
		})
		return c, err
	}
	if c, err := get(tok); err != nil || c.Contact != "c:abc" || c.Subject != "sub_a" || string(c.Hash) != "hash" ||
		!c.Created.Equal(t0) || !c.Expires.Equal(code.Expires) || c.Attempts != 0 || !c.Used.IsZero() {
		t.Errorf("GetSigninCode = %+v, %v; want the code put", c, err)
	}
	if c, err := get(other); err != nil || c.Subject != "" {
		t.Errorf("GetSigninCode of a code for nobody = %+v, %v; want no subject", c, err)
	}
	if _, err := get([]byte("none")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSigninCode of an unknown token: %v, want ErrNotFound", err)
	}

	// Attempts: each counted, concurrent ones too.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.SigninCodeAttempt(ctx, tok)
				return err
			}); err != nil {
				t.Errorf("SigninCodeAttempt: %v", err)
			}
		})
	}
	wg.Wait()
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.SigninCodeAttempt(ctx, tok)
		return err
	})
	if n != 9 {
		t.Errorf("after 8 concurrent attempts and one more, SigninCodeAttempt = %d, want 9", n)
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.SigninCodeAttempt(ctx, []byte("none"))
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SigninCodeAttempt of an unknown token: %v, want ErrNotFound", err)
	}
	spend := func(token []byte) bool {
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.SpendSigninCode(ctx, token, t0.Add(time.Minute))
			return err
		})
		return ok
	}
	if !spend(tok) || spend(tok) || spend([]byte("none")) {
		t.Error("SpendSigninCode: want true once, then false, and false for no code")
	}
	if c, err := get(tok); err != nil || !c.Used.Equal(t0.Add(time.Minute)) {
		t.Errorf("a spent code = %+v, %v; want used at %v", c, err, t0.Add(time.Minute))
	}

	// Limits.
	limit := func(fn func(ctx context.Context, tx store.Tx) (subjectauth.Limit, error)) subjectauth.Limit {
		t.Helper()
		var l subjectauth.Limit
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			l, err = fn(ctx, tx)
			return err
		})
		return l
	}
	request := func(at time.Time) subjectauth.Limit {
		return limit(func(ctx context.Context, tx store.Tx) (subjectauth.Limit, error) {
			return tx.SigninRequest(ctx, "c:abc", at, time.Hour)
		})
	}
	failure := func(at time.Time) subjectauth.Limit {
		return limit(func(ctx context.Context, tx store.Tx) (subjectauth.Limit, error) {
			return tx.SigninFailure(ctx, "c:abc", at, 15*time.Minute)
		})
	}
	read := func(key string) subjectauth.Limit {
		var l subjectauth.Limit
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			l, err = tx.SigninLimit(ctx, key)
			return err
		})
		if err != nil {
			t.Fatalf("SigninLimit: %v", err)
		}
		return l
	}
	if l := read("c:none"); l != (subjectauth.Limit{}) {
		t.Errorf("SigninLimit of a key never counted = %+v, want zero", l)
	}
	for i, tc := range []struct {
		at    time.Time
		count int
		since time.Time
	}{
		{t0, 1, t0},
		{t0.Add(10 * time.Minute), 2, t0},
		{t0.Add(59 * time.Minute), 3, t0},
		{t0.Add(time.Hour), 1, t0.Add(time.Hour)}, // the window is over
		{t0.Add(61 * time.Minute), 2, t0.Add(time.Hour)},
	} {
		if l := request(tc.at); l.Requests != tc.count || !l.Since.Equal(tc.since) {
			t.Errorf("request %d: SigninRequest = %d since %v, want %d since %v", i, l.Requests, l.Since, tc.count, tc.since)
		}
	}
	if l := failure(t0); l.Failures != 1 || l.Requests != 2 || !l.FailedAt.Equal(t0) {
		t.Errorf("first failure = %+v, want 1 failure at %v beside 2 requests", l, t0)
	}
	if l := failure(t0.Add(time.Minute)); l.Failures != 2 {
		t.Errorf("second failure = %+v, want 2", l)
	}
	if l := failure(t0.Add(20 * time.Minute)); l.Failures != 1 {
		t.Errorf("a failure after the window = %+v, want 1", l)
	}
	until := t0.Add(35 * time.Minute)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.LockSignin(ctx, "c:abc", until) })
	if l := read("c:abc"); !l.LockedUntil.Equal(until) || l.Failures != 0 || l.Requests != 2 {
		t.Errorf("locked = %+v, want locked until %v, failures cleared, requests kept", l, until)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.LockSignin(ctx, "c:new", until) })
	if l := read("c:new"); !l.LockedUntil.Equal(until) {
		t.Errorf("a new key locked = %+v, want locked until %v", l, until)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.LockSignin(ctx, "c:abc", time.Time{}) })
	if l := read("c:abc"); !l.LockedUntil.IsZero() {
		t.Errorf("unlocked = %+v, want no lock", l)
	}
	// Concurrent requests for one key are each counted.
	for range 8 {
		wg.Go(func() {
			if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.SigninRequest(ctx, "c:busy", t0, time.Hour)
				return err
			}); err != nil {
				t.Errorf("SigninRequest: %v", err)
			}
		})
	}
	wg.Wait()
	if l := read("c:busy"); l.Requests != 8 {
		t.Errorf("after 8 concurrent requests, %d counted, want 8", l.Requests)
	}

	// Sessions.
	h1, h2, h3 := bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte{5}, 32)
	ses := &subjectauth.Session{Hash: h1, Subject: "sub_a", Method: subjectauth.MethodCode, Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour), Origin: "192.0.2.1", UserAgent: "ua"}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range []*subjectauth.Session{ses,
			{Hash: h2, Subject: "sub_a", Method: subjectauth.MethodOIDC, Created: t0, LastSeen: t0, Expires: t0.Add(2 * time.Hour)},
			{Hash: h3, Subject: "sub_b", Method: subjectauth.MethodCode, Created: t0, LastSeen: t0, Expires: t0.Add(time.Minute)},
		} {
			if err := tx.PutSubjectSession(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	getSes := func(h []byte) (*subjectauth.Session, error) {
		var x *subjectauth.Session
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			x, err = tx.GetSubjectSession(ctx, h)
			return err
		})
		return x, err
	}
	if x, err := getSes(h1); err != nil || x.Subject != "sub_a" || x.Method != subjectauth.MethodCode || !x.Created.Equal(t0) ||
		!x.Expires.Equal(ses.Expires) || x.Origin != "192.0.2.1" || x.UserAgent != "ua" {
		t.Errorf("GetSubjectSession = %+v, %v; want the session put", x, err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.TouchSubjectSession(ctx, h1, t0.Add(5*time.Minute))
	})
	if x, _ := getSes(h1); x == nil || !x.LastSeen.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("touched session = %+v, want last seen at +5m", x)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.TouchSubjectSession(ctx, []byte("none"), t0) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSubjectSession of no session: %v, want ErrNotFound", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSubjectSession(ctx, h1) })
	if _, err := getSes(h1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted session: %v, want ErrNotFound", err)
	}
	var ended int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		ended, err = tx.DeleteSubjectSessions(ctx, "sub_a")
		return err
	})
	if _, err := getSes(h2); ended != 1 || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSubjectSessions = %d (%v); want 1, the session gone", ended, err)
	}

	// Purge at +5m: the code for nobody expired at +1m (sub_a's at +10m),
	// sub_b's session at +1m; the limits' windows began at +60m (c:abc)
	// and t0 (c:busy), and c:new's lock ends at +35m.
	var purged int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		purged, err = tx.PurgeSignin(ctx, t0.Add(5*time.Minute), 100)
		return err
	})
	if _, err := get(other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired code after the purge: %v, want ErrNotFound", err)
	}
	if _, err := get(tok); err != nil {
		t.Errorf("a code not expired after the purge: %v", err)
	}
	if _, err := getSes(h3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session after the purge: %v, want ErrNotFound", err)
	}
	if l := read("c:busy"); l.Requests != 0 {
		t.Errorf("a key whose window is over after the purge = %+v, want gone", l)
	}
	if l := read("c:new"); l.LockedUntil.IsZero() {
		t.Error("the purge removed a lock that ends after its time")
	}
	if l := read("c:abc"); l.Requests == 0 {
		t.Error("the purge removed a key whose window is open")
	}
	if purged != 3 {
		t.Errorf("PurgeSignin = %d, want 3 (a code, a session, a key)", purged)
	}
}
