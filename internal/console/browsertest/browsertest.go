// Package browsertest runs a test's pages in a real browser: Debian's
// Chromium, headless, driven over the DevTools protocol by chromedp. It
// also checks a page's accessibility with axe-core, injected into the
// page, and reads how long the page took to load.
//
// Tests import it; the coffre binary does not. Without a browser a test
// is skipped, out loud, unless COFFRE_REQUIRE_CHROMIUM is set (CI, where
// .ci/run installs Debian's chromium), when it fails.
package browsertest

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeJS is axe-core (testdata/README.md says which and from where).
//
//go:embed testdata/axe.min.js
var axeJS string

// Path returns the Chromium that tests use: COFFRE_TEST_CHROMIUM, or
// chromium or chromium-browser on the PATH; "" when there is none.
func Path() string {
	if p := os.Getenv("COFFRE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium for t and returns a context whose
// actions run in its first tab. The browser ends with the test, or when
// timeout has passed, whichever comes first. Without a browser the test
// is skipped, or fails when COFFRE_REQUIRE_CHROMIUM is set.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path := Path()
	if path == "" {
		if os.Getenv("COFFRE_REQUIRE_CHROMIUM") != "" {
			t.Fatal("no Chromium found, and COFFRE_REQUIRE_CHROMIUM is set: install Debian's chromium or set COFFRE_TEST_CHROMIUM")
		}
		t.Skip("no Chromium found: install Debian's chromium or set COFFRE_TEST_CHROMIUM; .ci/run does")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("COFFRE_TEST_CHROMIUM: %v", err)
	}
	// The timeout bounds the whole browser: chromedp stops it with the
	// context of its first action.
	tctx, cancelT := context.WithTimeout(context.Background(), timeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI's container
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithErrorf(func(format string, args ...any) {
		// The protocol grows faster than cdproto: an unknown event is
		// not the page's fault.
		if !strings.Contains(format, "unhandled") {
			t.Logf("chromedp: "+format, args...)
		}
	}))
	t.Cleanup(func() {
		cancel()
		cancelA()
		cancelT()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return ctx
}

// Violation is an accessibility rule that a page breaks, as axe-core
// reports it.
type Violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"` // the CSS selectors of the elements
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s, at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// axeRun runs axe-core on the document (the WCAG 2.x A and AA rules and
// best practices) and returns its violations of serious or critical
// impact, one per rule, with the elements' selectors.
const axeRun = `(async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      targets: v.nodes.map(n => n.target.join(" "))}));
})()`

// Audit runs axe-core in the tab's current page and returns the
// violations of serious or critical impact. It injects axe-core first,
// when the page does not have it.
func Audit(ctx context.Context) ([]Violation, error) {
	has, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("axe-core: %w", err)
	}
	if !has {
		// Runtime.evaluate is the debugger's: the page's CSP does not
		// apply to it.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeJS+"\n;true")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe-core run: %w", err)
	}
	return vs, nil
}

// CheckAccessible fails t, without stopping it, for each serious or
// critical violation on the tab's current page, which it names page. A
// page whose structure (see [Structure]) a test of this process has
// already audited is not audited again: the same elements with the same
// attributes and styles break the same rules whatever their text, and
// axe-core costs about 0.4 s of CPU a page (of the 86 pages cmd/coffre's
// browser tests check, 33 are a structure seen before: sign-in forms, a
// page after its own form's answer).
func CheckAccessible(ctx context.Context, t testing.TB, page string) {
	t.Helper()
	key, err := Structure(ctx)
	if err != nil {
		t.Errorf("%s: %v", page, err)
		return
	}
	if first, seen := audited.LoadOrStore(key, page); seen {
		t.Logf("%s: audited already, as %s (the same structure)", page, first)
		return
	}
	vs, err := Audit(ctx)
	if err != nil {
		audited.Delete(key)
		t.Errorf("%s: %v", page, err)
		return
	}
	for _, v := range vs {
		t.Errorf("%s: accessibility: %v (%s)", page, v, v.HelpURL)
	}
}

// audited holds the structures of the pages audited so far.
var audited sync.Map

// structureJS lists the document's language and each element with the
// attributes axe-core's rules read (its tag, id, class, role, type, style,
// the aria-*, alt, for, lang, hidden and disabled ones), and whether it
// holds text of its own: everything but the text.
const structureJS = `(() => {
  const keep = /^(id|class|role|type|style|for|alt|lang|title|hidden|disabled|tabindex|scope|href|aria-.*)$/;
  const out = [document.documentElement.lang, document.title === "" ? "untitled" : "titled"];
  for (const e of document.querySelectorAll("*")) {
    const attrs = [...e.attributes].filter(a => keep.test(a.name)).map(a => a.name === "href" ? "href" : a.name + "=" + a.value);
    const text = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
    out.push(e.tagName + "[" + attrs.join(" ") + "]" + (text ? "t" : ""));
  }
  return out.join("\n");
})()`

// Structure returns a digest of the tab's current page without its text
// (see structureJS): two pages with the same digest pass or fail
// axe-core's rules alike.
func Structure(ctx context.Context) (string, error) {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](structureJS))
	if err != nil {
		return "", fmt.Errorf("page structure: %w", err)
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:]), nil
}

// Timing is how long the tab's last navigation took, from the browser's
// Navigation Timing entry (redirects included).
type Timing struct {
	// Response is from the navigation's start to the response's last
	// byte: the server and the network.
	Response time.Duration
	// Load is from the start to the end of the load event: what the
	// operator waits for.
	Load time.Duration
}

// PageTiming returns the Navigation Timing of the tab's current page,
// once its load event has ended.
func PageTiming(ctx context.Context) (Timing, error) {
	type navTiming struct {
		Response float64 `json:"response"`
		Load     float64 `json:"load"`
	}
	nt, err := chromedp.Run(ctx, chromedp.Poll[navTiming](`(() => {
  const e = performance.getEntriesByType("navigation")[0];
  return e && e.loadEventEnd > 0 ? {response: e.responseEnd - e.startTime, load: e.loadEventEnd - e.startTime} : null;
})()`, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		return Timing{}, fmt.Errorf("navigation timing: %w", err)
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	return Timing{Response: ms(nt.Response), Load: ms(nt.Load)}, nil
}
