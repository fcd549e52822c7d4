package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"
	"github.com/sethvargo/go-envconfig"
)

// newLogger builds the process logger from LOG_FORMAT and LOG_LEVEL.
// Timestamps in log lines are the only wall-clock reads refrecon makes
// outside of choosing a default asOf.
func newLogger(cfg *config, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(cfg.LogLevel))
	if err != nil || cfg.LogLevel == "" {
		return zerolog.Nop(), asConfigError(fmt.Errorf("LOG_LEVEL %q: want one of trace, debug, info, warn, error", cfg.LogLevel))
	}
	switch cfg.LogFormat {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	default:
		return zerolog.Nop(), asConfigError(fmt.Errorf("LOG_FORMAT %q: want json or console", cfg.LogFormat))
	}
	// The job logs from several goroutines at once (the reads, the private
	// outputs and the publish); w may not be safe for that (a buffer).
	return zerolog.New(zerolog.SyncWriter(w)).Level(level).With().Timestamp().Logger(), nil
}

// loadEnv reads the configuration through env and builds the logger on
// stderr from it: how every command that reads the environment starts.
func loadEnv(ctx context.Context, env envconfig.Lookuper, stderr io.Writer) (*config, zerolog.Logger, error) {
	cfg, err := loadConfig(ctx, env)
	if err != nil {
		return nil, zerolog.Nop(), err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return nil, zerolog.Nop(), err
	}
	return cfg, log, nil
}
