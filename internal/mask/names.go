package mask

// The masks a purpose may name in coffre.yaml.
const (
	Initials = "initials" // "Marie-Claire Dupont" → "M.-C. D."
	Email    = "email"    // "marie.dupont@example.fr" → "m***@example.fr"
	Last2    = "last2"    // keep the last 2 digits/characters
	Last4    = "last4"    // keep the last 4 digits/characters
	Year     = "year"     // "1984-03-12" → "1984"
	Redact   = "redact"   // "[redacted]"
)

// Names lists every mask name, in the order the documentation gives them.
var Names = []string{Initials, Email, Last2, Last4, Year, Redact}

// Valid reports whether name is a mask.
func Valid(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}
