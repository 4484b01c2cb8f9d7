package main

import "github.com/coffre/coffre/internal/auth"

// The tests' passwords, and those of the commands the transcripts and the
// drills run (this test binary, run as coffre), are hashed at argon2id's
// least cost: the hash's strength is internal/auth's to test, and at the
// defaults the package's tests spent 17 s of CPU hashing.
func init() { passwordParams = auth.Params{Time: 1, Memory: 64, Threads: 1} }
