package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBashCompletion sources the bash script and asks it what it would
// complete: commands, a command's flags, a command's subcommands.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	var out bytes.Buffer
	if err := runCompletion(t.Context(), []string{"bash"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "coffre.bash")
	if err := os.WriteFile(script, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words string
		want  []string
	}{
		{"coffre se", []string{"serve", "seal"}},
		{"coffre seal --re", []string{"--reason"}},
		{"coffre audit verify-", []string{"verify-evidence", "verify-subject"}},
		{"coffre config ch", []string{"check"}},
		{"coffre completion ", []string{"bash", "zsh", "fish"}},
	} {
		words := strings.Fields(tc.words)
		if strings.HasSuffix(tc.words, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command("bash", "-c", "source "+script+"; COMP_WORDS=("+strings.Join(quoted, " ")+"); COMP_CWORD="+
			strconv.Itoa(len(words)-1)+"; _coffre; echo \"${COMPREPLY[*]}\"")
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.words, err, got)
		}
		fields := strings.Fields(string(got))
		for _, w := range tc.want {
			if !slices.Contains(fields, w) {
				t.Errorf("%q completes to %q, want %s among them", tc.words, fields, w)
			}
		}
	}
}

// TestManPage: the manual page is roff that groff reads without a
// warning, and it holds every command and its help.
func TestManPage(t *testing.T) {
	var out bytes.Buffer
	if err := runMan(t.Context(), nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, c := range commands() {
		if !strings.Contains(page, ".SS "+c.name+"\n") {
			t.Errorf("the man page has no section for %s", c.name)
		}
	}
	if !strings.Contains(page, "--reason TEXT") {
		t.Error("the man page lacks coffre seal's usage line")
	}
	if _, err := exec.LookPath("groff"); err != nil {
		t.Log("no groff here: the page is not rendered")
		return
	}
	cmd := exec.Command("groff", "-man", "-Tutf8", "-wall", "-P", "-bcou")
	cmd.Stdin = strings.NewReader(page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "COMMANDS") {
		t.Errorf("groff's rendering lacks COMMANDS:\n%.500s", stdout.String())
	}
}
