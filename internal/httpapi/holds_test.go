package httpapi_test

import (
	"net/http"
	"testing"
)

type holdOut struct {
	ID         string `json:"id"`
	Subject    string `json:"subject"`
	Reason     string `json:"reason"`
	PlacedBy   string `json:"placed_by"`
	Placed     string `json:"placed_at"`
	InForce    bool   `json:"in_force"`
	LiftedBy   string `json:"lifted_by"`
	Lifted     string `json:"lifted_at"`
	LiftReason string `json:"lift_reason"`
	AuditSeq   int64  `json:"audit_seq"`
}

// TestHolds: the legal holds' routes, their shapes and their errors; a
// held subject's erasure answers 409 legal_hold until the hold is lifted.
func TestHolds(t *testing.T) {
	e := newRightsEnv(t)
	holds := "/v1/subjects/" + e.subject + "/holds"
	place := func(tok, path, reason string) *response {
		return e.call(t, req{Method: "POST", Path: path, Token: tok, Body: map[string]string{"reason": reason}})
	}
	place(e.cw, holds, "case 1").want(t, http.StatusForbidden, "forbidden")
	e.call(t, req{Method: "GET", Path: holds, Token: e.hr}).want(t, http.StatusForbidden, "forbidden")
	place(e.dpo, holds, "").want(t, http.StatusBadRequest, "reason_required")
	place(e.dpo, "/v1/subjects/sub_00000000000000000000000000/holds", "case 1").want(t, http.StatusNotFound, "not_found")

	r := place(e.dpo, holds, "RG 26/00417")
	r.want(t, http.StatusCreated, "")
	var h holdOut
	decodeStrict(t, r.Body, &h)
	if h.ID == "" || h.Subject != e.subject || h.Reason != "RG 26/00417" || h.PlacedBy != e.dpoID || h.Placed == "" || !h.InForce || h.AuditSeq == 0 {
		t.Errorf("placed hold got %+v", h)
	}

	e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + e.subject, Token: e.dpo, Reason: "art. 17"}).want(t, http.StatusConflict, "legal_hold")

	r = e.call(t, req{Method: "GET", Path: holds, Token: e.dpo})
	r.want(t, http.StatusOK, "")
	var list struct {
		Holds []holdOut `json:"holds"`
	}
	decodeStrict(t, r.Body, &list)
	if len(list.Holds) != 1 || list.Holds[0].ID != h.ID || list.Holds[0].Reason != "RG 26/00417" {
		t.Errorf("GET holds got %+v", list)
	}

	lift := "/v1/holds/" + h.ID + "/lift"
	place(e.cw, lift, "done").want(t, http.StatusForbidden, "forbidden")
	place(e.dpo, "/v1/holds/nope/lift", "done").want(t, http.StatusBadRequest, "invalid_request")
	r = place(e.dpo, lift, "judgment final")
	r.want(t, http.StatusOK, "")
	var l holdOut
	decodeStrict(t, r.Body, &l)
	if l.InForce || l.LiftedBy != e.dpoID || l.Lifted == "" || l.LiftReason != "judgment final" {
		t.Errorf("lifted hold got %+v", l)
	}
	place(e.dpo, lift, "again").want(t, http.StatusConflict, "hold_lifted")

	e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + e.subject, Token: e.dpo, Reason: "art. 17"}).want(t, http.StatusNoContent, "")
}
