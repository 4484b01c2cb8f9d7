package incident

import "time"

// Clock is one legal deadline of an incident.
type Clock struct {
	// Name says which: gdpr-notification, nis2-early-warning,
	// nis2-notification, nis2-final-report.
	Name string `json:"name"`
	// Law is where the deadline comes from.
	Law string    `json:"law"`
	Due time.Time `json:"due"`
	// Done is when the report that stops it was made (zero: not yet).
	Done time.Time `json:"done,omitzero"`
	// Left is the time left at the moment the clocks were read (negative:
	// overdue); zero once Done.
	Left time.Duration `json:"left_ns"`
	// Overdue says the deadline passed before (or without) its report: a
	// late GDPR notification must give the reasons for the delay.
	Overdue bool `json:"overdue"`
}

// Clocks are the incident's deadlines at now, all from the moment of
// awareness: the GDPR's notification to the authority within 72 hours
// (art. 33(1)); NIS2's early warning within 24 hours and incident
// notification within 72 hours (art. 23(4)(a), (b)), and its final report
// within one month of the notification (art. 23(4)(d)). The initial
// report stops the first three (it carries both the early warning and the
// notification), the final report the last.
func (i *Incident) Clocks(now time.Time) []Clock {
	initial, final := i.reported(Initial), i.reported(Final)
	// The final report is due a month after the incident notification:
	// the initial report when made, else when it was due.
	notified := initial
	if notified.IsZero() {
		notified = i.Aware.Add(72 * time.Hour)
	}
	cs := []Clock{
		{Name: "gdpr-notification", Law: "GDPR art. 33(1)", Due: i.Aware.Add(72 * time.Hour), Done: initial},
		{Name: "nis2-early-warning", Law: "NIS2 art. 23(4)(a)", Due: i.Aware.Add(24 * time.Hour), Done: initial},
		{Name: "nis2-notification", Law: "NIS2 art. 23(4)(b)", Due: i.Aware.Add(72 * time.Hour), Done: initial},
		{Name: "nis2-final-report", Law: "NIS2 art. 23(4)(d)", Due: notified.AddDate(0, 1, 0), Done: final},
	}
	for k := range cs {
		c := &cs[k]
		if c.Done.IsZero() {
			c.Left = c.Due.Sub(now)
			c.Overdue = c.Left < 0
		} else {
			c.Overdue = c.Done.After(c.Due)
		}
	}
	return cs
}

// reported is when the first report of phase was made, zero if none.
func (i *Incident) reported(phase string) time.Time {
	for _, r := range i.Reports {
		if r.Phase == phase {
			return r.At
		}
	}
	return time.Time{}
}
