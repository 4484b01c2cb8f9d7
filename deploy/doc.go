// Package deploy holds Coffre's deployment files — the container image's
// Dockerfile (at the repository's root), the systemd unit
// (systemd/coffre.service) and the Helm chart (helm/coffre) — and the
// tests that hold them to their hardening. It has no code.
package deploy
