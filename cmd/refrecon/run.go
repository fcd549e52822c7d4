package main

import (
	"context"
	"errors"

	"github.com/refrecon/refrecon/pipeline"
	"github.com/rs/zerolog"
)

// runReport is what one run did; its fields make the final log record.
type runReport struct {
	RunID      string
	SnapshotID string
	Status     string // "ok" or "failed"
	Seconds    float64
	Counts     pipeline.InputCounts
}

// runOnce performs one whole run: config checks, sources, compute, private
// outputs, warehouse, and the public snapshot last.
func runOnce(ctx context.Context, cfg *config, log zerolog.Logger) (*runReport, error) {
	return nil, errors.New("run: not wired yet")
}
