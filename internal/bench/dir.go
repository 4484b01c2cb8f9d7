package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files bench import leaves in the data directory for bench read.
const (
	IDsFile      = "bench-ids"      // subject ids, one a line
	OperatorFile = "bench-operator" // the [Operator] as JSON, 0600
	ServeLog     = "bench-serve.log"
)

// Seed fixes the benchmark's synthetic population.
const Seed = 1_000_000

// Operator is the caseworker bench read logs in as.
type Operator struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret"`
}

// WriteOperator keeps op in dir's [OperatorFile] (0600).
func WriteOperator(dir string, op Operator) error {
	cred, err := json.Marshal(op)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, OperatorFile), append(cred, '\n'), 0o600); err != nil {
		return fmt.Errorf("write bench operator: %w", err)
	}
	return nil
}

// ReadOperator reads the operator [WriteOperator] kept in dir.
func ReadOperator(dir string) (Operator, error) {
	var op Operator
	b, err := os.ReadFile(filepath.Join(dir, OperatorFile))
	if err == nil {
		err = json.Unmarshal(b, &op)
	}
	return op, err
}

// DirError is [PrepareDir]'s refusal of a directory that holds something.
type DirError struct {
	Dir string
	// NotBench is set when the directory holds no [IDsFile], so no bench
	// import made it: PrepareDir does not delete it even when asked to.
	NotBench bool
}

func (e *DirError) Error() string {
	if e.NotBench {
		return e.Dir + " holds no " + IDsFile + " file, so it was not made by bench import: not deleting it"
	}
	return e.Dir + " is not empty"
}

// PrepareDir makes dir an empty directory holding only an empty
// [IDsFile], which marks it as a benchmark's. A non-empty dir is deleted
// only with fresh, and only if an earlier bench import made it; otherwise
// the error is a [*DirError].
func PrepareDir(dir string, fresh bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	case !fresh:
		return &DirError{Dir: dir}
	default:
		if _, err := os.Stat(filepath.Join(dir, IDsFile)); err != nil {
			return &DirError{Dir: dir, NotBench: true}
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete earlier benchmark: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, IDsFile), nil, 0o600)
}
