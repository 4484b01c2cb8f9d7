package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// spec is a command as its own help describes it: the subcommands its
// usage lines name and the flags its help lists.
type spec struct {
	name, summary string
	subs, flags   []string
	help          string
}

var (
	flagLine = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	flagWord = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
)

// specs reads every command's --help: completion and the man page are
// made from what the commands say of themselves, so they cannot drift.
func specs(ctx context.Context) []spec {
	var out []spec
	for _, c := range commands() {
		if c.name == "completion" || c.name == "man" {
			out = append(out, spec{name: c.name, summary: c.summary, subs: []string{"bash", "zsh", "fish"}})
			if c.name == "man" {
				out[len(out)-1].subs = nil
			}
			continue
		}
		var buf bytes.Buffer
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c.run(hctx, []string{"--help"}, &buf, &buf)
		cancel()
		s := spec{name: c.name, summary: c.summary, help: strings.TrimSpace(buf.String())}
		flags := map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(s.help, -1) {
			flags["--"+m[1]] = true
		}
		for _, m := range flagWord.FindAllStringSubmatch(s.help, -1) {
			flags["--"+m[1]] = true
		}
		s.flags = slices.Sorted(func(yield func(string) bool) {
			for f := range flags {
				if !yield(f) {
					return
				}
			}
		})
		// Subcommands: the words after "coffre NAME" in the usage lines.
		usage := regexp.MustCompile(`(?m)^(?:Usage:)?\s*coffre ` + regexp.QuoteMeta(c.name) + ` ([a-z][a-z|-]*)\b`)
		subs := map[string]bool{}
		for _, m := range usage.FindAllStringSubmatch(s.help, -1) {
			for _, w := range strings.Split(m[1], "|") {
				subs[w] = true
			}
		}
		for w := range subs {
			s.subs = append(s.subs, w)
		}
		slices.Sort(s.subs)
		out = append(out, s)
	}
	return out
}

const completionExample = "coffre completion bash > /etc/bash_completion.d/coffre"

// runCompletion prints a shell's completion script for coffre: the
// commands, their subcommands and their flags.
func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("completion", "bash|zsh|fish", completionExample, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "want one shell: bash, zsh or fish", hint: completionExample}
	}
	sp := specs(ctx)
	switch fs.Arg(0) {
	case "bash":
		writeBash(stdout, sp)
	case "zsh":
		fmt.Fprintln(stdout, "#compdef coffre\n# coffre's completion for zsh, through its bash completion.\nautoload -U +X bashcompinit && bashcompinit")
		writeBash(stdout, sp)
	case "fish":
		writeFish(stdout, sp)
	default:
		return &usageError{msg: fmt.Sprintf("shell %q: want bash, zsh or fish", fs.Arg(0)), hint: completionExample}
	}
	return nil
}

func writeBash(w io.Writer, sp []spec) {
	names := make([]string, len(sp))
	for i, s := range sp {
		names[i] = s.name
	}
	fmt.Fprintf(w, "# coffre's completion for bash: source it, or put it in /etc/bash_completion.d/coffre.\n")
	fmt.Fprintf(w, "_coffre() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} words=\n")
	fmt.Fprintf(w, "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(names, " "))
	fmt.Fprintf(w, "\tcase \"${COMP_WORDS[1]}\" in\n")
	for _, s := range sp {
		fmt.Fprintf(w, "\t%s) words=%q ;;\n", s.name, strings.Join(append(slices.Clone(s.subs), s.flags...), " "))
	}
	fmt.Fprintf(w, "\tesac\n\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -o default -F _coffre coffre\n")
}

func writeFish(w io.Writer, sp []spec) {
	fmt.Fprintln(w, "# coffre's completion for fish: put it in ~/.config/fish/completions/coffre.fish.")
	fmt.Fprintln(w, "complete -c coffre -f")
	for _, s := range sp {
		fmt.Fprintf(w, "complete -c coffre -n __fish_use_subcommand -a %s -d %s\n", s.name, fishQuote(s.summary))
		for _, sub := range s.subs {
			fmt.Fprintf(w, "complete -c coffre -n '__fish_seen_subcommand_from %s' -a %s\n", s.name, sub)
		}
		for _, f := range s.flags {
			fmt.Fprintf(w, "complete -c coffre -n '__fish_seen_subcommand_from %s' -l %s\n", s.name, strings.TrimPrefix(f, "--"))
		}
	}
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// runMan prints coffre's manual page (roff, man(7)), made from the
// commands' own help.
func runMan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("man", "", "coffre man > /usr/local/share/man/man1/coffre.1", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "man takes no arguments", hint: "coffre man | man -l -"}
	}
	fmt.Fprintln(stdout, `.TH COFFRE 1 "" "coffre" "User Commands"`)
	fmt.Fprintln(stdout, ".SH NAME\ncoffre \\- a personal-data vault: one person at a time, for a declared purpose, every access audited")
	fmt.Fprintln(stdout, ".SH SYNOPSIS\n.B coffre\n.I COMMAND\n[flags]")
	fmt.Fprintln(stdout, ".SH DESCRIPTION\nRun\n.B coffre COMMAND \\-\\-help\nfor a command's flags and an example; the README says the rest.")
	fmt.Fprintln(stdout, ".SH COMMANDS")
	for _, s := range specs(ctx) {
		fmt.Fprintf(stdout, ".SS %s\n%s\n", roff(s.name), roff(s.summary))
		if s.help != "" {
			fmt.Fprintf(stdout, ".PP\n.nf\n%s\n.fi\n", roff(s.help))
		}
	}
	fmt.Fprintln(stdout, ".SH SEE ALSO\nThe README and docs/ of the repository: docs/openapi.json (the API), docs/events.md (log events), docs/authorization.md.")
	return nil
}

// roff escapes text for roff: backslashes, a line's leading dot or
// quote, and every character beyond ASCII as \[uXXXX].
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var b strings.Builder
	for _, r := range s {
		if r > 127 {
			fmt.Fprintf(&b, `\[u%04X]`, r)
		} else {
			b.WriteRune(r)
		}
	}
	s = b.String()
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
