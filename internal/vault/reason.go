package vault

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkReason is the one check of a reason an operator typed, on every
// path that takes one (read, lookup, update, erase, legal holds, guard
// extensions and unlocks): at most the vault's limit (Config.ReasonMaxLen),
// valid UTF-8, one line without control characters, and, when the
// configuration sets limits.reason_pattern and the reason is not empty,
// beginning with a match of it (a ticket or case id). Whether a reason is
// required is the caller's rule (the purpose's, the act's). The error
// wraps access.ErrInvalid, with a hint; the caller audits the refusal
// (v.deny). Its text never quotes the reason.
func (v *Vault) checkReason(reason string) error {
	switch {
	case len(reason) > v.reasonMax:
		return invalid("reason longer than %d bytes", v.reasonMax).
			WithHint("a reason is short: a ticket or case number and a few words")
	case !utf8.ValidString(reason):
		return invalid("reason is not valid UTF-8")
	case strings.ContainsFunc(reason, unicode.IsControl):
		return invalid("reason holds control characters").
			WithHint("a reason is one line of printable text, without tabs or line breaks")
	case v.reasonPattern != nil && reason != "" && !v.reasonPattern.MatchString(reason):
		return invalid("reason does not begin with a reference of the form the configuration asks for").
			WithHint("begin the reason with the ticket or case id (limits.reason_pattern: " + v.reasonPatternText + ")")
	}
	return nil
}

// checkEmergency checks the text of a break-glass read's emergency as a
// reason, but for the reference pattern: an emergency has no ticket yet.
func (v *Vault) checkEmergency(why string) error {
	switch {
	case len(why) > v.reasonMax:
		return invalid("the emergency is longer than %d bytes", v.reasonMax)
	case !utf8.ValidString(why) || strings.ContainsFunc(why, unicode.IsControl):
		return invalid("the emergency holds control characters or invalid UTF-8").
			WithHint("say what the emergency is in one line of printable text")
	}
	return nil
}
