// Package reindex rebuilds the blind index under a new key, online.
package reindex
