// Package synth generates synthetic French-looking people for demos and
// benchmarks: staff of the academies of the Éducation nationale and of
// France Travail, with names, contact details, a birth date, a national id,
// an address, an employer, a job and, for a few, a health note.
//
// # Determinism
//
// [Make](seed, i) is a pure function: the same seed and index always give
// the same [Person], on every platform and Go version (the package uses its
// own generator, not math/rand). There is no global state, so people may be
// generated concurrently and in any order.
//
// # Uniqueness
//
// For a given seed, and i ≥ 0, these fields never repeat, so they can serve
// as lookup keys:
//
//   - email_pro, for every i: name pairs are dealt without repetition in
//     rounds of all given name × family name combinations (about 24,000
//     people), and rounds after the first append the round number to the
//     local part ("marie.dupont", then "marie.dupont3");
//   - email_personal, for every i, by the same construction;
//   - phone, for i < 10⁸: its 8 digits are a keyed bijection of i;
//   - national_id, for i < 94,944,960: department, commune and order
//     number are a keyed bijection of i.
//
// Names, units and the rest are drawn from a splitmix64 generator seeded
// from (seed, i). Generating a person takes well under 2 µs and a handful
// of allocations: every generated string is a substring of a single one.
//
// The data is invented. The national ids have valid keys and may therefore
// collide with real people's numbers; never mix synthetic data with real.
package synth

import "strconv"

// Field keys of [Person.Fields].
const (
	GivenName     = "given_name"
	FamilyName    = "family_name"
	EmailPro      = "email_pro"
	EmailPersonal = "email_personal"
	Phone         = "phone"
	BirthDate     = "birth_date"
	NationalID    = "national_id"
	Address       = "address"
	Employer      = "employer"
	JobTitle      = "job_title"
	HealthNote    = "health_note" // special category; present for about 5% of people
)

// Person is one synthetic person.
type Person struct {
	// Unit is the code of the person's organisational unit, one of [Units].
	Unit string
	// Fields maps the field keys (GivenName, ...) to values. Every key is
	// present except HealthNote, which is present only when not empty.
	Fields map[string]string
}

// Sizes of the spaces the unique fields are drawn from.
const (
	namePairs  = uint64(len(givenNames) * len(familyNames))
	phoneSpace = 100_000_000
	nirDepts   = 96  // 01–19, 2A, 2B, 21–95
	nirComms   = 990 // communes 001–990
	nirOrders  = 999 // order numbers 001–999
	nirSpace   = nirDepts * nirComms * nirOrders
)

// Make returns person i of the population of seed. The same (seed, i)
// always gives the same person. i should be ≥ 0; a negative i is read as
// its two's complement uint64.
func Make(seed uint64, i int) Person {
	idx := uint64(i)
	r := newRNG(seed, idx)

	// Names: pair p of round `round`, a bijection of idx.
	round := idx / namePairs
	p := permute(idx%namePairs, namePairs, mix64(key(seed, tagNames)+round))
	given := givenNames[p%uint64(len(givenNames))]
	family := familyNames[p/uint64(len(givenNames))]

	u := &units[r.intn(len(units))]

	// Birth date.
	year := 1950 + r.intn(55)
	month := 1 + r.intn(12)
	day := 1 + r.intn(daysIn(year, month))

	// Every generated string is appended to buf and sliced out of one
	// string at the end. 512 bytes is about twice the longest person.
	var buf [512]byte
	b := buf[:0]
	var off [7]int // end offsets of the generated fields

	// email_pro: given.family[round]@domain. Slugs are distinct, contain
	// neither '.' nor digits, so (slugs, round) and thus idx can be read
	// back from the local part.
	b = appendSlug(b, given.name)
	b = append(b, '.')
	b = appendSlug(b, family)
	if round > 0 {
		b = strconv.AppendUint(b, round, 10)
	}
	b = append(b, '@')
	b = append(b, u.domain...)
	off[0] = len(b)

	// email_personal, in one of three styles, none of which can produce
	// another's local part: given.familyYY[round], given_familyYY[round],
	// or initials+family+number with number = round·namePairs + p.
	yy := year % 100
	switch s := r.intn(10); {
	case s < 7:
		sep := byte('.')
		if s >= 5 {
			sep = '_'
		}
		b = appendSlug(b, given.name)
		b = append(b, sep)
		b = appendSlug(b, family)
		b = append2(b, yy)
		if round > 0 {
			b = strconv.AppendUint(b, round, 10)
		}
	default:
		b = appendInitials(b, given.name)
		b = appendSlug(b, family)
		b = strconv.AppendUint(b, round*namePairs+p, 10)
	}
	b = append(b, '@')
	b = append(b, personalDomains[r.intn(len(personalDomains))]...)
	off[1] = len(b)

	// phone: 06 or 07 and 8 digits, a bijection of idx mod 10⁸.
	d := permute(idx%phoneSpace, phoneSpace, key(seed, tagPhone))
	if r.intn(10) < 7 {
		b = append(b, "06"...)
	} else {
		b = append(b, "07"...)
	}
	for k := uint64(1_000_000); k > 0; k /= 100 {
		b = append(b, ' ')
		b = append2(b, int(d/k%100))
	}
	off[2] = len(b)

	// birth_date.
	b = strconv.AppendInt(b, int64(year), 10)
	b = append(b, '-')
	b = append2(b, month)
	b = append(b, '-')
	b = append2(b, day)
	off[3] = len(b)

	// national_id.
	b = appendNIR(b, given.female, yy, month, permute(idx%nirSpace, nirSpace, key(seed, tagNIR)))
	off[4] = len(b)

	// address: "12 rue des Lilas, 78000 Versailles".
	b = strconv.AppendInt(b, int64(1+r.intn(120)), 10)
	if r.intn(40) == 0 {
		b = append(b, " bis"...)
	}
	b = append(b, ' ')
	b = append(b, streets[r.intn(len(streets))]...)
	b = append(b, ", "...)
	b = append(b, u.places[r.intn(len(u.places))]...)
	off[5] = len(b)

	// employer and job_title.
	place, j := workplace(&r, u)
	employer := ""
	switch place {
	case placeRectorat, placeDirection:
		employer = u.name
	case placeAgency:
		employer = "France Travail"
	default:
		b = append(b, schoolPrefixes[place]...)
		b = append(b, schoolNames[r.intn(len(schoolNames))]...)
	}
	off[6] = len(b)

	health := ""
	if r.intn(100) < 5 {
		health = healthNotes[r.intn(len(healthNotes))]
	}

	s := string(b)
	f := make(map[string]string, 11)
	f[GivenName] = given.name
	f[FamilyName] = family
	f[EmailPro] = s[:off[0]]
	f[EmailPersonal] = s[off[0]:off[1]]
	f[Phone] = s[off[1]:off[2]]
	f[BirthDate] = s[off[2]:off[3]]
	f[NationalID] = s[off[3]:off[4]]
	f[Address] = s[off[4]:off[5]]
	if employer == "" {
		employer = s[off[5]:off[6]]
	}
	f[Employer] = employer
	f[JobTitle] = j.title(given.female)
	if health != "" {
		f[HealthNote] = health
	}
	return Person{Unit: u.code, Fields: f}
}

// workplace draws the kind of workplace of a person of unit u, and a job
// there.
func workplace(r *rng, u *unit) (int, job) {
	w := r.intn(100)
	if u.agency {
		if w < 85 {
			return placeAgency, agencyJobs[r.intn(len(agencyJobs))]
		}
		return placeDirection, directionJobs[r.intn(len(directionJobs))]
	}
	switch {
	case w < 12:
		return placeRectorat, rectoratJobs[r.intn(len(rectoratJobs))]
	case w < 80:
		place := placeCollege
		nt := len(teachers)
		if w < 45 {
			place = placeLycee
			nt += len(lyceeOnly)
		}
		switch k := r.intn(100); {
		case k < 75:
			t := r.intn(nt)
			if t < len(teachers) {
				return place, teachers[t]
			}
			return place, lyceeOnly[t-len(teachers)]
		case k < 97:
			return place, schoolStaff[r.intn(len(schoolStaff))]
		default:
			return place, heads[place]
		}
	default:
		return placeEcole, ecoleJobs[r.intn(len(ecoleJobs))]
	}
}

// appendNIR appends a 15-digit French NIR: sex (1 male, 2 female), year and
// month of birth, then department, commune and order number read from j in
// [0, nirSpace), and the key 97 − (n mod 97) where n is the first 13
// characters as a number, with the Corsican departments 2A and 2B read as
// 19 and 18.
func appendNIR(b []byte, female bool, yy, month int, j uint64) []byte {
	sex := 1
	if female {
		sex = 2
	}
	dept := int(j % nirDepts)
	j /= nirDepts
	commune := 1 + int(j%nirComms)
	order := 1 + int(j/nirComms)

	// The department's numeric value for the key, and how it is written.
	var deptNum int
	var deptText string
	switch {
	case dept < 19:
		deptNum = dept + 1 // 01–19
	case dept == 19:
		deptNum, deptText = 19, "2A"
	case dept == 20:
		deptNum, deptText = 18, "2B"
	default:
		deptNum = dept // 21–95
	}

	n := int64(sex)*1e12 + int64(yy)*1e10 + int64(month)*1e8 +
		int64(deptNum)*1e6 + int64(commune)*1e3 + int64(order)
	b = append(b, byte('0'+sex))
	b = append2(b, yy)
	b = append2(b, month)
	if deptText != "" {
		b = append(b, deptText...)
	} else {
		b = append2(b, deptNum)
	}
	b = append3(b, commune)
	b = append3(b, order)
	return append2(b, int(97-n%97))
}

// append2 appends v in [0, 100) as two digits.
func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// append3 appends v in [0, 1000) as three digits.
func append3(b []byte, v int) []byte {
	return append(b, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
}

// daysIn returns the number of days of month (1–12) in year.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
