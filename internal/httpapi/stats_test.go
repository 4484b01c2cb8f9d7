package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

type statsOut struct {
	GroupBy   []string         `json:"group_by"`
	Over      string           `json:"over"`
	Cells     []map[string]any `json:"cells"`
	K         int              `json:"k"`
	Epsilon   float64          `json:"epsilon"`
	Mechanism string           `json:"mechanism"`
	Budget    struct {
		Spent     float64 `json:"spent"`
		Remaining float64 `json:"remaining"`
		PerPeriod float64 `json:"epsilon_per_period"`
		PeriodEnd string  `json:"period_end"`
	} `json:"budget"`
}

// TestStats: POST /v1/stats for the analyst only; its answer's shape (no
// cell under k: one person gives none); bad queries 400 with hints; a
// spent budget 429 with Retry-After and what remains.
func TestStats(t *testing.T) {
	e := newRightsEnv(t)
	an := e.login(t, e.addOperator(t, "op-an", "analyst", "stats"))
	q := func(tok string, body any) *response {
		return e.call(t, req{Method: "POST", Path: "/v1/stats", Token: tok, Body: body})
	}
	q(e.hr, map[string]any{}).want(t, http.StatusForbidden, "forbidden")
	r := q(an, map[string]any{"group_by": []string{"age_band", "unit"}, "over": "all", "epsilon": 0.25})
	r.want(t, http.StatusOK, "")
	var out statsOut
	decodeStrict(t, r.Body, &out)
	if len(out.Cells) != 0 || out.K != 10 || out.Epsilon != 0.25 || out.Budget.Remaining != 0.75 || out.Budget.PerPeriod != 1 || out.Budget.PeriodEnd == "" ||
		!strings.Contains(out.Mechanism, "Laplace") || strings.Join(out.GroupBy, ",") != "age_band,unit" || out.Over != "all" {
		t.Errorf("answer %+v", out)
	}
	for _, tt := range []struct {
		body any
		hint string
	}{
		{map[string]any{"group_by": []string{"family_name"}}, "declared dimensions: age_band, created, job, unit"},
		{map[string]any{"epsilon": 0}, "a decimal between"},
		{map[string]any{"epsilon": -0.5}, "a decimal between"},
		{map[string]any{"epsilon": 5}, "smaller epsilon"},
		{map[string]any{"rows": true}, ""},
	} {
		r := q(an, tt.body)
		r.want(t, http.StatusBadRequest, "invalid_request")
		if !strings.Contains(string(r.Body), tt.hint) {
			t.Errorf("%v: %s lacks the hint %q", tt.body, r.Body, tt.hint)
		}
	}
	q(an, map[string]any{"epsilon": 0.75}).want(t, http.StatusOK, "")
	r = q(an, map[string]any{"epsilon": 0.1})
	r.want(t, http.StatusTooManyRequests, "privacy_budget_spent")
	if r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "and 0 remains until") {
		t.Errorf("spent budget: Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Body)
	}
}
