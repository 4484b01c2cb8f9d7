package importer

import (
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// Progress draws a one-line progress bar, redrawn in place:
//
//	[=============>                ] 45% 123,456 rows 3 failed 52,000 rows/s
//
// It draws only if its writer is an *os.File that is a terminal; on
// anything else (a pipe, a log file, a buffer) it writes nothing, and the
// caller prints its own summary. It is not safe for concurrent use.
type Progress struct {
	w     io.Writer
	total int64
	tty   bool
	now   func() time.Time
	start time.Time
	last  time.Time // of the last redraw
	drawn int       // width of the line on screen; 0 if none
}

const (
	redrawEvery = 100 * time.Millisecond
	barWidth    = 30
)

// NewProgress returns a Progress for an input of total bytes (0 or less
// if unknown: then no bar or percentage is drawn) that writes to w.
func NewProgress(w io.Writer, total int64) *Progress {
	f, ok := w.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	return &Progress{w: w, total: total, tty: tty, now: time.Now, start: time.Now()}
}

// Update reports that done bytes of the input have been read, rows rows
// handled and failed of them rejected. It redraws at most about ten times
// a second, so it may be called for every row.
func (p *Progress) Update(done int64, rows, failed int) {
	if !p.tty {
		return
	}
	now := p.now()
	if p.drawn > 0 && now.Sub(p.last) < redrawEvery {
		return
	}
	p.last = now
	line := progressLine(done, p.total, rows, failed, now.Sub(p.start))
	pad := max(0, p.drawn-len(line))
	io.WriteString(p.w, "\r"+line+strings.Repeat(" ", pad))
	p.drawn = len(line)
}

// Finish clears the line, leaving the cursor at its start.
func (p *Progress) Finish() {
	if p.drawn == 0 {
		return
	}
	io.WriteString(p.w, "\r"+strings.Repeat(" ", p.drawn)+"\r")
	p.drawn = 0
}

// progressLine renders the bar (ASCII only, so len is its width).
func progressLine(done, total int64, rows, failed int, elapsed time.Duration) string {
	var b strings.Builder
	if total > 0 {
		done = min(max(done, 0), total)
		filled := int(done * barWidth / total)
		b.WriteByte('[')
		b.WriteString(strings.Repeat("=", filled))
		if filled < barWidth {
			b.WriteByte('>')
			b.WriteString(strings.Repeat(" ", barWidth-filled-1))
		}
		b.WriteString("] ")
		b.WriteString(strconv.FormatInt(done*100/total, 10))
		b.WriteString("% ")
	}
	b.WriteString(group(int64(rows)))
	b.WriteString(" rows ")
	b.WriteString(group(int64(failed)))
	b.WriteString(" failed")
	if s := elapsed.Seconds(); s >= 0.5 {
		b.WriteByte(' ')
		b.WriteString(group(int64(float64(rows) / s)))
		b.WriteString(" rows/s")
	}
	return b.String()
}

// group formats n with a comma between groups of three digits.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
