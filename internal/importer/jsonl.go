package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// readLine returns the next line of the input without its line break,
// its number, and whether it was longer than MaxLine (then line is nil:
// the rest of it was read and dropped). It returns io.EOF at the end.
func (r *Reader) readLine() (line []byte, num int, long bool, err error) {
	r.buf = r.buf[:0]
	n := 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		n += len(chunk)
		if n <= MaxLine {
			r.buf = append(r.buf, chunk...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil && err != io.EOF:
			return nil, 0, false, fmt.Errorf("read: %w", err)
		case n == 0:
			return nil, 0, false, io.EOF
		}
		r.line++
		if n > MaxLine {
			return nil, r.line, true, nil
		}
		return r.buf, r.line, false, nil
	}
}

func (r *Reader) nextJSON() (Row, error) {
	for {
		line, num, long, err := r.readLine()
		if err != nil {
			return Row{}, err
		}
		if long {
			return Row{}, &RowError{Num: num, Reason: reasonLong}
		}
		line = bytes.Trim(line, " \t\r\n")
		if len(line) == 0 {
			continue
		}
		return r.parseObject(num, line)
	}
}

// parseObject parses one JSON line. It reports the first problem in the
// order of the line, and never repeats text from the line but a key.
func (r *Reader) parseObject(num int, line []byte) (Row, error) {
	bad := func(key, reason string) (Row, error) {
		return Row{}, &RowError{Num: num, Field: shorten(key), Reason: reason}
	}
	if !utf8.Valid(line) {
		// encoding/json would replace the bad bytes silently.
		return bad("", reasonUTF8)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return bad("", reasonJSON)
	}
	if tok != json.Delim('{') {
		return bad("", reasonNotObject)
	}
	row := Row{Num: num, Fields: make(map[string]string)}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("", reasonJSON)
		}
		key, ok := tok.(string)
		if !ok {
			return bad("", reasonJSON)
		}
		switch {
		case seen[key]:
			return bad(key, reasonDuplicate)
		case len(seen) == MaxFields:
			return bad("", reasonTooMany)
		case key != UnitColumn && !r.known(key):
			return bad(key, reasonUnknown)
		}
		seen[key] = true
		tok, err = dec.Token()
		if err != nil {
			return bad(key, reasonJSON)
		}
		v, ok := tok.(string)
		switch {
		case !ok:
			return bad(key, reasonNotString)
		case len(v) > MaxValue:
			return bad(key, reasonValueLong)
		case v == "":
		case key == UnitColumn:
			row.Unit = v
		default:
			row.Fields[key] = v
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return bad("", reasonJSON)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("", reasonTrailing)
	}
	return row, nil
}
