package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/rotate"
)

const keysRotateExample = "COFFRE_TOKEN=… coffre keys rotate --reason \"yearly rotation\" --url http://127.0.0.1:8080"

const keysStatusExample = "COFFRE_TOKEN=… coffre keys status --url http://127.0.0.1:8080"

const keysReindexExample = "COFFRE_TOKEN=… coffre keys reindex --reason \"blind index key exposed\" --url http://127.0.0.1:8080"

// sealToken is the session token of an operator with the seal
// permission, which the key commands call the server with.
func sealToken(example string) (string, error) {
	token := os.Getenv("COFFRE_TOKEN")
	if token == "" {
		return "", &usageError{msg: "set COFFRE_TOKEN to the session token of an operator with the seal permission", hint: example}
	}
	return token, nil
}

// runKeysRotate asks the server for a new root key version.
func runKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return keysAct(ctx, args, stdout, stderr, keysAction{name: "rotate", what: "rotation", example: keysRotateExample, path: "/v1/sys/keys/rotate",
		text: func(res map[string]float64) string {
			return fmt.Sprintf("root key version %d added: it wraps new keys in %s, and the server rewraps the others in the background (coffre keys status shows the progress)",
				uint32(res["version"]), seconds(res["active_in_seconds"]))
		}})
}

// runKeysReindex asks the server to rebuild the blind index under a new
// key.
func runKeysReindex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return keysAct(ctx, args, stdout, stderr, keysAction{name: "reindex", what: "rebuild", example: keysReindexExample, path: "/v1/sys/keys/reindex",
		text: func(res map[string]float64) string {
			return fmt.Sprintf("blind index generation %d begun: every write keeps it up from now on, the server builds it from the records in %s, and lookups switch to it when it is built (coffre keys status shows the progress)",
				uint32(res["generation"]), seconds(res["pass_in_seconds"]))
		}})
}

// keysAction is a key command that posts a reason to the server.
type keysAction struct {
	name, what, example, path string
	// text renders the answer (its JSON numbers by name).
	text func(res map[string]float64) string
}

// keysAct runs a: the reason required, the seal token, one POST, the
// answer printed as text or as the server's JSON.
func keysAct(ctx context.Context, args []string, stdout, stderr io.Writer, a keysAction) error {
	fs := newFlags("keys "+a.name, "--reason TEXT [--url URL | --config FILE] [--json]", a.example, stderr)
	reason := fs.String("reason", "", "why (audited with the "+a.what+")")
	url, configPath := serverFlags(fs)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return &usageError{msg: "--reason is required: the " + a.what + " is audited with it", hint: a.example}
	}
	token, err := sealToken(a.example)
	if err != nil {
		return err
	}
	base, err := serverURL(*url, *configPath)
	if err != nil {
		return err
	}
	var res map[string]float64
	if err := sysCall(ctx, base+a.path, token, map[string]string{"reason": *reason}, &res); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintln(stdout, a.text(res))
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// keysStatus is the answer of GET /v1/sys/keys.
type keysStatus struct {
	rotate.Status
	BlindIndex *reindex.Status `json:"blind_index,omitempty"`
}

// runKeysStatus shows the root key versions and the rewrap pass, and the
// blind index generations and their rebuild.
func runKeysStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys status", "[--url URL | --config FILE] [--json]", keysStatusExample, stderr)
	url, configPath := serverFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	token, err := sealToken(keysStatusExample)
	if err != nil {
		return err
	}
	base, err := serverURL(*url, *configPath)
	if err != nil {
		return err
	}
	var st keysStatus
	if err := sysDo(ctx, http.MethodGet, base+"/v1/sys/keys", token, nil, &st); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, st)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tKEYS")
	for _, v := range st.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%d\n", v.Version, v.State, v.Keys)
	}
	tw.Flush()
	if p := st.Rewrap; p != nil {
		if p.Done != nil && p.Remaining == 0 {
			fmt.Fprintf(stdout, "rewrap to version %d: done, %d keys rewrapped\n", p.Version, p.Rewrapped)
		} else {
			fmt.Fprintf(stdout, "rewrap to version %d: %d keys rewrapped, %d left under older versions\n", p.Version, p.Rewrapped, p.Remaining)
		}
	}
	if bi := st.BlindIndex; bi != nil {
		fmt.Fprintln(stdout)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BLIND INDEX\tSTATE\tENTRIES")
		for _, g := range bi.Generations {
			fmt.Fprintf(tw, "%d\t%s\t%d\n", g.Gen, g.State, g.Entries)
		}
		tw.Flush()
		if p := bi.Rebuild; p != nil {
			if p.Done != nil {
				fmt.Fprintf(stdout, "rebuild of generation %d: built, %d entries added by the pass\n", p.Gen, p.Added)
			} else {
				fmt.Fprintf(stdout, "rebuild of generation %d: %d entries added, subjects up to seq %d covered\n", p.Gen, p.Added, p.Cursor)
			}
		}
	}
	return nil
}
