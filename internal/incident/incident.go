// Package incident is breach response: an [Incident] records when the
// organisation became aware of a breach and its scope (which accounts,
// partners, origins and time window were compromised, or that the store
// itself was taken), starts the GDPR and NIS2 clocks ([Clocks]), and
// keeps a timeline of what was done about it ([Event]): containment, the
// impact computed from the audit log, the reports and the letters. Every
// incident stays in the breach register (GDPR art. 33(5)), notified or
// not.
//
// # What is stored
//
// Ids, dates, counts and the words the security officer chose (a title,
// how the breach was detected): never a person's data. The list of the
// people a breach exposed is computed from the audit log when it is
// needed and written to a file the officer names, never stored here nor
// logged.
package incident

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Status of an incident.
const (
	Open      = "open"      // being handled
	Contained = "contained" // the attacker's access is cut; impact and reports go on
	Closed    = "closed"    // the final report is done
)

// Natures of a breach (EDPB guidelines 9/2022): what it compromised.
const (
	Confidentiality = "confidentiality"
	Integrity       = "integrity"
	Availability    = "availability"
)

// Natures lists the natures of a breach.
var Natures = []string{Confidentiality, Integrity, Availability}

// Bounds of what an incident holds.
const (
	MaxText  = 500 // a title, a detection method, a reason, in bytes
	MaxScope = 500 // operators, partners and origins in a scope, each
)

// ErrInvalid is the error of an incident or scope that does not hold
// together; its text says what is wrong and is safe to show.
var ErrInvalid = errors.New("invalid incident")

// Scope is what a breach compromised, and so which accesses the impact
// counts: those by the Operators or Partners named, or from the Origins,
// within the window From–To (To zero: up to now, the breach is ongoing).
// Everything counts every access in the window (the vector is unknown).
// StoreStolen says that the store or a backup of it was taken: everyone
// whose record was in it is exposed, as ciphertext.
type Scope struct {
	Operators   []string  `json:"operators,omitempty"`
	Partners    []string  `json:"partners,omitempty"`
	Origins     []string  `json:"origins,omitempty"` // CIDRs, or single addresses
	From        time.Time `json:"from"`
	To          time.Time `json:"to,omitzero"`
	Everything  bool      `json:"everything,omitempty"`
	StoreStolen bool      `json:"store_stolen,omitempty"`
	// KeysSafe, for a stolen store, says the keys could not have left with
	// it (sealed shares, an HSM or a KMS, not a key file beside the data):
	// the data was unintelligible (art. 34(3)(a)).
	KeysSafe bool `json:"keys_safe,omitempty"`
}

// Validate checks the scope at now: a window that starts before it ends
// and not in the future, addresses that parse, at least one thing named.
func (s *Scope) Validate(now time.Time) error {
	switch {
	case s.From.IsZero():
		return invalid("the scope needs the window's start (from)")
	case s.From.After(now):
		return invalid("the window starts in the future")
	case !s.To.IsZero() && !s.To.After(s.From):
		return invalid("the window is empty or inverted: to must be after from")
	case len(s.Operators) > MaxScope || len(s.Partners) > MaxScope || len(s.Origins) > MaxScope:
		return invalid(fmt.Sprintf("a scope names at most %d operators, partners and origins each", MaxScope))
	case !s.Everything && !s.StoreStolen && len(s.Operators)+len(s.Partners)+len(s.Origins) == 0:
		return invalid("the scope names nothing: give operators, partners or origins, or everything (the vector is unknown), or store_stolen")
	case s.Everything && len(s.Operators)+len(s.Partners)+len(s.Origins) > 0:
		return invalid("everything counts every access: name no operator, partner or origin with it")
	case s.KeysSafe && !s.StoreStolen:
		return invalid("keys_safe is said of a stolen store only")
	}
	for _, id := range append(slices.Clone(s.Operators), s.Partners...) {
		if !ValidText(id) || id == "" || len(id) > 64 || strings.ContainsAny(id, " ,") {
			return invalid(fmt.Sprintf("malformed account id %q", id))
		}
	}
	for _, o := range s.Origins {
		if _, err := ParseOrigin(o); err != nil {
			return invalid(fmt.Sprintf("origin %q is neither an address nor a CIDR (such as 203.0.113.0/24)", o))
		}
	}
	return nil
}

// ParseOrigin reads an origin of a scope: a CIDR, or one address.
func ParseOrigin(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Incident is one breach, from its opening to its final report.
type Incident struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"`
	// Nature is what the breach compromised (Natures).
	Nature []string `json:"nature"`
	// Aware is when the organisation became aware of the breach: the
	// clocks start then. Opened is when the incident was recorded.
	Aware  time.Time `json:"aware"`
	Opened time.Time `json:"opened"`
	// OpenedBy is the operator who opened it ("cli:<user>" from the host).
	OpenedBy string `json:"opened_by"`
	// Detection is how the breach was found (an alert, a report…).
	Detection string `json:"detection,omitempty"`
	Scope     Scope  `json:"scope"`
	// Ended is when the breach ended (the attacker's access was cut), if
	// known; zero while ongoing.
	Ended time.Time `json:"ended,omitzero"`
	// Impact is the last impact computed, nil before.
	Impact *Impact `json:"impact,omitempty"`
	// Reports are the reports made to authorities, in order.
	Reports []Report `json:"reports,omitempty"`
	// Letters says when the letters to the people were queued.
	Letters *Letters `json:"letters,omitempty"`
	// Version counts the incident's changes (optimistic concurrency).
	Version int `json:"version"`
}

// Impact is what an impact computation found (counts: the list of people
// goes to a file, never here).
type Impact struct {
	Computed time.Time `json:"computed"`
	// LogSize is the verified log's size the impact covers (entries
	// 1…LogSize), Checkpoint the signed checkpoint it was checked against.
	LogSize    int64 `json:"log_size"`
	Checkpoint int64 `json:"checkpoint"`
	// Unintegrated is the entries after that checkpoint, which the impact
	// does not cover (compute it again once they are signed).
	Unintegrated int64 `json:"unintegrated,omitempty"`
	// Scanned is the entries of the window read; Matched those in scope.
	Scanned int64 `json:"scanned"`
	Matched int64 `json:"matched"`
	// Subjects is the people who had at least one field returned;
	// Records the field values returned (a person's field counts once);
	// Attempted the people only attempted (denied or locked, nothing
	// returned).
	Subjects  int64 `json:"subjects"`
	Records   int64 `json:"records"`
	Attempted int64 `json:"attempted"`
	// Confirmed is the people whose existence was confirmed, none of
	// their fields returned: a lookup found them (it returns an id), a
	// read returned none of their fields, or their request was opened.
	Confirmed int64 `json:"confirmed,omitempty"`
	// Stored is, for a stolen store, the people whose records were in it
	// (as ciphertext; see Scope.KeysSafe).
	Stored int64 `json:"stored,omitempty"`
	// Fields counts the people by field returned, Clear of them in clear.
	Fields map[string]FieldCount `json:"fields,omitempty"`
	// Units and Channels count the people by the unit of the accounts
	// and by channel (operator, partner).
	Units    map[string]int64 `json:"units,omitempty"`
	Channels map[string]int64 `json:"channels,omitempty"`
	// Told is how many of the people exposed had already been told of
	// every access in scope by a notice (delivered).
	Told int64 `json:"told"`
}

// FieldCount is how many people had a field returned, and how many of
// them in clear (the others masked, by Mask).
type FieldCount struct {
	Subjects int64  `json:"subjects"`
	Clear    int64  `json:"clear"`
	Mask     string `json:"mask,omitempty"`
	// Category and Sensitivity are the field's, from the schema.
	Category    string `json:"category,omitempty"`
	Sensitivity string `json:"sensitivity,omitempty"`
}

// Phases of a report (GDPR art. 33(4): in phases; NIS2 art. 23(4)).
const (
	Initial       = "initial"
	Complementary = "complementary"
	Final         = "final"
)

// Phases lists the report phases, in order.
var Phases = []string{Initial, Complementary, Final}

// Report is one report made.
type Report struct {
	Phase string    `json:"phase"`
	At    time.Time `json:"at"`
	By    string    `json:"by"`
}

// Letters is when the letters to the people were queued, how many.
type Letters struct {
	Queued    time.Time `json:"queued"`
	By        string    `json:"by"`
	People    int64     `json:"people"`
	LogSize   int64     `json:"log_size"`   // the impact they follow
	NoContact int64     `json:"no_contact"` // people with no address on file: to write to by post
}

// Event is one step of an incident's timeline.
type Event struct {
	Incident string    `json:"incident"`
	Seq      int       `json:"seq"` // 1, 2, 3… within the incident
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Kind     string    `json:"kind"`   // opened, scope, seal, revoke, lock, disable, rotate-partners, reenrol, rotate-root-key, impact, report, notify, status
	Detail   string    `json:"detail"` // ids and counts only
	// Audit is the audit entry that recorded it.
	Audit int64 `json:"audit,omitempty"`
}

// Validate checks an incident being opened at now.
func (i *Incident) Validate(now time.Time) error {
	switch {
	case i.Title == "" || len(i.Title) > MaxText || !ValidText(i.Title):
		return invalid(fmt.Sprintf("the title is required: one line of at most %d bytes, with no personal data", MaxText))
	case len(i.Detection) > MaxText || !ValidText(i.Detection):
		return invalid(fmt.Sprintf("detection: one line of at most %d bytes", MaxText))
	case i.Aware.IsZero():
		return invalid("aware (when the organisation became aware of the breach) is required: the clocks start then")
	case i.Aware.After(now.Add(time.Minute)):
		return invalid("aware is in the future")
	case !i.Scope.From.IsZero() && i.Scope.From.After(i.Aware):
		return invalid("the window starts after the organisation became aware of the breach")
	}
	if len(i.Nature) == 0 {
		return invalid("nature is required: one or more of " + strings.Join(Natures, ", "))
	}
	for _, n := range i.Nature {
		if !slices.Contains(Natures, n) {
			return invalid(fmt.Sprintf("unknown nature %q: want %s", n, strings.Join(Natures, ", ")))
		}
	}
	return i.Scope.Validate(now)
}

// ValidText reports whether s is one line of printable text.
func ValidText(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// NewID returns a new incident id: "inc_" and 16 base32 characters.
func NewID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "inc_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// ValidID reports whether s has the shape of an incident id.
func ValidID(s string) bool {
	if len(s) != 20 || !strings.HasPrefix(s, "inc_") {
		return false
	}
	for _, r := range s[4:] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// Encode and Decode are an incident's stored form (JSON).
func Encode(i *Incident) ([]byte, error) { return json.Marshal(i) }

// Decode reads an incident's stored form.
func Decode(b []byte) (*Incident, error) {
	var i Incident
	if err := json.Unmarshal(b, &i); err != nil {
		return nil, fmt.Errorf("decode incident: %w", err)
	}
	if !ValidID(i.ID) {
		return nil, fmt.Errorf("decode incident: malformed id")
	}
	return &i, nil
}

// Scan reads a stored incident from a row of its document and version,
// as both stores keep it.
func Scan(row interface{ Scan(...any) error }) (*Incident, error) {
	var doc []byte
	var version int
	if err := row.Scan(&doc, &version); err != nil {
		return nil, err
	}
	i, err := Decode(doc)
	if err != nil {
		return nil, err
	}
	i.Version = version
	return i, nil
}

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalid, msg) }
