package importer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/importer"
)

var knownFields = map[string]bool{
	"given_name":  true,
	"family_name": true,
	"email_pro":   true,
	"phone":       true,
	"birth_date":  true,
}

// known accepts knownFields and the generated names "extra_N".
func known(f string) bool { return knownFields[f] || strings.HasPrefix(f, "extra_") }

// result is a Row or a RowError (Reason != "").
type result struct {
	Num    int
	Unit   string
	Fields map[string]string
	Field  string
	Reason string
}

func row(num int, unit string, kv ...string) result {
	r := result{Num: num, Unit: unit, Fields: map[string]string{}}
	for i := 0; i < len(kv); i += 2 {
		r.Fields[kv[i]] = kv[i+1]
	}
	return r
}

func rowErr(num int, field, reason string) result {
	return result{Num: num, Field: field, Reason: reason}
}

// rowErrorText matches every RowError message: a row, maybe a field, and
// one of the fixed reasons, so no value can be in it.
var rowErrorText = regexp.MustCompile(`^row [1-9][0-9]*: (field "(?:[^"\\]|\\.)*": )?(` + strings.Join([]string{
	`record longer than 64 KiB`,
	`[0-9]+ columns, the header has [0-9]+`,
	`bare " in an unquoted field`,
	`misplaced " in a quoted field`,
	`malformed CSV record`,
	`value longer than 8 KiB`,
	`not valid UTF-8`,
	`malformed JSON`,
	`not a JSON object`,
	`value is not a string`,
	`unknown field`,
	`duplicate key`,
	`more than 64 keys`,
	`data after the JSON object`,
}, "|") + `)$`)

// readAll reads r to the end or to a fatal error, checking the Reader's
// invariants on the way: Num increases, Offset never decreases and ends
// at size, rows hold only known fields, row errors hold no value, and a
// fatal error is sticky. It fails if Next does not make progress.
func readAll(t testing.TB, r *importer.Reader, size int) ([]result, error) {
	t.Helper()
	var got []result
	lastNum, lastOff := 0, r.Offset()
	for calls := 0; ; calls++ {
		if calls > size+2 {
			t.Fatalf("Next called %d times on %d bytes: no progress", calls, size)
		}
		row, err := r.Next()
		off := r.Offset()
		if off < lastOff || off > int64(size) {
			t.Fatalf("Offset %d after %d, input %d bytes", off, lastOff, size)
		}
		lastOff = off
		var re *importer.RowError
		switch {
		case err == io.EOF:
			if off != int64(size) {
				t.Errorf("Offset at EOF = %d, want %d", off, size)
			}
			return got, nil
		case errors.As(err, &re):
			if !rowErrorText.MatchString(re.Error()) {
				t.Errorf("RowError %q has an unexpected form", re.Error())
			}
			got = append(got, rowErr(re.Num, re.Field, re.Reason))
		case err != nil:
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("Next after fatal error %v = %v, want the same error", err, err2)
			}
			return got, err
		default:
			if row.Fields == nil {
				t.Errorf("row %d: nil Fields", row.Num)
			}
			for f, v := range row.Fields {
				if !known(f) {
					t.Errorf("row %d: unknown field %q", row.Num, f)
				}
				if v == "" {
					t.Errorf("row %d: field %q: empty value", row.Num, f)
				}
			}
			got = append(got, result{Num: row.Num, Unit: row.Unit, Fields: row.Fields})
		}
		if got[len(got)-1].Num <= lastNum {
			t.Fatalf("Num %d after %d", got[len(got)-1].Num, lastNum)
		}
		lastNum = got[len(got)-1].Num
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// keys returns a JSON object with n keys extra_0 … extra_n-1.
func keys(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"extra_%d":"v"`, i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// columns returns a CSV header of n columns extra_0 … extra_n-1.
func columns(n int) string {
	var cols []string
	for i := range n {
		cols = append(cols, fmt.Sprint("extra_", i))
	}
	return strings.Join(cols, ",")
}

// extras returns the fields extra_0 … extra_n-1, all "v".
func extras(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprint("extra_", i)] = "v"
	}
	return m
}

var readerTests = []struct {
	name    string
	file    string // in testdata, or
	input   string // used if file is ""
	format  importer.Format
	want    []result
	fatal   error    // the fatal error ending the input, wrapped, or nil
	secrets []string // values that must not be in any error
}{
	{
		name: "good.csv", file: "good.csv", format: importer.CSV,
		want: []result{
			row(2, "ac-versailles", "given_name", "Marie", "family_name", "Dupont", "email_pro", "marie.dupont@example.fr"),
			row(3, "ac-versailles", "given_name", "Jean", "family_name", "Martin, fils", "email_pro", "jean.martin@example.fr"),
			row(5, "", "given_name", "Zoé", "family_name", "Le\nGoff"), // spans lines 5-6
			row(8, "ac-lyon", "given_name", "Ana", "family_name", `Sousa "Ana"`, "email_pro", "ana.sousa@example.fr"),
		},
	},
	{
		name: "crlf.csv", file: "crlf.csv", format: importer.CSV,
		want: []result{
			row(2, "ac-versailles", "given_name", "Marie", "family_name", "Dupont"),
			row(3, "", "given_name", "Jean", "family_name", "Martin\nfils"),
			row(5, "ac-lyon", "given_name", "Ana", "family_name", "Sousa"),
		},
	},
	{
		name: "bom.csv", file: "bom.csv", format: importer.CSV,
		want: []result{row(2, "", "given_name", "Marie", "family_name", "Dupont")},
	},
	{
		name: "bad.csv", file: "bad.csv", format: importer.CSV,
		want: []result{
			row(2, "", "given_name", "Marie", "family_name", "Dupont", "email_pro", "marie.dupont@example.fr"),
			rowErr(3, "", "2 columns, the header has 3"),
			rowErr(4, "given_name", `bare " in an unquoted field`),
			rowErr(5, "given_name", `misplaced " in a quoted field`),
			rowErr(6, "given_name", "not valid UTF-8"),
			rowErr(7, "family_name", `misplaced " in a quoted field`), // lines 7-8
			rowErr(9, "", "4 columns, the header has 3"),
			row(10, "", "given_name", "Léon", "family_name", "Garnier", "email_pro", "leon.garnier@example.fr"),
		},
		secrets: []string{"Jean", "Martin", "cie", "Bernard", "Paul", "Durand", "es", "Petit", "Hugo", "Lambert", "extra", "tail", "Moreau", "surplus"},
	},
	{
		name: "unclosed.csv", file: "unclosed.csv", format: importer.CSV,
		want:  []result{row(2, "", "given_name", "Marie", "family_name", "Dupont")},
		fatal: importer.ErrUnclosedQuote,
	},
	{
		name: "good.jsonl", file: "good.jsonl", format: importer.JSONLines,
		want: []result{
			row(1, "ac-versailles", "given_name", "Marie", "family_name", "Dupont"),
			row(3, "", "given_name", "Jean"),
			row(4, "ac-lyon", "given_name", "Zoé"),
			row(5, "", "given_name", "Ana"),
		},
	},
	{
		name: "bom.jsonl", file: "bom.jsonl", format: importer.JSONLines,
		want: []result{row(1, "", "given_name", "Marie")},
	},
	{
		name: "bad.jsonl", file: "bad.jsonl", format: importer.JSONLines,
		want: []result{
			row(1, "", "given_name", "Marie", "family_name", "Dupont"),
			rowErr(2, "phone", "value is not a string"),
			rowErr(3, "family_name", "value is not a string"),
			rowErr(4, "nickname", "unknown field"),
			rowErr(5, "given_name", "duplicate key"),
			rowErr(6, "", "not a JSON object"),
			rowErr(7, "", "malformed JSON"),
			rowErr(8, "", "data after the JSON object"),
			rowErr(9, "unit", "value is not a string"),
			row(11, "", "given_name", "Emma", "family_name", "Roux"),
		},
		secrets: []string{"Jean", "42", "Lucie", "Bernard", "Paul", "Polo", "Ines", "Inès", "Hugo", "Lambert", "Léa", "Léon", "Garnier", "null", "Chloé"},
	},
	{
		name: "badutf8.jsonl", file: "badutf8.jsonl", format: importer.JSONLines,
		want: []result{rowErr(1, "", "not valid UTF-8"), row(2, "", "given_name", "Nina")},
	},

	// Bounds.
	{
		name:   "csv value at the limit",
		input:  "given_name,family_name\n" + repeat("a", importer.MaxValue) + ",b\n",
		format: importer.CSV,
		want:   []result{row(2, "", "given_name", repeat("a", importer.MaxValue), "family_name", "b")},
	},
	{
		name:    "csv value too long",
		input:   "given_name,family_name\nsecret" + repeat("a", importer.MaxValue) + ",b\nc,d\n",
		format:  importer.CSV,
		want:    []result{rowErr(2, "given_name", "value longer than 8 KiB"), row(3, "", "given_name", "c", "family_name", "d")},
		secrets: []string{"secret"},
	},
	{
		name:   "csv record at the limit",
		input:  "given_name\n" + repeat("a", importer.MaxLine-1) + "\nb\n",
		format: importer.CSV,
		want:   []result{rowErr(2, "given_name", "value longer than 8 KiB"), row(3, "", "given_name", "b")},
	},
	{
		name:    "csv record too long",
		input:   "given_name\nsecret" + repeat("a", importer.MaxLine) + "\nb\n",
		format:  importer.CSV,
		want:    []result{rowErr(2, "", "record longer than 64 KiB"), row(3, "", "given_name", "b")},
		secrets: []string{"secret"},
	},
	{
		name:   "csv quoted record too long",
		input:  "given_name,family_name\na,\"" + repeat("a\n", importer.MaxLine) + "\"\nb,c\n",
		format: importer.CSV,
		want:   []result{rowErr(2, "", "record longer than 64 KiB"), row(2+importer.MaxLine+1, "", "given_name", "b", "family_name", "c")},
	},
	{
		name:   "csv too long at end without newline",
		input:  "given_name\n" + repeat("a", 3*importer.MaxLine),
		format: importer.CSV,
		want:   []result{rowErr(2, "", "record longer than 64 KiB")},
	},
	{
		name:   "csv blank and empty rows",
		input:  "given_name,unit\n\r\n,\n\n,ac-lyon\r\n",
		format: importer.CSV,
		want:   []result{row(5, "ac-lyon")},
	},
	{
		name:   "csv header only",
		input:  "given_name\n",
		format: importer.CSV,
	},
	{
		name:   "csv 64 columns",
		input:  columns(64) + "\n" + repeat("v,", 63) + "v\n",
		format: importer.CSV,
		want:   []result{{Num: 2, Fields: extras(64)}},
	},
	{
		name:   "jsonl line at the limit",
		input:  `{"given_name":"` + repeat(" ", importer.MaxLine-19) + `a"}` + "\n",
		format: importer.JSONLines,
		want:   []result{rowErr(1, "given_name", "value longer than 8 KiB")},
	},
	{
		name:    "jsonl line too long",
		input:   `{"given_name":"secret` + repeat("a", importer.MaxLine) + `"}` + "\n" + `{"given_name":"b"}`,
		format:  importer.JSONLines,
		want:    []result{rowErr(1, "", "record longer than 64 KiB"), row(2, "", "given_name", "b")},
		secrets: []string{"secret"},
	},
	{
		name:   "jsonl 64 keys",
		input:  keys(64),
		format: importer.JSONLines,
		want:   []result{{Num: 1, Fields: extras(64)}},
	},
	{
		name:   "jsonl 65 keys",
		input:  keys(65),
		format: importer.JSONLines,
		want:   []result{rowErr(1, "", "more than 64 keys")},
	},
	{
		name:    "jsonl value too long",
		input:   `{"given_name":"secret` + repeat("a", importer.MaxValue) + `"}`,
		format:  importer.JSONLines,
		want:    []result{rowErr(1, "given_name", "value longer than 8 KiB")},
		secrets: []string{"secret"},
	},
	{
		name:    "jsonl malformed value",
		input:   `{"given_name":"Marie","family_name":Dupont}` + "\n" + `{"given_name":tr}`,
		format:  importer.JSONLines,
		want:    []result{rowErr(1, "family_name", "malformed JSON"), rowErr(2, "given_name", "malformed JSON")},
		secrets: []string{"Dupont", "tr"},
	},
	{
		name:   "jsonl empty object and escapes",
		input:  "{}\n" + `{"given\u005fname":"a\"b","unit":""}`,
		format: importer.JSONLines,
		want:   []result{row(1, ""), row(2, "", "given_name", `a"b`)},
	},
	{
		name:   "jsonl empty input",
		input:  "\n \n\t\r\n",
		format: importer.JSONLines,
	},
}

func TestReader(t *testing.T) {
	for _, tt := range readerTests {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(tt.input)
			if tt.file != "" {
				input = readFile(t, tt.file)
			}
			r, err := importer.NewReader(bytes.NewReader(input), tt.format, known)
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			var msgs []string
			got, err := readAll(t, r, len(input))
			for _, g := range got {
				if g.Reason != "" {
					msgs = append(msgs, (&importer.RowError{Num: g.Num, Field: g.Field, Reason: g.Reason}).Error())
				}
			}
			if tt.fatal == nil && err != nil || tt.fatal != nil && !errors.Is(err, tt.fatal) {
				t.Errorf("fatal error %v, want %v", err, tt.fatal)
			}
			if err != nil {
				msgs = append(msgs, err.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got rows\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
			for _, m := range msgs {
				for _, s := range tt.secrets {
					if strings.Contains(m, s) {
						t.Errorf("error %q contains the value %q", m, s)
					}
				}
			}
		})
	}
}

func dump(rs []result) string {
	var b strings.Builder
	for _, r := range rs {
		s := fmt.Sprintf("%+v", r)
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		fmt.Fprintf(&b, "\t%s\n", s)
	}
	return b.String()
}

func TestUnclosedQuoteLine(t *testing.T) {
	r, err := importer.NewReader(bytes.NewReader(readFile(t, "unclosed.csv")), importer.CSV, known)
	if err != nil {
		t.Fatal(err)
	}
	r.Next()
	_, err = r.Next()
	if want := "line 3: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Next = %v, want an error starting %q", err, want)
	}
	if strings.Contains(err.Error(), "Jean") {
		t.Errorf("error %q contains a value", err)
	}
}

var headerTests = []struct {
	name      string
	file      string // in testdata, or
	input     string
	unknown   []string
	duplicate []string
	reason    string
}{
	{name: "unknown", file: "header_unknown.csv", unknown: []string{"surname", "prenom"}},
	{name: "duplicate", file: "header_duplicate.csv", duplicate: []string{"given_name", "unit"}},
	// No header: the first row is a person's, and is not echoed.
	{name: "missing", file: "header_missing.csv",
		reason: "none of its 3 columns is a known one: is the first line a header row? (its values are not shown: they may be personal data)"},
	{name: "malformed", file: "header_unclosed.csv", reason: "malformed header row"},
	{name: "empty", file: "empty.csv", reason: "no header row: the file is empty"},
	{name: "blank lines only", input: "\n\r\n\n", reason: "no header row: the file is empty"},
	{name: "bare quote", input: `given_name,fam"ily` + "\n", reason: "malformed header row"},
	{name: "too long", input: "given_name," + repeat("x", importer.MaxLine) + "\n", reason: "header row longer than 64 KiB"},
	{name: "too many columns", input: columns(65) + "\n", reason: "65 columns, at most 64"},
	{name: "empty column name", input: "given_name,,family_name\n", unknown: []string{""}},
}

func TestHeader(t *testing.T) {
	for _, tt := range headerTests {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(tt.input)
			if tt.file != "" {
				input = readFile(t, tt.file)
			}
			_, err := importer.NewReader(bytes.NewReader(input), importer.CSV, known)
			var he *importer.HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("NewReader = %v, want a *HeaderError", err)
			}
			if !reflect.DeepEqual(he.Unknown, tt.unknown) || !reflect.DeepEqual(he.Duplicate, tt.duplicate) || he.Reason != tt.reason {
				t.Errorf("NewReader = %#v, want unknown %q, duplicate %q, reason %q", he, tt.unknown, tt.duplicate, tt.reason)
			}
			for _, name := range append(tt.unknown, tt.duplicate...) {
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
					t.Errorf("error %q does not name column %q", err, name)
				}
			}
			if tt.file == "header_missing.csv" {
				for _, v := range []string{"Marie", "Dupont", "marie.dupont"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q echoes a value of the first row", err)
					}
				}
			}
		})
	}
}

func TestColumns(t *testing.T) {
	r, err := importer.NewReader(strings.NewReader("\ufeffunit,given_name\nu1,Ana\n"), importer.CSV, known)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Columns(); !reflect.DeepEqual(got, []string{"unit", "given_name"}) {
		t.Errorf("Columns() = %q", got)
	}
	r, err = importer.NewReader(strings.NewReader(`{"unit":"u1"}`+"\n"), importer.JSONLines, known)
	if err != nil || r.Columns() != nil {
		t.Errorf("JSON lines: Columns() = %q, %v; want nil", r.Columns(), err)
	}
}

func TestHeaderErrorMessage(t *testing.T) {
	var cols []string
	for i := range 12 {
		cols = append(cols, fmt.Sprint("col", i))
	}
	cols = append(cols, "given_name", "given_name", repeat("é", 100))
	_, err := importer.NewReader(strings.NewReader(strings.Join(cols, ",")+"\n"), importer.CSV, known)
	want := `header: unknown columns "col0", "col1", "col2", "col3", "col4", "col5", "col6", "col7", "col8", "col9" and 3 more; duplicate column "given_name"`
	if err == nil || err.Error() != want {
		t.Errorf("NewReader = %v\nwant %s", err, want)
	}
}

func TestRowErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		err  importer.RowError
		want string
	}{
		{importer.RowError{Num: 17, Field: "email_pro", Reason: "not valid UTF-8"}, `row 17: field "email_pro": not valid UTF-8`},
		{importer.RowError{Num: 3, Reason: "malformed JSON"}, `row 3: malformed JSON`},
		{importer.RowError{Num: 4, Field: "a\nb", Reason: "unknown field"}, `row 4: field "a\nb": unknown field`},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLongUnknownKey(t *testing.T) {
	input := `{"` + repeat("k", 1000) + `":"v"}`
	r, err := importer.NewReader(strings.NewReader(input), importer.JSONLines, known)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	var re *importer.RowError
	if !errors.As(err, &re) || re.Reason != "unknown field" || len(re.Field) > 70 {
		t.Errorf("Next = %v, want an unknown field error with a shortened name", err)
	}
}

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	for _, tt := range []struct {
		format importer.Format
		data   string
	}{
		{importer.CSV, "given_name\nMarie\nJe"},
		{importer.JSONLines, `{"given_name":"Marie"}` + "\n" + `{"giv`},
	} {
		t.Run(tt.format.String(), func(t *testing.T) {
			r, err := importer.NewReader(&failingReader{[]byte(tt.data), errDisk}, tt.format, known)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r, len(tt.data))
			if len(got) != 1 || !errors.Is(err, errDisk) {
				t.Errorf("read %d rows then %v, want 1 row then %v", len(got), err, errDisk)
			}
			var re *importer.RowError
			if errors.As(err, &re) {
				t.Errorf("I/O error is a RowError")
			}
		})
	}
	_, err := importer.NewReader(&failingReader{nil, errDisk}, importer.JSONLines, known)
	if !errors.Is(err, errDisk) {
		t.Errorf("NewReader = %v, want %v", err, errDisk)
	}
}

func TestNewReaderArgs(t *testing.T) {
	if _, err := importer.NewReader(strings.NewReader(""), 0, known); err == nil {
		t.Error("NewReader with the zero Format succeeded")
	}
	if _, err := importer.NewReader(strings.NewReader(""), importer.JSONLines, nil); err == nil {
		t.Error("NewReader with a nil known succeeded")
	}
}

func TestOffsetIncreases(t *testing.T) {
	input := readFile(t, "good.csv")
	r, err := importer.NewReader(bytes.NewReader(input), importer.CSV, known)
	if err != nil {
		t.Fatal(err)
	}
	// After the header: header line consumed.
	if got, want := r.Offset(), int64(bytes.IndexByte(input, '\n')+1); got != want {
		t.Errorf("Offset after header = %d, want %d", got, want)
	}
	var offs []int64
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		}
		offs = append(offs, r.Offset())
	}
	for i := 1; i < len(offs); i++ {
		if offs[i] <= offs[i-1] {
			t.Errorf("Offset went from %d to %d", offs[i-1], offs[i])
		}
	}
}

func TestDetectFormat(t *testing.T) {
	for _, tt := range []struct {
		name string
		head string
		want importer.Format // 0 for an error
	}{
		{"people.csv", `{"a":"b"}`, importer.CSV},
		{"PEOPLE.CSV", "", importer.CSV},
		{"people.jsonl", "given_name\n", importer.JSONLines},
		{"people.ndjson", "", importer.JSONLines},
		{"people.json", `{"a":"b"}`, importer.JSONLines},
		{"people.json", ` [{"a":"b"}]`, 0},
		{"people.xlsx", "PK\x03\x04", 0},
		{"people.ods", "", 0},
		{"-", "  \n{\"a\":\"b\"}", importer.JSONLines},
		{"-", "\xef\xbb\xbf{\"a\":\"b\"}", importer.JSONLines},
		{"export.txt", "given_name,family_name\n", importer.CSV},
		{"export", "\xef\xbb\xbfgiven_name\n", importer.CSV},
		{"export", "[1,2]", 0},
		{"export", "", 0},
		{"export", " \n\t", 0},
		{"export", "PK\x03\x04\x00\x00", 0},
		{"export.csv", "\xff\xfeg\x00i\x00", 0},
		{"export.txt", "\xfe\xff\x00g\x00i", 0},
	} {
		got, err := importer.DetectFormat(tt.name, []byte(tt.head))
		if tt.want == 0 {
			if !errors.Is(err, importer.ErrUnknownFormat) {
				t.Errorf("DetectFormat(%q, %q) = %v, %v, want ErrUnknownFormat", tt.name, tt.head, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %v, %v, want %v", tt.name, tt.head, got, err, tt.want)
		}
	}
}

func ExampleReader() {
	const file = "unit,given_name,family_name\n" +
		"ac-versailles,Marie,Dupont\n" +
		"ac-versailles,Jean\n" +
		"ac-lyon,Ana,Sousa\n"
	known := func(field string) bool { return field == "given_name" || field == "family_name" }
	r, err := importer.NewReader(strings.NewReader(file), importer.CSV, known)
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		row, err := r.Next()
		var re *importer.RowError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &re):
			fmt.Println(re)
			continue
		case err != nil:
			fmt.Println(err)
			return
		}
		fmt.Println(row.Num, row.Unit, row.Fields["given_name"])
	}
	// Output:
	// 2 ac-versailles Marie
	// row 3: 2 columns, the header has 3
	// 4 ac-lyon Ana
}

func fuzzSeeds(f *testing.F, ext string) {
	names, err := filepath.Glob(filepath.Join("testdata", "*"+ext))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzCSV(f *testing.F) {
	fuzzSeeds(f, ".csv")
	f.Add([]byte("a\"b\n\"\"\"\r\n,\r\r\n\"x\"\r"))
	header := []byte("unit,given_name,family_name,email_pro\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, input := range [][]byte{data, append(header[:len(header):len(header)], data...)} {
			r, err := importer.NewReader(bytes.NewReader(input), importer.CSV, known)
			if err != nil {
				var he *importer.HeaderError
				if !errors.As(err, &he) && !errors.Is(err, importer.ErrUnclosedQuote) {
					t.Fatalf("NewReader: unexpected error %v", err)
				}
				continue
			}
			_, err = readAll(t, r, len(input))
			if err != nil && !errors.Is(err, importer.ErrUnclosedQuote) {
				t.Fatalf("unexpected fatal error %v", err)
			}
		}
	})
}

func FuzzJSONLines(f *testing.F) {
	fuzzSeeds(f, ".jsonl")
	f.Add([]byte(`{"unit":"u","given_name":"\ud800","phone":"1"}` + "\n{\"a\":[{}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := importer.NewReader(bytes.NewReader(data), importer.JSONLines, known)
		if err != nil {
			t.Fatalf("NewReader: %v", err)
		}
		if _, err := readAll(t, r, len(data)); err != nil {
			t.Fatalf("unexpected fatal error %v", err)
		}
	})
}

func BenchmarkReader(b *testing.B) {
	var csvIn, jsonIn bytes.Buffer
	csvIn.WriteString("unit,given_name,family_name,email_pro\n")
	for i := range 10000 {
		fmt.Fprintf(&csvIn, "ac-versailles,Marie,\"Dupont, %d\",marie.dupont%d@example.fr\n", i, i)
		fmt.Fprintf(&jsonIn, `{"unit":"ac-versailles","given_name":"Marie","family_name":"Dupont %d","email_pro":"marie.dupont%d@example.fr"}`+"\n", i, i)
	}
	for _, bb := range []struct {
		format importer.Format
		input  []byte
	}{{importer.CSV, csvIn.Bytes()}, {importer.JSONLines, jsonIn.Bytes()}} {
		b.Run(bb.format.String(), func(b *testing.B) {
			b.SetBytes(int64(len(bb.input)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := importer.NewReader(bytes.NewReader(bb.input), bb.format, known)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := r.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
