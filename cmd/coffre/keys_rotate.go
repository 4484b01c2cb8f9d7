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

	"github.com/coffre/coffre/internal/rotate"
)

const keysRotateExample = "COFFRE_TOKEN=… coffre keys rotate --reason \"yearly rotation\" --url http://127.0.0.1:8080"

const keysStatusExample = "COFFRE_TOKEN=… coffre keys status --url http://127.0.0.1:8080"

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
	fs := newFlags("keys rotate", "--reason TEXT [--url URL | --config FILE] [--json]", keysRotateExample, stderr)
	reason := fs.String("reason", "", "why (audited with the rotation)")
	url, configPath := serverFlags(fs)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return &usageError{msg: "--reason is required: the rotation is audited with it", hint: keysRotateExample}
	}
	token, err := sealToken(keysRotateExample)
	if err != nil {
		return err
	}
	base, err := serverURL(*url, *configPath)
	if err != nil {
		return err
	}
	var res struct {
		Version  uint32  `json:"version"`
		ActiveIn float64 `json:"active_in_seconds"`
	}
	if err := sysCall(ctx, base+"/v1/sys/keys/rotate", token, map[string]string{"reason": *reason}, &res); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "root key version %d added: it wraps new keys in %s, and the server rewraps the others in the background (coffre keys status shows the progress)\n",
		res.Version, time.Duration(res.ActiveIn*float64(time.Second)))
	return nil
}

// runKeysStatus shows the root key versions and the rewrap pass.
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
	var st rotate.Status
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
	return nil
}
