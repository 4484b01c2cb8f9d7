package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/vault"
)

// statsRequest documents the body of POST /v1/stats, a stats.Query
// (whose epsilon, a json.Number, reflection would take for a string).
type statsRequest struct {
	GroupBy []string `json:"group_by,omitempty"` // none: one total
	Over    string   `json:"over,omitempty"`     // live (default), retained or all
	Epsilon float64  `json:"epsilon,omitempty"`  // default the declaration's
}

// statsAnswer documents the answer of POST /v1/stats, a stats.Answer
// written as is: its json.Numbers are numbers, and each of its cells
// (stats.Group's MarshalJSON) is an object of the dimensions' values,
// strings, and "count", an integer.
type statsAnswer struct {
	GroupBy   []string         `json:"group_by"`
	Over      string           `json:"over"`
	Cells     []map[string]any `json:"cells"`
	K         int              `json:"k"`
	Epsilon   float64          `json:"epsilon"`
	Mechanism string           `json:"mechanism"`
	Budget    statsBudget      `json:"budget"`
}

// statsBudget documents a stats.Remaining: what remains of the analyst's budget.
type statsBudget struct {
	Spent            float64   `json:"spent"`
	Remaining        float64   `json:"remaining"`
	EpsilonPerPeriod float64   `json:"epsilon_per_period"`
	PeriodEnd        time.Time `json:"period_end"`
}

// statsQuery answers POST /v1/stats: {"group_by": [...], "over":
// "live"|"retained"|"all", "epsilon": 0.1} → the released cells, the ε
// spent and what remains of the analyst's budget.
func (s *Server) statsQuery(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var q stats.Query
	if err := s.decode(w, r, &q); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	ans, err := s.Vault.Stats(r.Context(), a, q)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if ans.GroupBy == nil {
		ans.GroupBy = []string{} // no dimension: one total, and [] (not null)
	}
	writeJSON(w, http.StatusOK, ans)
}

// statsError maps the statistics' own refusals: a spent budget is a
// limit (429, with Retry-After until the period renews), stale counters
// a conflict the host resolves.
func statsError(w http.ResponseWriter, err error, e *apiError) bool {
	var be *stats.BudgetError
	switch {
	case errors.As(err, &be):
		secs := int(math.Ceil(be.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		renews := be.Renews.UTC().Format(time.RFC3339)
		*e = apiError{http.StatusTooManyRequests, "privacy_budget_spent",
			fmt.Sprintf("privacy budget: this query asks for epsilon %s, and %s remains until %s", stats.FormatMicro(be.Asked), stats.FormatMicro(be.Remaining), renews),
			fmt.Sprintf("ask for an epsilon of at most %s (more noise), or wait for the budget to renew at %s", stats.FormatMicro(be.Remaining), renews)}
	case errors.Is(err, vault.ErrStatsStale):
		*e = apiError{http.StatusConflict, "statistics_stale", public.Message(err, "the statistics counters are stale"), public.Hint(err, "on the host: coffre stats recount")}
	default:
		return false
	}
	return true
}
