// Package deploy holds what runs refrecon in production: the container image
// (Dockerfile), a Kubernetes CronJob (k8s/), a Cloud Run job (cloudrun/),
// systemd units for a VM (systemd/) and the list of every variable with its
// default (.env.example). See README.md in this directory.
//
// The package has no code: its tests parse every manifest and check the
// settings that matter (no overlapping runs, non-root, secrets from secret
// stores, timeouts longer than RUN_TIMEOUT) and that .env.example and the
// Dockerfile's build line cannot drift from cmd/refrecon/config.go and the
// Makefile.
package deploy
