// Package coffre is the root of Coffre, a personal-data vault; it holds
// only repository-wide tests. The binary is cmd/coffre; the packages are
// under internal/.
package coffre
